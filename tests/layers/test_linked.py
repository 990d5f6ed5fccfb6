"""Linked layers: LKReLU, LKSELU, LKSwish, LKPReLU, Linked (SPEC §1)."""

import keras
import numpy as np
import pytest
from conftest import (
    LayerCase,
    layer_contract,
    np_linked,
    np_mish,
    np_prelu,
    np_relu,
    np_selu,
    np_swish,
    random_input,
)
from keras import ops

from linked_neurons import LKSELU, Linked, LKPReLU, LKReLU, LKSwish


def _lk_prelu_ref(x, weights, axis):
    a_pos, a_neg = weights
    return np.concatenate([np_prelu(x, a_pos), np_prelu(-x, a_neg)], axis=axis)


def _linked_ref(fn):
    return lambda x, weights, axis: np_linked(fn, x, axis)


CASES = [
    LayerCase(LKReLU, _linked_ref(np_relu), channel_multiplier=2),
    LayerCase(LKSELU, _linked_ref(np_selu), channel_multiplier=2),
    LayerCase(LKSwish, _linked_ref(np_swish), channel_multiplier=2),
    LayerCase(LKPReLU, _lk_prelu_ref, channel_multiplier=2),
    LayerCase(
        LKPReLU,
        _lk_prelu_ref,
        kwargs={"shared_axes": [1]},
        input_shape=(3, 4, 6),
        channel_multiplier=2,
        id="LKPReLU-per-position",
    ),
    LayerCase(Linked, _linked_ref(np_relu), kwargs={"activation": "relu"}, channel_multiplier=2,
              id="Linked-relu"),
    LayerCase(Linked, _linked_ref(np_mish), kwargs={"activation": "mish"}, channel_multiplier=2,
              id="Linked-mish"),
    LayerCase(Linked, _linked_ref(lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0)))),
              kwargs={"activation": "elu"}, input_shape=(4, 7), channel_multiplier=2,
              id="Linked-elu-dense"),
]

TestContract = layer_contract(CASES)


GOLDEN_X = np.array([[-2.0, -1.0, 0.0, 1.0, 2.0]], dtype="float32")


def test_lkrelu_golden_and_crelu():
    y = ops.convert_to_numpy(LKReLU()(GOLDEN_X))
    np.testing.assert_array_equal(y, [[0, 0, 0, 1, 2, 2, 1, 0, 0, 0]])
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        x = random_input((2, 3, 4, 5)).astype("float32")
        np.testing.assert_array_equal(LKReLU()(x).numpy(), tf.nn.crelu(x).numpy())
        np.testing.assert_array_equal(LKReLU(axis=1)(x).numpy(), tf.nn.crelu(x, axis=1).numpy())


def test_lkselu_golden():
    y = ops.convert_to_numpy(LKSELU()(GOLDEN_X))
    selu = [-1.52016647, -1.11133074, 0.0, 1.05070099, 2.10140197]
    np.testing.assert_allclose(y[0], selu + selu[::-1], rtol=1e-7, atol=1e-7)


def test_lkswish_golden():
    y = ops.convert_to_numpy(LKSwish()(GOLDEN_X))
    x = GOLDEN_X[0].astype("float64")
    np.testing.assert_allclose(y[0], np.concatenate([np_swish(x), np_swish(-x)]), rtol=1e-6)


def test_lkprelu_untrained_equals_lkrelu():
    x = random_input((2, 5, 5, 3)).astype("float32")
    np.testing.assert_array_equal(
        ops.convert_to_numpy(LKPReLU()(x)), ops.convert_to_numpy(LKReLU()(x))
    )


def test_lkprelu_weights_per_channel_by_default():
    layer = LKPReLU(alpha_regularizer="l2", alpha_constraint="non_neg")
    layer.build((None, 7, 7, 3))
    assert [w.name for w in layer.weights] == ["alpha_pos", "alpha_neg"]
    assert [tuple(w.shape) for w in layer.weights] == [(1, 1, 3), (1, 1, 3)]
    assert layer.count_params() == 6
    first = LKPReLU(axis=1)
    first.build((None, 3, 7, 7))
    assert tuple(first.alpha_pos.shape) == (3, 1, 1)
    per_position = LKPReLU(shared_axes=[])
    per_position.build((None, 7, 7, 3))
    assert tuple(per_position.alpha_pos.shape) == (7, 7, 3)
    # regularizer reaches both weights
    layer.set_weights([np.ones((1, 1, 3)), np.ones((1, 1, 3))])
    _ = layer(np.ones((1, 7, 7, 3), "float32"))
    assert len(layer.losses) == 2


def test_lkprelu_unknown_channel_size_is_a_clear_error():
    inputs = keras.Input((None, None, None))
    with pytest.raises(ValueError, match="LKPReLU.*size of channel axis 3.*unknown"):
        LKPReLU()(inputs)
    with pytest.raises(ValueError, match="LKPReLU.*invalid shared axis 0"):
        LKPReLU(shared_axes=[0])(keras.Input((4, 3)))
    with pytest.raises(TypeError, match="LKPReLU.*shared_axes"):
        LKPReLU(shared_axes="spatial")
    # weight-free linked layers accept an unknown channel size
    out = LKReLU()(inputs)
    assert tuple(out.shape) == (None, None, None, None)


