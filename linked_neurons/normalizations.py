"""Name registry: turns normalization names into layers.

Used by the model builder (``typeBN=``) and the experiments. Names are
case-insensitive and ignore ``-``, ``_`` and spaces (``"BN"``,
``"batch_norm"`` and ``"bn"`` are the same).

>>> from linked_neurons import normalizations
>>> layer = normalizations.get("bn", axis=-1, momentum=0.9)
>>> type(layer).__name__, layer.momentum
('BatchNormalization', 0.9)

Every factory receives ``axis``, ``momentum`` and ``epsilon``; factories
registered with ``takes_mixture=True`` also receive ``n_mixture``. Later
modules add their layers with :func:`register`.
"""

from dataclasses import dataclass

import keras

from linked_neurons.layers.normalization import IEBN, AttentiveNormalization


@dataclass(frozen=True)
class Entry:
    """A registered normalization.

    Attributes:
        name: Canonical name.
        factory: Callable returning a new layer; receives ``axis``,
            ``momentum``, ``epsilon`` and ``**kwargs``.
        takes_mixture: Whether the factory accepts ``n_mixture``.
    """

    name: str
    factory: object
    takes_mixture: bool = False


_REGISTRY = {}


def _canonical(name):
    return "".join(ch for ch in name.lower() if ch not in "-_ ")


def register(name, factory, takes_mixture=False, aliases=(), overwrite=False):
    """Registers ``factory`` under ``name`` (and ``aliases``).

    Args:
        name: The normalization's name.
        factory: A layer class or a callable returning a new layer.
        takes_mixture: Whether ``factory`` accepts ``n_mixture=``.
        aliases: Other names for the same entry.
        overwrite: Allow replacing an existing name.

    Raises:
        ValueError: If a name is taken and ``overwrite`` is False.
        TypeError: If ``factory`` is not callable.
    """
    if not callable(factory):
        raise TypeError(f"register: `factory` must be callable, got {factory!r}.")
    entry = Entry(_canonical(name), factory, bool(takes_mixture))
    for key in (name, *aliases):
        key = _canonical(key)
        if key in _REGISTRY and not overwrite:
            raise ValueError(f"register: the normalization name {key!r} is already registered.")
        _REGISTRY[key] = entry
    return factory


def names():
    """Sorted list of the registered names (aliases included)."""
    return sorted(_REGISTRY)


def canonical_name(identifier):
    """The canonical registered name of ``identifier`` (``"batchnorm"`` → ``"bn"``).

    Raises:
        ValueError: For an unknown name.
        TypeError: If ``identifier`` is not a string.
    """
    if not isinstance(identifier, str):
        raise TypeError(
            f"linked_neurons.normalizations: expected a normalization name, got "
            f"{identifier!r} of type {type(identifier).__name__}."
        )
    entry = _REGISTRY.get(_canonical(identifier))
    if entry is None:
        raise ValueError(
            f"linked_neurons.normalizations: unknown normalization {identifier!r}. "
            f"Registered names: {', '.join(names())}."
        )
    return entry.name


def get(identifier, axis=-1, momentum=0.99, epsilon=1e-3, n_mixture=None, **kwargs):
    """Returns a new normalization layer for ``identifier``.

    Args:
        identifier: A registered name (``"bn"``, ``"an"``, ``"iebn"``, ...),
            a serialized layer dict, or a layer instance (returned unchanged).
        axis: The channel axis.
        momentum: Momentum of the moving statistics.
        epsilon: Added to the variance.
        n_mixture: Number of mixture components, for normalizations that
            take one (``"an"``); ignored by the others. None keeps the
            layer's default.
        **kwargs: Further constructor arguments of the registered layer.

    Returns:
        A ``keras.layers.Layer``.

    Raises:
        ValueError: For an unknown name.
        TypeError: For an identifier of another type.
    """
    if isinstance(identifier, keras.layers.Layer):
        return identifier
    if isinstance(identifier, dict):
        return keras.saving.deserialize_keras_object(identifier)
    entry = _REGISTRY[canonical_name(identifier)]
    if entry.takes_mixture and n_mixture is not None:
        kwargs["n_mixture"] = n_mixture
    return entry.factory(axis=axis, momentum=momentum, epsilon=epsilon, **kwargs)


register(
    "bn",
    keras.layers.BatchNormalization,
    aliases=("batchnorm", "batchnormalization", "batch"),
)

register(
    "an",
    AttentiveNormalization,
    takes_mixture=True,
    aliases=("attention", "attentive", "attentivenormalization"),
)
register("iebn", IEBN, aliases=("instance", "instanceenhancement"))
