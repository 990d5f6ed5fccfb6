"""AttentiveNormalization and IEBN (SPEC §6), and the normalization registry."""

import doctest
import os
import re

import keras
import numpy as np
import pytest
from conftest import (
    BACKEND,
    LayerCase,
    LayerChecker,
    np_sigmoid,
    random_input,
    run_python,
    value_and_grads,
)
from keras import ops

from linked_neurons import normalizations
from linked_neurons.layers import normalization as normalization_module
from linked_neurons.layers.normalization import IEBN, AttentiveNormalization
from linked_neurons.ops import normalization as normalization_ops

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EPS = 1e-3


# ----------------------------------------------------------------------------- references
def _flat(x, axis):
    """(N, P, C) view of ``x`` with its channel axis last, plus a function undoing it."""
    moved = np.moveaxis(x, axis, -1)
    n, c = moved.shape[0], moved.shape[-1]

    def back(y):
        return np.moveaxis(y.reshape(moved.shape), -1, axis)

    return moved.reshape(n, -1, c), back


def _batch_or_moving(flat, w, training):
    if training:
        rows = flat.reshape(-1, flat.shape[-1])
        return rows.mean(0), rows.var(0)
    return w["moving_mean"], w["moving_variance"]


def np_attentive(x, w, axis=-1, training=False, attention="sigmoid", epsilon=EPS):
    """Float64 AttentiveNormalization; returns ``(y, batch statistics or None)``."""
    flat, back = _flat(x, axis)
    pooled = flat.mean(1)
    mean, var = _batch_or_moving(flat, w, training)
    x_hat = (flat - mean) / np.sqrt(var + epsilon)
    stats = {"moving_mean": mean, "moving_variance": var} if training else None
    if attention == "sigmoid":
        lam = np_sigmoid(pooled @ w["attention_kernel"] + w["attention_bias"])
    else:
        feature = pooled / np.sqrt(flat.var(1) + epsilon)
        z = feature @ w["attention_kernel"]
        if training:
            mz, vz = z.mean(0), z.var(0)
            stats.update({"attention_moving_mean": mz, "attention_moving_variance": vz})
        else:
            mz, vz = w["attention_moving_mean"], w["attention_moving_variance"]
        z = (z - mz) / np.sqrt(vz + epsilon) * w["attention_gamma"] + w["attention_beta"]
        lam = np.clip(z + 3.0, 0.0, 6.0) / 6.0
    y = (lam @ w["gamma"])[:, None, :] * x_hat + (lam @ w["beta"])[:, None, :]
    return back(y), stats


def np_iebn(x, w, axis=-1, training=False, epsilon=EPS):
    """Float64 IEBN; returns ``(y, batch statistics or None)``."""
    flat, back = _flat(x, axis)
    pooled = flat.mean(1)
    mean, var = _batch_or_moving(flat, w, training)
    x_hat = (flat - mean) / np.sqrt(var + epsilon)
    gate = np_sigmoid(w["attention_weight"] * pooled + w["attention_bias"])
    gamma = w.get("gamma", 1.0)
    beta = w.get("beta", 0.0)
    y = x_hat * (gamma * gate)[:, None, :] + beta
    stats = {"moving_mean": mean, "moving_variance": var} if training else None
    return back(y), stats


def named(layer):
    return {w.name: np.asarray(ops.convert_to_numpy(w), "float64") for w in layer.weights}


def weight_init(rng, shape, name):
    """Non-trivial weights: positive variances, scales around 1."""
    if "variance" in name:
        return rng.uniform(0.5, 2.0, size=shape)
    if "mean" in name:
        return rng.normal(size=shape) * 0.3
    if name in ("gamma", "attention_gamma"):
        return 1.0 + rng.normal(size=shape) * 0.3
    return rng.normal(size=shape) * 0.5


def _reference_for(cls, kwargs):
    names = [w.name for w in _built(cls, kwargs, (2, 3, 4)).weights]
    attention = kwargs.get("attention", "sigmoid")
    eps = kwargs.get("epsilon", EPS)

    def reference(x, weights, axis):
        w = dict(zip(names, weights))
        if cls is IEBN:
            return np_iebn(x, w, axis, epsilon=eps)[0]
        return np_attentive(x, w, axis, attention=attention, epsilon=eps)[0]

    return reference


