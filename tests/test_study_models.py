"""Networks of the activation studies (:mod:`linked_neurons.study_models`)."""

import keras
import numpy as np
import pytest

from linked_neurons import LKReLU
from linked_neurons.layers.learnable import AHAF, LEAF
from linked_neurons.study_models import (
    SELU_LAYER_NAMES,
    learnable_model,
    learnable_variants,
    selu_cnn,
)
from linked_neurons.training import DSPTModel, GroupedOptimizer


def _conv_params(k, c_in, c_out):
    return k * k * c_in * c_out + c_out


@pytest.mark.parametrize("activation, batch_norm", [("relu", True), ("selu", False),
                                                    ("lkrelu", False)])
def test_selu_cnn_follows_the_reference_network(activation, batch_norm):
    model = selu_cnn((16, 16, 1), 10, activation, batch_norm)
    names = [layer.name for layer in model.layers]
    assert [n for n in names if n.endswith("_act")] == list(SELU_LAYER_NAMES)
    assert ("bn1" in names) is batch_norm
    convs = [model.get_layer(f"conv{i}") for i in (1, 2, 3)]
    assert [c.filters for c in convs] == [32, 64, 128]
    assert all(c.strides == (2, 2) and c.kernel_size == (5, 5) and c.padding == "same"
               for c in convs)
    assert convs[0].kernel_initializer.stddev == 0.02
    assert model.get_layer("logits").activation.__name__ == "linear"
    m = 2 if activation == "lkrelu" else 1  # a linked activation doubles the channels
    expected = (_conv_params(5, 1, 32) + _conv_params(5, 32 * m, 64)
                + _conv_params(5, 64 * m, 128) + (2 * 2 * 128 * m) * 160 + 160
                + 160 * m * 40 + 40 + 40 * m * 10 + 10)
    if batch_norm:
        expected += 4 * (32 + 64 + 128)
    assert model.count_params() == expected


def test_selu_cnn_colour_images_sequences_and_layers():
    model = selu_cnn((32, 32, 3), 10, "selu")
    assert [model.get_layer(f"conv{i}").filters for i in (1, 2, 3)] == [64, 128, 256]
    assert isinstance(selu_cnn((40, 1), 10, "relu").get_layer("conv1"), keras.layers.Conv1D)
    model = selu_cnn((16, 16, 1), 10, "lkrelu")
    assert all(isinstance(model.get_layer(n), LKReLU) for n in SELU_LAYER_NAMES)
    assert selu_cnn((16, 16, 1), 10, "leakyrelu").get_layer("fc1_act").negative_slope == (
        pytest.approx(0.2))
    with pytest.raises(ValueError, match="selu_cnn: expected .* got input_shape=\\(64,\\)"):
        selu_cnn((64,), 10)
    with pytest.raises(ValueError, match="`filters` needs 3 values"):
        selu_cnn((16, 16, 1), 10, filters=(8, 8))


def test_learnable_variants_of_the_paper():
    assert learnable_variants("relu") == learnable_variants("silu") == (
        "base", "ahaf", "ahaf_dspt", "leaf_p24sl", "leaf_dspt_p24sl")
    assert learnable_variants("sigmoid") == ("base", "leaf_p24sl", "leaf_dspt_p24sl")
    with pytest.raises(ValueError, match="learnable_variants: unknown init 'elu'"):
        learnable_variants("elu")


def test_learnable_model_sets_up_each_procedure():
    shape = (16, 16, 1)
    base = learnable_model("lenet5", "sigmoid", "base", shape, 10)
    assert base.layers[1].activation is keras.activations.sigmoid
    ahaf = learnable_model("kerasnet", "silu", "ahaf", shape, 10)
    assert [layer.init for layer in ahaf.layers if isinstance(layer, AHAF)] == ["silu"] * 5
    assert isinstance(ahaf.optimizer, keras.optimizers.Adam)
    p24 = learnable_model("lenet5", "relu", "leaf_p24sl", shape, 10)
    assert isinstance(p24.optimizer, GroupedOptimizer)
    assert [float(o.learning_rate) for o in p24.optimizer.optimizers] == pytest.approx(
        [1e-6, 1e-3])
    dspt = learnable_model("lenet5", "tanh", "leaf_dspt_p24sl", shape, 10, optimizer="rmsprop")
    assert isinstance(dspt, DSPTModel)
    rates = [float(o.learning_rate) for o in dspt.optimizer.optimizers]
    assert rates == pytest.approx([1e-5, 1e-4, 1e-4])  # p2/p4, p1/p3, the other weights
    assert [layer.init for layer in dspt.layers if isinstance(layer, LEAF)] == ["tanh"] * 3
    with pytest.raises(ValueError, match="variant 'ahaf' is not trained for init 'tanh'"):
        learnable_model("lenet5", "tanh", "ahaf", shape, 10)
    with pytest.raises(ValueError, match="unknown network 'vgg'"):
        learnable_model("vgg", "relu", "base", shape, 10)
    with pytest.raises(ValueError, match="unknown optimizer 'sgd'"):
        learnable_model("lenet5", "relu", "base", shape, 10, optimizer="sgd")
    x = np.zeros((2, *shape), "float32")
    assert dspt.predict(x, verbose=0).shape == (2, 10)


def test_docstring_examples():
    import doctest

    from linked_neurons import study_models

    result = doctest.testmod(study_models, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
