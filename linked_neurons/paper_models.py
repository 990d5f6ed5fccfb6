"""The small networks of the linked-neurons paper (Riera Molina & Pujol Vila, arXiv 1712.02609).

- :func:`width_net`: one convolution of ``W`` filters, then the classifier;
- :func:`depth_net`: a deep, thin plain convolution stack (51 layers of
  width 4 in the paper);
- :func:`extended_net`: the parameter-matched ("extended") network.

The paper's larger AllCNN and CIFAR ResNet50 are in :mod:`linked_neurons.models`.
Every builder takes an activation name of :mod:`linked_neurons.activations`
and two switches: ``batch_norm`` (convolution without bias, then
BatchNormalization, then the activation) and ``sqrt2`` (every hidden layer
widened from ``W`` to ``int(sqrt(2) * W)`` filters, :func:`widen`, the plain
baseline with about the parameters of the linked network). A linked
activation keeps the filters of the layer that feeds it and doubles its
output channels, so the next layer has twice the inputs (the paper's
convention).

Example:

    >>> from linked_neurons.paper_models import depth_net, widen
    >>> depth_net((8, 8, 1), 10, "lkrelu", depth=5, width=4).output_shape
    (None, 10)
    >>> widen(4), widen(50)
    (5, 70)
"""

import math

import keras

from linked_neurons import activations as ln_activations

__all__ = ["BN_MOMENTUM", "depth_net", "extended_net", "widen", "width_net"]

#: Momentum of the BatchNormalization layers. With few steps per epoch, Keras'
#: 0.99 leaves the moving statistics far from the batch ones (0.9 is PyTorch's).
BN_MOMENTUM = 0.9


def widen(width):
    """The paper's widened baseline: ``int(sqrt(2) * width)`` filters.

    Args:
        width: Filters (or units) of a layer.

    Returns:
        ``int(sqrt(2) * width)``.
    """
    return int(math.sqrt(2.0) * width)


def _setup(who, activation, data_format):
    if not isinstance(activation, str) or not activation:
        raise ValueError(f"{who}: `activation` must be an activation name, got {activation!r}.")
    ln_activations.get(activation)  # a ValueError listing the names for unknown ones
    data_format = data_format or keras.config.image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"{who}: `data_format` must be 'channels_last' or 'channels_first', "
                         f"got {data_format!r}.")
    return data_format, (1 if data_format == "channels_first" else -1)


def _block(layers, layer, activation, batch_norm, axis, name=None):
    """Appends layer -> [BN] -> activation to ``layers``."""
    layers.append(layer)
    if batch_norm:
        layers.append(keras.layers.BatchNormalization(axis=axis, momentum=BN_MOMENTUM))
    layers.append(ln_activations.get(activation, axis=axis, **({"name": name} if name else {})))


def _head(layers, num_classes, data_format, kernel_initializer):
    layers += [keras.layers.Flatten(data_format=data_format),
               keras.layers.Dense(num_classes, activation="softmax",
                                  kernel_initializer=kernel_initializer)]


def width_net(input_shape, num_classes, activation="relu", width=50, batch_norm=False,
              sqrt2=False, kernel_initializer="glorot_uniform", data_format=None):
    """The paper's width network: ``Conv2D(W, 3x3, valid) -> act -> Flatten -> Dense``.

    Args:
        input_shape: ``(H, W, C)`` (``(C, H, W)`` for channels_first).
        num_classes: Number of classes (softmax output).
        activation: A name of :mod:`linked_neurons.activations`.
        width: Filters ``W`` of the convolution.
        batch_norm: BatchNormalization between the convolution and the activation.
        sqrt2: Widen the convolution to ``int(sqrt(2) * W)``.
        kernel_initializer: Initializer of every kernel.
        data_format: ``"channels_last"``, ``"channels_first"`` or None (Keras' setting).

    Returns:
        An uncompiled ``keras.Sequential``.

    Raises:
        ValueError: For an unknown activation, ``width < 1`` or a bad data format.

    Example:

        >>> from linked_neurons.paper_models import width_net
        >>> width_net((8, 8, 1), 10, "lkrelu", width=3).count_params()  # 30 + 6*6*6*10 + 10
        2200
    """
    data_format, axis = _setup("width_net", activation, data_format)
    if width < 1:
        raise ValueError(f"width_net: `width` must be >= 1, got {width!r}.")
    layers = [keras.Input(tuple(input_shape))]
    conv = keras.layers.Conv2D(widen(width) if sqrt2 else width, 3, padding="valid",
                               data_format=data_format, use_bias=not batch_norm,
                               kernel_initializer=kernel_initializer)
    _block(layers, conv, activation, batch_norm, axis)
    _head(layers, num_classes, data_format, kernel_initializer)
    return keras.Sequential(layers, name=f"width_{activation}_{width}")


