"""Linked activation layers: ``concat([f(x), f(-x)], axis)``."""

import keras
from keras import ops

from linked_neurons import ops as ln_ops
from linked_neurons._validation import check_int_tuple
from linked_neurons.layers.base import ChannelActivationLayer, keras_activation

_REFERENCE = (
    "Riera Molina & Pujol Vila, *Solving internal covariate shift in deep learning "
    "with linked neurons*, arXiv:1712.02609."
)


class _LinkedLayer(ChannelActivationLayer):
    channel_multiplier = 2

    def call(self, inputs):
        self._check_dtype(inputs)
        return self._op(inputs, axis=self.axis, fused=self.fused)


@keras.saving.register_keras_serializable(package="linked_neurons")
class LKReLU(_LinkedLayer):
    """Linked ReLU: ``concat([relu(x), relu(-x)], axis)``.

    Equal to ``tf.nn.crelu``. Every input value gets gradient from one of the
    two halves, so no unit can die. Place it after a layer with no activation;
    it doubles the number of channels.

    Args:
        axis: Channel axis along which the halves are concatenated: -1
            (default, channels_last) or 1 (channels_first).
        fused: None (default): the faster form for the backend, compile
            mode, device and dtype; True: the fused op, whose backward pass keeps
            only the input instead of the doubled output; False: the plain
            ``keras.ops`` composition.
        **kwargs: Base layer keyword arguments (``name``, ``dtype``, ...).

    Input shape:
        Arbitrary, rank >= 2, floating point.

    Output shape:
        Same as the input with the size of ``axis`` doubled.

    Example:

        >>> import keras
        >>> from linked_neurons import LKReLU
        >>> x = keras.ops.convert_to_tensor([[-2.0, -1.0, 0.5, 1.0, 2.0]])
        >>> keras.ops.convert_to_numpy(LKReLU()(x))
        array([[0. , 0. , 0.5, 1. , 2. , 2. , 1. , 0. , 0. , 0. ]], dtype=float32)

    Reference:
        {ref}
    """

    _op = staticmethod(ln_ops.lk_relu)


@keras.saving.register_keras_serializable(package="linked_neurons")
class LKSELU(_LinkedLayer):
    """Linked SELU: ``concat([selu(x), selu(-x)], axis)``.

    SELU uses ``alpha = 1.6732632423543772848170429916717`` and
    ``scale = 1.0507009873554804934193349852946``.

    Args:
        axis: Channel axis: -1 (default) or 1 (channels_first).
        fused: None (default): the faster form for the backend, compile
            mode, device and dtype; True: the backward pass keeps only the input;
            False: the plain composition.
        **kwargs: Base layer keyword arguments.

    Input shape:
        Arbitrary, rank >= 2, floating point.

    Output shape:
        Same as the input with the size of ``axis`` doubled.

    Example:

        >>> import keras
        >>> from linked_neurons import LKSELU
        >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16), LKSELU()])
        >>> model.output_shape
        (None, 32)

    Reference:
        {ref}
    """

    _op = staticmethod(ln_ops.lk_selu)


@keras.saving.register_keras_serializable(package="linked_neurons")
class LKSwish(_LinkedLayer):
    """Linked Swish (SiLU): ``concat([x * sigmoid(x), -x * sigmoid(-x)], axis)``.

    Args:
        axis: Channel axis: -1 (default) or 1 (channels_first).
        fused: None (default): the faster form for the backend, compile
            mode, device and dtype; True: the backward pass keeps only the input;
            False: the plain composition.
        **kwargs: Base layer keyword arguments.

    Input shape:
        Arbitrary, rank >= 2, floating point.

    Output shape:
        Same as the input with the size of ``axis`` doubled.

    Example:

        >>> import keras
        >>> from linked_neurons import LKSwish
        >>> layer = LKSwish(axis=1)  # channels_first feature maps
        >>> layer.compute_output_shape((None, 3, 32, 32))
        (None, 6, 32, 32)

    Reference:
        {ref}
    """

    _op = staticmethod(ln_ops.lk_swish)


