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

__all__ = ["kerasnet", "lenet5", "make_activation"]


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
