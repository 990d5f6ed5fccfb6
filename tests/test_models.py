"""LeNet-5 and KerasNet builders of the LEAF experiments (SPEC §3)."""

import doctest
import functools

import keras
import numpy as np
import pytest
from keras import ops

from linked_neurons import models
from linked_neurons.layers.learnable import AHAF, LEAF
from linked_neurons.models import kerasnet, lenet5, make_activation
from linked_neurons.training import activation_parameters, count_activation_parameters

# SPEC §3 targets: LEAF activation parameters; AHAF has half of each.
TARGETS = [
    (lenet5, (28, 28, 1), 60_880),
    (lenet5, (32, 32, 3), 84_720),
    (kerasnet, (28, 28, 1), 263_168),
    (kerasnet, (32, 32, 3), 349_184),
]


@pytest.mark.parametrize("builder,shape,leaf_count", TARGETS,
                         ids=[f"{b.__name__}-{s[0]}x{s[1]}x{s[2]}" for b, s, _ in TARGETS])
def test_activation_parameter_counts(builder, shape, leaf_count):
    leaf = builder(shape, 10, activation="leaf")
    assert count_activation_parameters(leaf) == leaf_count
    # the same count from the layers themselves, 4 per neuron
    layers = [layer for layer in leaf.layers if isinstance(layer, LEAF)]
    assert sum(layer.count_params() for layer in layers) == leaf_count
    neurons = sum(int(np.prod(layer.output.shape[1:])) for layer in layers)
    assert 4 * neurons == leaf_count
    ahaf = builder(shape, 10, activation=functools.partial(AHAF, init="silu"))
    assert count_activation_parameters(ahaf) == leaf_count // 2
    base = builder(shape, 10, activation="relu")
    assert leaf.count_params() - base.count_params() == leaf_count
    assert count_activation_parameters(base) == 0


def _summary(model):
    out = []
    for layer in model.layers:
        kind = type(layer).__name__
        if isinstance(layer, keras.layers.Conv2D):
            out.append((kind, layer.filters, layer.kernel_size, layer.padding, layer.use_bias))
        elif isinstance(layer, keras.layers.Dense):
            out.append((kind, layer.units, layer.use_bias))
        elif isinstance(layer, keras.layers.Dropout):
            out.append((kind, layer.rate))
        else:
            out.append((kind,))
    return out


def test_lenet5_architecture():
    model = lenet5((28, 28, 1), 10, activation="tanh")
    assert _summary(model) == [
        ("Conv2D", 20, (5, 5), "valid", False),
        ("Activation",),
        ("MaxPooling2D",),
        ("Conv2D", 50, (5, 5), "valid", False),
        ("Activation",),
        ("MaxPooling2D",),
        ("Flatten",),
        ("Dense", 500, True),
        ("Activation",),
        ("Dense", 10, False),
    ]
    assert model.output_shape == (None, 10)
    assert model.layers[-1].activation is keras.activations.softmax
    logits = lenet5((32, 32, 3), 7, classifier_activation=None)
    assert logits.layers[-1].activation is keras.activations.linear
    assert logits.output_shape == (None, 7)


def test_kerasnet_architecture():
    model = kerasnet((32, 32, 3), 10, activation="relu")
    assert _summary(model) == [
        ("Conv2D", 32, (3, 3), "same", True),
        ("ReLU",),
        ("Conv2D", 32, (3, 3), "valid", True),
        ("ReLU",),
        ("MaxPooling2D",),
        ("Dropout", 0.25),
        ("Conv2D", 64, (3, 3), "same", True),
        ("ReLU",),
        ("Conv2D", 64, (3, 3), "valid", True),
        ("ReLU",),
        ("MaxPooling2D",),
        ("Dropout", 0.25),
        ("Flatten",),
        ("Dense", 512, True),
        ("ReLU",),
        ("Dropout", 0.2),
        ("Dense", 10, True),
    ]
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)


def test_activation_forms():
    assert isinstance(make_activation("leaf"), LEAF)
    assert make_activation("tanh").activation is keras.activations.tanh
    assert make_activation(keras.activations.relu).activation is keras.activations.relu
    assert make_activation(None).activation is keras.activations.linear
    layer = make_activation(functools.partial(LEAF, init="sigmoid"), axis=1)
    assert isinstance(layer, LEAF) and layer.init == "sigmoid" and layer.axis == 1
    assert make_activation(AHAF, axis=1).axis == 1
    assert isinstance(make_activation(lambda: keras.layers.ELU()), keras.layers.ELU)
    model = lenet5(activation=lambda: LEAF(init="tanh"))
    leaves = [layer for layer in model.layers if isinstance(layer, LEAF)]
    assert len(leaves) == 3 and len({id(layer) for layer in leaves}) == 3
    with pytest.raises(TypeError, match="layer instance.*new activation layer at every place"):
        make_activation(LEAF())
    with pytest.raises(TypeError, match="returned int, not a Keras layer"):
        make_activation(lambda: 3)
    with pytest.raises(ValueError, match="unknown activation 'nope'"):
        lenet5(activation="nope")


def test_bad_arguments():
    with pytest.raises(ValueError, match="lenet5: the input needs at least 16x16 pixels.*8x8"):
        lenet5((8, 8, 1))
    with pytest.raises(ValueError, match="kerasnet: the input needs at least 10x10"):
        kerasnet((8, 8, 1))
    with pytest.raises(ValueError, match=r"`input_shape` must be \(height, width, channels\)"):
        kerasnet((28, 28))
    with pytest.raises(ValueError, match="`dropout` must be three rates"):
        kerasnet(dropout=(0.5,))
    with pytest.raises(ValueError, match="`data_format` must be"):
        lenet5(data_format="nhwc")


def test_channels_first_matches_channels_last():
    last = lenet5((16, 16, 2), 3, activation=functools.partial(LEAF, init="silu"))
    first = lenet5((2, 16, 16), 3, activation=functools.partial(LEAF, init="silu"),
                   data_format="channels_first")
    assert count_activation_parameters(first) == count_activation_parameters(last)
    rng = np.random.default_rng(0)
    weights = []
    for w in last.get_weights():
        weights.append(w + 0.1 * rng.normal(size=w.shape).astype(w.dtype))
    last.set_weights(weights)
    act = {id(v) for v in activation_parameters(last)}
    moved = [np.moveaxis(w, -1, 0) if id(v) in act and w.ndim == 3 else w
             for v, w in zip(last.weights, weights)]
    first.set_weights(moved)
    x = rng.normal(size=(2, 16, 16, 2)).astype("float32")
    try:
        y_first = ops.convert_to_numpy(first(np.transpose(x, (0, 3, 1, 2))))
    except Exception as error:  # noqa: BLE001 - some CPU kernels lack NCHW
        pytest.skip(f"channels_first convolutions unavailable here: {error}")
    np.testing.assert_allclose(y_first, ops.convert_to_numpy(last(x)), rtol=1e-5, atol=1e-6)


def test_docstring_examples():
    result = doctest.testmod(models, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0
