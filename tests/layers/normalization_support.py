"""What the AttentiveNormalization and IEBN tests share (SPEC §6).

Float64 NumPy references of both layers (:func:`np_attentive`,
:func:`np_iebn`), the weight initialisation of the generic checks, and the
layer cases: ``CASES`` for the Keras-integration checks, ``NUMERIC_CASES``
(every rank and variant) for the numerics, with their ``each`` and
``each_numeric`` parametrizations.
"""

import os

import numpy as np
import pytest
from conftest import LayerCase, np_sigmoid
from keras import ops

from linked_neurons.layers.normalization import IEBN, AttentiveNormalization

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