def depth_net(input_shape, num_classes, activation="relu", depth=51, width=4, batch_norm=False,
              sqrt2=False, kernel_initializer="glorot_uniform", data_format=None):
    """The paper's depth network: a deep, thin stack of convolutions.

    ``Conv2D(W, 7x7, stride 2, same) -> act``, then ``depth - 1`` times
    ``Conv2D(W, 3x3, same) -> act``, then ``Flatten -> Dense(num_classes,
    softmax)``. The paper uses ``depth=51`` and ``W=4`` on CIFAR-10.

    Args:
        input_shape: ``(H, W, C)`` (``(C, H, W)`` for channels_first).
        num_classes: Number of classes.
        activation: A name of :mod:`linked_neurons.activations`.
        depth: Number of convolutions (each followed by an activation).
        width: Filters ``W`` of every convolution.
        batch_norm: Conv (no bias) -> BatchNormalization -> activation.
        sqrt2: Widen every convolution to ``int(sqrt(2) * W)``.
        kernel_initializer: Initializer of every kernel.
        data_format: ``"channels_last"``, ``"channels_first"`` or None.

    Returns:
        An uncompiled ``keras.Sequential`` whose activation layers are named
        ``act_1`` ... ``act_<depth>``.

    Raises:
        ValueError: For ``depth < 1``, ``width < 1``, an unknown activation
            or a bad data format.

    Example:

        >>> from linked_neurons.paper_models import depth_net
        >>> depth_net((32, 32, 3), 10, "relu").count_params()
        18242
    """
    if depth < 1 or width < 1:
        raise ValueError(f"depth_net: `depth` and `width` must be >= 1, got {depth}, {width}.")
    data_format, axis = _setup("depth_net", activation, data_format)
    kw = dict(padding="same", data_format=data_format, use_bias=not batch_norm,
              kernel_initializer=kernel_initializer)
    filters = widen(width) if sqrt2 else width
    layers = [keras.Input(tuple(input_shape))]
    for index in range(depth):
        conv = (keras.layers.Conv2D(filters, 7, strides=2, **kw) if index == 0
                else keras.layers.Conv2D(filters, 3, **kw))
        _block(layers, conv, activation, batch_norm, axis, name=f"act_{index + 1}")
    _head(layers, num_classes, data_format, kernel_initializer)
    return keras.Sequential(layers, name=f"depth_{activation}_{depth}x{width}")


def extended_net(input_shape, num_classes, activation="relu", widths=(32, 32, 64, 64, 512),
                 batch_norm=False, sqrt2=False, kernel_initializer="glorot_normal",
                 data_format=None):
    """The paper's parameter-matched ("extended") network.

    ``C32 same -> act -> C32 valid -> act -> MaxPool -> C64 same -> act -> C64
    valid -> act -> MaxPool -> Flatten -> D512 -> act -> D(num_classes,
    softmax)``, 3x3 kernels. The paper compares a plain activation
    (*single*), every hidden layer widened (``sqrt2=True``) and the linked
    activation at the plain widths; the two last have about the same number
    of parameters.

    Args:
        input_shape: ``(H, W, C)`` with H and W at least 10 (channels_first:
            ``(C, H, W)``).
        num_classes: Number of classes.
        activation: A name of :mod:`linked_neurons.activations`.
        widths: The five hidden widths (four convolutions, one Dense).
        batch_norm: BatchNormalization before every hidden activation.
        sqrt2: Widen every hidden layer to ``int(sqrt(2) * W)``.
        kernel_initializer: Initializer of every kernel (the paper's ``glorot_normal``).
        data_format: ``"channels_last"``, ``"channels_first"`` or None.

    Returns:
        An uncompiled ``keras.Sequential``.

    Raises:
        ValueError: For fewer than 10x10 pixels, not five widths, an unknown
            activation or a bad data format.
    """
    data_format, axis = _setup("extended_net", activation, data_format)
    widths = tuple(int(w) for w in widths)
    if len(widths) != 5 or min(widths) < 1:
        raise ValueError(f"extended_net: `widths` must be five integers >= 1, got {widths!r}.")
    spatial = input_shape[1:] if data_format == "channels_first" else input_shape[:2]
    if min(spatial) < 10:
        raise ValueError(f"extended_net: the input needs at least 10x10 pixels (two valid 3x3 "
                         f"convolutions and two 2x2 poolings), got {tuple(input_shape)}.")
    if sqrt2:
        widths = tuple(widen(w) for w in widths)
    kw = dict(data_format=data_format, use_bias=not batch_norm,
              kernel_initializer=kernel_initializer)
    layers = [keras.Input(tuple(input_shape))]
    for index, padding in enumerate(("same", "valid", "same", "valid")):
        _block(layers, keras.layers.Conv2D(widths[index], 3, padding=padding, **kw), activation,
               batch_norm, axis)
        if padding == "valid":
            layers.append(keras.layers.MaxPooling2D(2, data_format=data_format))
    layers.append(keras.layers.Flatten(data_format=data_format))
    _block(layers, keras.layers.Dense(widths[4], use_bias=not batch_norm,
                                      kernel_initializer=kernel_initializer),
           activation, batch_norm, -1)
    layers.append(keras.layers.Dense(num_classes, activation="softmax",
                                     kernel_initializer=kernel_initializer))
    return keras.Sequential(layers, name=f"extended_{activation}{'_sqrt2' if sqrt2 else ''}")
