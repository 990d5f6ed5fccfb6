"""Learnable activations: LEAF and AHAF (Bodyanskiy & Kostiuk).

- LEAF: ``y = (p1 * x + p2) * sigmoid(p3 * x) + p4``.
- AHAF: ``y = beta * x * sigmoid(gamma * x)``.

The parameters are tensors that broadcast against ``x`` (a scalar, one value
per channel, or one value per neuron: ``x.shape[1:]``). Each function has a
fused form (``fused=True``) whose backward pass keeps only ``x`` and the
parameters and recomputes the rest, and a plain form (``fused=False``) that
is the straightforward ``keras.ops`` composition left to autodiff. The
default, ``fused=None``, picks the form measured to be at most as slow and as
large as the other for the backend, compile mode, device and dtype
(``linked_neurons.ops._policy``).

Precision: under float16 and bfloat16 inputs the formula is evaluated in
float32 and the result cast back to the input dtype. The "relu" inits set
``p3`` (or ``gamma``) to ``2**16 = 65536``, which overflows float16 (largest
finite value 65504): in float16, ``p3 * x`` would be ``inf`` and
``inf * 0 = nan`` at ``x = 0``. In float32 the sigmoid argument stays finite
for every input of float16 range, so every policy gives finite, correct
values. Gradients of the parameters come back in the parameters' own dtype
(float32 under mixed precision).
"""

from keras import backend, ops

from linked_neurons.ops._grad import fused_op, sum_to_shape
from linked_neurons.ops._policy import use_fused

_LOW_PRECISION = ("float16", "bfloat16")


def _work_dtype(x):
    """The dtype the formula is evaluated in: float32 for 16-bit inputs."""
    dtype = backend.standardize_dtype(x.dtype)
    return "float32" if dtype in _LOW_PRECISION else dtype


def _to(x, dtype):
    return x if backend.standardize_dtype(x.dtype) == dtype else ops.cast(x, dtype)


def _sigmoids(z):
    """``sigmoid(z)`` and ``sigmoid'(z) = sigmoid(z) * sigmoid(-z)``.

    The product of the two sigmoids keeps full relative precision where
    ``sigmoid(z)`` rounds to 1, unlike ``s * (1 - s)``.
    """
    s = ops.sigmoid(z)
    return s, s * ops.sigmoid(ops.negative(z))


def _param_grad(grad, param):
    return _to(sum_to_shape(grad, tuple(param.shape)), backend.standardize_dtype(param.dtype))


# ---------------------------------------------------------------------------- LEAF
def leaf_plain(x, p1, p2, p3, p4):
    """LEAF composed from ``keras.ops`` (differentiated by the backend)."""
    work = _work_dtype(x)
    xw = _to(x, work)
    p1, p2, p3, p4 = (_to(p, work) for p in (p1, p2, p3, p4))
    y = (p1 * xw + p2) * ops.sigmoid(p3 * xw) + p4
    return _to(y, backend.standardize_dtype(x.dtype))


def _leaf_grad(g, x, p1, p2, p3, p4):
    work = _work_dtype(x)
    xw, gw = _to(x, work), _to(g, work)
    q1, q2, q3 = (_to(p, work) for p in (p1, p2, p3))
    s, ds = _sigmoids(q3 * xw)
    lin = q1 * xw + q2
    lin_ds = lin * ds
    dx = gw * (q1 * s + lin_ds * q3)
    return (
        _to(dx, backend.standardize_dtype(x.dtype)),
        _param_grad(gw * xw * s, p1),
        _param_grad(gw * s, p2),
        _param_grad(gw * lin_ds * xw, p3),
        _param_grad(gw, p4),
    )


_leaf_fused = fused_op(leaf_plain, _leaf_grad)


def _as_params(x, params):
    """Parameters as tensors; Python numbers take the working dtype of ``x``."""
    work = _work_dtype(x)
    out = []
    for p in params:
        if isinstance(p, (int, float)):
            p = ops.convert_to_tensor(p, dtype=work)
        else:
            dtype = backend.standardize_dtype(p.dtype) if hasattr(p, "dtype") else None
            if dtype not in ("float16", "bfloat16", "float32", "float64"):
                p = ops.convert_to_tensor(p)
                dtype = backend.standardize_dtype(p.dtype)
            if dtype not in ("float16", "bfloat16", "float32", "float64"):
                raise TypeError(
                    f"leaf/ahaf: parameters must be floating point, got dtype {dtype}."
                )
            # A cast reads variables into tensors (TensorFlow's custom gradients
            # must not see variables among their arguments).
            p = ops.cast(p, dtype)
        out.append(p)
    return out