@keras.saving.register_keras_serializable(package="linked_neurons")
class LKPReLU(ChannelActivationLayer):
    """Linked PReLU: ``concat([prelu(x; a+), prelu(-x; a-)], axis)``.

    ``prelu(z; a) = max(z, 0) + a * min(z, 0)``. The slopes ``alpha_pos``
    (a+, for the ``x`` half) and ``alpha_neg`` (a-, for the ``-x`` half) are
    learned, one per channel by default. With the default zero initialiser an
    untrained LKPReLU equals :class:`LKReLU`.

    Args:
        alpha_initializer: Initializer of both slope weights (default zeros).
        alpha_regularizer: Regularizer of both slope weights.
        alpha_constraint: Constraint of both slope weights.
        shared_axes: None (default): one slope per channel, shared over every
            other non-batch axis. Otherwise the axes along which slopes are
            shared, as in ``keras.layers.PReLU`` (batch axis = 0); ``[]`` gives
            one slope per input element.
        axis: Channel axis: -1 (default) or 1 (channels_first).
        fused: None (default): the faster form for the backend, compile
            mode, device and dtype; True: the backward pass keeps only the input and
            the slopes; False: the plain composition.
        **kwargs: Base layer keyword arguments.

    Input shape:
        Rank >= 2, floating point. The size of every axis that is not shared
        must be known when the layer is built.

    Output shape:
        Same as the input with the size of ``axis`` doubled.

    Example:

        >>> import keras
        >>> from linked_neurons import LKPReLU
        >>> layer = LKPReLU()
        >>> _ = layer(keras.ops.ones((2, 5, 5, 3)))
        >>> [tuple(w.shape) for w in layer.weights]
        [(1, 1, 3), (1, 1, 3)]

    Reference:
        {ref}
    """

    channel_multiplier = 2

    def __init__(
        self,
        alpha_initializer="zeros",
        alpha_regularizer=None,
        alpha_constraint=None,
        shared_axes=None,
        axis=-1,
        fused=None,
        **kwargs,
    ):
        super().__init__(axis=axis, fused=fused, **kwargs)
        self.alpha_initializer = keras.initializers.get(alpha_initializer)
        self.alpha_regularizer = keras.regularizers.get(alpha_regularizer)
        self.alpha_constraint = keras.constraints.get(alpha_constraint)
        shared_axes = check_int_tuple(self._kind(), "shared_axes", shared_axes)
        shared_axes = None if shared_axes is None else list(shared_axes)
        self.shared_axes = shared_axes

    def _param_shape(self, input_shape):
        rank = len(input_shape)
        channel = self._channel_axis(rank)
        if self.shared_axes is None:
            shared = [i for i in range(1, rank) if i != channel]
        else:
            shared = []
            for a in self.shared_axes:
                if not -rank <= a < rank or a % rank == 0:
                    raise ValueError(
                        f"{self._kind()}: invalid shared axis {a} for an input of rank "
                        f"{rank}; expected non-batch axes in [1, {rank - 1}]."
                    )
                shared.append(a % rank)
        shape = []
        for i in range(1, rank):
            if i in shared:
                shape.append(1)
            elif input_shape[i] is None:
                what = "channel axis" if i == channel else "axis"
                raise ValueError(
                    f"{self._kind()} needs the size of {what} {i} to create its "
                    f"slope weights, but the input shape {tuple(input_shape)} leaves "
                    f"it unknown. Give the input a known size there, or share the "
                    f"slopes along it with `shared_axes`."
                )
            else:
                shape.append(int(input_shape[i]))
        return tuple(shape)

    def build(self, input_shape):
        self._check_rank(input_shape)
        self._check_not_an_activation_argument()
        shape = self._param_shape(input_shape)
        rank = len(input_shape)
        axes = {i + 1: d for i, d in enumerate(shape) if d != 1}
        self.input_spec = keras.InputSpec(ndim=rank, axes=axes)
        self.alpha_pos = self.add_weight(
            name="alpha_pos",
            shape=shape,
            initializer=self.alpha_initializer,
            regularizer=self.alpha_regularizer,
            constraint=self.alpha_constraint,
        )
        self.alpha_neg = self.add_weight(
            name="alpha_neg",
            shape=shape,
            initializer=self.alpha_initializer,
            regularizer=self.alpha_regularizer,
            constraint=self.alpha_constraint,
        )
        self.built = True

    def call(self, inputs):
        self._check_dtype(inputs)
        a_pos = ops.cast(self.alpha_pos, inputs.dtype)
        a_neg = ops.cast(self.alpha_neg, inputs.dtype)
        return ln_ops.lk_prelu(inputs, a_pos, a_neg, axis=self.axis, fused=self.fused)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "alpha_initializer": keras.initializers.serialize(self.alpha_initializer),
                "alpha_regularizer": keras.regularizers.serialize(self.alpha_regularizer),
                "alpha_constraint": keras.constraints.serialize(self.alpha_constraint),
                "shared_axes": self.shared_axes,
            }
        )
        return config


