"""Name registry: turns activation names into layers.

Used by ``activation=``-style arguments, the model builder and the
experiments. Names are case-insensitive and ignore ``-``, ``_`` and spaces
for the library's own activations (``"LK-ReLU"``, ``"lk_relu"`` and
``"lkrelu"`` are the same); every ``keras.activations`` name works too and
gives a ``keras.layers.Activation``.

>>> from linked_neurons import activations
>>> layer = activations.get("lkrelu")
>>> type(layer).__name__, activations.channel_multiplier("lkrelu")
('LKReLU', 2)
>>> activations.get("tanh").activation.__name__
'tanh'

Later modules add their layers with :func:`register`.

Keras' own string APIs (``activation="..."`` on any Keras layer,
``keras.activations.get``, ``keras.layers.Activation``) look names up in a
table of functions, one shared object per name. Importing the library adds
its names to that table (:func:`keras_names` lists them):

* ``"linked_neurons>selu"``, ``"linked_neurons>mish"``,
  ``"linked_neurons>swish"``: the library's fused functions (same values as
  Keras' ``"selu"``, ``"mish"``, ``"silu"``, a backward pass that keeps only
  the input). They are registered Keras-serializable, so models using them
  save and load through ``.keras`` files.
* the channel-doubling names (``"lkrelu"``, ``"lkprelu"``, ``"lkselu"``,
  ``"lkswish"`` and their aliases) and the learnable ones (``"leaf"``,
  ``"ahaf"``, ``"neural"``, ``"interpolated"``): a shared function can
  neither double the channels that the layer declares nor own weights, so
  these names resolve to an object that raises a ``ValueError`` saying what
  to write instead (the layer after a layer built without activation, or an
  instance such as ``activation=LEAF()``). A Keras layer given one of these
  names (``Dense(4, activation="lkrelu")``, ``Activation("leaf")``) raises
  it when it is constructed; ``keras.activations.get`` returns the object,
  which raises when called.

A linked layer instance given as a Keras layer's activation
(``Dense(4, activation=LKReLU())``) is rejected the same way, when that
layer is constructed: Keras would declare 4 output channels and produce 8.
Keras' layers resolve their activation arguments through
``keras.src.activations.get``; importing the library wraps that function
(the public ``keras.activations.get`` is left as it is) so that it raises
for these names and instances and returns everything else unchanged.

>>> import keras
>>> import linked_neurons
>>> layer = keras.layers.Dense(4, activation="linked_neurons>mish")
>>> layer.activation is linked_neurons.ops.mish
True
"""

import linecache
import re
import sys
from dataclasses import dataclass

import keras

from linked_neurons import ops as ln_ops
from linked_neurons.layers import (
    AHAF,
    LEAF,
    LKSELU,
    SELU,
    InterpolatedActivation,
    LKPReLU,
    LKReLU,
    LKSwish,
    Mish,
    NeuralActivation,
    Swish,
)
from linked_neurons.layers.base import (
    ChannelActivationLayer,
    KerasNamePlaceholder,
    keras_activation,
    set_name_lookup,
)


@dataclass(frozen=True)
class Entry:
    """A registered activation.

    Attributes:
        name: Canonical name.
        factory: Callable returning a new layer; receives ``**kwargs``.
        channel_multiplier: Factor applied to the channel count (2 for
            linked activations).
        takes_axis: Whether the factory accepts an ``axis`` argument.
    """

    name: str
    factory: object
    channel_multiplier: int = 1
    takes_axis: bool = False


_REGISTRY = {}


def _canonical(name):
    return "".join(ch for ch in name.lower() if ch not in "-_ ")


def register(name, factory, channel_multiplier=1, takes_axis=False, aliases=(), overwrite=False):
    """Registers ``factory`` under ``name`` (and ``aliases``).

    Args:
        name: The activation's name.
        factory: A layer class or a callable returning a new layer.
        channel_multiplier: 2 when the activation doubles the channel axis.
        takes_axis: Whether ``factory`` accepts ``axis=``.
        aliases: Other names for the same entry.
        overwrite: Allow replacing an existing name.

    Raises:
        ValueError: If a name is taken and ``overwrite`` is False, or if
            ``channel_multiplier`` is not a positive integer.
    """
    if isinstance(channel_multiplier, bool) or not isinstance(channel_multiplier, int) or (
        channel_multiplier < 1
    ):
        raise ValueError(
            f"register: `channel_multiplier` must be a positive int, got {channel_multiplier!r}."
        )
    if not callable(factory):
        raise TypeError(f"register: `factory` must be callable, got {factory!r}.")
    entry = Entry(_canonical(name), factory, channel_multiplier, takes_axis)
    for key in (name, *aliases):
        key = _canonical(key)
        if key in _REGISTRY and not overwrite:
            raise ValueError(f"register: the activation name {key!r} is already registered.")
        _REGISTRY[key] = entry
    return factory


