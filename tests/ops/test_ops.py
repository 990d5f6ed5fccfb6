"""The pure functions of ``linked_neurons.ops``: fused vs plain, float64 references."""

import importlib

import numpy as np
import pytest
from conftest import (
    BACKEND,
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

linked_module = importlib.import_module("linked_neurons.ops.linked")

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


def _np_lk_prelu_grads(g, x, a_pos, a_neg):
    """float64 reference of LKPReLU's gradients, slopes of shape (1, C) on [N, L, C]."""
    c = x.shape[-1]
    g1, g2 = g[..., :c], g[..., c:]
    dx = g1 * np.where(x > 0, 1.0, a_pos) - g2 * np.where(x < 0, 1.0, a_neg)
    d_pos = np.sum(g1 * np.minimum(x, 0), axis=(0, 1))[None]
    d_neg = np.sum(g2 * np.minimum(-x, 0), axis=(0, 1))[None]
    return dx, d_pos, d_neg


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "kernel-per-op"])
def test_lk_prelu_backward_forms_against_reference(compiled):
    # Both ways the fused backward is written (for XLA, and for runtimes that
    # launch each op as a kernel) give SPEC's gradients, in float64.
    x = random_input((3, 4, 5), seed=21)
    a_pos = np.random.default_rng(22).normal(0.2, 0.3, size=(1, 5))
    a_neg = np.random.default_rng(23).normal(0.2, 0.3, size=(1, 5))
    g = np.random.default_rng(24).normal(size=(3, 4, 10))
    got = linked_module._lk_prelu_backward(
        *(ops.convert_to_tensor(v) for v in (g, x, a_pos, a_neg)), axis=-1, compiled=compiled
    )
    for a, b in zip(got, _np_lk_prelu_grads(g, x, a_pos, a_neg)):
        assert tuple(a.shape) == b.shape
        np.testing.assert_allclose(ops.convert_to_numpy(a), b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "kernel-per-op"])
def test_lk_prelu_backward_keeps_the_dtype(compiled, dtype):
    x = ops.convert_to_tensor(random_input((2, 3, 4)), dtype=dtype)
    a = ops.convert_to_tensor(np.full((1, 4), 0.25), dtype=dtype)
    g = ops.convert_to_tensor(random_input((2, 3, 8), seed=3), dtype=dtype)
    for t in linked_module._lk_prelu_backward(g, x, a, a, axis=-1, compiled=compiled):
        assert ops.dtype(t) == dtype


def test_fused_lk_prelu_gradients_when_compiled(monkeypatch):
    # The fused op traced for a fusing compiler (XLA under TensorFlow's
    # jit_compile and JAX's jit) picks the compiled backward, with the same
    # gradients as the plain form.
    x = random_input((2, 3, 4), seed=5).astype("float32")
    a_pos = np.random.default_rng(6).normal(0.2, 0.3, size=(1, 4)).astype("float32")
    a_neg = np.random.default_rng(7).normal(0.2, 0.3, size=(1, 4)).astype("float32")
    g = np.random.default_rng(8).normal(size=(2, 3, 8)).astype("float32")
    seen = []
    real = linked_module._lk_prelu_backward

    def spy(*args, **kwargs):
        seen.append(kwargs["compiled"])
        return real(*args, **kwargs)

    def grads(fused):
        def loss(x, ap, an):
            return ops.sum(ln_ops.lk_prelu(x, ap, an, fused=fused) * ops.convert_to_tensor(g))

        if BACKEND == "tensorflow":
            import tensorflow as tf

            @tf.function(jit_compile=True)
            def step(*args):
                with tf.GradientTape() as tape:
                    tape.watch(args)
                    out = loss(*args)
                return tape.gradient(out, args)

            return [t.numpy() for t in step(*map(tf.constant, (x, a_pos, a_neg)))]
        if BACKEND == "jax":
            import jax

            return [np.asarray(t) for t in jax.jit(jax.grad(loss, argnums=(0, 1, 2)))(
                x, a_pos, a_neg)]
        return value_and_grads(loss, [x, a_pos, a_neg])[1]

    monkeypatch.setattr(linked_module, "_lk_prelu_backward", spy)
    fused, plain = grads(True), grads(False)
    assert seen and all(c == (BACKEND != "torch") for c in seen), seen
    for a, b in zip(fused, plain):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    ref = _np_lk_prelu_grads(g.astype("float64"), x.astype("float64"), a_pos, a_neg)
    for a, b in zip(fused, ref):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


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
