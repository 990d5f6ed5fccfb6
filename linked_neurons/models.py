"""Model builders of the LEAF paper's experiments: LeNet-5 and KerasNet (SPEC §3).

Both take the activation as an argument, so that the same network can be
trained with a fixed activation (``"relu"``, ``"tanh"``, ...), a learnable one
(``"leaf"``, ``"ahaf"``) or any factory of activation layers, e.g.
``functools.partial(LEAF, init="tanh")``. Each activation place gets its own
new layer; with :class:`~linked_neurons.layers.learnable.LEAF` and
:class:`~linked_neurons.layers.learnable.AHAF` every neuron has its own
parameters, as in the paper.

Example:

    >>> import functools
    >>> from linked_neurons.layers.learnable import LEAF
    >>> from linked_neurons.models import lenet5
    >>> from linked_neurons.training import count_activation_parameters
    >>> model = lenet5((28, 28, 1), 10, activation=functools.partial(LEAF, init="tanh"))
    >>> count_activation_parameters(model)
    60880
"""

import inspect

import keras

from linked_neurons import activations as ln_activations

__all__ = ["allcnn", "kerasnet", "lenet5", "make_activation", "resnet50_cifar"]


def _accepts(fn, name):
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind == p.VAR_KEYWORD for p in params.values())


def _is_factory(fn):
    """A callable taking no required positional argument builds layers."""
    if isinstance(fn, type):
        return issubclass(fn, keras.layers.Layer)
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return not any(
        p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        for p in params
    )


def make_activation(activation, axis=-1):
    """A new activation layer from a name, a config, a function or a factory.

    Args:
        activation: Anything :func:`linked_neurons.activations.get` accepts
            (a registered or ``keras.activations`` name, a config dict, an
            elementwise function such as ``keras.activations.relu``, or None
            for linear), or a factory: a layer class or a callable with no
            required argument returning a new layer (e.g.
            ``functools.partial(LEAF, init="tanh")``).
        axis: Channel axis, passed to layers and factories that take one.

    Returns:
        A new ``keras.layers.Layer``.

    Raises:
        TypeError: For a layer instance (one instance cannot sit at several
            places of a network) or a factory that returns no layer.
        ValueError: For an unknown name.
    """
    if isinstance(activation, keras.layers.Layer):
        raise TypeError(
            f"make_activation: got the layer instance {activation!r}; the network needs a "
            f"new activation layer at every place. Pass a name or a factory, e.g. "
            f"functools.partial({type(activation).__name__}, ...)."
        )
    if callable(activation) and _is_factory(activation):
        layer = activation(axis=axis) if _accepts(activation, "axis") else activation()
        if not isinstance(layer, keras.layers.Layer):
            raise TypeError(
                f"make_activation: the factory {activation!r} returned "
                f"{type(layer).__name__}, not a Keras layer."
            )
        return layer
    return ln_activations.get(activation, axis=axis)


def _spatial(input_shape, data_format, who):
    shape = tuple(input_shape)
    if len(shape) != 3 or not all(isinstance(d, int) and d > 0 for d in shape):
        raise ValueError(
            f"{who}: `input_shape` must be (height, width, channels) (or (channels, height, "
            f"width) for channels_first) with known positive sizes, got {input_shape!r}."
        )
    return shape[1:] if data_format == "channels_first" else shape[:2]


def _data_format(data_format):
    if data_format is None:
        data_format = keras.config.image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            f"`data_format` must be 'channels_last', 'channels_first' or None, got "
            f"{data_format!r}."
        )
    return data_format, (1 if data_format == "channels_first" else -1)


