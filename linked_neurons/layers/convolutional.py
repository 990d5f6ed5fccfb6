"""Mixed depthwise convolution: one depthwise kernel size per channel group."""

import functools

import keras
from keras import ops

from linked_neurons.ops._policy import _tensorflow_has_gpu, setting
from linked_neurons.ops.depthwise import (
    blocked_depthwise_conv,
    output_size,
    shifted_depthwise_conv,
)

_FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")

#: The values of :class:`MixedDepthwiseConv2D`'s ``implementation`` argument.
IMPLEMENTATIONS = ("auto", "groups", "shifts", "blocks", "padded")

#: ``(backend, mode, device) -> implementation`` that ``implementation="auto"``
#: picks (see ``_policy.setting``); ``"groups"`` everywhere else, including
#: settings not measured. ``benchmarks/gpu.py --sections mixconv b0`` measures
#: them (``docs/benchmarks.rst``).
AUTO_IMPLEMENTATION = {
    # XLA's depthwise convolution slows down steeply with the kernel size; a
    # sum of shifted slices, which XLA fuses into a few loops, does not. On an
    # H200 (JAX) a 9x9 kernel took 100x the time of a 3x3 one; the layer
    # alone took 0.80x the grouped convolutions' time as shifted slices, and
    # the mixed B0 1.88x the builder's B0 against 3.02x with one padded
    # kernel. On a 2-core CPU the layer alone ([3, 5, 7, 9] on
    # [8, 56, 56, 144], forward and backward) took 0.51x and 0.58x the
    # grouped convolutions' time under JAX's ``jit`` and 0.32x and 0.33x
    # under TensorFlow's XLA (two runs each), and the mixed B0 (batch 8)
    # under JAX 0.72x and 0.82x the builder's B0 against 1.10x and 1.15x as
    # grouped convolutions. Under ``mixed_bfloat16`` (summed in float32): 0.63x
    # and 0.68x the groups' time under JAX's ``jit``, 0.25x under TF's XLA.
    ("jax", "jit", "gpu"): "shifts",
    ("jax", "jit", "cpu"): "shifts",
    ("tensorflow", "xla", "cpu"): "shifts",
    # Everywhere else measured the groups were fastest. On the CPU the
    # shifted slices took 1.8x the grouped convolutions' time in JAX without
    # ``jit`` and 30x-33x in TensorFlow's graph runtime, where every slice is a
    # kernel of its own, and 7x on PyTorch, eager and under
    # ``torch.compile``; the 3x3 tiles 2.8x-5.1x, one padded kernel
    # 1.1x-2.2x. Settings not measured (TensorFlow's eager mode among them)
    # keep the groups too.
}


def split_channels(channels, groups):
    """Channels per group: ``channels // groups`` each, the remainder to the first.

    Args:
        channels: Positive int, the number of channels to split.
        groups: Positive int, the number of groups; at most ``channels``.

    Returns:
        A list of ``groups`` positive ints summing to ``channels``.

    Example:

        >>> split_channels(16, 3)
        [6, 5, 5]
    """
    if channels < groups:
        raise ValueError(
            f"split_channels: cannot split {channels} channels into {groups} non-empty "
            f"groups; expected at least {groups} channels."
        )
    base = channels // groups
    return [base + channels - base * groups] + [base] * (groups - 1)


def _pair(value, what, kind):
    if isinstance(value, bool):
        raise TypeError(f"{kind}: `{what}` must be an int or a pair of ints, got {value!r}.")
    if isinstance(value, int):
        value = (value, value)
    try:
        pair = tuple(value)
    except TypeError:
        raise TypeError(
            f"{kind}: `{what}` must be an int or a pair of ints, got {value!r}."
        ) from None
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair):
        raise TypeError(f"{kind}: `{what}` must be an int or a pair of ints, got {value!r}.")
    if min(pair) < 1:
        raise ValueError(f"{kind}: `{what}` must be positive, got {value!r}.")
    return pair


def _cpu_only_tensorflow():
    """Whether the TensorFlow runtime has no GPU (its NCHW convolutions are GPU-only).

    Asked on the first call that needs it only; the fused ops' policy caches
    the device list, which is fixed once TensorFlow has started.
    """
    return keras.backend.backend() == "tensorflow" and not _tensorflow_has_gpu()


