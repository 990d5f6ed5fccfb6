"""Shared argument and input checks for the activation layers."""

import sys

import keras
from keras import backend

from linked_neurons._validation import channel_axis

_FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


class KerasNamePlaceholder:
    """Entry of Keras' activation table for a name that cannot be a shared function.

    :mod:`linked_neurons.activations` puts one under each name of a linked
    or learnable activation. ``keras.activations.get`` only accepts
    callables, so the entry is one; calling it raises a ``ValueError`` that
    says what to write instead.
    """

    def __init__(self, name, message):
        self.__name__ = name
        self._message = message

    def __call__(self, *args, **kwargs):
        raise ValueError(self._message)

    def __repr__(self):
        return f"<linked_neurons activation name {self.__name__!r}: not usable as a function>"


def keras_activation(name):
    """``keras.activations.get(name)``, or None for unknown and placeholder names."""
    try:
        fn = keras.activations.get(name)
    except (ValueError, TypeError):
        return None
    return None if isinstance(fn, KerasNamePlaceholder) else fn


_name_lookup = None


def set_name_lookup(lookup):
    """Installs the function that turns a registered activation name into a layer.

    Layers that take another activation by name (the ``base`` of
    :class:`~linked_neurons.layers.NeuralActivation`) resolve it through this
    function, so that no layer imports the name registry
    :mod:`linked_neurons.activations`, which itself imports the layers. The
    registry installs its lookup when it is imported, which
    ``import linked_neurons`` does.

    Args:
        lookup: A callable ``lookup(name)`` returning
            ``(layer, channel_multiplier)`` for a registered name and raising
            ``ValueError`` for an unknown one; or None to remove the lookup.

    Returns:
        The lookup installed before (None if there was none).

    Raises:
        TypeError: If ``lookup`` is neither callable nor None.

    Example:

    >>> from linked_neurons.layers import base
    >>> previous = base.set_name_lookup(lambda name: (None, 1))
    >>> base.lookup_name("anything")
    (None, 1)
    >>> _ = base.set_name_lookup(previous)
    """
    global _name_lookup
    if lookup is not None and not callable(lookup):
        raise TypeError(
            f"set_name_lookup: `lookup` must be callable or None, got {lookup!r} "
            f"of type {type(lookup).__name__}."
        )
    previous, _name_lookup = _name_lookup, lookup
    return previous


def lookup_name(name):
    """``(layer, channel_multiplier)`` for a name of the installed registry.

    Args:
        name: An activation name.

    Returns:
        A new layer for ``name`` and the factor by which it multiplies the
        channel axis.

    Raises:
        ValueError: If the name is unknown to the registry, or no registry
            lookup is installed (see :func:`set_name_lookup`).
    """
    if _name_lookup is None:
        raise ValueError(
            f"lookup_name: no activation registry is installed to resolve {name!r}; "
            f"import linked_neurons.activations first."
        )
    return _name_lookup(name)