def leaf(x, p1, p2, p3, p4, fused=None):
    """Learnable extended activation function (LEAF).

    ``y = (p1 * x + p2) * sigmoid(p3 * x) + p4``. With ``s = sigmoid(p3 x)``
    and ``s' = s (1 - s)`` the derivatives are ``dy/dx = p1 s + (p1 x + p2)
    s' p3``, ``dy/dp1 = x s``, ``dy/dp2 = s``, ``dy/dp3 = (p1 x + p2) s' x``
    and ``dy/dp4 = 1``; parameter gradients are summed over the axes along
    which the parameter is broadcast.

    Args:
        x: Floating-point tensor.
        p1, p2, p3, p4: Tensors (or numbers) that broadcast against ``x``;
            typically float32 even when ``x`` is float16 or bfloat16.
        fused: None (default): the faster form for this backend, compile
            mode, device and dtype; True: the backward pass recomputes
            everything from ``x`` and the parameters; False: plain autodiff.

    Returns:
        A tensor of the shape and dtype of ``x``.

    Example:

        >>> import numpy as np
        >>> from keras import ops
        >>> from linked_neurons.ops.learnable import leaf
        >>> x = np.array([-1.0, 0.0, 2.0], "float32")
        >>> np.round(ops.convert_to_numpy(leaf(x, 0.0, 2.0, 2.0, -1.0)), 4)  # tanh init
        array([-0.7616,  0.    ,  0.964 ], dtype=float32)
    """
    x = ops.convert_to_tensor(x)
    params = _as_params(x, (p1, p2, p3, p4))
    return _leaf_fused(x, *params) if use_fused("leaf", fused, x) else leaf_plain(x, *params)


# ---------------------------------------------------------------------------- AHAF
def ahaf_plain(x, beta, gamma):
    """AHAF composed from ``keras.ops`` (differentiated by the backend)."""
    work = _work_dtype(x)
    xw = _to(x, work)
    beta, gamma = _to(beta, work), _to(gamma, work)
    y = beta * xw * ops.sigmoid(gamma * xw)
    return _to(y, backend.standardize_dtype(x.dtype))


def _ahaf_grad(g, x, beta, gamma):
    work = _work_dtype(x)
    xw, gw = _to(x, work), _to(g, work)
    b, c = _to(beta, work), _to(gamma, work)
    s, ds = _sigmoids(c * xw)
    gx = gw * xw
    dx = gw * b * (s + xw * ds * c)
    return (
        _to(dx, backend.standardize_dtype(x.dtype)),
        _param_grad(gx * s, beta),
        _param_grad(gx * b * xw * ds, gamma),
    )


_ahaf_fused = fused_op(ahaf_plain, _ahaf_grad)


def ahaf(x, beta, gamma, fused=None):
    """Adaptive hybrid activation function (AHAF).

    ``y = beta * x * sigmoid(gamma * x)``: ReLU-like for a large ``gamma``,
    SiLU for ``beta = gamma = 1``. With ``s = sigmoid(gamma x)`` and
    ``s' = s (1 - s)``: ``dy/dx = beta (s + x s' gamma)``,
    ``dy/dbeta = x s`` and ``dy/dgamma = beta x^2 s'``.

    Args:
        x: Floating-point tensor.
        beta, gamma: Tensors (or numbers) that broadcast against ``x``.
        fused: None (default): the faster form for this backend, compile
            mode, device and dtype; True: the backward pass keeps only the
            inputs; False: plain autodiff.

    Returns:
        A tensor of the shape and dtype of ``x``.

    Example:

        >>> import numpy as np
        >>> from keras import ops
        >>> from linked_neurons.ops.learnable import ahaf
        >>> x = np.array([-1.0, 0.0, 2.0], "float32")
        >>> np.round(ops.convert_to_numpy(ahaf(x, 1.0, 1.0)), 4)  # SiLU
        array([-0.2689,  0.    ,  1.7616], dtype=float32)
    """
    x = ops.convert_to_tensor(x)
    beta, gamma = _as_params(x, (beta, gamma))
    if use_fused("ahaf", fused, x):
        return _ahaf_fused(x, beta, gamma)
    return ahaf_plain(x, beta, gamma)


# Conditioning of the "relu" inits. ``x * sigmoid(p3 * x)`` differs from ReLU by at
# most 0.2785 / p3 (at |x| = 1.28 / p3): 4.2e-6 for the paper's p3 = 2**16. But its
# slope goes from 0 to 1 over a width of about 1 / p3, so near x = 0 a change of the
# input by d changes the slope by up to p3 * d / 4: with p3 = 2**16 the network is
# ill-conditioned. In benchmarks/leaf_conditioning.py (digits, 64-32-32-10 LEAF MLP,
# Adam), two runs whose initial weights differ by a relative 1e-7 end 8 steps apart by
# 1.6e-2 (max abs weight difference, median of 3 seeds) with p3 = 2**16, 1.1e-4 with
# p3 = 2**8 and 1.5e-5 with 2**6, and the validation accuracy after 20 epochs is the
# same (0.937 +- 0.010 for 2**16, 0.939 +- 0.004 for 2**8). "relu_smooth" (p3 = 2**8,
# ReLU to 1.1e-3) is the well-conditioned choice; "relu" stays the paper's init.

#: Initial parameter values of the named LEAF inits, ``(p1, p2, p3, p4)``.
LEAF_INITS = {
    "relu": (1.0, 0.0, 2.0**16, 0.0),
    "silu": (1.0, 0.0, 1.0, 0.0),
    "tanh": (0.0, 2.0, 2.0, -1.0),
    "sigmoid": (0.0, 1.0, 1.0, 0.0),
    "relu_smooth": (1.0, 0.0, 2.0**8, 0.0),
}

#: Initial parameter values of the named AHAF inits, ``(beta, gamma)``.
AHAF_INITS = {
    "relu": (1.0, 2.0**16),
    "silu": (1.0, 1.0),
    "relu_smooth": (1.0, 2.0**8),
}

__all__ = [
    "AHAF_INITS",
    "LEAF_INITS",
    "ahaf",
    "ahaf_plain",
    "leaf",
    "leaf_plain",
]