def _built(cls, kwargs, shape, **overrides):
    layer = cls(**{**kwargs, **overrides})
    layer.build(shape)
    return layer


def case(cls, kwargs=None, input_shape=(3, 4, 5, 6), id=""):
    kwargs = dict(kwargs or {})
    return LayerCase(
        cls,
        _reference_for(cls, kwargs),
        kwargs=kwargs,
        input_shape=input_shape,
        weight_init=weight_init,
        id=id,
    )


CASES = [
    case(AttentiveNormalization, {"n_mixture": 3}, id="AN-2d"),
    case(AttentiveNormalization, {"n_mixture": 3, "attention": "paper"}, id="AN-paper-2d"),
    case(AttentiveNormalization, {"n_mixture": 2}, input_shape=(6, 5), id="AN-dense"),
    case(IEBN, id="IEBN-2d"),
    case(IEBN, input_shape=(2, 3, 3, 4, 5), id="IEBN-3d"),
]
# Numerics on every rank and variant (cheap); the Keras-integration checks on CASES.
NUMERIC_CASES = CASES + [
    case(AttentiveNormalization, {"n_mixture": 1}, input_shape=(4, 7, 3), id="AN-1d-K1"),
    case(AttentiveNormalization, {"n_mixture": 2, "attention": "paper"},
         input_shape=(2, 3, 4, 5, 3), id="AN-paper-3d"),
    case(IEBN, input_shape=(5, 4), id="IEBN-dense"),
    case(IEBN, {"center": False, "scale": False}, input_shape=(4, 6, 3), id="IEBN-1d-no-affine"),
    case(IEBN, {"epsilon": 0.1}, input_shape=(3, 4, 4, 2), id="IEBN-eps0.1"),
]
each = pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
each_numeric = pytest.mark.parametrize("case", NUMERIC_CASES, ids=[c.id for c in NUMERIC_CASES])


@pytest.fixture
def checker():
    return LayerChecker()


# ----------------------------------------------------------------------------- generic checks
@each_numeric
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_inference_matches_float64_reference(checker, case, dtype):
    checker.check_reference(case, dtype)


@each_numeric
def test_inference_gradients_match_finite_differences(checker, case):
    checker.check_finite_difference(case)


@each
def test_config_round_trip(checker, case):
    checker.check_config(case)


@each
def test_keras_file_round_trip(checker, case, tmp_path):
    checker.check_saving(case, tmp_path)


@each
def test_sequential_and_functional(checker, case):
    checker.check_sequential_and_functional(case)


@each
def test_compiled_training_step(checker, case):
    checker.check_training_step(case)


@pytest.mark.parametrize("case", [CASES[1], CASES[4]], ids=[CASES[1].id, CASES[4].id])
def test_compiled_training_step_mixed_float16(checker, case):
    checker.check_training_step(case, policy="mixed_float16")


@each
@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_inference(checker, case, policy):
    checker.check_mixed_precision(case, policy)


@pytest.mark.parametrize("case", CASES[1:4], ids=[c.id for c in CASES[1:4]])
def test_unknown_batch_and_spatial_sizes(checker, case):
    checker.check_unknown_sizes(case)


# ----------------------------------------------------------------------------- training mode
def _randomized(case, shape, dtype="float64", **overrides):
    layer = case.make(dtype=dtype, **overrides)
    layer.build(shape)
    LayerChecker.randomize(case, layer)
    return layer


def _reference(case, x, w, axis, training):
    if case.cls is IEBN:
        return np_iebn(x, w, axis, training, epsilon=case.kwargs.get("epsilon", EPS))
    return np_attentive(x, w, axis, training, attention=case.kwargs.get("attention", "sigmoid"),
                        epsilon=case.kwargs.get("epsilon", EPS))


