"""Which layers of a model are watched: activation-like layers, names, channel axes."""

import numbers

import keras

# Keras layers that are activations whatever their arguments.
_KERAS_ACTIVATION_LAYERS = tuple(
    getattr(keras.layers, name)
    for name in ("ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax")
    if hasattr(keras.layers, name)
)


def _is_linear(fn):
    if fn is None:
        return True
    name = getattr(fn, "__name__", None)
    if name is None and isinstance(fn, str):
        name = fn
    return name == "linear" or fn is keras.activations.linear


def _registered_classes():
    from linked_neurons import activations as ln_activations

    classes = set()
    for name in ln_activations.names():
        factory = ln_activations._entry(name).factory
        if isinstance(factory, type):
            classes.add(factory)
    return tuple(classes)


def is_activation_layer(layer):
    """Whether ``layer`` counts as an activation for the default monitoring.

    True for the library's activation layers (subclasses of
    :class:`~linked_neurons.layers.ActivationLayer`, and every layer class
    registered in :mod:`linked_neurons.activations`), for Keras'
    ``Activation`` layer unless it is linear, for ``ReLU``, ``LeakyReLU``,
    ``PReLU``, ``ELU`` and ``Softmax``, and for any other layer whose
    ``activation`` attribute is set to something other than the identity
    (e.g. ``Dense(64, activation="relu")``). Models, input layers and
    everything else are False.

    Args:
        layer: A ``keras.layers.Layer``.

    Returns:
        A bool.
    """
    from linked_neurons.layers.base import ActivationLayer

    if isinstance(layer, keras.Model) or not isinstance(layer, keras.layers.Layer):
        return False
    if isinstance(layer, keras.layers.InputLayer):
        return False
    if isinstance(layer, keras.layers.Activation):
        return not _is_linear(layer.activation)
    if isinstance(layer, (ActivationLayer, *_KERAS_ACTIVATION_LAYERS)):
        return True
    if isinstance(layer, _registered_classes()):
        return True
    fn = getattr(layer, "activation", None)
    return fn is not None and callable(fn) and not _is_linear(fn)


def activation_layers(model):
    """The activation-like layers of ``model`` (top level), in model order.

    Args:
        model: A ``keras.Model``.

    Returns:
        A list of layers for which :func:`is_activation_layer` is True.
    """
    return [layer for layer in model.layers if is_activation_layer(layer)]


def _nested_owner(model, name):
    """The nested model of ``model`` that holds a layer called ``name``, if any."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            for inner in layer._flatten_layers(include_self=False):
                if inner.name == name:
                    return layer
    return None


def resolve_layers(model, layers=None, caller="resolve_layers"):
    """Turns a ``layers`` argument into a list of layers of ``model``.

    Args:
        model: A ``keras.Model`` (functional or ``Sequential``).
        layers: None for :func:`activation_layers`; otherwise a layer name,
            a layer, or a list of names and layers. Only top-level layers of
            ``model`` can be monitored.
        caller: Name used in error messages.

    Returns:
        A non-empty list of distinct layers, in the order given.

    Raises:
        ValueError: If a name is unknown, a layer is not part of ``model``, a
            layer is listed twice, or nothing is left to monitor.
        TypeError: For entries that are neither names nor layers.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"{caller}: expected a keras.Model, got {type(model).__name__}.")
    if layers is None:
        chosen = activation_layers(model)
        if not chosen:
            raise ValueError(
                f"{caller}: model '{model.name}' has no activation-like layer to monitor "
                f"(its layers: {[layer.name for layer in model.layers]}). Pass `layers` "
                f"with the names of the layers to watch."
            )
        return chosen
    if isinstance(layers, (str, keras.layers.Layer)):
        layers = [layers]
    try:
        layers = list(layers)
    except TypeError:
        raise TypeError(
            f"{caller}: `layers` must be None, a layer name, a layer or a list of them, "
            f"got {layers!r} of type {type(layers).__name__}."
        ) from None
    if not layers:
        raise ValueError(f"{caller}: `layers` is empty; pass None to watch every activation.")
    by_name = {layer.name: layer for layer in model.layers}
    chosen = []
    for item in layers:
        if isinstance(item, str):
            if item not in by_name:
                owner = _nested_owner(model, item)
                if owner is not None:
                    raise ValueError(
                        f"{caller}: layer '{item}' is inside the nested model "
                        f"'{owner.name}' of model '{model.name}'; only top-level layers can "
                        f"be monitored. Monitor '{owner.name}' itself, or build the model "
                        f"without nesting."
                    )
                raise ValueError(
                    f"{caller}: model '{model.name}' has no layer named '{item}'. Its "
                    f"layers are: {sorted(by_name)}."
                )
            layer = by_name[item]
        elif isinstance(item, keras.layers.Layer):
            if by_name.get(item.name) is not item:
                raise ValueError(
                    f"{caller}: layer '{item.name}' ({type(item).__name__}) is not a "
                    f"top-level layer of model '{model.name}'."
                )
            layer = item
        else:
            raise TypeError(
                f"{caller}: every entry of `layers` must be a layer name or a layer, got "
                f"{item!r} of type {type(item).__name__}."
            )
        if any(layer is other for other in chosen):
            raise ValueError(f"{caller}: layer '{layer.name}' is listed twice in `layers`.")
        chosen.append(layer)
    return chosen


def _inbound_layers(layer):
    nodes = getattr(layer, "_inbound_nodes", None) or []
    if not nodes:
        return []
    return [node.operation for node in nodes[0].parent_nodes]


def _data_format(layer, depth=8):
    """The ``data_format`` of ``layer`` or of the closest layer feeding it."""
    for _ in range(depth):
        fmt = getattr(layer, "data_format", None)
        if fmt in ("channels_first", "channels_last"):
            return fmt
        parents = _inbound_layers(layer)
        if len(parents) != 1:
            return None
        layer = parents[0]
    return None


def _default_channel_axis(layer, rank):
    """Channel axis of ``layer``'s output of ``rank`` (batch axis included)."""
    if rank <= 2:
        return rank - 1
    axis = getattr(layer, "axis", None)
    if isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
        if -rank <= axis < rank and axis % rank != 0:
            return int(axis) % rank
    fmt = _data_format(layer) or keras.config.image_data_format()
    return 1 if fmt == "channels_first" else rank - 1


def _channel_axes(layers, channel_axis, caller):
    """Validates ``channel_axis`` (None, int or dict) into a dict name -> int|None."""
    names = [layer.name for layer in layers]
    if channel_axis is None:
        return dict.fromkeys(names)
    if isinstance(channel_axis, dict):
        unknown = sorted(set(channel_axis) - set(names))
        if unknown:
            raise ValueError(
                f"{caller}: `channel_axis` names layers that are not monitored: {unknown}; "
                f"monitored layers: {names}."
            )
        axes = {name: channel_axis.get(name) for name in names}
    else:
        axes = dict.fromkeys(names, channel_axis)
    for name, axis in axes.items():
        if axis is not None and (isinstance(axis, bool) or not isinstance(axis, numbers.Integral)):
            raise TypeError(
                f"{caller}: the channel axis of layer '{name}' must be an int or None, got "
                f"{axis!r}."
            )
        if axis == 0:
            raise ValueError(
                f"{caller}: the channel axis of layer '{name}' cannot be 0, the batch axis."
            )
    return axes
