"""Which weights of a model are its activation parameters."""

import math

import keras

from linked_neurons.layers.base import ActivationLayer

#: Layer types whose trainable weights are "activation parameters" by default.
ACTIVATION_LAYER_TYPES = (ActivationLayer, keras.layers.PReLU)


def _all_layers(model):
    """``model`` and every layer nested in it (each once)."""
    flatten = getattr(model, "_flatten_layers", None)
    if flatten is not None:
        return list(flatten(include_self=True, recursive=True))
    seen, out, stack = set(), [], [model]
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        out.append(layer)
        stack.extend(getattr(layer, "layers", []) or [])
    return out


def activation_parameters(model, names=None, layer_types=None):
    """The trainable weights of a model's activation layers.

    Activation layers are, by default, the library's activation layers
    (:class:`~linked_neurons.layers.learnable.LEAF`,
    :class:`~linked_neurons.layers.learnable.AHAF`, ``LKPReLU``, ``Swish``
    with a trainable beta, ... : every
    :class:`~linked_neurons.layers.ActivationLayer`) and
    ``keras.layers.PReLU``, searched through nested models and layers.
    These are the weights that DSPT updates in its first stage.

    Args:
        model: A Keras model or layer (built, or the list is empty).
        names: Optional variable names to keep, e.g. ``("p2", "p4")``.
        layer_types: Optional tuple of layer classes that replaces the
            default :data:`ACTIVATION_LAYER_TYPES`.

    Returns:
        A list of variables, in the order of ``model.trainable_variables``.

    Raises:
        TypeError: If ``model`` is not a Keras layer or model.

    Example:

        >>> import keras
        >>> from linked_neurons.layers.learnable import AHAF
        >>> from linked_neurons.training import activation_parameters
        >>> model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4), AHAF()])
        >>> [(v.name, tuple(v.shape)) for v in activation_parameters(model)]
        [('beta', (4,)), ('gamma', (4,))]
    """
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(
            f"activation_parameters: expected a Keras model or layer, got "
            f"{type(model).__name__}."
        )
    types = tuple(layer_types) if layer_types is not None else ACTIVATION_LAYER_TYPES
    if isinstance(names, str):
        names = (names,)
    keep = set(names) if names is not None else None
    ids = set()
    for layer in _all_layers(model):
        if isinstance(layer, types) and layer.trainable:
            ids.update(id(v) for v in layer.trainable_weights)
    return [
        v
        for v in model.trainable_variables
        if id(v) in ids and (keep is None or v.name in keep)
    ]


def count_activation_parameters(model, **kwargs):
    """Number of scalars in :func:`activation_parameters` (same arguments).

    Example:

        >>> import keras
        >>> from linked_neurons.layers.learnable import LEAF
        >>> from linked_neurons.training import count_activation_parameters
        >>> count_activation_parameters(keras.Sequential([keras.Input((6, 5)), LEAF()]))
        120
    """
    return sum(math.prod(v.shape) for v in activation_parameters(model, **kwargs))
