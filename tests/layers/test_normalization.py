"""AttentiveNormalization and IEBN (SPEC §6): the numerics.

Float64 references, the generic Keras checks, training mode and moving
statistics, and the equivalence with BatchNormalization.
"""

import keras
import numpy as np
import pytest
from conftest import BACKEND, LayerChecker, random_input, value_and_grads
from keras import ops
from normalization_support import (
    CASES,
    EPS,
    each,
    each_numeric,
    named,
    np_attentive,
    np_iebn,
)

from linked_neurons.layers.normalization import IEBN, AttentiveNormalization


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

