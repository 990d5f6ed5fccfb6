"""The pure functions of ``linked_neurons.ops``: fused vs plain, float64 references."""

import numpy as np
import pytest
from conftest import (
    np_linked,
    np_mish,
    np_prelu,
    np_relu,
    np_selu,
    np_swish,
    random_input,
    value_and_grads,
)
from keras import ops

from linked_neurons import ops as ln_ops

UNARY = [
    ("lk_relu", lambda x, **kw: ln_ops.lk_relu(x, axis=1, **kw),
     lambda x: np_linked(np_relu, x, 1)),
    ("lk_selu", lambda x, **kw: ln_ops.lk_selu(x, axis=1, **kw),
     lambda x: np_linked(np_selu, x, 1)),
    ("lk_swish", lambda x, **kw: ln_ops.lk_swish(x, axis=1, **kw),
     lambda x: np_linked(np_swish, x, 1)),
    ("selu", ln_ops.selu, np_selu),
    ("mish", ln_ops.mish, np_mish),
    ("swish", ln_ops.swish, np_swish),
]


def _numeric_grad(fn, x, g, eps=1e-6):
    """Elementwise central differences of sum(fn(x) * g) (float64)."""
    out = np.zeros_like(x)
    flat = x.reshape(-1)
    for i in range(flat.size):
        e = np.zeros_like(flat)
        e[i] = eps
        plus = np.sum(fn((flat + e).reshape(x.shape)) * g)
        minus = np.sum(fn((flat - e).reshape(x.shape)) * g)
        out.reshape(-1)[i] = (plus - minus) / (2 * eps)
    return out


@pytest.mark.parametrize("name,op,ref", UNARY, ids=[u[0] for u in UNARY])
@pytest.mark.parametrize("fused", [True, False, None])
def test_values_and_elementwise_gradients_float64(name, op, ref, fused):
    x = random_input((2, 3, 4), seed=5, scale=3.0, min_abs=0.05)
    y = ops.convert_to_numpy(op(x, fused=fused))
    np.testing.assert_allclose(y, ref(x), rtol=1e-12, atol=1e-14)
    g = np.random.default_rng(6).normal(size=y.shape)
    g_t = ops.convert_to_tensor(g)
    _, (dx,) = value_and_grads(lambda x: ops.sum(op(x, fused=fused) * g_t), [x])
    np.testing.assert_allclose(dx, _numeric_grad(ref, x, g), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name,op,ref", UNARY, ids=[u[0] for u in UNARY])
def test_extreme_inputs_stay_finite_and_agree(name, op, ref):
    x = np.array([[-1e4, -90.0, -20.0, -1e-3, 1e-3, 20.0, 90.0, 1e4]], "float32")
    g = ops.ones(ref(x.astype("float64")).shape, dtype="float32")
    results = []
    for fused in (True, False):
        y, (dx,) = value_and_grads(lambda x, f=fused: ops.sum(op(x, fused=f) * g), [x])
        results.append((ops.convert_to_numpy(op(x, fused=fused)), dx))
    (y1, d1), (y2, d2) = results
    assert np.all(np.isfinite(y1)) and np.all(np.isfinite(d1))
    np.testing.assert_allclose(y1, ref(x.astype("float64")), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(d1, d2, rtol=1e-5, atol=1e-6)


def test_lk_prelu_op_against_reference():
    x = random_input((2, 5, 3), seed=8)
    a_pos = np.array([[0.1, -0.2, 0.3]])
    a_neg = np.array([[0.25, 0.0, -0.5]])
    expected = np.concatenate([np_prelu(x, a_pos), np_prelu(-x, a_neg)], axis=-1)
    for fused in (True, False):
        y = ops.convert_to_numpy(ln_ops.lk_prelu(x, a_pos, a_neg, axis=-1, fused=fused))
        np.testing.assert_allclose(y, expected, rtol=1e-12)


def test_swish_beta_gradient():
    x = random_input((3, 4), seed=9)
    beta = np.array([0.5, 1.0, 1.5, 2.0])
    g = np.random.default_rng(9).normal(size=x.shape)
    g_t = ops.convert_to_tensor(g)
    for fused in (True, False):
        _, (dx, db) = value_and_grads(
            lambda x, b, f=fused: ops.sum(ln_ops.swish(x, b, fused=f) * g_t), [x, beta]
        )
        s = 1 / (1 + np.exp(-beta * x))
        np.testing.assert_allclose(dx, g * (s + beta * x * s * (1 - s)), rtol=1e-10)
        np.testing.assert_allclose(db, np.sum(g * x * x * s * (1 - s), axis=0), rtol=1e-10)


def test_linked_generic_helper():
    x = random_input((2, 3))
    y = ops.convert_to_numpy(ln_ops.linked(ops.sigmoid, x, axis=-1))
    np.testing.assert_allclose(y, np_linked(lambda z: 1 / (1 + np.exp(-z)), x), rtol=1e-12)


def test_tail_gradients_keep_relative_precision_in_float32():
    """Small derivatives in the tails are computed, not obtained by cancellation.

    s'(-x) for LKSwish's second half and selu'(x) for x << 0 are tiny; forms
    such as s'(x) - 1 or selu(x) + scale * alpha lose all their digits there.
    The fused forms are asked for: the default may be the backend's own.
    """
    x = np.linspace(-15.0, 15.0, 301)
    x = x[np.abs(x) > 0.05]
    x32 = x.astype("float32")[None]
    xr = x32.astype("float64")[0]
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    # LKSwish: upstream only on the -x half, so dx = -s'(-x).
    g = ops.convert_to_tensor(np.concatenate([np.zeros_like(x32), np.ones_like(x32)], -1))
    _, (dx,) = value_and_grads(lambda x: ops.sum(ln_ops.lk_swish(x, fused=True) * g), [x32])
    expected = -sig(-xr) * (1 - xr * sig(xr))
    np.testing.assert_allclose(dx[0], expected, rtol=1e-4, atol=1e-12)
    # SELU for x < 0.
    neg = x32[x32 < 0][None]
    _, (dx,) = value_and_grads(lambda x: ops.sum(ln_ops.selu(x, fused=True)), [neg])
    expected = 1.0507009873554804934193349852946 * 1.6732632423543772848170429916717 * np.exp(
        neg[0].astype("float64")
    )
    np.testing.assert_allclose(dx[0], expected, rtol=1e-5)


@pytest.mark.parametrize("dtype,ulps", [("float32", 8), ("float64", 8)])
def test_exportable_expm1_matches_numpy_near_zero_and_in_the_tail(dtype, ulps):
    """``tanh(x / 2) * (exp(x) + 1)`` (no Expm1 kernel) keeps expm1's relative precision."""
    from linked_neurons.ops._grad import expm1

    mags = np.concatenate([np.logspace(-30, 1.9, 4001), np.linspace(0.01, 80.0, 801)])
    x = -np.random.default_rng(11).permutation(mags).astype(dtype)
    got = ops.convert_to_numpy(expm1(ops.convert_to_tensor(x)))
    assert got.dtype == np.dtype(dtype)
    exact = np.expm1(x.astype(np.longdouble))
    ulp = np.spacing(np.abs(exact).astype(dtype)).astype(np.longdouble)
    assert np.max(np.abs(got - exact) / ulp) <= ulps
    np.testing.assert_allclose(got, np.expm1(x), rtol=ulps * np.finfo(dtype).eps, atol=0)