def names():
    """Sorted list of the registered names (aliases included)."""
    return sorted(_REGISTRY)


def _entry(identifier):
    if isinstance(identifier, str):
        return _REGISTRY.get(_canonical(identifier))
    return None


def _keras_activation(name):
    return keras_activation(name.lower())


def get(identifier, axis=None, **kwargs):
    """Returns a new activation layer for ``identifier``.

    Args:
        identifier: A registered name (``"lkrelu"``, ``"mish"``, ...), any
            ``keras.activations`` name (``"tanh"``, ``"gelu"``, ...), a
            serialized layer dict, a layer instance (returned unchanged), a
            callable (wrapped in ``keras.layers.Activation``), or None (linear).
        axis: Channel axis, passed to layers that have one (linked layers,
            ``Swish``); ignored by elementwise ones.
        **kwargs: Further constructor arguments of the registered layer.

    Returns:
        A ``keras.layers.Layer``.

    Raises:
        ValueError: For an unknown name.
        TypeError: For an identifier of another type.
    """
    if identifier is None:
        return keras.layers.Activation("linear", **kwargs)
    if isinstance(identifier, keras.layers.Layer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        entry = _entry(identifier)
        if entry is not None:
            if entry.takes_axis and axis is not None:
                kwargs["axis"] = axis
            return entry.factory(**kwargs)
        fn = _keras_activation(identifier)
        if fn is not None:
            return keras.layers.Activation(identifier.lower(), **kwargs)
        raise ValueError(
            f"linked_neurons.activations.get: unknown activation {identifier!r}. "
            f"Registered names: {', '.join(names())}; any keras.activations name "
            f"(e.g. 'tanh', 'gelu') also works."
        )
    if callable(identifier):
        return keras.layers.Activation(identifier, **kwargs)
    raise TypeError(
        f"linked_neurons.activations.get: expected a name, a dict, a layer, a callable or "
        f"None, got {identifier!r} of type {type(identifier).__name__}."
    )


def channel_multiplier(identifier):
    """Factor by which the activation multiplies the channel count (1 or 2).

    Accepts the same identifiers as :func:`get`.
    """
    entry = _entry(identifier)
    if entry is not None:
        return entry.channel_multiplier
    if isinstance(identifier, keras.layers.Layer):
        return getattr(identifier, "channel_multiplier", 1)
    if isinstance(identifier, dict):
        return channel_multiplier(deserialize(identifier))
    if isinstance(identifier, str) and _keras_activation(identifier) is None:
        get(identifier)  # raises the unknown-name error
    return 1


def is_linked(identifier):
    """Whether the activation doubles the channel axis."""
    return channel_multiplier(identifier) == 2


def serialize(layer):
    """Serializes an activation layer to a Keras config dict."""
    if not isinstance(layer, keras.layers.Layer):
        raise TypeError(
            f"linked_neurons.activations.serialize: expected a layer, got "
            f"{type(layer).__name__}."
        )
    return keras.saving.serialize_keras_object(layer)


def deserialize(config):
    """Rebuilds a layer from :func:`serialize`'s output or from a name."""
    if isinstance(config, str):
        return get(config)
    if not isinstance(config, dict):
        raise TypeError(
            f"linked_neurons.activations.deserialize: expected a dict or a name, got "
            f"{type(config).__name__}."
        )
    return keras.saving.deserialize_keras_object(config)


# Library layers.
register("lkrelu", LKReLU, channel_multiplier=2, takes_axis=True, aliases=("crelu",))
register("lkprelu", LKPReLU, channel_multiplier=2, takes_axis=True)
register("lkselu", LKSELU, channel_multiplier=2, takes_axis=True)
register("lkswish", LKSwish, channel_multiplier=2, takes_axis=True, aliases=("lksilu",))
register("selu", SELU)
register("mish", Mish)
register("swish", Swish, takes_axis=True, aliases=("silu",))
# Keras layers that carry weights or arguments beyond keras.activations.
register("relu", keras.layers.ReLU)
register("prelu", keras.layers.PReLU)
register("leakyrelu", lambda **kw: keras.layers.LeakyReLU(**{"negative_slope": 0.2, **kw}))
# Learnable activations: one parameter set per neuron by default.
register("leaf", LEAF, takes_axis=True)
register("ahaf", AHAF, takes_axis=True)
# Diverse learnable activations (SPEC §4).
register("neural", NeuralActivation, takes_axis=True, aliases=("neuralactivation",))
register("interpolated", InterpolatedActivation, takes_axis=True)




def _lookup(name):
    """The layers' view of the registry: ``(layer, channel_multiplier)``."""
    return get(name), channel_multiplier(name)


# Layers that take an activation by name (NeuralActivation's `base`) reach the
# registry through this hook, so no module of `layers` imports this one.
set_name_lookup(_lookup)


# ------------------------------------------------------------------ Keras string names
def _doubling_message(name, cls):
    return (
        f"The activation {name!r} ({cls}) doubles the channel axis, so it cannot be another "
        f"layer's `activation`: that layer would declare C output channels and produce 2C. "
        f"Build the layer without an activation and put the linked layer after it, e.g. "
        f"keras.layers.Dense(4) followed by linked_neurons.{cls}() (4 -> 8 channels)."
    )


def _learnable_message(name, cls):
    return (
        f"The activation {name!r} ({cls}) learns weights, which a name shared by every "
        f"layer cannot own. Pass an instance, e.g. keras.layers.Dense(4, "
        f"activation=linked_neurons.{cls}()), or put linked_neurons.{cls}() after a layer "
        f"built without activation."
    )


#: The fused functions that Keras' string APIs reach as "linked_neurons>NAME".
_FUNCTIONS = {"selu": ln_ops.selu, "mish": ln_ops.mish, "swish": ln_ops.swish}

_KERAS_NAMES = {}


def keras_names():
    """The names the library adds to Keras' activation table (a sorted list).

    After ``import linked_neurons`` every name of the list works in
    ``keras.activations.get``, ``keras.layers.Activation`` and any Keras
    layer's ``activation=`` argument; see the module docstring for what each
    one gives.
    """
    return sorted(_KERAS_NAMES)


def _install_keras_names():
    try:
        from keras.src import activations as keras_activations

        table = keras_activations.ALL_OBJECTS_DICT
    except (ImportError, AttributeError):  # a Keras without the table: strings stay Keras'
        return
    for short, fn in _FUNCTIONS.items():
        registered = keras.saving.register_keras_serializable("linked_neurons", short)(fn)
        _KERAS_NAMES[f"linked_neurons>{short}"] = registered
    for key, entry in _REGISTRY.items():
        if key in table:  # never shadow a Keras name
            continue
        cls = getattr(entry.factory, "__name__", key)
        if entry.channel_multiplier != 1:
            message = _doubling_message(key, cls)
        elif isinstance(entry.factory, type) and issubclass(
            entry.factory, (LEAF, AHAF, NeuralActivation, InterpolatedActivation)
        ):
            message = _learnable_message(key, cls)
        else:
            continue
        _KERAS_NAMES[key] = KerasNamePlaceholder(key, message)
        if cls not in table:  # the class name too: "LKReLU", "LEAF"
            renamed = message.replace(repr(key), repr(cls))
            _KERAS_NAMES.setdefault(cls, KerasNamePlaceholder(cls, renamed))
    for name, obj in _KERAS_NAMES.items():
        table.setdefault(name, obj)
    if not getattr(keras_activations.get, "_linked_neurons_checked", False):
        keras_activations.get = _checked_get(keras_activations.get)


_ASSIGNED_ATTR = re.compile(r"self\.(\w*activation)\s*=")


def _owner(frame, layer):
    """The Keras layer whose code runs in ``frame`` or above, and the attribute set."""
    while frame is not None:
        owner = frame.f_locals.get("self")
        if isinstance(owner, keras.layers.Layer) and owner is not layer:
            line = linecache.getline(frame.f_code.co_filename, frame.f_lineno)
            match = _ASSIGNED_ATTR.search(line)
            return owner, match.group(1) if match else "activation"
        frame = frame.f_back
    return None, "activation"


def _checked_get(original):
    """Wraps Keras' internal ``activations.get``: rejects what cannot be an activation."""

    def get(identifier):
        fn = original(identifier)
        if isinstance(fn, KerasNamePlaceholder):
            fn()  # raises the name's message
        if isinstance(fn, ChannelActivationLayer) and fn.channel_multiplier != 1:
            raise fn.activation_argument_error(*_owner(sys._getframe(1), fn))
        return fn

    get.__doc__ = original.__doc__
    get.__wrapped__ = original
    get._linked_neurons_checked = True
    return get


_install_keras_names()