def lenet5(
    input_shape=(28, 28, 1),
    num_classes=10,
    activation="relu",
    classifier_activation="softmax",
    data_format=None,
    name="lenet5",
):
    """LeNet-5 as in the LEAF paper.

    ``Conv2D(20, 5x5, no bias) -> act -> MaxPool(2) -> Conv2D(50, 5x5, no
    bias) -> act -> MaxPool(2) -> Flatten -> Dense(500) -> act ->
    Dense(num_classes, no bias)``, valid padding. With a per-neuron LEAF the
    activations hold 60,880 parameters on 28x28x1 inputs and 84,720 on
    32x32x3 (AHAF: half).

    Args:
        input_shape: ``(H, W, C)`` (``(C, H, W)`` for channels_first); H and W
            at least 16.
        num_classes: Number of outputs.
        activation: The hidden activation: see :func:`make_activation`.
        classifier_activation: Activation of the output layer (``"softmax"``
            by default; None for logits).
        data_format: ``"channels_last"``, ``"channels_first"`` or None (Keras'
            default).
        name: Model name.

    Returns:
        An uncompiled ``keras.Sequential``.

    Example:

        >>> from linked_neurons.models import lenet5
        >>> model = lenet5((32, 32, 3), 10, activation="ahaf")
        >>> model.output_shape, model.count_params()
        ((None, 10), 699360)
    """
    data_format, axis = _data_format(data_format)
    height, width = _spatial(input_shape, data_format, "lenet5")
    if min(height, width) < 16:
        raise ValueError(
            f"lenet5: the input needs at least 16x16 pixels (two 5x5 valid convolutions and "
            f"two 2x2 poolings), got {height}x{width}."
        )
    conv = dict(kernel_size=5, use_bias=False, data_format=data_format)
    return keras.Sequential(
        [
            keras.Input(tuple(input_shape)),
            keras.layers.Conv2D(20, **conv),
            make_activation(activation, axis),
            keras.layers.MaxPooling2D(2, data_format=data_format),
            keras.layers.Conv2D(50, **conv),
            make_activation(activation, axis),
            keras.layers.MaxPooling2D(2, data_format=data_format),
            keras.layers.Flatten(data_format=data_format),
            keras.layers.Dense(500),
            make_activation(activation, -1),
            keras.layers.Dense(num_classes, use_bias=False, activation=classifier_activation),
        ],
        name=name,
    )


def kerasnet(
    input_shape=(32, 32, 3),
    num_classes=10,
    activation="relu",
    classifier_activation="softmax",
    dropout=(0.25, 0.25, 0.2),
    data_format=None,
    name="kerasnet",
):
    """KerasNet (the Keras CIFAR-10 example network) as in the LEAF paper.

    ``Conv2D(32, same) -> act -> Conv2D(32) -> act -> MaxPool -> Dropout;
    Conv2D(64, same) -> act -> Conv2D(64) -> act -> MaxPool -> Dropout;
    Flatten -> Dense(512) -> act -> Dropout -> Dense(num_classes)``, 3x3
    kernels, no batch normalization. With a per-neuron LEAF the activations
    hold 263,168 parameters on 28x28x1 inputs and 349,184 on 32x32x3 (AHAF:
    half).

    Args:
        input_shape: ``(H, W, C)`` (``(C, H, W)`` for channels_first); H and W
            at least 10.
        num_classes: Number of outputs.
        activation: The hidden activation: see :func:`make_activation`.
        classifier_activation: Activation of the output layer (``"softmax"``
            by default; None for logits).
        dropout: Rates of the three dropout layers (0.25, 0.25, 0.2).
        data_format: ``"channels_last"``, ``"channels_first"`` or None.
        name: Model name.

    Returns:
        An uncompiled ``keras.Sequential``.

    Example:

        >>> from linked_neurons.models import kerasnet
        >>> kerasnet((28, 28, 1), 10, activation="relu").count_params()
        889834
    """
    data_format, axis = _data_format(data_format)
    height, width = _spatial(input_shape, data_format, "kerasnet")
    if min(height, width) < 10:
        raise ValueError(
            f"kerasnet: the input needs at least 10x10 pixels (two valid 3x3 convolutions "
            f"and two 2x2 poolings), got {height}x{width}."
        )
    rates = tuple(dropout)
    if len(rates) != 3 or not all(0 <= r < 1 for r in rates):
        raise ValueError(f"kerasnet: `dropout` must be three rates in [0, 1), got {dropout!r}.")

    def conv(filters, padding):
        return keras.layers.Conv2D(filters, 3, padding=padding, data_format=data_format)

    return keras.Sequential(
        [
            keras.Input(tuple(input_shape)),
            conv(32, "same"),
            make_activation(activation, axis),
            conv(32, "valid"),
            make_activation(activation, axis),
            keras.layers.MaxPooling2D(2, data_format=data_format),
            keras.layers.Dropout(rates[0]),
            conv(64, "same"),
            make_activation(activation, axis),
            conv(64, "valid"),
            make_activation(activation, axis),
            keras.layers.MaxPooling2D(2, data_format=data_format),
            keras.layers.Dropout(rates[1]),
            keras.layers.Flatten(data_format=data_format),
            keras.layers.Dense(512),
            make_activation(activation, -1),
            keras.layers.Dropout(rates[2]),
            keras.layers.Dense(num_classes, activation=classifier_activation),
        ],
        name=name,
    )