def test_lkprelu_gradients_of_slopes_match_spec():
    """da+ = sum g1 * min(x, 0), da- = sum g2 * min(-x, 0) over shared axes."""
    from conftest import value_and_grads

    layer = LKPReLU(dtype="float64")
    shape = (2, 3, 4)
    layer.build(shape)
    layer.set_weights([np.full((1, 4), 0.2), np.full((1, 4), -0.1)])
    x = random_input(shape, 3)
    g = np.random.default_rng(3).normal(size=(2, 3, 8))

    def loss(x, a_pos, a_neg):
        y, _ = layer.stateless_call([a_pos, a_neg], [], x)
        return ops.sum(y * ops.convert_to_tensor(g))

    _, (dx, d_pos, d_neg) = value_and_grads(loss, [x, *layer.get_weights()])
    g1, g2 = g[..., :4], g[..., 4:]
    np.testing.assert_allclose(d_pos, np.sum(g1 * np.minimum(x, 0), axis=(0, 1))[None], 1e-12)
    np.testing.assert_allclose(d_neg, np.sum(g2 * np.minimum(-x, 0), axis=(0, 1))[None], 1e-12)
    expected_dx = g1 * np.where(x > 0, 1, 0.2) - g2 * np.where(x < 0, 1, -0.1)
    np.testing.assert_allclose(dx, expected_dx, rtol=1e-12)


@pytest.mark.parametrize("layer_cls", [LKReLU, LKSELU, LKSwish])
def test_gradient_at_zero_follows_spec(layer_cls):
    """At x = 0 LKReLU's derivative is 0 from both halves (relu'(0) = 0).

    SPEC gives the fused op's gradients; the plain form (a possible default)
    follows the backend's convention at the kink.
    """
    from conftest import value_and_grads

    layer = layer_cls(dtype="float64", fused=True)
    x = np.zeros((1, 3))
    g = np.array([[1.0, 2.0, 3.0, 0.5, 0.25, 0.125]])
    g_t = ops.convert_to_tensor(g)
    _, (dx,) = value_and_grads(lambda x: ops.sum(layer(x) * g_t), [x])
    if layer_cls is LKReLU:
        np.testing.assert_array_equal(dx, 0.0)
    elif layer_cls is LKSELU:
        sa = 1.0507009873554804934193349852946 * 1.6732632423543772848170429916717
        np.testing.assert_allclose(dx[0], (g[0, :3] - g[0, 3:]) * sa, rtol=1e-12)
    else:  # swish'(0) = 1/2
        np.testing.assert_allclose(dx[0], (g[0, :3] - g[0, 3:]) * 0.5, rtol=1e-12)


def test_linked_uses_fused_ops_by_name_and_layers_with_shared_weights():
    x = random_input((2, 4, 3)).astype("float32")
    np.testing.assert_array_equal(
        ops.convert_to_numpy(Linked("relu")(x)), ops.convert_to_numpy(LKReLU()(x))
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(Linked("selu")(x)), ops.convert_to_numpy(LKSELU()(x)), rtol=1e-6
    )
    prelu = keras.layers.PReLU(alpha_initializer=keras.initializers.Constant(0.25))
    layer = Linked(prelu)
    y = ops.convert_to_numpy(layer(x))
    x64 = x.astype("float64")
    np.testing.assert_allclose(y, np_linked(lambda z: np_prelu(z, 0.25), x64), rtol=1e-6)
    assert len(layer.trainable_weights) == 1  # one PReLU shared by both halves
    clone = Linked.from_config(layer.get_config())
    assert isinstance(clone.activation, keras.layers.PReLU)
    # a callable
    y = ops.convert_to_numpy(Linked(ops.sigmoid)(x))
    np.testing.assert_allclose(y, np_linked(lambda z: 1 / (1 + np.exp(-z)), x64), rtol=1e-6)
    y = ops.convert_to_numpy(Linked("tanh")(x))
    np.testing.assert_allclose(y, np_linked(np.tanh, x64), rtol=1e-6)


def test_lkprelu_shared_axes_must_be_integers():
    with pytest.raises(TypeError, match=r"LKPReLU layer .*`shared_axes`.*1\.7"):
        LKPReLU(shared_axes=[1.7])
    with pytest.raises(TypeError, match=r"LKPReLU layer .*`shared_axes`.*'1'"):
        LKPReLU(shared_axes="1")
    assert LKPReLU(shared_axes=np.int64(1)).shared_axes == [1]


def test_linked_bad_arguments():
    with pytest.raises(ValueError, match="Linked.*unknown activation 'nope'"):
        Linked("nope")
    with pytest.raises(TypeError, match="Linked.*activation.*int"):
        Linked(3)
    with pytest.raises(ValueError, match="Linked.*LKReLU.*channel count"):
        Linked(LKReLU())
