"""Linked activations: ``concat([f(x), f(-x)], axis)``.

The output has twice the channels of the input. Every input value receives
gradient from one of the two halves wherever it lies, which is what lets deep
networks train without normalisation.

Each op has a fused form built with ``keras.ops.custom_gradient``: its
backward pass keeps only the input ``x`` (C channels) and recomputes the
derivative from it, instead of the 2C-channel output and intermediates that
autodiff of the plain composition keeps. ``fused=True`` forces it,
``fused=False`` gives the plain composition ``linked(f, x, axis)``, and the
default ``fused=None`` picks the form measured to be at most as slow and as
large in the backend, compile mode, device and dtype the op is traced in
(:mod:`linked_neurons.ops._policy`).
"""

import numpy as np
from keras import ops

from linked_neurons.ops._grad import expm1, fused_op, negative_part, sum_to_shape
from linked_neurons.ops._policy import is_compiled, use_fused
from linked_neurons.ops.activations import SELU_ALPHA, SELU_SCALE


def linked(fn, x, axis=-1):
    """Plain linked activation ``concat([fn(x), fn(-x)], axis)``.

    Args:
        fn: Elementwise callable.
        x: Input tensor.
        axis: Channel axis along which the two halves are concatenated.

    Returns:
        A tensor with twice ``x``'s size on ``axis``.
    """
    x = ops.convert_to_tensor(x)
    return ops.concatenate([fn(x), fn(ops.negative(x))], axis=axis)


def _halves(upstream, axis):
    return ops.split(upstream, 2, axis=axis)


def _doubled_shape(x, axis):
    """Shape of ``concat([x, x], axis)``; ``axis`` is non-negative."""
    shape = [-1 if d is None else d for d in ops.shape(x)]
    return tuple(shape[:axis]) + (2 * shape[axis],) + tuple(shape[axis + 1 :])


def _join(first, second, axis):
    """``concat([first, second], axis)`` written as ``stack`` + ``reshape``.

    Same values. XLA fuses the stack with the elementwise ops that produce its
    operands into one loop that writes the output once, whereas it emits a
    concatenate on the channel axis as a separate copy of both halves.
    """
    axis = axis % len(first.shape)
    return ops.reshape(ops.stack([first, second], axis=axis), _doubled_shape(first, axis))


def _signed_pair(x, axis):
    """``[x, -x]`` stacked on a new axis before ``axis``, by one broadcast product.

    Returns the pair (shape ``x.shape[:axis] + (2,) + x.shape[axis:]``) and the
    non-negative axis. Multiplying by -1 is exact, so ``f(pair)`` reshaped is
    ``concat([f(x), f(-x)], axis)`` bit for bit. For a cheap ``f`` this is one
    pass over the output and no separate negation or concatenation.
    """
    axis = axis % len(x.shape)
    signs = np.array([1, -1]).reshape((2,) + (1,) * (len(x.shape) - axis))
    return ops.expand_dims(x, axis) * ops.convert_to_tensor(signs, dtype=x.dtype), axis


# ------------------------------------------------------------------------ forward math
def _lk_relu_forward(x, axis):
    pair, axis = _signed_pair(x, axis)
    return ops.reshape(ops.relu(pair), _doubled_shape(x, axis))


def _lk_selu_forward(x, axis):
    # One exponential for both halves: selu(x) and selu(-x) share expm1(-|x|),
    # written with tanh and exp so that the op exports to ONNX (no Expm1 there).
    neg = SELU_SCALE * SELU_ALPHA * expm1(ops.negative(ops.abs(x)))
    pos = SELU_SCALE * x
    return _join(ops.where(x > 0, pos, neg), ops.where(x < 0, ops.negative(pos), neg), axis)


def _lk_swish_forward(x, axis):
    return _join(x * ops.sigmoid(x), ops.negative(x) * ops.sigmoid(ops.negative(x)), axis)


def _lk_prelu_forward(x, alpha_pos, alpha_neg, axis):
    return _join(
        ops.where(x > 0, x, alpha_pos * x), ops.where(x < 0, ops.negative(x), -alpha_neg * x), axis
    )


# ------------------------------------------------------------------------ fused ops
# The backward functions follow SPEC §1: with upstream g = [g1, g2],
# dx = g1 * f'(x) - g2 * f'(-x).
def _fused_lk_relu(x, axis):
    def backward(g, x):
        g1, g2 = _halves(g, axis)
        # g1 where x > 0, -g2 where x < 0, 0 at x == 0, in three elementwise ops.
        return ops.sign(x) * ops.where(x > 0, g1, g2)

    return fused_op(lambda x: _lk_relu_forward(x, axis), backward)(x)


def _fused_lk_selu(x, axis):
    def backward(g, x):
        g1, g2 = _halves(g, axis)
        scale = ops.convert_to_tensor(SELU_SCALE, dtype=x.dtype)
        small = SELU_SCALE * SELU_ALPHA * ops.exp(ops.negative(ops.abs(x)))
        return g1 * ops.where(x > 0, scale, small) - g2 * ops.where(x < 0, scale, small)

    return fused_op(lambda x: _lk_selu_forward(x, axis), backward)(x)


def _fused_lk_swish(x, axis):
    def backward(g, x):
        g1, g2 = _halves(g, axis)
        # s'(x) = σ(x) (1 + x σ(-x)) and s'(-x) = σ(-x) (1 - x σ(x)). σ(-x) is
        # computed, not taken as 1 - σ(x): the difference cancels for large |x|
        # and loses every digit of s'(-x) there (float16 and float32 alike).
        s = ops.sigmoid(x)
        sn = ops.sigmoid(ops.negative(x))
        return g1 * (s * (1 + x * sn)) - g2 * (sn * (1 - x * s))

    return fused_op(lambda x: _lk_swish_forward(x, axis), backward)(x)