# ------------------------------------------------- linked-neurons paper (SPEC §1)
_PLAIN_OF_LINKED = {"lkrelu": "relu", "lkprelu": "prelu", "lkselu": "selu", "lkswish": "swish"}


def _outer_activation(activation):
    """The plain counterpart of a linked activation name; other activations unchanged."""
    if isinstance(activation, str):
        key = "".join(ch for ch in activation.lower() if ch not in "-_ ")
        return _PLAIN_OF_LINKED.get(key, activation)
    return activation


def allcnn(
    input_shape=(32, 32, 3),
    num_classes=10,
    activation="relu",
    batch_norm=False,
    dropout=True,
    classifier_activation="softmax",
    data_format=None,
    name="allcnn",
):
    """All-convolutional network (All-CNN-C) as used in the linked-neurons paper.

    ``[Dropout(0.2)] -> C96 -> C96 -> C96/2 -> [Dropout(0.5)] -> C192 -> C192
    -> C192/2 -> [Dropout(0.5)] -> C192 valid -> C192 1x1 -> C(num_classes)
    1x1 -> GlobalAveragePooling -> softmax``; 3x3 kernels, ``same`` padding
    unless stated, ``/2`` a stride of 2. Every convolution but the last is
    followed by ``[BatchNormalization] -> activation``; with a linked
    activation the next convolution sees twice the channels. The paper
    trains it on CIFAR-10 for 3,000 epochs (best of three learning-rate
    setups), which needs a GPU.

    Args:
        input_shape: ``(H, W, C)`` (``(C, H, W)`` for channels_first), H and W at least 8.
        num_classes: Number of outputs.
        activation: The hidden activation (see :func:`make_activation`).
        batch_norm: BatchNormalization before every hidden activation.
        dropout: Whether to use the three dropout layers.
        classifier_activation: Activation of the output (None for logits).
        data_format: ``"channels_last"``, ``"channels_first"`` or None.
        name: Model name.

    Returns:
        An uncompiled ``keras.Sequential``.

    Example:

        >>> from linked_neurons.models import allcnn
        >>> allcnn((32, 32, 3), 10, activation="relu").count_params()
        1369738
    """
    data_format, axis = _data_format(data_format)
    height, width = _spatial(input_shape, data_format, "allcnn")
    if min(height, width) < 8:
        raise ValueError(f"allcnn: the input needs at least 8x8 pixels, got {height}x{width}.")
    layers = [keras.Input(tuple(input_shape))]
    if dropout:
        layers.append(keras.layers.Dropout(0.2))
    plan = [(96, 3, 1, "same"), (96, 3, 1, "same"), (96, 3, 2, "same"), "drop",
            (192, 3, 1, "same"), (192, 3, 1, "same"), (192, 3, 2, "same"), "drop",
            (192, 3, 1, "valid"), (192, 1, 1, "valid")]
    for step in plan:
        if step == "drop":
            if dropout:
                layers.append(keras.layers.Dropout(0.5))
            continue
        filters, kernel, stride, padding = step
        layers.append(keras.layers.Conv2D(filters, kernel, strides=stride, padding=padding,
                                          use_bias=not batch_norm, data_format=data_format))
        if batch_norm:
            layers.append(keras.layers.BatchNormalization(axis=axis))
        layers.append(make_activation(activation, axis))
    layers += [
        keras.layers.Conv2D(num_classes, 1, data_format=data_format),
        keras.layers.GlobalAveragePooling2D(data_format=data_format),
        keras.layers.Activation(classifier_activation or "linear"),
    ]
    return keras.Sequential(layers, name=name)


