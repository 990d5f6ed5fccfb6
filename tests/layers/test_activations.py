"""Plain activations: SELU, Mish, Swish (SPEC §2)."""

import keras
import numpy as np
import pytest
from conftest import (
    LayerCase,
    layer_contract,
    np_mish,
    np_selu,
    np_swish,
    random_input,
    value_and_grads,
)
from keras import ops

from linked_neurons import SELU, Mish, Swish
from linked_neurons import ops as ln_ops


def _swish_ref(x, weights, axis):
    if not weights:
        return np_swish(x)
    beta = weights[0]
    if beta.ndim:  # per channel: broadcast along `axis`
        shape = [1] * x.ndim
        shape[axis] = beta.shape[0]
        beta = beta.reshape(shape)
    return np_swish(x, beta)


def _beta_init(rng, shape, name):
    return 1.0 + 0.5 * rng.uniform(-1, 1, size=shape)


CASES = [
    LayerCase(SELU, lambda x, w, axis: np_selu(x), has_axis=False),
    LayerCase(Mish, lambda x, w, axis: np_mish(x), has_axis=False),
    LayerCase(Swish, _swish_ref),
    LayerCase(Swish, lambda x, w, axis: np_swish(x, 1.7), kwargs={"beta": 1.7},
              id="Swish-beta1.7"),
    LayerCase(Swish, _swish_ref, kwargs={"trainable_beta": True}, weight_init=_beta_init,
              id="Swish-trainable-scalar"),
    LayerCase(Swish, _swish_ref, kwargs={"trainable_beta": True, "per_channel": True},
              weight_init=_beta_init, id="Swish-trainable-per-channel"),
]

TestContract = layer_contract(CASES)

GOLDEN_X = np.array([[-2.0, -1.0, 0.0, 1.0, 2.0]], dtype="float32")


def test_selu_golden():
    y = ops.convert_to_numpy(SELU()(GOLDEN_X))
    np.testing.assert_allclose(
        y[0], [-1.52016647, -1.11133074, 0.0, 1.05070099, 2.10140197], rtol=1e-7, atol=1e-7
    )


def test_mish_golden():
    y = ops.convert_to_numpy(Mish()(GOLDEN_X))
    np.testing.assert_allclose(
        y[0], [-0.25250148, -0.30340146, 0.0, 0.86509839, 1.94395896], rtol=1e-6, atol=1e-7
    )


@pytest.mark.parametrize("dtype,big", [("float32", 100.0), ("float16", 20.0), ("float64", 1e3)])
def test_mish_gradient_finite_for_large_inputs(dtype, big):
    """A naive log(1 + e^x) overflows above 88.7 (float32) and 11.09 (float16)."""
    x = np.array([[-big, -5.0, 0.5, 11.5, 89.0 if dtype != "float16" else 15.0, big]], dtype)
    layer = Mish(dtype=dtype)
    y, (dx,) = value_and_grads(lambda x: ops.sum(layer(x)), [x])
    assert np.all(np.isfinite(dx)) and np.isfinite(y)
    # d/dx mish -> 1 for large x, -> 0 for very negative x
    np.testing.assert_allclose(dx[0, -1], 1.0, rtol=1e-3)
    np.testing.assert_allclose(dx[0, 0], 0.0, atol=1e-3)


def test_mish_derivative_formula():
    x = random_input((4, 9), seed=11)
    layer = Mish(dtype="float64")
    _, (dx,) = value_and_grads(lambda x: ops.sum(layer(x)), [x])
    sp = np.logaddexp(0.0, x)
    sig = 0.5 * (1 + np.tanh(x / 2))
    np.testing.assert_allclose(dx, np.tanh(sp) + x * sig * (1 - np.tanh(sp) ** 2), rtol=1e-12)


def test_selu_trains_self_normalising_net():
    """SELU with lecun_normal keeps activations near zero mean / unit variance."""
    keras.utils.set_random_seed(0)
    layers = [keras.Input((64,))]
    for _ in range(8):
        layers += [keras.layers.Dense(64, kernel_initializer="lecun_normal"), SELU()]
    model = keras.Sequential(layers)
    y = ops.convert_to_numpy(model(np.random.default_rng(0).normal(size=(2048, 64))))
    assert abs(y.mean()) < 0.15
    assert 0.7 < y.std() < 1.3


def test_swish_trainable_beta_is_learned_and_named():
    layer = Swish(trainable_beta=True, beta=0.5)
    layer.build((None, 3))
    assert [w.name for w in layer.trainable_weights] == ["beta"]
    np.testing.assert_allclose(ops.convert_to_numpy(layer.beta), 0.5)
    x = random_input((2, 3))
    _, grads = value_and_grads(
        lambda x, b: ops.sum(layer.stateless_call([b], [], x)[0]), [x, np.float64(0.5)]
    )
    s = 0.5 * (1 + np.tanh(0.25 * x))  # sigmoid(0.5 x)
    np.testing.assert_allclose(grads[1], np.sum(x * x * s * (1 - s)), rtol=1e-5)


