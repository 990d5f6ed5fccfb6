"""Depthwise 2D convolution written as other operations, with the same outputs.

Used by :class:`~linked_neurons.layers.MixedDepthwiseConv2D` where a backend's
own depthwise convolution is slow for large kernels (see its docstring).
Both functions equal ``keras.ops.depthwise_conv`` with the same arguments,
including TensorFlow's split of "same" padding (the extra row or column
after the input).
"""

import keras
from keras import ops

#: Dtypes whose sums are accumulated in float32 and rounded once at the end,
#: as a convolution accumulates them.
_LOW_PRECISION = ("float16", "bfloat16")


def _accumulation_dtype(x):
    """``(dtype of x, dtype to sum its terms in)``."""
    dtype = keras.backend.standardize_dtype(x.dtype)
    return dtype, "float32" if dtype in _LOW_PRECISION else dtype


def _pairs(strides, dilation_rate):
    strides = (strides, strides) if isinstance(strides, int) else tuple(strides)
    dilation = (dilation_rate,) * 2 if isinstance(dilation_rate, int) else tuple(dilation_rate)
    return strides, dilation


def output_size(size, kernel, stride, dilation, padding):
    """Length of a convolution's output along one spatial axis.

    Args:
        size: Int, the input's length along the axis.
        kernel: Int, the kernel's length along the axis.
        stride: Int.
        dilation: Int.
        padding: ``"same"`` or ``"valid"``.

    Returns:
        ``ceil(size / stride)`` for "same"; for "valid", the number of
        positions where the dilated kernel fits (at least 0).
    """
    if padding == "same":
        return -(-size // stride)
    return max(0, (size - (dilation * (kernel - 1) + 1)) // stride + 1)


def _pad_input(x, kernel_hw, strides, padding, data_format, dilation):
    """Zero-pads ``x`` as ``padding`` asks for a ``kernel_hw`` kernel.

    Returns:
        ``(padded x, spatial axes, output sizes)``; output position ``i``
        reads padded input ``i * stride + tap * dilation`` on each axis.
    """
    axes = (1, 2) if data_format == "channels_last" else (2, 3)
    pads, outs = [], []
    for axis, k, s, d in zip(axes, kernel_hw, strides, dilation):
        size = x.shape[axis]
        out = output_size(size, k, s, d, padding)
        total = 0
        if padding == "same":
            total = max((out - 1) * s + d * (k - 1) + 1 - size, 0)
        pads.append((total // 2, total - total // 2))
        outs.append(out)
    if any(p for pair in pads for p in pair):
        width = [(0, 0)] * 4
        width[axes[0]], width[axes[1]] = pads
        x = ops.pad(x, width)
    return x, axes, outs


def shifted_depthwise_conv(x, kernel, strides=1, padding="valid", data_format="channels_last",
                           dilation_rate=1):
    """Depthwise 2D convolution as a sum of shifted slices times kernel taps.

    Equal to ``keras.ops.depthwise_conv`` with the same arguments, written as
    ``kh * kw`` strided slices of the padded input, each multiplied by one
    tap of the kernel and summed. XLA fuses the slices, products and sum into
    a few loops, which on GPUs runs large kernels much faster than its
    depthwise convolution. A float16 or bfloat16 input is summed in float32
    and rounded once at the end, as a convolution accumulates it: summing
    the ``kh * kw`` terms in 16 bits would round every partial sum (on a 9x9
    kernel about six times the error of the convolution).

    Args:
        x: 4D tensor with static spatial sizes.
        kernel: ``(kh, kw, channels, depth_multiplier)`` tensor.
        strides: Int or pair of ints.
        padding: ``"same"`` or ``"valid"``.
        data_format: ``"channels_last"`` or ``"channels_first"``.
        dilation_rate: Int or pair of ints.

    Returns:
        The 4D convolved tensor with ``channels * depth_multiplier`` channels
        (channel ``c * depth_multiplier + j`` from input channel ``c``).
    """
    strides, dilation = _pairs(strides, dilation_rate)
    kh, kw, channels, multiplier = kernel.shape
    last = data_format == "channels_last"
    x, axes, outs = _pad_input(x, (kh, kw), strides, padding, data_format, dilation)
    dtype, accumulate = _accumulation_dtype(x)
    if accumulate != dtype:  # under XLA the casts fuse into the loops
        x, kernel = ops.cast(x, accumulate), ops.cast(kernel, accumulate)
    # Kernel taps broadcast against a slice (channels_last: (..., C) or (..., C, M)).
    if multiplier == 1:
        taps = ops.reshape(kernel, (kh, kw, channels) + ((1, 1) if not last else ()))
    else:
        taps = ops.reshape(kernel, (kh, kw, channels, multiplier) + ((1, 1) if not last else ()))
    y = None
    for a in range(kh):
        for b in range(kw):
            index = [slice(None)] * 4
            for axis, start, s, out in zip(axes, (a * dilation[0], b * dilation[1]), strides,
                                           outs):
                index[axis] = slice(start, start + (out - 1) * s + 1, s)
            patch = x[tuple(index)]
            if multiplier != 1:
                patch = ops.expand_dims(patch, -1 if last else 2)
            term = patch * taps[a, b]
            y = term if y is None else y + term
    if multiplier != 1:
        shape = ops.shape(y)
        if last:
            y = ops.reshape(y, (shape[0], outs[0], outs[1], channels * multiplier))
        else:
            y = ops.reshape(y, (shape[0], channels * multiplier, outs[0], outs[1]))
    return ops.cast(y, dtype) if accumulate != dtype else y


def _split_taps(size, block):
    """``(start, stop)`` runs of at most ``block`` taps covering ``range(size)``."""
    return [(start, min(start + block, size)) for start in range(0, size, block)]


def blocked_depthwise_conv(x, kernel, strides=1, padding="valid",
                           data_format="channels_last", dilation_rate=1, block=3):
    """Depthwise 2D convolution as a sum of small depthwise convolutions.

    Equal to ``keras.ops.depthwise_conv`` with the same arguments. The
    ``kh x kw`` kernel is cut into tiles of at most ``block x block`` taps (a
    9x9 kernel into nine 3x3 ones, a 5x5 one into 3x3, 3x2, 2x3 and 2x2
    tiles; no zero taps are added, so an Inf or NaN input gives what the
    plain convolution gives). Each tile is a "valid" depthwise convolution
    of the slice of the padded input its taps read; the tiles' outputs are
    summed (in float32 for a float16 or bfloat16 input, rounded once at the
    end). Backends whose depthwise convolution is fast for small kernels
    only then run large kernels at the small ones' speed.

    Args:
        x: 4D tensor with static spatial sizes.
        kernel: ``(kh, kw, channels, depth_multiplier)`` tensor.
        strides: Int or pair of ints.
        padding: ``"same"`` or ``"valid"``.
        data_format: ``"channels_last"`` or ``"channels_first"``.
        dilation_rate: Int or pair of ints.
        block: Positive int, the largest tile size per axis (default 3).

    Returns:
        The 4D convolved tensor, as ``keras.ops.depthwise_conv`` returns it.
    """
    strides, dilation = _pairs(strides, dilation_rate)
    kh, kw = kernel.shape[0], kernel.shape[1]
    if kh <= block and kw <= block:
        return ops.depthwise_conv(x, kernel, strides=strides, padding=padding,
                                  data_format=data_format, dilation_rate=dilation)
    x, axes, outs = _pad_input(x, (kh, kw), strides, padding, data_format, dilation)
    dtype, accumulate = _accumulation_dtype(x)
    y = None
    for a0, a1 in _split_taps(kh, block):
        for b0, b1 in _split_taps(kw, block):
            index = [slice(None)] * 4
            for axis, start, stop, s, d, out in zip(axes, (a0, b0), (a1, b1), strides,
                                                    dilation, outs):
                first = start * d
                index[axis] = slice(first, first + (out - 1) * s + d * (stop - start - 1) + 1)
            term = ops.depthwise_conv(x[tuple(index)], kernel[a0:a1, b0:b1], strides=strides,
                                      padding="valid", data_format=data_format,
                                      dilation_rate=dilation)
            term = ops.cast(term, accumulate) if accumulate != dtype else term
            y = term if y is None else y + term
    return ops.cast(y, dtype) if accumulate != dtype else y
