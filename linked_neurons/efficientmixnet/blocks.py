"""Building blocks of the EfficientMixNet models: drop-connect and the MBConv block."""

import dataclasses

import keras
from keras import ops

from linked_neurons import activations, normalizations
from linked_neurons.layers.convolutional import ChannelsFirstConv2D, MixedDepthwiseConv2D

#: Conv kernels: N(0, sqrt(2 / fan_out)), fan_out = rows * cols * output channels.
CONV_KERNEL_INITIALIZER = {
    "class_name": "VarianceScaling",
    "config": {"scale": 2.0, "mode": "fan_out", "distribution": "untruncated_normal"},
}
#: Classifier kernel: U(-1/sqrt(classes), 1/sqrt(classes)).
DENSE_KERNEL_INITIALIZER = {
    "class_name": "VarianceScaling",
    "config": {"scale": 1.0 / 3.0, "mode": "fan_out", "distribution": "uniform"},
}


@keras.saving.register_keras_serializable(package="linked_neurons")
class DropConnect(keras.layers.Layer):
    """Drops whole samples of a residual branch (drop-connect, stochastic depth).

    In training, each sample of the batch is kept with probability
    ``1 - rate`` and then scaled by ``1 / (1 - rate)``, or set to zero; the
    same decision applies to all of the sample's values. At inference the
    layer is the identity. Place it on the residual branch, before the add.

    Args:
        rate: Float in [0, 1), the probability of dropping a sample.
        seed: Optional int seed of the random draws.
        **kwargs: Base layer keyword arguments.

    Input shape:
        Any shape with a batch axis first.

    Output shape:
        Same as the input.

    Example:

        >>> import keras
        >>> import numpy as np
        >>> from linked_neurons.efficientmixnet import DropConnect
        >>> layer = DropConnect(0.5, seed=1)
        >>> x = np.ones((6, 2, 2, 3), "float32")
        >>> bool((keras.ops.convert_to_numpy(layer(x)) == x).all())  # inference
        True
        >>> y = keras.ops.convert_to_numpy(layer(x, training=True))
        >>> set(np.unique(y).tolist()) <= {0.0, 2.0}  # dropped, or kept and scaled
        True
        >>> bool((y == y[:, :1, :1, :1]).all())  # one decision per sample
        True

    Reference:
        Huang et al., *Deep Networks with Stochastic Depth*, ECCV 2016,
        arXiv:1603.09382.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(
                f"DropConnect layer '{self.name}': `rate` must be a number in [0, 1), "
                f"got {rate!r}."
            )
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(
                f"DropConnect layer '{self.name}': `seed` must be None or an int, got {seed!r}."
            )
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed) if self.rate > 0 else None
        self.supports_masking = True

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        keep = 1.0 - self.rate
        shape = (ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
        noise = keras.random.uniform(shape, seed=self.seed_generator, dtype="float32")
        scale = ops.cast(ops.cast(noise < keep, "float32") / keep, inputs.dtype)
        return inputs * scale

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config


@dataclasses.dataclass(frozen=True)
class LayerSettings:
    """How the blocks make their convolutions, normalizations and activations.

    Attributes:
        data_format: ``"channels_last"`` or ``"channels_first"``.
        momentum: Momentum of the normalizations' moving statistics.
        epsilon: Epsilon of the normalizations.
    """

    data_format: str = "channels_last"
    momentum: float = 0.99
    epsilon: float = 1e-3

    @property
    def channel_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    def conv(self, filters, kernel_size=1, strides=1, use_bias=False, activation=None, name=None):
        cls = keras.layers.Conv2D
        if self.data_format == "channels_first":
            cls = ChannelsFirstConv2D  # TensorFlow has no NCHW Conv2D on the CPU
        return cls(
            filters,
            kernel_size,
            strides=strides,
            padding="same",
            use_bias=use_bias,
            activation=activation,
            data_format=self.data_format,
            kernel_initializer=CONV_KERNEL_INITIALIZER,
            name=name,
        )

    def depthwise(self, kernel_size, strides, name=None):
        """A depthwise conv: plain for one kernel size, mixed for several."""
        if isinstance(kernel_size, tuple) and len(kernel_size) > 1:
            return MixedDepthwiseConv2D(
                list(kernel_size),
                strides=strides,
                padding="same",
                data_format=self.data_format,
                depthwise_initializer=CONV_KERNEL_INITIALIZER,
                name=name,
            )
        if isinstance(kernel_size, tuple):
            kernel_size = kernel_size[0]
        return keras.layers.DepthwiseConv2D(
            kernel_size,
            strides=strides,
            padding="same",
            use_bias=False,
            data_format=self.data_format,
            depthwise_initializer=CONV_KERNEL_INITIALIZER,
            name=name,
        )

    def norm(self, type_bn, n_mixture, name=None):
        return normalizations.get(
            type_bn,
            axis=self.channel_axis,
            momentum=self.momentum,
            epsilon=self.epsilon,
            n_mixture=n_mixture,
            name=name,
        )

    def activation(self, identifier, name=None):
        """A new activation layer; parameters are per channel, shared over space."""
        layer = activations.get(identifier, axis=self.channel_axis, name=name)
        if hasattr(layer, "shared_axes"):
            spatial = [1, 2] if self.data_format == "channels_last" else [2, 3]
            layer = activations.get(
                identifier, axis=self.channel_axis, name=name, shared_axes=spatial
            )
        return layer


def linked_filters(filters, activation):
    """Filters of a conv feeding ``activation``: halved (rounded up) when it is linked.

    A linked activation doubles its input's channels, so a conv with half the
    filters keeps the published width after the activation.

    >>> linked_filters(32, "swish"), linked_filters(32, "lkrelu"), linked_filters(5, "lkrelu")
    (32, 16, 3)
    """
    if activations.channel_multiplier(activation) == 2:
        return (filters + 1) // 2
    return filters


def mbconv_block(
    inputs,
    input_filters,
    output_filters,
    kernel_size,
    strides,
    expand_ratio,
    se_ratio,
    identity_skip,
    activation,
    type_bn,
    n_mixture,
    drop_rate,
    settings,
    name,
):
    """Mobile inverted bottleneck block with squeeze-and-excitation.

    ``[1x1 expand conv, norm, act]`` (if ``expand_ratio != 1``) -> depthwise
    conv (mixed for several kernel sizes) -> norm -> act -> squeeze-and-
    excitation -> 1x1 project conv -> norm -> drop-connect and identity add
    when the strides are 1, the widths equal and ``identity_skip`` is set.
    Every conv feeding a linked activation has its filters halved (see
    :func:`linked_filters`).

    Args:
        inputs: The block's input tensor (symbolic).
        input_filters: Scaled input width (the SE width uses it).
        output_filters: Scaled output width.
        kernel_size: Int or tuple of ints.
        strides: Pair of ints.
        expand_ratio: Expansion ratio.
        se_ratio: None or a number in [0, 1].
        identity_skip: Whether the identity shortcut may be used.
        activation: Activation name.
        type_bn: Normalization name.
        n_mixture: Mixture count for attentive normalizations.
        drop_rate: Drop-connect rate of this block.
        settings: A :class:`~linked_neurons.efficientmixnet.blocks.LayerSettings`.
        name: Prefix of the layer names (e.g. ``"block2a_"``).

    Returns:
        The block's output tensor.
    """
    axis = settings.channel_axis
    x = inputs
    filters = int(input_filters * expand_ratio)
    if expand_ratio != 1:
        x = settings.conv(linked_filters(filters, activation), name=f"{name}expand_conv")(x)
        x = settings.norm(type_bn, n_mixture, name=f"{name}expand_bn")(x)
        x = settings.activation(activation, name=f"{name}expand_activation")(x)
    x = settings.depthwise(kernel_size, strides, name=f"{name}dwconv")(x)
    x = settings.norm(type_bn, n_mixture, name=f"{name}bn")(x)
    x = settings.activation(activation, name=f"{name}activation")(x)
    if se_ratio is not None and 0 < se_ratio <= 1:
        width = x.shape[axis]
        squeeze = max(1, int(input_filters * se_ratio))
        se = keras.layers.GlobalAveragePooling2D(
            data_format=settings.data_format, keepdims=True, name=f"{name}se_squeeze"
        )(x)
        se = settings.conv(
            linked_filters(squeeze, activation), use_bias=True, name=f"{name}se_reduce"
        )(se)
        se = settings.activation(activation, name=f"{name}se_activation")(se)
        se = settings.conv(width, use_bias=True, activation="sigmoid", name=f"{name}se_expand")(
            se
        )
        x = keras.layers.Multiply(name=f"{name}se_excite")([x, se])
    x = settings.conv(output_filters, name=f"{name}project_conv")(x)
    x = settings.norm(type_bn, n_mixture, name=f"{name}project_bn")(x)
    # compare the actual widths: a linked activation over an odd width adds a channel
    if identity_skip and tuple(strides) == (1, 1) and inputs.shape[axis] == output_filters:
        if drop_rate > 0:
            x = DropConnect(drop_rate, name=f"{name}drop")(x)
        x = keras.layers.Add(name=f"{name}add")([x, inputs])
    return x