@keras.saving.register_keras_serializable(package="linked_neurons")
class MixedDepthwiseConv2D(keras.layers.Layer):
    """Mixed depthwise 2D convolution (MixConv): several kernel sizes in one layer.

    The channels are cut into ``G = len(kernel_size)`` contiguous groups; group
    ``g`` is convolved depthwise with a ``kernel_size[g]`` kernel and the
    results are concatenated in the same order. Every group gets
    ``C // G`` channels and the first group also gets the remainder
    ``C - G * (C // G)``: 16 channels over ``[3, 5, 7]`` are split
    ``[6, 5, 5]`` and hold ``6*9 + 5*25 + 5*49 = 424`` weights. With a single
    kernel size the layer equals ``keras.layers.DepthwiseConv2D``.

    The groups are a fixed, small set known when the layer is built. The
    layer computes them in one of four ways (``implementation``), with the
    same outputs up to float rounding; the default, ``"auto"``, picks the one
    measured fastest where the layer is traced: backend, compilation mode
    and device (``AUTO_IMPLEMENTATION`` in this module; the measurements are
    on the benchmarks page of the docs):

    - ``"groups"``: ``G`` depthwise convolutions plus one concatenation.
      Picked where every op runs as a kernel of its own (TensorFlow's graph
      runtime and eager mode, PyTorch, JAX without ``jit``) and wherever
      nothing was measured.
    - ``"shifts"``: each group as a sum of ``kh * kw`` shifted slices of the
      input times one kernel tap
      (:func:`~linked_neurons.ops.depthwise.shifted_depthwise_conv`), which
      XLA fuses into a few loops. Picked under XLA: JAX's ``jit`` on a CPU
      or a GPU and TensorFlow's ``jit_compile=True`` on a CPU, where XLA's
      own depthwise convolutions slow down steeply with the kernel size (a
      9x9 one ran about 100 times longer than a 3x3 one on a GPU).
    - ``"blocks"``: each group as a sum of depthwise convolutions with tiles
      of at most 3x3 taps of its kernel
      (:func:`~linked_neurons.ops.depthwise.blocked_depthwise_conv`), for
      devices whose small depthwise convolutions are much faster than large
      ones. Never picked: slower than the groups on the CPU in every backend.
    - ``"padded"``: one depthwise convolution whose kernel holds every
      group's kernel zero-padded to the largest size, where that is exact
      ("same" padding, kernel sizes of one parity per axis and each at least
      the stride; elsewhere the layer computes the groups). Never picked:
      slower on every device measured.

    Shifted slices and tiles need static spatial sizes; with unknown ones
    the layer computes the groups. Under a float16 or bfloat16 compute dtype
    (``mixed_float16``, ``mixed_bfloat16``) they sum their terms in float32
    and round the result once, as a convolution accumulates. All four
    compile with XLA (``jit_compile=True``).

    Args:
        kernel_size: An int or a list of ints (or of ``(height, width)``
            pairs), one per group. Default ``[3, 5, 7]``.
        strides: Int or pair, the stride of every group (default 1).
        padding: ``"same"`` (default) or ``"valid"``. ``"valid"`` needs equal
            kernel sizes, since the groups' outputs must have one spatial size.
        depth_multiplier: Positive int, output channels per input channel
            (default 1).
        data_format: ``"channels_last"`` (NHWC) or ``"channels_first"``
            (NCHW); None uses ``keras.config.image_data_format()``.
        dilation_rate: Int or pair, the dilation of every group (default 1).
        activation: Activation applied to the output (default None).
        use_bias: Whether to add a bias per output channel. Default False:
            the layer is meant to be followed by a normalization.
        depthwise_initializer: Initializer of every group's kernel.
        bias_initializer: Initializer of the bias.
        depthwise_regularizer: Regularizer of every group's kernel.
        bias_regularizer: Regularizer of the bias.
        depthwise_constraint: Constraint of every group's kernel.
        bias_constraint: Constraint of the bias.
        implementation: How the groups are computed: ``"auto"`` (default,
            per backend, compilation mode and device), ``"groups"``,
            ``"shifts"``, ``"blocks"`` or ``"padded"`` (see above).
        **kwargs: Base layer keyword arguments (``name``, ``dtype``, ...).

    Input shape:
        4D floating-point tensor ``(batch, rows, cols, channels)``
        (channels_last) or ``(batch, channels, rows, cols)`` (channels_first),
        with a known number of channels, at least ``len(kernel_size)``.

    Output shape:
        4D tensor with ``channels * depth_multiplier`` channels and the
        spatial size of a convolution with these strides and padding.

    Example:

        >>> import keras
        >>> from linked_neurons.layers.convolutional import MixedDepthwiseConv2D
        >>> layer = MixedDepthwiseConv2D([3, 5, 7], strides=2)
        >>> y = layer(keras.ops.ones((2, 32, 32, 16)))
        >>> tuple(y.shape), layer.group_channels, layer.count_params()
        ((2, 16, 16, 16), [6, 5, 5], 424)

    Reference:
        Tan & Le, *MixConv: Mixed Depthwise Convolutional Kernels*, BMVC 2019,
        arXiv:1907.09595.
    """

    def __init__(
        self,
        kernel_size=(3, 5, 7),
        strides=1,
        padding="same",
        depth_multiplier=1,
        data_format=None,
        dilation_rate=1,
        activation=None,
        use_bias=False,
        depthwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        bias_regularizer=None,
        depthwise_constraint=None,
        bias_constraint=None,
        implementation="auto",
        **kwargs,
    ):
        super().__init__(**kwargs)
        kind = self._kind()
        if implementation not in IMPLEMENTATIONS:
            raise ValueError(
                f"{kind}: `implementation` must be one of {', '.join(map(repr, IMPLEMENTATIONS))}, "
                f"got {implementation!r}."
            )
        self.implementation = implementation
        if isinstance(kernel_size, int) and not isinstance(kernel_size, bool):
            kernel_size = [kernel_size]
        if not isinstance(kernel_size, (list, tuple)) or not kernel_size:
            raise TypeError(
                f"{kind}: `kernel_size` must be an int or a non-empty list of ints "
                f"(or of (height, width) pairs), got {kernel_size!r}."
            )
        self._kernels = [_pair(k, "kernel_size", kind) for k in kernel_size]
        self.kernel_size = tuple(kh if kh == kw else (kh, kw) for kh, kw in self._kernels)
        self.strides = _pair(strides, "strides", kind)
        self.dilation_rate = _pair(dilation_rate, "dilation_rate", kind)
        if not isinstance(padding, str) or padding.lower() not in ("same", "valid"):
            raise ValueError(f"{kind}: `padding` must be 'same' or 'valid', got {padding!r}.")
        self.padding = padding.lower()
        if self.padding == "valid" and len(set(self._kernels)) > 1:
            raise ValueError(
                f"{kind}: padding 'valid' needs equal kernel sizes (the groups' outputs "
                f"must have one spatial size), got kernel_size={list(self.kernel_size)}. "
                f"Use padding='same'."
            )
        if data_format is None:
            data_format = keras.config.image_data_format()
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(
                f"{kind}: `data_format` must be 'channels_last' or 'channels_first', got "
                f"{data_format!r}."
            )
        self.data_format = data_format
        if (
            isinstance(depth_multiplier, bool)
            or not isinstance(depth_multiplier, int)
            or depth_multiplier < 1
        ):
            raise ValueError(
                f"{kind}: `depth_multiplier` must be a positive int, got {depth_multiplier!r}."
            )
        self.depth_multiplier = depth_multiplier
        if not isinstance(use_bias, bool):
            raise TypeError(f"{kind}: `use_bias` must be a bool, got {use_bias!r}.")
        self.use_bias = use_bias
        self.activation = keras.activations.get(activation)
        self.depthwise_initializer = keras.initializers.get(depthwise_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.depthwise_regularizer = keras.regularizers.get(depthwise_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.depthwise_constraint = keras.constraints.get(depthwise_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.group_channels = None

    def _kind(self):
        return f"MixedDepthwiseConv2D layer '{self.name}'"

    @property
    def _channel_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                f"{self._kind()} expects a 4D input (batch, rows, cols, channels) or "
                f"(batch, channels, rows, cols), got shape {tuple(input_shape)}."
            )
        channels = input_shape[self._channel_axis]
        if channels is None:
            raise ValueError(
                f"{self._kind()} needs a known number of channels (axis "
                f"{self._channel_axis}), got input shape {tuple(input_shape)}."
            )
        groups = len(self._kernels)
        if channels < groups:
            raise ValueError(
                f"{self._kind()}: {groups} kernel sizes need at least {groups} channels, "
                f"got {channels} (input shape {tuple(input_shape)})."
            )
        self.group_channels = split_channels(int(channels), groups)
        self.input_spec = keras.InputSpec(ndim=4, axes={self._channel_axis: channels})
        self.kernels = [
            self.add_weight(
                name=f"kernel_{i}",
                shape=(kh, kw, c, self.depth_multiplier),
                initializer=self.depthwise_initializer,
                regularizer=self.depthwise_regularizer,
                constraint=self.depthwise_constraint,
            )
            for i, ((kh, kw), c) in enumerate(zip(self._kernels, self.group_channels))
        ]
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(int(channels) * self.depth_multiplier,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.built = True

    def call(self, inputs):
        dtype = keras.backend.standardize_dtype(inputs.dtype)
        if dtype not in _FLOAT_DTYPES:
            raise TypeError(
                f"{self._kind()} expects a floating-point input, got dtype {dtype}."
            )
        data_format = self.data_format
        x = inputs
        # TensorFlow runs NCHW depthwise convolutions on GPU only; Keras then
        # transposes around every call. Transpose once for all the groups.
        transpose = data_format == "channels_first" and _cpu_only_tensorflow()
        if transpose:
            x = ops.transpose(x, (0, 2, 3, 1))
            data_format = "channels_last"
        axis = -1 if data_format == "channels_last" else 1
        conv = functools.partial(
            ops.depthwise_conv,
            strides=self.strides,
            padding=self.padding,
            data_format=data_format,
            dilation_rate=self.dilation_rate,
        )
        implementation = self._implementation_for(x, data_format)
        if implementation in ("shifts", "blocks"):
            conv = functools.partial(
                shifted_depthwise_conv if implementation == "shifts" else blocked_depthwise_conv,
                strides=self.strides,
                padding=self.padding,
                data_format=data_format,
                dilation_rate=self.dilation_rate,
            )
        if len(self.kernels) == 1:
            y = conv(x, ops.cast(self.kernels[0], x.dtype))
        elif implementation == "padded":
            y = conv(x, self.padded_kernel(x.dtype))
        else:
            parts = ops.split(x, list(_cumsum(self.group_channels[:-1])), axis=axis)
            y = ops.concatenate(
                [conv(part, ops.cast(k, x.dtype)) for part, k in zip(parts, self.kernels)],
                axis=axis,
            )
        if self.bias is not None:
            shape = (1, 1, 1, -1) if data_format == "channels_last" else (1, -1, 1, 1)
            y = y + ops.reshape(ops.cast(self.bias, y.dtype), shape)
        if transpose:
            y = ops.transpose(y, (0, 3, 1, 2))
        if self.activation is not None:
            y = self.activation(y)
        return y

    def padded_kernel(self, dtype=None):
        """Every group's kernel zero-padded to the largest size, concatenated on channels.

        A depthwise convolution with this ``(KH, KW, C, depth_multiplier)``
        kernel equals the layer wherever :meth:`padding_is_exact` holds: each
        smaller kernel sits centred in the large one, so "same" padding lines
        up its taps with the ones it has when it runs alone.

        Args:
            dtype: Dtype of the result (default: the weights' dtype).

        Returns:
            A tensor of shape ``(KH, KW, C, depth_multiplier)``.
        """
        big_h = max(kh for kh, _ in self._kernels)
        big_w = max(kw for _, kw in self._kernels)
        padded = []
        for (kh, kw), kernel in zip(self._kernels, self.kernels):
            if dtype is not None:
                kernel = ops.cast(kernel, dtype)
            dh, dw = (big_h - kh) // 2, (big_w - kw) // 2
            if dh or dw:
                kernel = ops.pad(kernel, ((dh, dh), (dw, dw), (0, 0), (0, 0)))
            padded.append(kernel)
        return ops.concatenate(padded, axis=2)

    def padding_is_exact(self):
        """Whether one zero-padded kernel gives exactly the grouped result.

        True for "same" padding when, on each axis, every kernel size has the
        parity of the largest (the padding is split evenly on both sides) and
        every dilated kernel spans at least the stride (so "same" padding is
        never clipped at zero).
        """
        if self.padding != "same":
            return False
        for axis in (0, 1):
            sizes = [k[axis] for k in self._kernels]
            big = max(sizes)
            d, s = self.dilation_rate[axis], self.strides[axis]
            if any((big - k) % 2 or d * (k - 1) + 1 < s for k in sizes):
                return False
        return True

    def _implementation_for(self, x, data_format):
        """"groups", "shifts", "blocks" or "padded" for this call (see the class docstring)."""
        rows, cols = (1, 2) if data_format == "channels_last" else (2, 3)
        static = x.shape[rows] is not None and x.shape[cols] is not None
        impl = self.implementation
        if impl == "auto":
            impl = AUTO_IMPLEMENTATION.get(setting(x), "groups")
        if impl in ("shifts", "blocks") and not static:
            return "groups"
        if impl == "padded" and not self.padding_is_exact():
            return "groups"
        return impl

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                f"{self._kind()} expects a 4D input, got shape {tuple(input_shape)}."
            )
        if self.data_format == "channels_last":
            spatial = input_shape[1:3]
        else:
            spatial = input_shape[2:4]
        sizes = [
            None if n is None else output_size(
                n, self._kernels[0][i], self.strides[i], self.dilation_rate[i], self.padding)
            for i, n in enumerate(spatial)
        ]
        channels = input_shape[self._channel_axis]
        if channels is not None:
            channels = channels * self.depth_multiplier
        if self.data_format == "channels_last":
            return (input_shape[0], *sizes, channels)
        return (input_shape[0], channels, *sizes)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "kernel_size": [k if isinstance(k, int) else list(k) for k in self.kernel_size],
                "strides": list(self.strides),
                "padding": self.padding,
                "depth_multiplier": self.depth_multiplier,
                "data_format": self.data_format,
                "dilation_rate": list(self.dilation_rate),
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "depthwise_initializer": keras.initializers.serialize(
                    self.depthwise_initializer
                ),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "depthwise_regularizer": keras.regularizers.serialize(
                    self.depthwise_regularizer
                ),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
                "depthwise_constraint": keras.constraints.serialize(self.depthwise_constraint),
                "bias_constraint": keras.constraints.serialize(self.bias_constraint),
                "implementation": self.implementation,
            }
        )
        return config


