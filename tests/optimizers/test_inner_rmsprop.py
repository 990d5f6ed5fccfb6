"""InnerRMSprop: the meta-learning's inner update as a Keras optimizer."""

import keras
import numpy as np
import pytest

from linked_neurons import diversity
from linked_neurons.optimizers import InnerRMSprop


def _reference(w, grads, lr, decay, eps):
    """float64 NumPy reference of the update, square average starting at 1."""
    w = np.array(w, dtype="float64")
    s = np.ones_like(w)
    for g in grads:
        s = decay * s + (1.0 - decay) * g**2
        w = w - lr * g / (np.sqrt(s) + eps)
    return w


def test_matches_the_float64_reference_on_random_gradients():
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(3, 4))
    grads = [rng.normal(scale=2.0, size=(3, 4)) for _ in range(5)]
    w = keras.Variable(w0.astype("float32"))
    opt = InnerRMSprop(learning_rate=0.05, decay=0.7, epsilon=1e-6)
    for g in grads:
        opt.apply_gradients([(keras.ops.convert_to_tensor(g.astype("float32")), w)])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(w),
                               _reference(w0, grads, 0.05, 0.7, 1e-6), rtol=1e-5, atol=1e-6)


def test_same_update_as_the_unrolled_meta_learning_loop():
    """Training a Dense layer with InnerRMSprop = the update inside meta_learn."""
    from keras import ops

    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 5)).astype("float32")
    y = rng.integers(0, 3, 16)
    w0 = rng.normal(scale=0.3, size=(5, 3)).astype("float32")
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, use_bias=False)])
    model.layers[0].kernel.assign(w0)
    model.compile(optimizer=InnerRMSprop(), loss=keras.losses.SparseCategoricalCrossentropy(
        from_logits=True))
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    # the same two steps with the functions meta_learn uses
    w = w0.astype("float64")
    s = np.ones_like(w)
    for i in range(2):
        xb, yb = x[8 * i : 8 * i + 8].astype("float64"), y[8 * i : 8 * i + 8]
        logits = xb @ w
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        g = xb.T @ (p - np.eye(3)[yb]) / 8
        s = 0.8 * s + 0.2 * g**2
        w = w - 0.01 * g / (np.sqrt(s) + 1e-8)
    np.testing.assert_allclose(ops.convert_to_numpy(model.layers[0].kernel), w, rtol=1e-4,
                               atol=1e-6)
    assert diversity.PAPER_DEFAULTS["inner_lr"] == 0.01
    assert diversity.PAPER_DEFAULTS["inner_decay"] == 0.8


def test_config_round_trip_and_bad_arguments():
    opt = InnerRMSprop(learning_rate=0.02, decay=0.5, epsilon=1e-7)
    clone = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert isinstance(clone, InnerRMSprop)
    assert (clone.decay, clone.epsilon) == (0.5, 1e-7)
    assert float(keras.ops.convert_to_numpy(clone.learning_rate)) == pytest.approx(0.02)
    with pytest.raises(ValueError, match="InnerRMSprop.*decay"):
        InnerRMSprop(decay=1.0)
    with pytest.raises(TypeError, match="InnerRMSprop.*epsilon"):
        InnerRMSprop(epsilon="small")


def test_docstring_example():
    import doctest

    from linked_neurons.optimizers import inner_rmsprop

    result = doctest.testmod(inner_rmsprop, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
