"""Tests of linked_neurons.signal: gradient RMS per kernel and second moments per layer."""

import doctest

import keras
import numpy as np
import pytest

from linked_neurons import signal
from linked_neurons.paper_models import depth_net


def _dense_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, name="hidden"),
                              keras.layers.ReLU(name="act"),
                              keras.layers.Dense(2, activation="softmax", name="out")])
    return model


def test_gradients_match_a_numpy_backpropagation():
    model = _dense_model()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 3)).astype("float32")
    y = np.array([0, 1, 1, 0, 1])
    w1, b1, w2, b2 = [w.astype("float64") for w in model.get_weights()]
    h = x.astype("float64") @ w1 + b1
    a = np.maximum(h, 0)
    z = a @ w2 + b2
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    dz = (p - np.eye(2)[y]) / len(x)  # mean cross-entropy
    dw2 = a.T @ dz
    dw1 = x.T.astype("float64") @ ((dz @ w2.T) * (h > 0))
    grads = signal.loss_gradients(model, x, y)
    np.testing.assert_allclose(grads[0], dw1, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(grads[2], dw2, rtol=1e-4, atol=1e-7)
    rms = signal.kernel_gradient_rms(model, x, y)
    assert rms == pytest.approx([np.sqrt(np.mean(dw1**2)), np.sqrt(np.mean(dw2**2))], rel=1e-4)
    moments = signal.second_moments(model, x)
    assert moments == pytest.approx([float(np.mean(a**2))], rel=1e-5)
    assert signal.second_moments(model, x, ["hidden"]) == pytest.approx([float(np.mean(h**2))],
                                                                          rel=1e-5)
    with pytest.raises(ValueError, match="second_moments: `layers` has names the model lacks"):
        signal.second_moments(model, x, ["nope"])


def test_depth_net_signal_fades_without_linking():
    """At Keras' default initialisation on the digits-like input, the second moment of a
    deep plain ReLU stack falls much faster than that of the linked one."""
    x = np.random.default_rng(2).uniform(0, 1, (16, 16, 16, 1)).astype("float32")
    fading = {}
    for activation in ("relu", "lkrelu"):
        keras.utils.set_random_seed(0)
        moments = signal.second_moments(depth_net((16, 16, 1), 10, activation, depth=12,
                                                  width=4), x)
        assert len(moments) == 12 and all(m >= 0 for m in moments)
        fading[activation] = moments[-1] / moments[0]
    assert fading["relu"] < fading["lkrelu"]


def test_signal_docstring_examples():
    result = doctest.testmod(signal, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