def _lk_prelu_backward(g, x, alpha_pos, alpha_neg, axis, compiled):
    """Gradients of LKPReLU for upstream ``g``: ``(dx, d alpha_pos, d alpha_neg)``.

    ``d/da+ = g1 min(x, 0)`` and ``d/da- = g2 min(-x, 0) = -(g2 relu(x))``,
    summed to the slopes' shape. ``compiled`` picks how the two products are
    written, with the same values: as selects on the mask ``x > 0`` that
    ``dx`` uses as well, which XLA fuses with it into fewer passes (XLA on a
    CPU, TensorFlow and JAX: about 0.8x the time of the other way), or, for a
    runtime that launches every op as a kernel of its own, with ``relu`` and
    a subtraction (TensorFlow's graph runtime and PyTorch eager on a CPU:
    0.8x-0.95x the time of the selects).
    """
    g1, g2 = _halves(g, axis)
    positive = x > 0
    dx = ops.where(positive, g1, alpha_pos * g1) - ops.where(x < 0, g2, alpha_neg * g2)
    if compiled:
        pos_term = ops.where(positive, 0.0, g1 * x)
        neg_term = ops.where(positive, g2 * x, 0.0)
    else:
        pos_term = g1 * negative_part(x)
        neg_term = g2 * ops.relu(x)
    d_pos = sum_to_shape(pos_term, tuple(alpha_pos.shape))
    d_neg = ops.negative(sum_to_shape(neg_term, tuple(alpha_neg.shape)))
    return dx, d_pos, d_neg


def _fused_lk_prelu(x, alpha_pos, alpha_neg, axis):
    compiled = is_compiled(x)

    def backward(g, x, alpha_pos, alpha_neg):
        return _lk_prelu_backward(g, x, alpha_pos, alpha_neg, axis, compiled=compiled)

    return fused_op(lambda x, ap, an: _lk_prelu_forward(x, ap, an, axis), backward)(
        x, alpha_pos, alpha_neg
    )


# ------------------------------------------------------------------------ public ops
def _prelu(z, alpha):
    # max(z, 0) + a min(z, 0), exactly, as one select.
    return ops.where(z > 0, z, alpha * z)


def lk_relu(x, axis=-1, fused=None):
    """Linked ReLU: ``concat([relu(x), relu(-x)], axis)`` (``tf.nn.crelu``).

    Args:
        x: Floating-point tensor.
        axis: Channel axis (-1 for channels_last, 1 for channels_first).
        fused: None (default): the faster form for this backend, compile
            mode, device and dtype; True: the fused form, whose backward pass keeps
            only ``x``; False: the plain composition.

    Returns:
        A tensor with twice ``x``'s channels on ``axis``.
    """
    x = ops.convert_to_tensor(x)
    return _fused_lk_relu(x, axis) if use_fused("lk_relu", fused, x) else linked(ops.relu, x, axis)


def lk_selu(x, axis=-1, fused=None):
    """Linked SELU: ``concat([selu(x), selu(-x)], axis)``.

    Args:
        x: Floating-point tensor.
        axis: Channel axis.
        fused: None (default): the faster form for this backend, compile
            mode, device and dtype; True: the fused form, whose backward pass keeps
            only ``x``; False: the plain composition.

    Returns:
        A tensor with twice ``x``'s channels on ``axis``.
    """
    x = ops.convert_to_tensor(x)
    return _fused_lk_selu(x, axis) if use_fused("lk_selu", fused, x) else linked(ops.selu, x, axis)


def lk_swish(x, axis=-1, fused=None):
    """Linked Swish (SiLU, β = 1): ``concat([x σ(x), -x σ(-x)], axis)``.

    Args:
        x: Floating-point tensor.
        axis: Channel axis.
        fused: None (default): the faster form for this backend, compile
            mode, device and dtype; True: the fused form, whose backward pass keeps
            only ``x``; False: the plain composition.

    Returns:
        A tensor with twice ``x``'s channels on ``axis``.
    """
    x = ops.convert_to_tensor(x)
    if use_fused("lk_swish", fused, x):
        return _fused_lk_swish(x, axis)
    return linked(ops.silu, x, axis)


def lk_prelu(x, alpha_pos, alpha_neg, axis=-1, fused=None):
    """Linked PReLU: ``concat([prelu(x; a+), prelu(-x; a-)], axis)``.

    ``prelu(z; a) = max(z, 0) + a * min(z, 0)``.

    Args:
        x: Floating-point tensor.
        alpha_pos: Slopes of the ``x`` half, broadcastable to ``x`` without
            its batch axis (e.g. shape ``(1, 1, C)`` for per-channel slopes).
        alpha_neg: Slopes of the ``-x`` half, same shape as ``alpha_pos``.
        axis: Channel axis.
        fused: None (default): the faster form for this backend, compile
            mode, device and dtype; True: the fused form, whose backward pass keeps
            only ``x`` and the slopes; False: the plain composition.

    Returns:
        A tensor with twice ``x``'s channels on ``axis``.
    """
    x = ops.convert_to_tensor(x)
    alpha_pos = ops.convert_to_tensor(alpha_pos, dtype=x.dtype)
    alpha_neg = ops.convert_to_tensor(alpha_neg, dtype=x.dtype)
    if use_fused("lk_prelu", fused, x):
        return _fused_lk_prelu(x, alpha_pos, alpha_neg, axis)
    # Joined as a stack, which XLA writes in one loop (JAX on a CPU: 0.75x the
    # time of a concatenate, forward and backward); the same elsewhere.
    return _join(_prelu(x, alpha_pos), _prelu(ops.negative(x), alpha_neg), axis)
