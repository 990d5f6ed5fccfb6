"""EfficientNetBuilder: EfficientNet B0..B7 and custom MixNet-style models."""

import math
import numbers
import os

import keras

from linked_neurons import activations, normalizations
from linked_neurons.efficientmixnet.blocks import (
    DENSE_KERNEL_INITIALIZER,
    LayerSettings,
    linked_filters,
    mbconv_block,
)
from linked_neurons.efficientmixnet.config import (
    BlockArgs,
    get_block_list,
    get_variant,
    round_filters,
    round_repeats,
)

_MIN_SIZE = 32
_POOLINGS = ("avg", "max", None)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value):
    """A finite real number (NaN and infinities are not accepted anywhere)."""
    return (
        isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    )


def _takes_mixture(type_bn):
    """Whether the registered normalization ``type_bn`` takes ``n_mixture``."""
    entry = normalizations._REGISTRY[normalizations.canonical_name(type_bn)]
    return entry.takes_mixture


class EfficientNetBuilder:
    """Builds EfficientNet B0..B7 and custom models from the library's layers.

    The builder holds the settings shared by every model it makes; call
    :meth:`default_model` for a published variant or :meth:`custom_model`
    for a list of :class:`~linked_neurons.efficientmixnet.BlockArgs`. The
    activation and the normalization apply to the stem, the head and every
    block, unless a block's own ``activation``, ``typeBN`` or ``n_mixture``
    overrides them.

    With ``activation="swish"``, ``typeBN="bn"`` and ``mixed=False`` the
    models have the layers and weights of ``keras.applications.EfficientNetB0``
    .. ``B7`` without their input preprocessing (``Rescaling`` and
    ``Normalization``): feed inputs that are already standardized. B0 has
    5,330,564 weights (4,049,564 without the top).

    A linked activation (``lkrelu``, ``lkprelu``, ``lkselu``, ``lkswish``)
    doubles its input's channels, so every ``Conv2D`` that feeds one (stem,
    expansion, squeeze-and-excitation reduction, head) gets half the filters
    (rounded up) and the tensors keep their published widths. A depthwise
    convolution has one filter per input channel, so the linked activation
    after it doubles the block's inner width, which the squeeze-and-excitation
    and the projection then take as input.

    Activations with a ``shared_axes`` argument (``prelu``, ``lkprelu``,
    ``leaf``, ``ahaf``) get one set of parameters per channel, shared over
    the spatial axes, so the weight count does not depend on the input size.

    Args:
        input_shape: Shape without the batch axis, e.g. ``(224, 224, 3)``
            (``(3, 224, 224)`` for channels_first). Any number of channels;
            rows and columns of at least 32, or None for any size. Default:
            the variant's resolution (``default_size``) with 3 channels.
        include_top: Whether to end with pooling, dropout and a softmax
            ``Dense(classes)``.
        weights: None (random initialization) or the path of a weights file
            saved by ``model.save_weights`` from a model of the same
            configuration.
        input_tensor: Optional Keras tensor (e.g. ``keras.Input(...)``) to use
            as the model's input.
        pooling: ``"avg"`` (default) or ``"max"``: global pooling after the
            head. None: without the top the model returns the 4D feature map;
            with the top the feature map is flattened (the dense layer then
            depends on the input size).
        classes: Number of classes of the top (>= 1).
        drop_connect_rate: Float in [0, 1). Block ``b`` of the ``N`` scaled
            blocks (counted from 0 over all stages) drops its residual branch
            with rate ``drop_connect_rate * b / N`` in training.
        data_format: ``"channels_last"``, ``"channels_first"`` or None for
            ``keras.config.image_data_format()``.
        mixed: If True, :meth:`default_model` uses mixed depthwise
            convolutions (kernel sizes of
            :data:`~linked_neurons.efficientmixnet.config.MIXED_KERNELS`).
        typeBN: Normalization name of :mod:`linked_neurons.normalizations`
            (``"bn"``, ``"an"``, ``"iebn"``; case-insensitive, with their
            aliases).
        n_mixture: Positive int, mixture count of attentive normalizations
            (required, as an int, when one is used).
        batch_norm_momentum: Momentum of the normalizations, in [0, 1].
        batch_norm_epsilon: Positive epsilon of the normalizations.
        activation: Activation name of :mod:`linked_neurons.activations` (any
            registered name such as ``"swish"``, ``"mish"``, ``"lkrelu"``,
            ``"leaf"``, or a ``keras.activations`` name).
        depth_divisor: Positive int; widths are rounded to its multiples.
        min_depth: None or a positive int, the smallest width.

    Raises:
        ValueError, TypeError: For a bad argument, naming it.

    Example:

        >>> from linked_neurons.efficientmixnet import EfficientNetBuilder
        >>> builder = EfficientNetBuilder(input_shape=(64, 64, 3), classes=10)
        >>> model = builder.default_model("B0")
        >>> model.output_shape, model.count_params()
        ((None, 10), 4062374)
        >>> mixed = EfficientNetBuilder(input_shape=(64, 64, 3), classes=10, mixed=True,
        ...                             activation="mish").default_model("B0")
        >>> mixed.count_params()
        4194726

    Reference:
        Tan & Le, *EfficientNet: Rethinking Model Scaling for Convolutional
        Neural Networks*, ICML 2019, arXiv:1905.11946; Tan & Le, *MixConv:
        Mixed Depthwise Convolutional Kernels*, BMVC 2019, arXiv:1907.09595.
    """

    def __init__(
        self,
        input_shape=None,
        include_top=True,
        weights=None,
        input_tensor=None,
        pooling="avg",
        classes=1000,
        drop_connect_rate=0.2,
        data_format=None,
        mixed=False,
        typeBN="bn",
        n_mixture=5,
        batch_norm_momentum=0.99,
        batch_norm_epsilon=1e-3,
        activation="swish",
        depth_divisor=8,
        min_depth=None,
    ):
        def fail(message, error=ValueError):
            raise error(f"EfficientNetBuilder: {message}")

        if input_shape is not None:
            try:
                input_shape = tuple(input_shape)
            except TypeError:
                fail(f"`input_shape` must be None or a tuple, got {input_shape!r}.", TypeError)
            if len(input_shape) != 3:
                fail(
                    f"`input_shape` must have 3 entries (rows, cols, channels) or "
                    f"(channels, rows, cols), got {input_shape!r}."
                )
            if not all(d is None or (_is_int(d) and d > 0) for d in input_shape):
                fail(f"`input_shape` entries must be positive ints or None, got {input_shape!r}.")
            input_shape = tuple(None if d is None else int(d) for d in input_shape)
        self.input_shape = input_shape
        if not isinstance(include_top, bool):
            fail(f"`include_top` must be a bool, got {include_top!r}.", TypeError)
        self.include_top = include_top
        if weights is not None:
            if isinstance(weights, str) and weights.lower() == "imagenet":
                fail(
                    "no pretrained 'imagenet' weights are distributed; pass weights=None "
                    "or the path of a weights file."
                )
            if not isinstance(weights, (str, os.PathLike)):
                fail(f"`weights` must be None or a file path, got {weights!r}.", TypeError)
            if not os.path.isfile(weights):
                fail(f"the weights file {os.fspath(weights)!r} does not exist.")
        self.weights = weights
        self.input_tensor = input_tensor
        if pooling not in _POOLINGS:
            fail(f"unknown `pooling` {pooling!r}; expected 'avg', 'max' or None.")
        self.pooling = pooling
        if not _is_int(classes) or classes < 1:
            fail(f"`classes` must be an int >= 1, got {classes!r}.")
        self.classes = int(classes)
        if not _is_number(drop_connect_rate) or not 0 <= drop_connect_rate < 1:
            fail(f"`drop_connect_rate` must be a number in [0, 1), got {drop_connect_rate!r}.")
        self.drop_connect_rate = float(drop_connect_rate)
        if data_format is None:
            data_format = keras.config.image_data_format()
        if data_format not in ("channels_last", "channels_first"):
            fail(
                f"`data_format` must be 'channels_last', 'channels_first' or None, got "
                f"{data_format!r}."
            )
        self.data_format = data_format
        if not isinstance(mixed, bool):
            fail(f"`mixed` must be a bool, got {mixed!r}.", TypeError)
        self.mixed = mixed
        self.typeBN = self._check_norm(typeBN)
        if n_mixture is not None and (not _is_int(n_mixture) or n_mixture < 1):
            fail(f"`n_mixture` must be None or an int >= 1, got {n_mixture!r}.")
        self.n_mixture = None if n_mixture is None else int(n_mixture)
        if _takes_mixture(self.typeBN) and self.n_mixture is None:
            fail(
                f"typeBN {typeBN!r} (attentive normalization) needs an integer `n_mixture` "
                f">= 1, got None."
            )
        if not _is_number(batch_norm_momentum) or not 0 <= batch_norm_momentum <= 1:
            fail(f"`batch_norm_momentum` must be in [0, 1], got {batch_norm_momentum!r}.")
        if not _is_number(batch_norm_epsilon) or not batch_norm_epsilon > 0:
            fail(f"`batch_norm_epsilon` must be a positive number, got {batch_norm_epsilon!r}.")
        self.batch_norm_momentum = float(batch_norm_momentum)
        self.batch_norm_epsilon = float(batch_norm_epsilon)
        self.activation = self._check_activation(activation)
        if not _is_int(depth_divisor) or depth_divisor < 1:
            fail(f"`depth_divisor` must be an int >= 1, got {depth_divisor!r}.")
        self.depth_divisor = int(depth_divisor)
        if min_depth is not None and (not _is_int(min_depth) or min_depth < 1):
            fail(f"`min_depth` must be None or an int >= 1, got {min_depth!r}.")
        self.min_depth = min_depth

    # ------------------------------------------------------------------ checks
    @staticmethod
    def _check_activation(activation, where=""):
        if not isinstance(activation, str):
            raise TypeError(
                f"EfficientNetBuilder: {where}`activation` must be a name, got "
                f"{activation!r} of type {type(activation).__name__}."
            )
        try:
            activations.channel_multiplier(activation)
        except ValueError as err:
            raise ValueError(
                f"EfficientNetBuilder: {where}unknown activation {activation!r}. {err}"
            ) from None
        return activation

    @staticmethod
    def _check_norm(type_bn, where=""):
        if not isinstance(type_bn, str):
            raise TypeError(
                f"EfficientNetBuilder: {where}`typeBN` must be a normalization name, got "
                f"{type_bn!r} of type {type(type_bn).__name__}."
            )
        try:
            normalizations.canonical_name(type_bn)
        except ValueError as err:
            raise ValueError(
                f"EfficientNetBuilder: {where}unknown typeBN {type_bn!r}. {err}"
            ) from None
        return type_bn

    def _resolve_input(self, default_size):
        """The model's input tensor and its inputs (source tensors)."""
        channels_last = self.data_format == "channels_last"
        tensor = self.input_tensor
        if tensor is not None:
            if not keras.backend.is_keras_tensor(tensor):
                raise TypeError(
                    "EfficientNetBuilder: `input_tensor` must be a Keras tensor (e.g. "
                    f"keras.Input(...) or a layer's output), got {type(tensor).__name__}."
                )
            img_input = tensor
            shape = tuple(img_input.shape[1:])
            if self.input_shape is not None and shape != self.input_shape:
                raise ValueError(
                    f"EfficientNetBuilder: `input_tensor` has shape {shape} without the "
                    f"batch axis, but `input_shape` is {self.input_shape}."
                )
        else:
            shape = self.input_shape
            if shape is None:
                size = (default_size, default_size)
                shape = (*size, 3) if channels_last else (3, *size)
        if len(shape) != 3:
            raise ValueError(
                f"EfficientNetBuilder: the input must be 4D (batch, rows, cols, channels), "
                f"got shape {shape} without the batch axis."
            )
        channels = shape[-1] if channels_last else shape[0]
        spatial = shape[:2] if channels_last else shape[1:]
        if channels is None:
            raise ValueError(
                f"EfficientNetBuilder: the number of input channels must be known, got "
                f"input shape {shape} ({self.data_format})."
            )
        if any(d is not None and d < _MIN_SIZE for d in spatial):
            raise ValueError(
                f"EfficientNetBuilder: input rows and cols must be at least {_MIN_SIZE}, got "
                f"input shape {shape} ({self.data_format})."
            )
        if self.include_top and self.pooling is None and None in spatial:
            raise ValueError(
                "EfficientNetBuilder: include_top=True with pooling=None flattens the "
                f"feature map, which needs known rows and cols; got input shape {shape}."
            )
        if tensor is None:
            img_input = keras.Input(shape=shape)
            return img_input, img_input
        return img_input, keras.utils.get_source_inputs(tensor)

    # ------------------------------------------------------------------ models
    def default_model(self, variant="B0"):
        """A published variant, ``"B0"`` .. ``"B7"`` (case-insensitive).

        Args:
            variant: The variant's name.

        Returns:
            A ``keras.Model`` named ``efficientmixnet_b0`` .. ``_b7``.

        Raises:
            TypeError: For a variant that is not a string.
            ValueError: For an unknown variant.
        """
        spec = get_variant(variant)
        blocks = get_block_list(mixed=self.mixed)
        return self._build(
            blocks, spec.width, spec.depth, spec.resolution, spec.dropout,
            name=f"efficientmixnet_{variant.lower()}",
        )

    def custom_model(
        self,
        block_list,
        width_coefficient=1.0,
        depth_coefficient=1.0,
        default_size=224,
        dropout_rate=0.2,
    ):
        """A model of the given stages.

        Args:
            block_list: Non-empty list of
                :class:`~linked_neurons.efficientmixnet.BlockArgs` or block
                strings, one per stage. Each stage's ``input_filters`` must
                equal the previous stage's ``output_filters``; the stem has
                the first stage's ``input_filters``.
            width_coefficient: Positive number scaling every width.
            depth_coefficient: Positive number scaling every repeat count.
            default_size: Input rows and cols used when the builder has no
                ``input_shape`` (>= 32).
            dropout_rate: Dropout before the classifier, in [0, 1).

        Returns:
            A ``keras.Model`` named ``efficientmixnet``.
        """
        if isinstance(block_list, (str, BlockArgs)) or not isinstance(block_list, (list, tuple)):
            raise TypeError(
                "EfficientNetBuilder.custom_model: `block_list` must be a list of BlockArgs "
                f"or block strings, got {block_list!r}."
            )
        if not block_list:
            raise ValueError("EfficientNetBuilder.custom_model: `block_list` is empty.")
        blocks = []
        for i, block in enumerate(block_list):
            if isinstance(block, str):
                block = BlockArgs.from_string(block)
            elif not isinstance(block, BlockArgs):
                raise TypeError(
                    f"EfficientNetBuilder.custom_model: block {i} must be a BlockArgs or a "
                    f"block string, got {type(block).__name__}."
                )
            blocks.append(block)
        for name, value in (("width_coefficient", width_coefficient),
                            ("depth_coefficient", depth_coefficient)):
            if not _is_number(value) or not value > 0:
                raise ValueError(
                    f"EfficientNetBuilder.custom_model: `{name}` must be a positive number, "
                    f"got {value!r}."
                )
        if not _is_int(default_size) or default_size < _MIN_SIZE:
            raise ValueError(
                f"EfficientNetBuilder.custom_model: `default_size` must be an int >= "
                f"{_MIN_SIZE}, got {default_size!r}."
            )
        if not _is_number(dropout_rate) or not 0 <= dropout_rate < 1:
            raise ValueError(
                f"EfficientNetBuilder.custom_model: `dropout_rate` must be in [0, 1), got "
                f"{dropout_rate!r}."
            )
        return self._build(
            blocks, float(width_coefficient), float(depth_coefficient), int(default_size),
            float(dropout_rate), name="efficientmixnet",
        )

    # ------------------------------------------------------------------ graph
    def _settings_for(self, block, index):
        """Effective activation, norm and mixture count of a stage; checked."""
        where = f"block {index} ({block.to_string()}): "
        activation = self._check_activation(block.activation or self.activation, where)
        type_bn = self._check_norm(block.typeBN or self.typeBN, where)
        n_mixture = block.n_mixture if block.n_mixture is not None else self.n_mixture
        if _takes_mixture(type_bn) and not _is_int(n_mixture):
            raise ValueError(
                f"EfficientNetBuilder: {where}typeBN {type_bn!r} (attentive normalization) "
                f"needs an integer `n_mixture` >= 1, got {n_mixture!r}."
            )
        return activation, type_bn, n_mixture

    def _build(self, blocks, width, depth, default_size, dropout_rate, name):
        for i in range(1, len(blocks)):
            if blocks[i].input_filters != blocks[i - 1].output_filters:
                raise ValueError(
                    f"EfficientNetBuilder: block {i} ({blocks[i].to_string()}) has "
                    f"input_filters={blocks[i].input_filters} but block {i - 1} outputs "
                    f"{blocks[i - 1].output_filters}."
                )
        stage_settings = [self._settings_for(block, i) for i, block in enumerate(blocks)]
        img_input, inputs = self._resolve_input(default_size)
        settings = LayerSettings(
            self.data_format, self.batch_norm_momentum, self.batch_norm_epsilon
        )

        def filters(n):
            return round_filters(n, width, self.depth_divisor, self.min_depth)

        act, norm, n_mix = self.activation, self.typeBN, self.n_mixture
        x = settings.conv(
            linked_filters(filters(blocks[0].input_filters), act), 3, strides=2,
            name="stem_conv",
        )(img_input)
        x = settings.norm(norm, n_mix, name="stem_bn")(x)
        x = settings.activation(act, name="stem_activation")(x)

        total = sum(round_repeats(block.num_repeat, depth) for block in blocks)
        b = 0
        for i, (block, (b_act, b_norm, b_mix)) in enumerate(zip(blocks, stage_settings)):
            in_filters = filters(block.input_filters)
            out_filters = filters(block.output_filters)
            strides = block.strides
            for j in range(round_repeats(block.num_repeat, depth)):
                x = mbconv_block(
                    x,
                    input_filters=in_filters,
                    output_filters=out_filters,
                    kernel_size=block.kernel_size,
                    strides=strides,
                    expand_ratio=block.expand_ratio,
                    se_ratio=block.se_ratio,
                    identity_skip=block.identity_skip,
                    activation=b_act,
                    type_bn=b_norm,
                    n_mixture=b_mix,
                    drop_rate=self.drop_connect_rate * b / total,
                    settings=settings,
                    name=f"block{i + 1}{_letters(j)}_",
                )
                in_filters, strides = out_filters, (1, 1)
                b += 1

        x = settings.conv(linked_filters(filters(1280), act), 1, name="top_conv")(x)
        x = settings.norm(norm, n_mix, name="top_bn")(x)
        x = settings.activation(act, name="top_activation")(x)
        if self.pooling == "avg":
            x = keras.layers.GlobalAveragePooling2D(
                data_format=self.data_format, name="avg_pool"
            )(x)
        elif self.pooling == "max":
            x = keras.layers.GlobalMaxPooling2D(data_format=self.data_format, name="max_pool")(x)
        elif self.include_top:
            x = keras.layers.Flatten(data_format=self.data_format, name="flatten")(x)
        if self.include_top:
            if dropout_rate > 0:
                x = keras.layers.Dropout(dropout_rate, name="top_dropout")(x)
            policy = keras.config.dtype_policy()
            mixed_precision = policy.compute_dtype != policy.variable_dtype
            x = keras.layers.Dense(
                self.classes,
                activation="softmax",
                kernel_initializer=DENSE_KERNEL_INITIALIZER,
                dtype="float32" if mixed_precision else None,
                name="predictions",
            )(x)
        model = keras.Model(inputs, x, name=name)
        if self.weights is not None:
            model.load_weights(self.weights)
        return model


def _letters(j):
    """Block suffix within a stage: a, b, ..., z, ba, bb, ... (base 26)."""
    out = ""
    while True:
        out = chr(97 + j % 26) + out
        j //= 26
        if j == 0:
            return out