@each_numeric
@pytest.mark.parametrize("axis", [-1, 1])
def test_training_mode_and_moving_statistics_match_float64_reference(case, axis):
    momentum = 0.8
    x = random_input(case.input_shape, seed=11) + 0.7  # a non-zero batch mean
    x = np.moveaxis(x, -1, axis)
    layer = _randomized(case, x.shape, momentum=momentum, axis=axis)
    before = named(layer)
    y = ops.convert_to_numpy(layer(x, training=True))
    expected, stats = _reference(case, x, before, axis, training=True)
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-10)
    after = named(layer)
    for name, batch in stats.items():
        np.testing.assert_allclose(
            after[name], before[name] * momentum + batch * (1 - momentum), rtol=1e-12, atol=1e-12
        )
    # Inference afterwards uses the updated moving statistics.
    y = ops.convert_to_numpy(layer(x, training=False))
    np.testing.assert_allclose(y, _reference(case, x, after, axis, False)[0], rtol=1e-10,
                               atol=1e-10)


@each_numeric
def test_training_mode_gradients_match_finite_differences(case, eps=1e-6):
    """Input and every trainable weight, through the batch statistics."""
    shape = (3,) + tuple(case.input_shape[1:])
    layer = _randomized(case, shape)
    x = random_input(shape, seed=12)
    g = np.random.default_rng(13).normal(size=shape)
    trainable = [ops.convert_to_numpy(w) for w in layer.trainable_weights]
    nontrain = [ops.convert_to_numpy(w) for w in layer.non_trainable_weights]

    def loss(x, *w):
        y, _ = layer.stateless_call(list(w), nontrain, x, training=True)
        return ops.sum(y * ops.convert_to_tensor(g))

    # On JAX, one compiled function instead of dozens of op-by-op evaluations.
    evaluate = loss
    if BACKEND == "jax":
        import jax

        evaluate = jax.jit(loss)

    def loss_np(*args):
        return float(ops.convert_to_numpy(evaluate(*args)))

    args = [x, *trainable]
    _, grads = value_and_grads(loss, args)
    rng = np.random.default_rng(14)
    for i, (arg, grad) in enumerate(zip(args, grads)):
        assert grad.shape == arg.shape
        assert np.any(grad != 0), f"argument {i} gets no gradient"
        for _ in range(3):
            v = rng.normal(size=arg.shape)
            plus = [a + eps * v if j == i else a for j, a in enumerate(args)]
            minus = [a - eps * v if j == i else a for j, a in enumerate(args)]
            fd = (loss_np(*plus) - loss_np(*minus)) / (2 * eps)
            np.testing.assert_allclose(np.sum(grad * v), fd, rtol=1e-6, atol=1e-6)


@each_numeric
@pytest.mark.parametrize("training", [False, True])
def test_any_channel_axis_equals_channels_last(case, training):
    """``axis=1`` (channels_first) and a middle axis equal ``axis=-1`` on the moved input."""
    shape = case.input_shape
    rank = len(shape)
    x = random_input(shape, seed=15).astype("float32")
    last = _randomized(case, shape, dtype="float32")
    weights = named_list(last)
    y_last = ops.convert_to_numpy(last(x, training=training))
    for axis in sorted({1, rank - 2} - {0}):
        moved = np.moveaxis(x, -1, axis)
        other = _randomized(case, moved.shape, dtype="float32", axis=axis)
        other.set_weights(weights)  # the weights do not depend on the axis
        y = ops.convert_to_numpy(other(moved, training=training))
        np.testing.assert_allclose(np.moveaxis(y_last, -1, axis), y, rtol=2e-5, atol=2e-5)
        np.testing.assert_allclose(
            ops.convert_to_numpy(other.moving_variance),
            ops.convert_to_numpy(last.moving_variance),
            rtol=1e-6,
        )
        assert other.compute_output_shape(moved.shape) == y.shape


def named_list(layer):
    return [ops.convert_to_numpy(w) for w in layer.weights]


def test_frozen_layer_runs_in_inference_mode_and_keeps_its_statistics():
    for cls in (AttentiveNormalization, IEBN):
        layer = cls()
        x = random_input((4, 3, 3, 5)).astype("float32")
        expected = ops.convert_to_numpy(layer(x, training=False))
        layer.trainable = False
        y = ops.convert_to_numpy(layer(x, training=True))
        np.testing.assert_array_equal(y, expected)
        np.testing.assert_array_equal(ops.convert_to_numpy(layer.moving_mean), 0.0)


# ----------------------------------------------------------------------------- BatchNormalization
def _batches(n=4, shape=(6, 5, 5, 4), seed=20):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=shape) * (1 + i) + 3.0 + i).astype("float32") for i in range(n)]


