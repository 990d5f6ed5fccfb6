"""AttentiveNormalization and IEBN (SPEC §6): the interface.

Weights and their counts, configuration, masks and dtypes, bad arguments, the
normalization registry, the docstrings and the example script.
"""

import doctest
import os
import re

import keras
import numpy as np
import pytest
from conftest import BACKEND, LayerChecker, random_input, run_python
from keras import ops
from normalization_support import EPS, ROOT, case, named, np_attentive, np_iebn

from linked_neurons import normalizations
from linked_neurons.layers import normalization as normalization_module
from linked_neurons.layers.normalization import IEBN, AttentiveNormalization
from linked_neurons.ops import normalization as normalization_ops


# ----------------------------------------------------------------------------- weights
@pytest.mark.parametrize("channels,k,total", [(32, 5, 549), (1408, 5, 23941), (32, 6, 646)])
def test_attentive_normalization_weight_counts(channels, k, total):
    layer = AttentiveNormalization(n_mixture=k)
    layer.build((None, 7, 7, channels))
    trainable = sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
    non_trainable = sum(int(np.prod(w.shape)) for w in layer.non_trainable_weights)
    assert layer.count_params() == total
    assert trainable == 3 * k * channels + k
    assert non_trainable == 2 * channels
    assert [(w.name, tuple(w.shape)) for w in layer.weights] == [
        ("attention_kernel", (channels, k)), ("attention_bias", (k,)),
        ("gamma", (k, channels)), ("beta", (k, channels)),
        ("moving_mean", (channels,)), ("moving_variance", (channels,)),
    ]
    paper = AttentiveNormalization(n_mixture=k, attention="paper")
    paper.build((None, 7, 7, channels))
    assert sum(int(np.prod(w.shape)) for w in paper.trainable_weights) == 3 * k * channels + 2 * k
    assert sum(int(np.prod(w.shape)) for w in paper.non_trainable_weights) == 2 * channels + 2 * k


@pytest.mark.parametrize("channels", [3, 32, 1408])
def test_iebn_weight_counts_and_initial_gate(channels):
    layer = IEBN()
    layer.build((None, 4, 4, channels))
    assert sum(int(np.prod(w.shape)) for w in layer.trainable_weights) == 4 * channels
    assert sum(int(np.prod(w.shape)) for w in layer.non_trainable_weights) == 2 * channels
    assert [w.name for w in layer.weights] == [
        "gamma", "beta", "attention_weight", "attention_bias", "moving_mean", "moving_variance",
    ]
    x = random_input((2, 4, 4, channels)).astype("float32")
    y = ops.convert_to_numpy(layer(x))
    # Untrained: a = sigmoid(-1) = 0.26894..., moving mean 0 and variance 1.
    np.testing.assert_allclose(y, x * 0.2689414213699951 / np.sqrt(1 + EPS), rtol=1e-5, atol=1e-6)
    bare = IEBN(center=False, scale=False)
    bare.build((None, channels))
    assert len(bare.trainable_weights) == 2


def test_mixture_initialisation_and_seed():
    def mixture(**kwargs):
        layer = AttentiveNormalization(n_mixture=4, **kwargs)
        layer.build((None, 64))
        return ops.convert_to_numpy(layer.gamma), ops.convert_to_numpy(layer.beta)

    g1, b1 = mixture(seed=1997)
    g2, b2 = mixture(seed=1997)
    np.testing.assert_array_equal(g1, g2)
    np.testing.assert_array_equal(b1, b2)
    assert not np.allclose(g1 - 1.0, b1)  # Γ and B are drawn independently
    assert abs(g1.mean() - 1.0) < 0.03 and abs(g1.std() - 0.1) < 0.02
    assert abs(b1.mean()) < 0.03 and abs(b1.std() - 0.1) < 0.02
    g3, _ = mixture(seed=7)
    assert not np.array_equal(g1, g3)
    # Unseeded: every layer differs, and the global seed makes it reproducible.
    keras.utils.set_random_seed(3)
    first = mixture()[0]
    assert not np.array_equal(first, mixture()[0])
    keras.utils.set_random_seed(3)
    np.testing.assert_array_equal(first, mixture()[0])
    # Explicit initializers win.
    g, b = mixture(gamma_initializer="ones", beta_initializer="zeros")
    np.testing.assert_array_equal(g, 1.0)
    np.testing.assert_array_equal(b, 0.0)


