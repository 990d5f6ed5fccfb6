"""Tensor functions behind the normalization layers (SPEC §6).

Shapes: ``x`` has its batch axis at 0 and its channel axis at ``axis``; every
other axis is a *spatial* axis (none for a rank-2 input). Per-sample,
per-channel quantities have shape ``(N, C)``; per-channel ones ``(C,)``.
Everything is written with ``keras.ops`` and runs on every backend and under
XLA.

>>> import keras
>>> import numpy as np
>>> from linked_neurons.ops import normalization as norm_ops
>>> x = np.array([[[0.0, 1.0], [2.0, 5.0]], [[4.0, 1.0], [6.0, 1.0]]])  # (N=2, 2, C=2)
>>> means, _ = norm_ops.sample_means(x, axis=-1)  # global average pooling, (N, C)
>>> keras.ops.convert_to_numpy(means)
array([[1., 3.],
       [5., 1.]])
>>> mean, variance = norm_ops.batch_moments(x, axis=-1)
>>> keras.ops.convert_to_numpy(mean), keras.ops.convert_to_numpy(variance)
(array([3., 2.]), array([5., 3.]))
"""

from keras import ops


def spatial_axes(rank, axis):
    """The axes other than the batch axis and the channel ``axis`` (sorted)."""
    axis = axis % rank
    return [i for i in range(1, rank) if i != axis]


def _sum(x, axes, keepdims=False):
    return ops.sum(x, axis=axes, keepdims=keepdims) if axes else x


def _count(x, axes):
    """Number of elements ``x`` has along ``axes``, in ``x``'s dtype when not static."""
    static = [x.shape[a] for a in axes]
    if all(d is not None for d in static):
        count = 1
        for d in static:
            count *= int(d)
        return float(count)
    shape = ops.shape(x)
    count = ops.cast(shape[axes[0]], x.dtype)
    for a in axes[1:]:
        count = count * ops.cast(shape[a], x.dtype)
    return count


def _mean(x, axes, keepdims=False):
    # A sum and a division: ``keras.ops.mean`` accumulates float64 in float32 on JAX.
    if not axes:
        return x
    return ops.sum(x, axis=axes, keepdims=keepdims) / _count(x, axes)


def divide_or_zero(a, b):
    """``a / b`` where ``b > 0``, else 0 (``b >= 0``); keeps float64 on every backend."""
    positive = b > 0
    return ops.where(positive, a / ops.where(positive, b, ops.ones_like(b)), ops.zeros_like(a))


def mix(weights, components):
    """``weights @ components`` for ``(N, K)`` and ``(K, C)``: the per-sample mixture.

    Written as an ``einsum``, which keeps float64 on every backend
    (``keras.ops.matmul`` computes float64 in float32 on PyTorch).
    """
    return ops.einsum("nk,kc->nc", weights, components)


def per_sample(t, rank, axis):
    """Reshapes ``(N, C)`` to broadcast against an input of ``rank`` (channel at ``axis``)."""
    axes = spatial_axes(rank, axis)
    return ops.expand_dims(t, tuple(axes)) if axes else t


def per_channel(v, rank, axis):
    """Reshapes ``(C,)`` to broadcast against an input of ``rank`` (channel at ``axis``)."""
    shape = [1] * rank
    shape[axis % rank] = -1
    return ops.reshape(v, shape)


def mask_weights(mask, x, axis):
    """A 0/1 float weight of shape ``x.shape`` with the channel axis set to 1.

    ``mask`` has the shape of ``x`` without its channel axis (as in
    ``keras.layers.BatchNormalization``).
    """
    rank = len(x.shape)
    return ops.expand_dims(ops.cast(mask, x.dtype), axis % rank)


def sample_means(x, axis, weights=None):
    """Per-sample channel means over the spatial axes (global average pooling).

    Args:
        x: Input tensor.
        axis: Channel axis.
        weights: Optional 0/1 mask weights from :func:`mask_weights`; masked
            positions are left out (a sample with no position left gets 0).

    Returns:
        ``(means, counts)``: the ``(N, C)`` means and the ``(N, 1)`` number of
        unmasked positions behind each mean (None without ``weights``: every
        sample then averages the same number of positions).
    """
    x = ops.convert_to_tensor(x)
    rank = len(x.shape)
    axes = spatial_axes(rank, axis)
    if weights is None:
        return _mean(x, axes), None
    sums = _sum(x * weights, axes)
    counts = ops.reshape(_sum(weights, axes), (-1, 1))
    return divide_or_zero(sums, counts), counts