# Activations that ``Linked`` maps to a fused linked op.
_FUSED_LINKED = {"relu": ln_ops.lk_relu, "selu": ln_ops.lk_selu, "swish": ln_ops.lk_swish,
                 "silu": ln_ops.lk_swish}
# Library activations that ``Linked`` accepts by name besides Keras' own.
_LIBRARY_FUNCTIONS = {"mish": ln_ops.mish}


@keras.saving.register_keras_serializable(package="linked_neurons")
class Linked(ChannelActivationLayer):
    """Links any elementwise activation: ``concat([f(x), f(-x)], axis)``.

    ``Linked("relu")``, ``Linked("selu")`` and ``Linked("swish")`` use the
    same fused ops as :class:`LKReLU`, :class:`LKSELU` and :class:`LKSwish`.
    Other names (``"mish"`` and every ``keras.activations`` name such as
    ``"tanh"``, ``"elu"``, ``"gelu"``) and plain callables use the plain
    composition. A layer instance (e.g. ``keras.layers.PReLU()``) is applied
    to ``x`` and to ``-x`` with the same weights.

    Args:
        activation: Name, callable or layer computing an elementwise,
            channel-preserving activation.
        axis: Channel axis: -1 (default) or 1 (channels_first).
        fused: None (default): for relu, selu and swish, the faster of the
            fused and plain forms for the backend, compile mode, device and dtype;
            True: the fused op where one exists; False: the plain
            composition.
        **kwargs: Base layer keyword arguments.

    Input shape:
        Arbitrary, rank >= 2, floating point.

    Output shape:
        Same as the input with the size of ``axis`` doubled.

    Example:

        >>> import numpy as np
        >>> from linked_neurons import Linked
        >>> tuple(Linked("tanh")(np.array([[0.5, -1.0]], "float32")).shape)
        (1, 4)

    Reference:
        {ref}
    """

    channel_multiplier = 2

    def __init__(self, activation="relu", axis=-1, fused=None, **kwargs):
        super().__init__(axis=axis, fused=fused, **kwargs)
        if isinstance(activation, dict):
            activation = keras.saving.deserialize_keras_object(activation)
        self._fn = None
        self._fused_op = None
        if isinstance(activation, str):
            key = activation.lower()
            if key in _FUSED_LINKED:
                self._fused_op = _FUSED_LINKED[key]
                self._fn = keras.activations.get(key)
            elif key in _LIBRARY_FUNCTIONS:
                self._fn = _LIBRARY_FUNCTIONS[key]
            else:
                self._fn = keras_activation(key)
                if self._fn is None:
                    known = sorted(set(_FUSED_LINKED) | set(_LIBRARY_FUNCTIONS))
                    raise ValueError(
                        f"{self._kind()}: unknown activation {activation!r}. Expected "
                        f"one of {known} or a keras.activations name (e.g. 'tanh', "
                        f"'elu', 'gelu'), a callable or a layer."
                    )
        elif isinstance(activation, keras.layers.Layer):
            if getattr(activation, "channel_multiplier", 1) != 1:
                raise ValueError(
                    f"{self._kind()}: cannot link {type(activation).__name__}, which "
                    f"already changes the channel count; pass a channel-preserving "
                    f"activation."
                )
            self._fn = None  # applied through the tracked `self.activation`
        elif callable(activation):
            self._fn = activation
        else:
            raise TypeError(
                f"{self._kind()}: `activation` must be a name, a callable or a layer, "
                f"got {activation!r} of type {type(activation).__name__}."
            )
        self.activation = activation

    def build(self, input_shape):
        super().build(input_shape)
        if isinstance(self.activation, keras.layers.Layer) and not self.activation.built:
            self.activation.build(input_shape)

    def call(self, inputs):
        self._check_dtype(inputs)
        if self._fused_op is not None and self.fused is not False:
            return self._fused_op(inputs, axis=self.axis, fused=self.fused)
        fn = self.activation if self._fn is None else self._fn
        return ln_ops.linked(fn, inputs, axis=self.axis)

    def get_config(self):
        config = super().get_config()
        if isinstance(self.activation, str):
            config["activation"] = self.activation
        else:
            config["activation"] = keras.saving.serialize_keras_object(self.activation)
        return config


for _cls in (LKReLU, LKSELU, LKSwish, LKPReLU, Linked):
    _cls.__doc__ = _cls.__doc__.replace("{ref}", _REFERENCE)