def resnet50_cifar(
    input_shape=(32, 32, 3),
    num_classes=10,
    activation="relu",
    outer_activation=None,
    batch_norm=True,
    width_multiplier=0.125,
    classifier_activation="softmax",
    data_format=None,
    name="resnet50_cifar",
):
    """ResNet50 scaled for CIFAR as in the linked-neurons paper.

    A 3x3 stem convolution (stride 1, no max-pooling), then four stages of
    3, 4, 6 and 3 bottleneck blocks with ``64, 128, 256, 512`` times
    ``width_multiplier`` filters (1/8 in the paper: 8, 16, 32, 64; outputs
    4 times that), strides 1, 2, 2, 2 (on the 3x3 convolution), global
    average pooling and a Dense classifier. A bottleneck is ``1x1 -> [BN] ->
    inner act -> 3x3 -> [BN] -> inner act -> 1x1 -> [BN]``, plus a
    (projected, on the first block of a stage) shortcut, then the outer
    activation. Only the two *inner* activations of each block are
    ``activation`` (a linked one doubles the channels that reach the next
    convolution); the stem and the outer activations after the additions
    use ``outer_activation``, by default the plain counterpart of
    ``activation`` (``"lkrelu"`` -> ``"relu"``), as in the paper. The paper
    trains it with Adam 1e-3 for 2,000 epochs on CIFAR-10 (a GPU job).

    Args:
        input_shape: ``(H, W, C)`` (``(C, H, W)`` for channels_first), H and W at least 8.
        num_classes: Number of outputs.
        activation: Inner activation of the bottlenecks (see :func:`make_activation`).
        outer_activation: Activation of the stem and after every addition;
            None for the plain counterpart of ``activation``.
        batch_norm: BatchNormalization after every convolution (the paper's
            "without BN" runs set False).
        width_multiplier: Factor on the ResNet50 widths.
        classifier_activation: Activation of the output (None for logits).
        data_format: ``"channels_last"``, ``"channels_first"`` or None.
        name: Model name.

    Returns:
        An uncompiled functional ``keras.Model``.

    Example:

        >>> from linked_neurons.models import resnet50_cifar
        >>> model = resnet50_cifar((32, 32, 3), 10, activation="lkrelu")
        >>> sum(type(layer).__name__ == "LKReLU" for layer in model.layers)
        32
    """
    data_format, axis = _data_format(data_format)
    height, width = _spatial(input_shape, data_format, "resnet50_cifar")
    if min(height, width) < 8:
        raise ValueError(
            f"resnet50_cifar: the input needs at least 8x8 pixels, got {height}x{width}."
        )
    if not width_multiplier > 0:
        raise ValueError(
            f"resnet50_cifar: `width_multiplier` must be positive, got {width_multiplier!r}."
        )
    outer = _outer_activation(activation) if outer_activation is None else outer_activation

    def conv(x, filters, kernel, stride=1):
        return keras.layers.Conv2D(filters, kernel, strides=stride, padding="same",
                                   use_bias=not batch_norm, data_format=data_format)(x)

    def norm(x):
        return keras.layers.BatchNormalization(axis=axis)(x) if batch_norm else x

    inputs = keras.Input(tuple(input_shape))
    base = max(1, int(round(64 * width_multiplier)))
    x = make_activation(outer, axis)(norm(conv(inputs, base, 3)))
    for stage, (blocks, stride) in enumerate(zip((3, 4, 6, 3), (1, 2, 2, 2))):
        filters = max(1, int(round(64 * 2**stage * width_multiplier)))
        for block in range(blocks):
            block_stride = stride if block == 0 else 1
            shortcut = x
            if block == 0:
                shortcut = norm(conv(x, 4 * filters, 1, block_stride))
            y = make_activation(activation, axis)(norm(conv(x, filters, 1)))
            y = make_activation(activation, axis)(norm(conv(y, filters, 3, block_stride)))
            y = norm(conv(y, 4 * filters, 1))
            x = make_activation(outer, axis)(keras.layers.Add()([shortcut, y]))
    x = keras.layers.GlobalAveragePooling2D(data_format=data_format)(x)
    outputs = keras.layers.Dense(num_classes, activation=classifier_activation)(x)
    return keras.Model(inputs, outputs, name=name)