@pytest.mark.parametrize("cls", [AttentiveNormalization, IEBN])
@pytest.mark.parametrize("axis", [-1, 1])
def test_moving_statistics_equal_batch_normalization_after_n_steps(cls, axis):
    layer = cls(momentum=0.9, axis=axis)
    bn = keras.layers.BatchNormalization(momentum=0.9, axis=axis)
    for x in _batches():
        layer(x, training=True)
        bn(x, training=True)
    for ours, theirs in ((layer.moving_mean, bn.moving_mean),
                         (layer.moving_variance, bn.moving_variance)):
        theirs = ops.convert_to_numpy(theirs)
        assert np.max(np.abs(theirs)) > 1.0  # the statistics did move
        np.testing.assert_allclose(ops.convert_to_numpy(ours), theirs, rtol=1e-5, atol=1e-6)


def test_moving_statistics_follow_batch_normalization_in_compiled_fit():
    """The updates happen inside a compiled (XLA on TF/JAX) training step too."""
    xs = np.concatenate(_batches(3, (8, 4, 4, 3)))
    y = np.random.default_rng(0).normal(size=(len(xs), 1)).astype("float32")
    norms = [AttentiveNormalization(momentum=0.8), AttentiveNormalization(momentum=0.8,
             attention="paper"), IEBN(momentum=0.8), keras.layers.BatchNormalization(momentum=0.8)]
    inputs = keras.Input((4, 4, 3))
    pooled = [keras.layers.GlobalAveragePooling2D()(norm(inputs)) for norm in norms]
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Concatenate()(pooled)))
    model.compile("sgd", "mse", jit_compile=BACKEND != "torch")
    model.fit(xs, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    bn = norms[-1]
    for norm in norms[:-1]:
        for ours, theirs in ((norm.moving_mean, bn.moving_mean),
                             (norm.moving_variance, bn.moving_variance)):
            theirs = ops.convert_to_numpy(theirs)
            assert np.max(np.abs(theirs - 1.0)) > 0.5
            np.testing.assert_allclose(ops.convert_to_numpy(ours), theirs, rtol=1e-5, atol=1e-6)
    # The attention branch's own statistics ("paper") moved as well.
    assert np.max(np.abs(ops.convert_to_numpy(norms[1].attention_moving_mean))) > 1e-3


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape,axis", [((4, 5, 5, 3), -1), ((4, 3, 5, 5), 1), ((6, 3), -1)])
def test_iebn_with_open_gate_equals_batch_normalization(training, shape, axis):
    rng = np.random.default_rng(1)
    channels = shape[axis]
    gamma, beta = 1 + rng.normal(size=channels) * 0.3, rng.normal(size=channels) * 0.3
    mean, var = rng.normal(size=channels) * 0.3, rng.uniform(0.5, 2, size=channels)
    iebn = IEBN(axis=axis, momentum=0.7)
    iebn.build(shape)
    iebn.set_weights([gamma, beta, np.zeros(channels), np.full(channels, 40.0), mean, var])
    bn = keras.layers.BatchNormalization(axis=axis, momentum=0.7)
    bn.build(shape)
    bn.set_weights([gamma, beta, mean, var])
    x = random_input(shape, seed=2).astype("float32")
    np.testing.assert_allclose(
        ops.convert_to_numpy(iebn(x, training=training)),
        ops.convert_to_numpy(bn(x, training=training)),
        rtol=1e-5, atol=1e-5,
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(iebn.moving_variance), ops.convert_to_numpy(bn.moving_variance),
        rtol=1e-6,
    )


@pytest.mark.parametrize("attention", ["sigmoid", "paper"])
@pytest.mark.parametrize("training", [True, False])
def test_an_with_one_open_component_equals_batch_normalization_without_affine(attention, training):
    """K = 1, W = 0, large bias, Γ = 1, B = 0: plain standardisation."""
    shape, channels = (4, 5, 5, 3), 3
    layer = AttentiveNormalization(n_mixture=1, attention=attention)
    layer.build(shape)
    values = {
        "attention_kernel": np.zeros((channels, 1)),
        "attention_bias": np.full((1,), 40.0),
        "attention_gamma": np.ones((1,)),
        "attention_beta": np.full((1,), 40.0),  # hard sigmoid(0 * ... + 40) = 1
        "attention_moving_mean": np.zeros((1,)),
        "attention_moving_variance": np.ones((1,)),
        "gamma": np.ones((1, channels)),
        "beta": np.zeros((1, channels)),
        "moving_mean": np.array([0.3, -0.2, 0.1]),
        "moving_variance": np.array([0.5, 1.5, 2.0]),
    }
    layer.set_weights([values[w.name] for w in layer.weights])
    bn = keras.layers.BatchNormalization(center=False, scale=False)
    bn.build(shape)
    bn.set_weights([values["moving_mean"], values["moving_variance"]])
    x = random_input(shape, seed=3).astype("float32")
    np.testing.assert_allclose(
        ops.convert_to_numpy(layer(x, training=training)),
        ops.convert_to_numpy(bn(x, training=training)),
        rtol=1e-5, atol=1e-5,
    )


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


# ----------------------------------------------------------------------------- distribution
def test_synchronized_layers_equal_local_ones_on_a_single_device():
    if BACKEND != "tensorflow":
        pytest.skip("synchronized=True is TensorFlow-only (checked in the bad-argument test)")
    x = random_input((4, 3, 3, 5), seed=6).astype("float32")
    for local in (AttentiveNormalization(momentum=0.5), IEBN(momentum=0.5)):
        local.build(x.shape)
        synced = type(local).from_config({**local.get_config(), "synchronized": True})
        synced.build(x.shape)
        synced.set_weights(local.get_weights())
        np.testing.assert_allclose(
            ops.convert_to_numpy(synced(x, training=True)),
            ops.convert_to_numpy(local(x, training=True)),
            rtol=1e-6, atol=1e-6,
        )
        np.testing.assert_allclose(
            ops.convert_to_numpy(synced.moving_variance),
            ops.convert_to_numpy(local.moving_variance),
            rtol=1e-6,
        )


WORKER = os.path.join(ROOT, "tests", "normalization_distribution_worker.py")


def _distributed(mode):
    proc = run_python(WORKER, mode, timeout=600)
    match = re.search(r"max_abs_diff=(\S+) max_weight_change=(\S+) max_stat_diff=(\S+)",
                      proc.stdout)
    assert match, proc.stdout
    return [float(v) for v in match.groups()]


@pytest.mark.slow  # trains in a subprocess with two devices
def test_mirrored_strategy_matches_single_device():
    if BACKEND != "tensorflow":
        pytest.skip("tf.distribute: runs in the TensorFlow test run")
    diff, moved, stat_diff = _distributed("mirrored")
    assert moved > 1e-3  # training changed the weights
    assert diff < 1e-4
    assert stat_diff < 1e-4


@pytest.mark.slow  # trains in a subprocess with two devices
def test_keras_data_parallel_matches_single_device():
    if BACKEND != "jax":
        pytest.skip("keras.distribution on JAX: runs in the JAX test run")
    diff, moved, stat_diff = _distributed("data_parallel")
    assert moved > 1e-3
    assert diff < 1e-4
    assert stat_diff < 1e-4


@pytest.mark.parametrize(
    "cls, kwargs",
    [(AttentiveNormalization, {}), (AttentiveNormalization, {"attention": "paper"}),
     (IEBN, {})],
)
def test_empty_training_batch_leaves_moving_statistics(cls, kwargs):
    layer = cls(**kwargs)
    x = np.random.default_rng(0).normal(size=(4, 3, 3, 2)).astype("float32")
    layer(x, training=True)
    before = [ops.convert_to_numpy(v).copy() for v in layer.non_trainable_variables]
    out = layer(x[:0], training=True)
    assert tuple(out.shape) == (0, 3, 3, 2)
    after = [ops.convert_to_numpy(v) for v in layer.non_trainable_variables]
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
    if keras.backend.backend() == "tensorflow":  # batch size unknown while tracing
        import tensorflow as tf

        step = tf.function(lambda t: layer(t, training=True),
                           input_signature=[tf.TensorSpec((None, 3, 3, 2), "float32")])
        step(x[:0])
        for a, v in zip(before, layer.non_trainable_variables):
            np.testing.assert_array_equal(a, ops.convert_to_numpy(v))
        step(x)
        assert all(np.all(np.isfinite(ops.convert_to_numpy(v)))
                   for v in layer.non_trainable_variables)
