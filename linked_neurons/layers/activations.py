"""Plain (channel-preserving) activation layers: SELU, Mish, Swish."""

import keras
from keras import ops

from linked_neurons import ops as ln_ops
from linked_neurons._validation import check_bool, check_number
from linked_neurons.layers.base import ActivationLayer, ChannelActivationLayer


@keras.saving.register_keras_serializable(package="linked_neurons")
class SELU(ActivationLayer):
    """Scaled exponential linear unit.

    ``scale * x`` if ``x > 0`` else ``scale * alpha * (exp(x) - 1)``, with
    ``alpha = 1.6732632423543772848170429916717`` and
    ``scale = 1.0507009873554804934193349852946``. Self-normalising when
    paired with ``kernel_initializer="lecun_normal"`` and
    ``keras.layers.AlphaDropout``. Elementwise, so it has no ``axis``.

    Args:
        fused: None (default): the faster form for the backend, compile
            mode, device and dtype; True: the backward pass recomputes the
            derivative from the input; False: ``keras.ops.selu`` and
            autodiff.
        **kwargs: Base layer keyword arguments.

    Input shape:
        Arbitrary, rank >= 2, floating point.

    Output shape:
        Same as the input.

    Example:

        >>> import keras
        >>> from linked_neurons import SELU
        >>> x = keras.ops.convert_to_tensor([[-2.0, 0.0, 1.0]])
        >>> keras.ops.convert_to_numpy(SELU()(x)).round(6)
        array([[-1.520166,  0.      ,  1.050701]], dtype=float32)

    Reference:
        Klambauer et al., *Self-Normalizing Neural Networks*, NeurIPS 2017,
        arXiv:1706.02515.
    """

    def call(self, inputs):
        self._check_dtype(inputs)
        return ln_ops.selu(inputs, fused=self.fused)


@keras.saving.register_keras_serializable(package="linked_neurons")
class Mish(ActivationLayer):
    """Mish: ``x * tanh(softplus(x))``.

    Uses the numerically stable softplus, so values and gradients stay finite
    for every finite input under float16, bfloat16 and float32. Elementwise,
    so it has no ``axis``.

    Args:
        fused: None (default): the faster form for the backend, compile
            mode, device and dtype; True: the backward pass keeps only the
            input; False: the plain composition.
        **kwargs: Base layer keyword arguments.

    Input shape:
        Arbitrary, rank >= 2, floating point.

    Output shape:
        Same as the input.

    Example:

        >>> import keras
        >>> from linked_neurons import Mish
        >>> x = keras.ops.convert_to_tensor([[-1.0, 0.0, 1.0]])
        >>> keras.ops.convert_to_numpy(Mish()(x)).round(5)
        array([[-0.3034,  0.    ,  0.8651]], dtype=float32)

    Reference:
        Misra, *Mish: A Self Regularized Non-Monotonic Activation Function*,
        BMVC 2020, arXiv:1908.08681.
    """

    def call(self, inputs):
        self._check_dtype(inputs)
        return ln_ops.mish(inputs, fused=self.fused)


@keras.saving.register_keras_serializable(package="linked_neurons")
class Swish(ChannelActivationLayer):
    """Swish: ``x * sigmoid(beta * x)``; SiLU for the default ``beta=1``.

    With ``trainable_beta=True``, ``beta`` becomes a float32 weight named
    ``"beta"`` (float32 under mixed-precision policies): one scalar, or one
    value per channel with ``per_channel=True`` (the channel axis is ``axis``).

    Args:
        beta: Float, the fixed value of beta or the initial value of the
            weight (default 1.0).
        trainable_beta: If True, learn beta.
        per_channel: With ``trainable_beta``, learn one beta per channel.
        axis: Channel axis for per-channel beta: -1 (default) or 1.
        fused: None (default): the faster form for the backend, compile
            mode, device and dtype; True: the backward pass keeps only the input
            (and beta); False: the plain composition.
        **kwargs: Base layer keyword arguments.

    Input shape:
        Arbitrary, rank >= 2, floating point. With a per-channel beta the
        channel size must be known.

    Output shape:
        Same as the input.

    Example:

        >>> import keras
        >>> from linked_neurons import Swish
        >>> layer = Swish(trainable_beta=True, per_channel=True)
        >>> _ = layer(keras.ops.ones((2, 4, 4, 8)))
        >>> tuple(layer.beta.shape)
        (8,)

    Reference:
        Ramachandran, Zoph, Le, *Searching for Activation Functions*,
        arXiv:1710.05941.
    """

    def __init__(
        self, beta=1.0, trainable_beta=False, per_channel=False, axis=-1, fused=None, **kwargs
    ):
        super().__init__(axis=axis, fused=fused, **kwargs)
        beta = check_number(self._kind(), "beta", beta)
        trainable_beta = check_bool(self._kind(), "trainable_beta", trainable_beta)
        per_channel = check_bool(self._kind(), "per_channel", per_channel)
        if per_channel and not trainable_beta:
            raise ValueError(
                f"{self._kind()}: `per_channel=True` needs `trainable_beta=True`."
            )
        self.beta_value = float(beta)
        self.trainable_beta = trainable_beta
        self.per_channel = per_channel

    def build(self, input_shape):
        super().build(input_shape)
        rank = len(input_shape)
        channel = self._channel_axis(rank)
        self._beta_shape = None
        if self.trainable_beta:
            shape = ()
            if self.per_channel:
                if input_shape[channel] is None:
                    raise ValueError(
                        f"{self._kind()} needs a known channel size (axis {self.axis}) "
                        f"for a per-channel beta, got input shape {tuple(input_shape)}."
                    )
                shape = (int(input_shape[channel]),)
                bshape = [1] * (rank - 1)
                bshape[channel - 1] = shape[0]
                self._beta_shape = tuple(bshape)
            self.beta = self.add_weight(
                name="beta",
                shape=shape,
                initializer=keras.initializers.Constant(self.beta_value),
            )

    def call(self, inputs):
        self._check_dtype(inputs)
        if self.trainable_beta:
            beta = ops.cast(self.beta, inputs.dtype)
            if self._beta_shape is not None:
                beta = ops.reshape(beta, self._beta_shape)
            return ln_ops.swish(inputs, beta, fused=self.fused)
        if self.beta_value == 1.0:
            return ln_ops.swish(inputs, fused=self.fused)
        beta = ops.convert_to_tensor(self.beta_value, dtype=inputs.dtype)
        return ln_ops.swish(inputs, beta, fused=self.fused)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "beta": self.beta_value,
                "trainable_beta": self.trainable_beta,
                "per_channel": self.per_channel,
            }
        )
        return config
