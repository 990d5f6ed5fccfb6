"""IEBN: BatchNormalization with a per-sample gate on the affine map."""


import keras
from keras import constraints, initializers, ops, regularizers

from linked_neurons.layers.normalization.batch_statistics import (
    _CALL_ARGS,
    _COMMON_ARGS,
    _COMMON_TAIL,
    BatchStatisticsNormalization,
)
from linked_neurons.ops import normalization as norm_ops

_IEBN_REFERENCE = (
    "S. Liang, Z. Huang, M. Liang, H. Yang, *Instance Enhancement Batch Normalization: "
    "an Adaptive Regulator of Batch Noise*, arXiv:1908.04008 (AAAI 2020)."
)


@keras.saving.register_keras_serializable(package="linked_neurons")
class IEBN(BatchStatisticsNormalization):
    """Instance-enhancement batch normalization: BatchNormalization with a per-sample gate.

    The input is standardised with batch statistics, as in
    ``keras.layers.BatchNormalization``:
    ``x̂ = (x - mean) / sqrt(variance + epsilon)``. Each sample's channels are
    then rescaled by a gate computed from that sample alone,
    ``a = sigmoid(w̃ ⊙ GAP(x) + b̃)`` (one weight ``w̃`` and bias ``b̃`` per
    channel, GAP the average over every axis other than the batch and
    channel axes), and the output is ``y = x̂ ⊙ (γ ⊙ a) + β``.

    At initialisation (``w̃ = 0``, ``b̃ = -1``) the gate is ``sigmoid(-1) ≈
    0.26894`` everywhere. With ``w̃ = 0`` and a large ``b̃`` the gate is 1 and
    the layer equals ``BatchNormalization`` with the same ``γ`` and ``β``.

    Weights (``C`` channels): ``4C`` trainable (``gamma``, ``beta``,
    ``attention_weight``, ``attention_bias``; ``gamma`` is left out with
    ``scale=False`` and ``beta`` with ``center=False``) and ``2C``
    non-trainable (``moving_mean``, ``moving_variance``).

    Args:
{common}
        center: If True (default), add the offset ``β``.
        scale: If True (default), multiply by ``γ``.
        beta_initializer: Initializer of ``β`` (default zeros).
        gamma_initializer: Initializer of ``γ`` (default ones).
        attention_weight_initializer: Initializer of ``w̃`` (default zeros).
        attention_bias_initializer: Initializer of ``b̃``. None (default): the
            constant -1.
        beta_regularizer, gamma_regularizer: Regularizers of ``β`` and ``γ``.
        attention_weight_regularizer, attention_bias_regularizer: Regularizers
            of ``w̃`` and ``b̃``.
        beta_constraint, gamma_constraint: Constraints of ``β`` and ``γ``.
        attention_weight_constraint, attention_bias_constraint: Constraints of
            ``w̃`` and ``b̃``.
{tail}

{call}

    Input shape:
        Arbitrary, rank >= 2, floating point, with a known number of channels.

    Output shape:
        Same as the input.

    Example:

        >>> import keras
        >>> import numpy as np
        >>> from linked_neurons.layers.normalization import IEBN
        >>> layer = IEBN()
        >>> x = np.array([[1.0, -2.0]], "float32")
        >>> y = layer(x)  # inference: moving mean 0, moving variance 1, gate sigmoid(-1)
        >>> np.round(keras.ops.convert_to_numpy(y), 4)
        array([[ 0.2688, -0.5376]], dtype=float32)
        >>> layer.count_params()  # 4C trainable + 2C non-trainable
        12

    Reference:
        {ref}
    """

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        attention_weight_initializer="zeros",
        attention_bias_initializer=None,
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        attention_weight_regularizer=None,
        attention_bias_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        attention_weight_constraint=None,
        attention_bias_constraint=None,
        synchronized=False,
        **kwargs,
    ):
        super().__init__(
            axis=axis,
            momentum=momentum,
            epsilon=epsilon,
            moving_mean_initializer=moving_mean_initializer,
            moving_variance_initializer=moving_variance_initializer,
            synchronized=synchronized,
            **kwargs,
        )
        for name, value in (("center", center), ("scale", scale)):
            if not isinstance(value, bool):
                raise TypeError(f"{self._kind()}: `{name}` must be a bool, got {value!r}.")
        self.center = center
        self.scale = scale
        if attention_bias_initializer is None:
            attention_bias_initializer = initializers.Constant(-1.0)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.attention_weight_initializer = initializers.get(attention_weight_initializer)
        self.attention_bias_initializer = initializers.get(attention_bias_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.attention_weight_regularizer = regularizers.get(attention_weight_regularizer)
        self.attention_bias_regularizer = regularizers.get(attention_bias_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.attention_weight_constraint = constraints.get(attention_weight_constraint)
        self.attention_bias_constraint = constraints.get(attention_bias_constraint)
        self.gamma = None
        self.beta = None

    def _build_weights(self, channels):
        shape = (channels,)
        if self.scale:
            self.gamma = self._weight(
                "gamma", shape, self.gamma_initializer, self.gamma_regularizer,
                self.gamma_constraint,
            )
        if self.center:
            self.beta = self._weight(
                "beta", shape, self.beta_initializer, self.beta_regularizer,
                self.beta_constraint,
            )
        self.attention_weight = self._weight(
            "attention_weight", shape, self.attention_weight_initializer,
            self.attention_weight_regularizer, self.attention_weight_constraint,
        )
        self.attention_bias = self._weight(
            "attention_bias", shape, self.attention_bias_initializer,
            self.attention_bias_regularizer, self.attention_bias_constraint,
        )

    def _normalize(self, x, axis, training, weights):
        pooled, _, mean, variance = self._statistics(x, axis, training, weights)
        w = ops.cast(self.attention_weight, x.dtype)
        b = ops.cast(self.attention_bias, x.dtype)
        gate = ops.sigmoid(pooled * w + b)
        gamma = None if self.gamma is None else ops.cast(self.gamma, x.dtype)
        beta = None if self.beta is None else ops.cast(self.beta, x.dtype)
        return norm_ops.instance_enhanced_normalization(
            x, mean, variance, gate, gamma, beta, axis, self.epsilon
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "center": self.center,
                "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "attention_weight_initializer": initializers.serialize(
                    self.attention_weight_initializer
                ),
                "attention_bias_initializer": initializers.serialize(
                    self.attention_bias_initializer
                ),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "attention_weight_regularizer": regularizers.serialize(
                    self.attention_weight_regularizer
                ),
                "attention_bias_regularizer": regularizers.serialize(
                    self.attention_bias_regularizer
                ),
                "beta_constraint": constraints.serialize(self.beta_constraint),
                "gamma_constraint": constraints.serialize(self.gamma_constraint),
                "attention_weight_constraint": constraints.serialize(
                    self.attention_weight_constraint
                ),
                "attention_bias_constraint": constraints.serialize(
                    self.attention_bias_constraint
                ),
            }
        )
        return config


IEBN.__doc__ = IEBN.__doc__.format(
    common=_COMMON_ARGS, tail=_COMMON_TAIL, call=_CALL_ARGS, ref=_IEBN_REFERENCE
)