def test_regularizers_and_constraints_reach_their_weights():
    an = AttentiveNormalization(
        n_mixture=2, gamma_regularizer="l2", beta_regularizer="l2",
        attention_kernel_regularizer="l1", attention_bias_regularizer="l1",
        gamma_constraint="non_neg",
    )
    iebn = IEBN(gamma_regularizer="l2", beta_regularizer="l2",
                attention_weight_regularizer="l1", attention_bias_regularizer="l1",
                attention_weight_constraint="non_neg")
    x = random_input((4, 3, 3, 5)).astype("float32")
    for layer in (an, iebn):
        layer(x)
        assert len(layer.losses) == 4
    an.gamma.assign(-np.ones((2, 5)))
    assert an.gamma.constraint is not None
    np.testing.assert_array_equal(ops.convert_to_numpy(an.gamma.constraint(an.gamma)), 0.0)
    assert iebn.attention_weight.constraint is not None


def test_config_is_complete_and_rebuilds_the_same_layer():
    an = AttentiveNormalization(n_mixture=3, axis=1, momentum=0.9, epsilon=1e-4,
                                attention="paper", seed=5, synchronized=False, name="an")
    config = an.get_config()
    for key in ("n_mixture", "axis", "momentum", "epsilon", "attention", "seed",
                "gamma_initializer", "attention_kernel_initializer", "synchronized"):
        assert key in config
    assert config["gamma_initializer"] is None and config["seed"] == 5
    clone = AttentiveNormalization.from_config(config)
    for layer in (an, clone):
        layer.build((None, 4, 6, 6))
    np.testing.assert_array_equal(ops.convert_to_numpy(an.gamma), ops.convert_to_numpy(clone.gamma))
    iebn = IEBN(center=False, epsilon=0.01, attention_bias_initializer="ones")
    clone = IEBN.from_config(iebn.get_config())
    assert clone.center is False and clone.epsilon == 0.01
    assert isinstance(clone.attention_bias_initializer, keras.initializers.Ones)


