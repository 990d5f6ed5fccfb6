"""Plain activations (SELU, Mish, Swish) with memory-saving gradients.

Each function has a fused form (``fused=True``) whose backward pass keeps
only the input and recomputes the rest, and a plain form (``fused=False``)
that is the straightforward composition of ``keras.ops`` calls, left to
autodiff. The default, ``fused=None``, picks the form measured to be at most
as slow and as large in the setting the op is traced in
(:mod:`linked_neurons.ops._policy`).
Both give the same values and gradients to float rounding.
"""

from keras import backend, ops

from linked_neurons.ops._grad import fused_op, negative_part, sum_to_shape
from linked_neurons.ops._policy import use_fused

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


# --------------------------------------------------------------------------- SELU
def selu_plain(x):
    """SELU by ``keras.ops.selu`` and autodiff."""
    return ops.selu(x)


def _selu_grad(g, x):
    # selu'(x) = scale * alpha * exp(x) for x <= 0, computed directly: the
    # shortcut selu(x) + scale * alpha (TensorFlow's SeluGrad) cancels for
    # negative x and loses most digits in float16.
    scale = ops.convert_to_tensor(SELU_SCALE, dtype=x.dtype)
    return g * ops.where(x > 0, scale, SELU_SCALE * SELU_ALPHA * ops.exp(negative_part(x)))


_selu_fused = fused_op(ops.selu, _selu_grad)


def selu(x, fused=None):
    """Scaled exponential linear unit.

    ``scale * x`` for ``x > 0`` and ``scale * alpha * (exp(x) - 1)`` otherwise,
    with ``alpha = 1.6732632423543772848170429916717`` and
    ``scale = 1.0507009873554804934193349852946``.

    Args:
        x: Floating-point tensor.
        fused: None (default): the faster form for this backend, compile
            mode, device and dtype; True: the backward pass recomputes the
            derivative from ``x``; False: plain ``keras.ops.selu`` with
            autodiff.

    Returns:
        A tensor of the same shape and dtype as ``x``.
    """
    x = ops.convert_to_tensor(x)
    return _selu_fused(x) if use_fused("selu", fused, x) else selu_plain(x)


# --------------------------------------------------------------------------- Mish
def _tanh_softplus(x):
    """tanh(softplus(x)) in ``x``'s dtype.

    ``keras.ops.tanh`` returns float32 for float64 inputs on the JAX backend,
    so float64 uses ``tanh(s) = -expm1(-2s) / (2 + expm1(-2s))``, which is
    accurate for every ``s = softplus(x) >= 0``; the other dtypes use ``tanh``
    (fewer kernels).
    """
    sp = ops.softplus(x)
    if backend.standardize_dtype(x.dtype) != "float64":
        return ops.tanh(sp)
    m = ops.expm1(-2 * sp)
    return ops.negative(m) / (2 + m)


def mish_plain(x):
    """Mish as ``x * tanh(softplus(x))`` composed from ``keras.ops``."""
    return x * _tanh_softplus(x)


def _mish_grad(g, x):
    t = _tanh_softplus(x)
    return g * (t + x * ops.sigmoid(x) * (1 - t * t))


_mish_fused = fused_op(mish_plain, _mish_grad)


def mish(x, fused=None):
    """Mish: ``x * tanh(softplus(x))`` with the numerically stable softplus.

    The derivative is ``tanh(sp) + x * sigmoid(x) * (1 - tanh(sp)**2)`` with
    ``sp = softplus(x)``; it stays finite for every finite input.

    Args:
        x: Floating-point tensor.
        fused: None (default): the faster form for this backend, compile
            mode, device and dtype; True: the backward pass keeps only ``x``;
            False: the plain composition.

    Returns:
        A tensor of the same shape and dtype as ``x``.
    """
    x = ops.convert_to_tensor(x)
    return _mish_fused(x) if use_fused("mish", fused, x) else mish_plain(x)


# --------------------------------------------------------------------------- Swish
def swish_plain(x, beta=None):
    """Swish ``x * sigmoid(beta * x)`` composed from ``keras.ops``.

    With ``beta`` None this is ``keras.ops.silu``: the backend's own SiLU
    (``torch.nn.functional.silu``, one kernel each way; ``tf.nn.silu``,
    whose gradient keeps only ``x``; ``jax.nn.silu``).
    """
    if beta is None:
        return ops.silu(x)
    return x * ops.sigmoid(beta * x)


def _silu_grad(g, x):
    s = ops.sigmoid(x)
    return g * (s * (1 + x * (1 - s)))


_silu_fused = fused_op(swish_plain, _silu_grad)


def _swish_beta_grad(g, x, beta):
    s = ops.sigmoid(beta * x)
    ds = s * (1 - s)
    dx = g * (s + beta * (x * ds))
    # x * ds first: it is bounded (|x| ds <= 0.224 / |beta|) and vanishes with ds,
    # whereas beta * x and x * x overflow float16 (|x| > 256) and inf * 0 is NaN.
    dbeta = sum_to_shape(g * ((x * ds) * x), tuple(beta.shape))
    return dx, dbeta


_swish_beta_fused = fused_op(swish_plain, _swish_beta_grad)


def swish(x, beta=None, fused=None):
    """Swish ``x * sigmoid(beta * x)``; SiLU when ``beta`` is None (β = 1).

    Args:
        x: Floating-point tensor.
        beta: None (β = 1), or a tensor that broadcasts against ``x`` (a
            scalar or per-channel weight). The gradient reaches ``beta`` too.
        fused: None (default): the faster form for this backend, compile
            mode, device and dtype; True: the backward pass keeps only the inputs;
            False: the plain composition.

    Returns:
        A tensor of the same shape and dtype as ``x``.
    """
    x = ops.convert_to_tensor(x)
    if beta is not None:
        beta = ops.convert_to_tensor(beta, dtype=x.dtype)
    if not use_fused("swish", fused, x):
        return swish_plain(x, beta)
    if beta is None:
        return _silu_fused(x)
    return _swish_beta_fused(x, beta)