def sample_variances(x, axis, means, weights=None):
    """Per-sample channel variances over the spatial axes (``(N, C)``, biased).

    Zero for a rank-2 input, which has no spatial axis. ``means`` are the
    per-sample means from :func:`sample_means`; as in :func:`batch_moments`, no
    gradient flows back through them here (it would be exactly zero).
    """
    x = ops.convert_to_tensor(x)
    rank = len(x.shape)
    axes = spatial_axes(rank, axis)
    if not axes:
        return ops.zeros_like(x)
    d = ops.square(x - per_sample(ops.stop_gradient(means), rank, axis))
    if weights is None:
        return _mean(d, axes)
    counts = ops.reshape(_sum(weights, axes), (-1, 1))
    return divide_or_zero(ops.sum(d * weights, axis=axes), counts)


def batch_moments(x, axis, means=None, counts=None, weights=None):
    """Batch mean and biased variance per channel, ``(C,)`` each.

    The variance is the mean squared deviation from the batch mean (two
    passes, as ``tf.nn.moments``), so it stays accurate when the mean is large
    compared with the spread. Its derivative with respect to that mean is
    exactly zero (the deviations sum to zero), so, as in ``tf.nn.moments``,
    no gradient is sent back through the mean there: the gradient is the
    same and the backward pass is shorter.

    Args:
        x: Input tensor.
        axis: Channel axis.
        means, counts: The output of :func:`sample_means` for ``x`` when it is
            already computed; the batch mean is then taken from it instead of
            another pass over ``x``.
        weights: Optional mask weights from :func:`mask_weights`.
    """
    x = ops.convert_to_tensor(x)
    rank = len(x.shape)
    axis = axis % rank
    if means is None:
        means, counts = sample_means(x, axis, weights)
    reduce = [0] + spatial_axes(rank, axis)
    if weights is None:
        mean = _mean(means, [0])
        variance = _mean(ops.square(x - per_channel(ops.stop_gradient(mean), rank, axis)), reduce)
        return mean, variance
    total = ops.sum(counts)
    mean = divide_or_zero(ops.sum(means * counts, axis=0), total)
    d = ops.square(x - per_channel(ops.stop_gradient(mean), rank, axis)) * weights
    return mean, divide_or_zero(ops.sum(d, axis=reduce), total)


def scale_shift_normalize(x, mean, variance, scale, shift, axis, epsilon):
    """``scale * (x - mean) / sqrt(variance + epsilon) + shift`` in one pass over ``x``.

    ``mean`` and ``variance`` are per channel ``(C,)``; ``scale`` and ``shift``
    are per sample ``(N, C)`` (or per channel ``(C,)``, or None for 1 and 0).
    The per-sample factors are folded first, so the full-size work is one
    multiply-add: ``x * s + t`` with ``s = scale * rsqrt(variance + epsilon)``
    and ``t = shift - mean * s``.
    """
    x = ops.convert_to_tensor(x)
    rank = len(x.shape)
    inv = ops.rsqrt(variance + epsilon)
    s = inv if scale is None else scale * inv
    t = -mean * s if shift is None else shift - mean * s
    if len(s.shape) == 1:
        s = per_channel(s, rank, axis)
    else:
        s = per_sample(s, rank, axis)
    if len(t.shape) == 1:
        t = per_channel(t, rank, axis)
    else:
        t = per_sample(t, rank, axis)
    return x * s + t


def hard_sigmoid(z):
    """``relu6(z + 3) / 6``: 0 below -3, 1 above 3, linear between."""
    return ops.relu6(z + 3.0) / 6.0


def attentive_normalization(x, mean, variance, attention, gamma, beta, axis=-1, epsilon=1e-3):
    """Attentive normalization: ``(λΓ) ⊙ x̂ + λB`` (SPEC §6).

    Args:
        x: Input tensor.
        mean, variance: Per-channel statistics ``(C,)`` that standardise ``x``.
        attention: Mixture weights λ, ``(N, K)``.
        gamma, beta: Mixture components Γ and B, ``(K, C)`` each.
        axis: Channel axis.
        epsilon: Added to the variance.
    """
    return scale_shift_normalize(
        x, mean, variance, mix(attention, gamma), mix(attention, beta), axis, epsilon
    )


def instance_enhanced_normalization(
    x, mean, variance, attention, gamma=None, beta=None, axis=-1, epsilon=1e-3
):
    """Instance-enhanced batch normalization: ``x̂ ⊙ (γ ⊙ a) + β`` (SPEC §6).

    Args:
        x: Input tensor.
        mean, variance: Per-channel statistics ``(C,)``.
        attention: The per-sample gate ``a``, ``(N, C)``.
        gamma, beta: Per-channel ``(C,)`` scale and offset, or None for 1 and 0.
        axis: Channel axis.
        epsilon: Added to the variance.
    """
    scale = attention if gamma is None else attention * gamma
    return scale_shift_normalize(x, mean, variance, scale, beta, axis, epsilon)