def _cumsum(values):
    total = 0
    for v in values:
        total += v
        yield total


@keras.saving.register_keras_serializable(package="linked_neurons")
class ChannelsFirstConv2D(keras.layers.Conv2D):
    """``keras.layers.Conv2D`` whose channels_first form also runs on TensorFlow's CPU.

    TensorFlow has no NCHW ``Conv2D`` kernel for the CPU (outside XLA), so a
    channels_first ``keras.layers.Conv2D`` fails there unless the model is
    compiled with ``jit_compile=True``. This layer takes the same arguments
    and holds the same weights; on a TensorFlow runtime without GPU it
    computes a channels_first convolution as a channels_last one between two
    transposes (a 1x1 convolution with stride 1 as a contraction over the
    channel axis, with no transpose). Everywhere else it is
    ``keras.layers.Conv2D``. The model builder uses it for channels_first
    models.

    Args:
        filters: Number of output channels.
        kernel_size: Int or pair.
        **kwargs: Every other ``keras.layers.Conv2D`` argument.

    Input shape:
        4D tensor, as for ``keras.layers.Conv2D``.

    Output shape:
        4D tensor, as for ``keras.layers.Conv2D``.

    Example:

        >>> import keras
        >>> from linked_neurons.layers.convolutional import ChannelsFirstConv2D
        >>> layer = ChannelsFirstConv2D(4, 3, strides=2, padding="same",
        ...                             data_format="channels_first")
        >>> tuple(layer(keras.ops.ones((2, 3, 16, 16))).shape)
        (2, 4, 8, 8)
    """

    def convolution_op(self, inputs, kernel):
        if self.data_format != "channels_first" or not _cpu_only_tensorflow():
            return super().convolution_op(inputs, kernel)
        if (
            self.kernel_size == (1, 1)
            and self.strides == (1, 1)
            and self.groups == 1
            and self.padding in ("same", "valid")
        ):
            return ops.einsum("nchw,co->nohw", inputs, kernel[0, 0])
        x = ops.transpose(inputs, (0, 2, 3, 1))
        y = ops.conv(
            x,
            kernel,
            strides=list(self.strides),
            padding=self.padding,
            dilation_rate=self.dilation_rate,
            data_format="channels_last",
        )
        return ops.transpose(y, (0, 3, 1, 2))