def test_swish_bad_arguments():
    with pytest.raises(ValueError, match="Swish.*per_channel.*trainable_beta"):
        Swish(per_channel=True)
    with pytest.raises(TypeError, match="Swish.*beta.*number"):
        Swish(beta="one")
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError, match=f"Swish.*`beta`.*beta={bad}"):
            Swish(beta=bad)
    with pytest.raises(TypeError, match="Swish.*trainable_beta.*'yes'"):
        Swish(trainable_beta="yes")
    with pytest.raises(ValueError, match="Swish.*known channel size"):
        Swish(trainable_beta=True, per_channel=True)(keras.Input((4, None)))


@pytest.mark.parametrize("fused", [True, False])
def test_swish_float16_beta_gradient_is_finite_for_large_inputs(fused):
    """x * x overflows float16 above 256; the beta gradient must not turn into NaN."""
    x = np.array([[-300.0, -10.0, 0.5, 10.0, 300.0]], "float16")
    beta = np.array(1.0, "float16")
    _, grads = value_and_grads(
        lambda x, b: ops.sum(ln_ops.swish(x, b, fused=fused)), [x, beta]
    )
    x64 = x.astype("float64")
    s = 1.0 / (1.0 + np.exp(-x64))
    expected = np.sum(x64 * x64 * s * (1 - s))
    dbeta = np.float64(grads[1])
    assert np.isfinite(dbeta)
    # float16 rounds sigmoid(10) to 1, losing the 2 * 4.5e-3 of x = +-10: a tolerance of
    # 1e-2 absolute is float16's, not the formula's.
    np.testing.assert_allclose(dbeta, expected, atol=1e-2)
    assert np.all(np.isfinite(np.asarray(grads[0], "float64")))


@pytest.mark.parametrize("fused", [True, False])
def test_swish_float16_input_gradient_is_finite_when_beta_x_overflows(fused):
    """beta * x overflows float16 for x = 6e4, beta = 1.7; the input gradient is still 1."""
    x = np.array([[-6e4, 6e4, 2.0]], "float16")
    _, grads = value_and_grads(
        lambda x: ops.sum(ln_ops.swish(x, np.float16(1.7), fused=fused)), [x]
    )
    g = np.asarray(grads[0], "float64")
    s = 1.0 / (1.0 + np.exp(-3.4))
    np.testing.assert_allclose(g, [[0.0, 1.0, s + 3.4 * s * (1 - s)]], atol=2e-3)


def test_swish_layer_float16_trainable_beta_gradient_is_finite():
    layer = Swish(trainable_beta=True, dtype="float16")
    x = np.array([[-300.0, -10.0, 0.5, 10.0, 300.0]], "float16")
    layer.build(x.shape)
    _, grads = value_and_grads(
        lambda x, b: ops.sum(layer.stateless_call([b], [], x)[0]), [x, np.float16(1.0)]
    )
    assert np.isfinite(np.float64(grads[1]))


def _mixed_float16_swish_steps(fused, steps=8):
    keras.config.set_dtype_policy("mixed_float16")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((5,)),
        Swish(trainable_beta=True, fused=fused),
        # frozen: the test is about beta's gradient, and an SGD step that moves beta
        # visibly would make this kernel diverge.
        keras.layers.Dense(1, kernel_initializer=keras.initializers.Constant(1e-3),
                           trainable=False),
    ])
    optimizer = keras.optimizers.LossScaleOptimizer(
        keras.optimizers.SGD(0.1)  # Keras' initial scale, 2**15
    )
    model.compile(optimizer=optimizer, loss="mse")
    x = random_input((8, 5), seed=1).astype("float32")
    x[:, 0] = np.where(np.arange(8) % 2 == 0, 300.0, -300.0)
    y = np.zeros((8, 1), "float32")
    losses = [float(model.train_on_batch(x, y)) for _ in range(steps)]
    weights = [ops.convert_to_numpy(w) for w in model.trainable_weights]
    return losses, float(ops.convert_to_numpy(optimizer.dynamic_scale)), weights


def test_swish_trainable_beta_keeps_the_loss_scale_under_mixed_float16():
    """A feature at +-300 once made the fused beta gradient NaN (g * x * x overflowed
    float16 whenever the scaled upstream gradient g passed 0.73): the LossScaleOptimizer
    skipped those steps and halved its scale (to 2**13 here). Beta's gradient itself
    fits float16 at Keras' initial scale: no step may be skipped, fused or plain."""
    results = {fused: _mixed_float16_swish_steps(fused) for fused in (True, False)}
    for fused, (losses, scale, weights) in results.items():
        assert np.all(np.isfinite(losses)), fused
        assert scale == 2.0**15, (fused, scale)
        assert all(np.all(np.isfinite(w)) for w in weights), fused
    beta_fused, beta_plain = results[True][2][0], results[False][2][0]
    assert beta_fused != 1.0  # beta trained
    np.testing.assert_allclose(beta_fused, beta_plain, rtol=1e-3)