# ----------------------------------------------------------------------------- masks, dtypes
@pytest.mark.parametrize("cls", [AttentiveNormalization, IEBN])
def test_mask_leaves_positions_out_of_statistics_and_pooling(cls):
    x = random_input((3, 6, 4), seed=4).astype("float32")
    mask = np.ones((3, 6), bool)
    mask[0, 4:] = False
    mask[2, 1:] = False
    layer = cls(momentum=0.0)
    layer.build(x.shape)
    LayerChecker.randomize(case(cls), layer)
    w = named(layer)
    y = ops.convert_to_numpy(layer(x, training=True, mask=mask))
    # Per sample, the unmasked positions alone: the same as cropping them.
    valid = x.astype("float64")[mask]
    np.testing.assert_allclose(ops.convert_to_numpy(layer.moving_mean), valid.mean(0), rtol=1e-5)
    np.testing.assert_allclose(
        ops.convert_to_numpy(layer.moving_variance), valid.var(0), rtol=1e-5
    )
    mean, var = valid.mean(0), valid.var(0)
    w.update({"moving_mean": mean, "moving_variance": var})
    for n in range(3):
        crop = x[n : n + 1, mask[n]].astype("float64")
        ref = np_iebn(crop, w)[0] if cls is IEBN else np_attentive(crop, w)[0]
        np.testing.assert_allclose(y[n : n + 1, mask[n]], ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(ops.convert_to_numpy(layer.compute_mask(x, mask)), mask)
    # In a model, Keras passes the mask of zero-padded steps to the layer.
    inputs = keras.Input((None, 4))
    norm = cls(momentum=0.0)
    model = keras.Model(inputs, norm(keras.layers.Masking(0.0)(inputs)))
    padded = np.where(mask[..., None], x, 0.0).astype("float32")
    model(padded, training=True)
    np.testing.assert_allclose(ops.convert_to_numpy(norm.moving_mean), valid.mean(0), rtol=1e-5)
    with pytest.raises(ValueError, match=f"{cls.__name__}.*mask.*rank 2"):
        cls()(x, mask=np.ones((3, 6, 4), bool))


@pytest.mark.parametrize("cls", [AttentiveNormalization, IEBN])
def test_float16_inputs_with_large_values_keep_float32_statistics(cls):
    """x**2 overflows float16 (max 65504); the statistics are computed in float32."""
    keras.config.set_dtype_policy("mixed_float16")
    layer = cls(momentum=0.0)
    x = (random_input((4, 3, 3, 2), seed=5) * 10 + 400).astype("float16")
    y = layer(x, training=True)
    assert keras.backend.standardize_dtype(y.dtype) == "float16"
    y = ops.convert_to_numpy(ops.cast(y, "float32"))
    assert np.all(np.isfinite(y))
    x64 = x.astype("float64").reshape(-1, 2)
    np.testing.assert_allclose(ops.convert_to_numpy(layer.moving_variance), x64.var(0), rtol=1e-3)
    assert keras.backend.standardize_dtype(layer.moving_variance.dtype) == "float32"


# ----------------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize("cls", [AttentiveNormalization, IEBN])
def test_bad_arguments_and_inputs_raise_clear_errors(cls):
    name = cls.__name__
    with pytest.raises(ValueError, match=f"{name}.*size of its channel axis 3.*unknown"):
        cls()(keras.Input((4, 4, None)))
    with pytest.raises(ValueError, match=f"{name}.*batch axis"):
        cls(axis=0)
    with pytest.raises(TypeError, match=f"{name}.*axis.*integer.*str"):
        cls(axis="channels")
    with pytest.raises(ValueError, match=f"{name}.*invalid `axis`=3.*rank 3"):
        cls(axis=3)(np.ones((2, 3, 4), "float32"))
    with pytest.raises(ValueError, match=f"{name}.*invalid `axis`=-4.*rank 3"):
        cls(axis=-4).build((2, 3, 4))
    with pytest.raises(ValueError, match=rf"{name}.*`epsilon` must be .*\[0, inf\).*-0.001"):
        cls(epsilon=-1e-3)
    for eps in (float("inf"), float("nan")):
        with pytest.raises(ValueError, match=f"{name}.*`epsilon` must be a finite.*{eps}"):
            cls(epsilon=eps)
    for momentum in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=rf"{name}.*`momentum` must be .*in \[0, 1\]"):
            cls(momentum=momentum)
    with pytest.raises(TypeError, match=f"{name}.*`momentum` must be a real number.*str"):
        cls(momentum="0.9")
    with pytest.raises(TypeError, match=f"{name}.*floating-point.*int32"):
        cls()(np.ones((2, 3), "int32"))
    with pytest.raises(ValueError, match=f"{name}.*rank >= 2.*rank 1"):
        cls()(np.ones((3,), "float32"))
    with pytest.raises(TypeError, match=f"{name}.*synchronized.*bool"):
        cls(synchronized="yes")
    if BACKEND != "tensorflow":
        with pytest.raises(ValueError, match=f"{name}.*synchronized=True.*TensorFlow"):
            cls(synchronized=True)
    # A built layer rejects another channel count (Keras' input spec names it).
    layer = cls()
    layer(np.ones((2, 3), "float32"))
    with pytest.raises(ValueError, match=re.escape(layer.name)):
        layer(np.ones((2, 4), "float32"))