class ActivationLayer(keras.layers.Layer):
    """Base class of the library's activation layers.

    It validates what every activation layer must reject with a clear
    message: non-floating inputs and inputs of rank below 2 (a batch axis
    plus at least one feature axis). Subclasses that concatenate or keep
    weights along a channel axis set ``has_channel_axis`` and receive
    ``axis``.

    Args:
        fused: None (default): the form of the op measured to be at most as
            slow and as large as the other in the backend, compile mode and
            device the layer is traced in (see ``linked_neurons.ops._policy``);
            True: the memory-saving fused op whose backward pass keeps only
            the input; False: the plain ``keras.ops`` composition
            differentiated by the backend.
        **kwargs: Base layer keyword arguments (``name``, ``dtype``, ...).
    """

    #: Factor by which the layer multiplies the size of the channel axis.
    channel_multiplier = 1
    #: Whether the layer takes an ``axis`` argument.
    has_channel_axis = False

    def __init__(self, fused=None, **kwargs):
        super().__init__(**kwargs)
        if fused is not None and not isinstance(fused, bool):
            raise TypeError(
                f"{self._kind()}: `fused` must be None, True or False, got {fused!r} "
                f"of type {type(fused).__name__}."
            )
        self.fused = fused
        self.supports_masking = True

    # ------------------------------------------------------------------ checks
    def _kind(self):
        return f"{type(self).__name__} layer '{self.name}'"

    def _check_rank(self, input_shape):
        rank = len(input_shape)
        if rank < 2:
            raise ValueError(
                f"{self._kind()} expects an input of rank >= 2 (batch axis plus "
                f"feature axes), got rank {rank} with shape {tuple(input_shape)}."
            )
        return rank

    def _check_dtype(self, x):
        dtype = backend.standardize_dtype(x.dtype)
        if dtype not in _FLOAT_DTYPES:
            raise TypeError(
                f"{self._kind()} expects a floating-point input (float16, bfloat16, "
                f"float32 or float64), got dtype {dtype}. Cast the input first, "
                f"e.g. keras.ops.cast(x, 'float32')."
            )

    def build(self, input_shape):
        self._check_rank(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config["fused"] = self.fused
        return config


class ChannelActivationLayer(ActivationLayer):
    """Activation layer with a channel axis (``axis=-1`` or ``axis=1``).

    Args:
        axis: Integer, the channel axis: -1 (default) for channels_last, 1 for
            channels_first. The batch axis (0) is not allowed.
        fused: See :class:`ActivationLayer`.
        **kwargs: Base layer keyword arguments.
    """

    has_channel_axis = True

    def __init__(self, axis=-1, fused=None, **kwargs):
        super().__init__(fused=fused, **kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(
                f"{self._kind()}: `axis` must be an integer (-1 for channels_last, 1 "
                f"for channels_first), got {axis!r} of type {type(axis).__name__}."
            )
        if axis == 0:
            raise ValueError(
                f"{self._kind()}: `axis` cannot be 0, the batch axis; use -1 "
                f"(channels_last) or 1 (channels_first)."
            )
        self.axis = axis

    def _channel_axis(self, rank):
        """The non-negative channel axis for an input of ``rank``; checks it."""
        return channel_axis(self._kind(), self.axis, rank)

    def build(self, input_shape):
        rank = self._check_rank(input_shape)
        self._channel_axis(rank)
        self._check_not_an_activation_argument()
        self.built = True

    def _check_not_an_activation_argument(self):
        """Rejects a channel-changing layer given as another layer's ``activation``.

        ``Dense(4, activation=LKReLU())`` would declare 4 output channels and
        produce 8. Keras gives a layer no notice of who holds it, so this walks
        up the Python stack, when the layer is built, to the innermost other
        Keras layer being run and checks whether that layer holds this one as
        its ``activation`` (or ``recurrent_activation``).
        """
        if self.channel_multiplier == 1:
            return
        frame = sys._getframe(1)
        while frame is not None:
            owner = frame.f_locals.get("self")
            if isinstance(owner, keras.layers.Layer) and owner is not self:
                for attr in ("activation", "recurrent_activation"):
                    # getattr, not vars(): on PyTorch sub-layers live in `_modules`.
                    if getattr(owner, attr, None) is self:
                        raise self.activation_argument_error(owner, attr)
                return
            frame = frame.f_back

    def activation_argument_error(self, owner=None, attr="activation"):
        """The ``ValueError`` for this layer given as another layer's activation.

        Args:
            owner: The layer that holds this one as its activation, or None
                when it is not known.
            attr: Name of the owner's argument (``"activation"``,
                ``"recurrent_activation"``).

        Returns:
            A ``ValueError`` whose message says what to write instead.
        """
        where = (
            f"the `{attr}` of {type(owner).__name__} layer '{owner.name}'"
            if owner is not None else f"another layer's `{attr}`"
        )
        return ValueError(
            f"{self._kind()} multiplies the channel axis by {self.channel_multiplier}, so "
            f"it cannot be {where}, whose declared output shape would be wrong. Build "
            f"that layer without an activation and put the {type(self).__name__} layer "
            f"after it, e.g. keras.layers.Dense(4) followed by "
            f"linked_neurons.{type(self).__name__}()."
        )

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        if self.channel_multiplier != 1:
            ax = self._channel_axis(len(shape))
            if shape[ax] is not None:
                shape[ax] = shape[ax] * self.channel_multiplier
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config