def test_attentive_normalization_specific_bad_arguments():
    for k in (0, -2):
        with pytest.raises(ValueError, match=f"AttentiveNormalization.*n_mixture.*>= 1.*{k}"):
            AttentiveNormalization(n_mixture=k)
    with pytest.raises(TypeError, match="AttentiveNormalization.*n_mixture.*float"):
        AttentiveNormalization(n_mixture=2.5)
    with pytest.raises(ValueError, match="AttentiveNormalization.*attention.*'softmax'"):
        AttentiveNormalization(attention="softmax")
    with pytest.raises(TypeError, match="AttentiveNormalization.*seed.*str"):
        AttentiveNormalization(seed="1997")
    with pytest.raises(TypeError, match="IEBN.*center.*bool"):
        IEBN(center="no")


# ----------------------------------------------------------------------------- registry
@pytest.mark.parametrize(
    "name,cls",
    [("an", AttentiveNormalization), ("Attention", AttentiveNormalization),
     ("attentive", AttentiveNormalization), ("Attentive_Normalization", AttentiveNormalization),
     ("iebn", IEBN), ("IEBN", IEBN), ("instance", IEBN), ("instance-enhancement", IEBN),
     ("bn", keras.layers.BatchNormalization)],
)
def test_registry_names_build_the_layers(name, cls):
    layer = normalizations.get(name, axis=1, momentum=0.9, epsilon=1e-4, n_mixture=3)
    assert type(layer) is cls
    assert (layer.axis, layer.momentum, layer.epsilon) == (1, 0.9, 1e-4)
    if cls is AttentiveNormalization:
        assert layer.n_mixture == 3
    assert normalizations.get(name) is not normalizations.get(name)


def test_registry_defaults_canonical_names_and_extra_arguments():
    assert normalizations.get("an").n_mixture == 5  # n_mixture=None keeps the default
    assert normalizations.canonical_name("attentive") == "an"
    assert normalizations.canonical_name("instance") == "iebn"
    for key in ("an", "attention", "attentive", "attentivenormalization", "iebn", "instance",
                "instanceenhancement"):
        assert key in normalizations.names()
    layer = normalizations.get("an", attention="paper", seed=3)
    assert (layer.attention, layer.seed) == ("paper", 3)
    rebuilt = normalizations.get(keras.saving.serialize_keras_object(IEBN(epsilon=0.01)))
    assert isinstance(rebuilt, IEBN) and rebuilt.epsilon == 0.01
    instance = IEBN()
    assert normalizations.get(instance) is instance


# ----------------------------------------------------------------------------- docs, example
@pytest.mark.parametrize("module", [normalization_module.attentive, normalization_module.iebn,
                                    normalization_ops], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0


def test_layer_docstrings_have_the_keras_sections():
    for cls in (AttentiveNormalization, IEBN):
        for section in ("Args:", "Call arguments:", "Input shape:", "Output shape:", "Example:",
                        "Reference:"):
            assert section in cls.__doc__, f"{cls.__name__} lacks {section}"


@pytest.mark.slow  # the example script in a subprocess
def test_example_script_runs():
    pytest.importorskip("sklearn")  # the example trains on the embedded digits
    if BACKEND != "tensorflow":
        pytest.skip("the example runs once, in the TensorFlow test run")
    result = run_python(os.path.join(ROOT, "examples", "normalization.py"), timeout=120)
    assert "reloaded AttentiveNormalization model gives identical outputs: True" in result.stdout
    match = re.findall(r"(\w+) test accuracy: ([\d.]+)", result.stdout)
    assert {name for name, _ in match} == {"BatchNormalization", "AttentiveNormalization", "IEBN"}
    for _, accuracy in match:
        assert 0.5 < float(accuracy) <= 1.0, result.stdout

