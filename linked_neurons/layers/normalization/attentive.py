"""AttentiveNormalization: BatchNormalization with a mixture of affine maps."""

import numbers

import keras
from keras import constraints, initializers, ops, regularizers

from linked_neurons.layers.normalization.batch_statistics import (
    _CALL_ARGS,
    _COMMON_ARGS,
    _COMMON_TAIL,
    BatchStatisticsNormalization,
)
from linked_neurons.ops import normalization as norm_ops

_ATTENTIONS = ("sigmoid", "paper")

_AN_REFERENCE = (
    "X. Li, W. Sun, T. Wu, *Attentive Normalization*, arXiv:1908.01259 (ECCV 2020)."
)


@keras.saving.register_keras_serializable(package="linked_neurons")
class AttentiveNormalization(BatchStatisticsNormalization):
    """Attentive normalization: BatchNormalization with a mixture of affine maps.

    The input is standardised with batch statistics, as in
    ``keras.layers.BatchNormalization``:
    ``x̂ = (x - mean) / sqrt(variance + epsilon)``. Instead of one learned
    scale and offset per channel, the layer learns ``K = n_mixture`` of them,
    ``Γ`` and ``B`` of shape ``(K, C)``, and mixes them per sample with
    attention weights ``λ`` computed from the raw input:

    - ``attention="sigmoid"`` (default):
      ``λ = sigmoid(GAP(x) @ W + b)``, ``W`` of shape ``(C, K)``, ``b`` ``(K,)``;
    - ``attention="paper"`` (the released configuration): the pooled feature is
      each channel's per-sample mean divided by ``sqrt(per-sample variance +
      epsilon)``, projected ``C -> K`` without bias, batch-normalised over the
      ``K`` outputs (its own gamma, beta and moving statistics, same momentum
      and epsilon) and passed through the hard sigmoid ``relu6(z + 3) / 6``.

    The output is ``y = (λ Γ) ⊙ x̂ + λ B``, broadcast over the spatial axes.
    GAP averages over every axis other than the batch and channel axes (a
    rank-2 input is its own pooled feature).

    Weights (``C`` channels, ``K`` mixtures): with ``attention="sigmoid"``,
    ``3KC + K`` trainable (``attention_kernel``, ``attention_bias``, ``gamma``,
    ``beta``) and ``2C`` non-trainable (``moving_mean``, ``moving_variance``),
    e.g. 549 for C = 32, K = 5. With ``attention="paper"``, ``3KC + 2K``
    trainable and ``2C + 2K`` non-trainable.

    With ``K = 1``, ``W = 0``, a large ``b``, ``Γ = 1`` and ``B = 0`` the layer
    equals ``BatchNormalization(center=False, scale=False)``.

    Args:
        n_mixture: Number ``K >= 1`` of mixture components (default 5).
{common}
        attention: ``"sigmoid"`` (default) or ``"paper"``, see above.
        gamma_initializer: Initializer of ``Γ``. None (default):
            ``1 + 0.1 * N(0, 1)``, drawn with ``seed``.
        beta_initializer: Initializer of ``B``. None (default):
            ``0.1 * N(0, 1)``, drawn with ``seed + 1``.
        seed: Seed of the default ``Γ`` and ``B`` initializers. None (default)
            draws them from Keras' global random state, so every layer gets
            its own mixture and ``keras.utils.set_random_seed`` makes models
            reproducible. An integer gives the same ``Γ`` and ``B`` whenever
            the layer is built with the same shape (the original release used
            1997 for every layer).
        attention_kernel_initializer: Initializer of ``W`` (default
            glorot_uniform).
        attention_bias_initializer: Initializer of ``b`` (default zeros;
            unused with ``attention="paper"``).
        gamma_regularizer, beta_regularizer: Regularizers of ``Γ`` and ``B``.
        attention_kernel_regularizer, attention_bias_regularizer: Regularizers
            of ``W`` and ``b``.
        gamma_constraint, beta_constraint: Constraints of ``Γ`` and ``B``.
        attention_kernel_constraint, attention_bias_constraint: Constraints of
            ``W`` and ``b``.
{tail}

{call}

    Input shape:
        Arbitrary, rank >= 2, floating point, with a known number of channels.

    Output shape:
        Same as the input.

    Example:

        >>> import keras
        >>> from linked_neurons.layers.normalization import AttentiveNormalization
        >>> layer = AttentiveNormalization(n_mixture=5)
        >>> y = layer(keras.ops.ones((2, 8, 8, 32)), training=True)
        >>> tuple(y.shape)
        (2, 8, 8, 32)
        >>> [tuple(w.shape) for w in layer.trainable_weights]
        [(32, 5), (5,), (5, 32), (5, 32)]
        >>> layer.count_params()
        549

    Reference:
        {ref}
    """

    def __init__(
        self,
        n_mixture=5,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        attention="sigmoid",
        gamma_initializer=None,
        beta_initializer=None,
        seed=None,
        attention_kernel_initializer="glorot_uniform",
        attention_bias_initializer="zeros",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        gamma_regularizer=None,
        beta_regularizer=None,
        attention_kernel_regularizer=None,
        attention_bias_regularizer=None,
        gamma_constraint=None,
        beta_constraint=None,
        attention_kernel_constraint=None,
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
        if isinstance(n_mixture, bool) or not isinstance(n_mixture, numbers.Integral):
            raise TypeError(
                f"{self._kind()}: `n_mixture` must be an integer >= 1, got {n_mixture!r} "
                f"of type {type(n_mixture).__name__}."
            )
        if n_mixture < 1:
            raise ValueError(
                f"{self._kind()}: `n_mixture` must be >= 1 (the number of mixture "
                f"components), got {n_mixture}."
            )
        self.n_mixture = int(n_mixture)
        if not isinstance(attention, str) or attention.lower() not in _ATTENTIONS:
            raise ValueError(
                f"{self._kind()}: `attention` must be one of {list(_ATTENTIONS)}, "
                f"got {attention!r}."
            )
        self.attention = attention.lower()
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise TypeError(
                f"{self._kind()}: `seed` must be None or an integer, got {seed!r} of type "
                f"{type(seed).__name__}."
            )
        self.seed = None if seed is None else int(seed)
        self.gamma_initializer = (
            None if gamma_initializer is None else initializers.get(gamma_initializer)
        )
        self.beta_initializer = (
            None if beta_initializer is None else initializers.get(beta_initializer)
        )
        self.attention_kernel_initializer = initializers.get(attention_kernel_initializer)
        self.attention_bias_initializer = initializers.get(attention_bias_initializer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.attention_kernel_regularizer = regularizers.get(attention_kernel_regularizer)
        self.attention_bias_regularizer = regularizers.get(attention_bias_regularizer)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.beta_constraint = constraints.get(beta_constraint)
        self.attention_kernel_constraint = constraints.get(attention_kernel_constraint)
        self.attention_bias_constraint = constraints.get(attention_bias_constraint)

    def _mixture_initializers(self):
        gamma = self.gamma_initializer
        if gamma is None:
            gamma = initializers.RandomNormal(mean=1.0, stddev=0.1, seed=self.seed)
        beta = self.beta_initializer
        if beta is None:
            seed = None if self.seed is None else self.seed + 1
            beta = initializers.RandomNormal(mean=0.0, stddev=0.1, seed=seed)
        return gamma, beta

    def _build_weights(self, channels):
        k = self.n_mixture
        self.attention_kernel = self._weight(
            "attention_kernel", (channels, k), self.attention_kernel_initializer,
            self.attention_kernel_regularizer, self.attention_kernel_constraint,
        )
        if self.attention == "sigmoid":
            self.attention_bias = self._weight(
                "attention_bias", (k,), self.attention_bias_initializer,
                self.attention_bias_regularizer, self.attention_bias_constraint,
            )
        else:
            self.attention_gamma = self._weight("attention_gamma", (k,), "ones")
            self.attention_beta = self._weight("attention_beta", (k,), "zeros")
            self.attention_moving_mean = self._weight(
                "attention_moving_mean", (k,), "zeros", trainable=False
            )
            self.attention_moving_variance = self._weight(
                "attention_moving_variance", (k,), "ones", trainable=False
            )
        gamma_init, beta_init = self._mixture_initializers()
        self.gamma = self._weight(
            "gamma", (k, channels), gamma_init, self.gamma_regularizer, self.gamma_constraint
        )
        self.beta = self._weight(
            "beta", (k, channels), beta_init, self.beta_regularizer, self.beta_constraint
        )

    def _mixture_weights(self, x, axis, training, pooled, counts, weights):
        """λ, ``(N, K)``."""
        kernel = ops.cast(self.attention_kernel, x.dtype)
        if self.attention == "sigmoid":
            bias = ops.cast(self.attention_bias, x.dtype)
            return ops.sigmoid(norm_ops.mix(pooled, kernel) + bias)
        variances = norm_ops.sample_variances(x, axis, pooled, weights)
        feature = pooled * ops.rsqrt(variances + self.epsilon)
        z = norm_ops.mix(feature, kernel)
        if training:
            # Samples with no unmasked position do not count in the statistics.
            sample_weights = None if counts is None else ops.cast(counts > 0, z.dtype)
            mean, variance = self._batch_moments(z, 1, weights=sample_weights)
            self._update_moving(
                self.attention_moving_mean, self.attention_moving_variance, mean, variance, z
            )
        else:
            mean = ops.cast(self.attention_moving_mean, z.dtype)
            variance = ops.cast(self.attention_moving_variance, z.dtype)
        z = norm_ops.scale_shift_normalize(
            z, mean, variance, ops.cast(self.attention_gamma, z.dtype),
            ops.cast(self.attention_beta, z.dtype), 1, self.epsilon,
        )
        return norm_ops.hard_sigmoid(z)

    def _normalize(self, x, axis, training, weights):
        pooled, counts, mean, variance = self._statistics(x, axis, training, weights)
        lam = self._mixture_weights(x, axis, training, pooled, counts, weights)
        return norm_ops.attentive_normalization(
            x, mean, variance, lam, ops.cast(self.gamma, x.dtype), ops.cast(self.beta, x.dtype),
            axis, self.epsilon,
        )

    def get_config(self):
        config = super().get_config()

        def init(value):
            return None if value is None else initializers.serialize(value)

        config.update(
            {
                "n_mixture": self.n_mixture,
                "attention": self.attention,
                "gamma_initializer": init(self.gamma_initializer),
                "beta_initializer": init(self.beta_initializer),
                "seed": self.seed,
                "attention_kernel_initializer": init(self.attention_kernel_initializer),
                "attention_bias_initializer": init(self.attention_bias_initializer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "attention_kernel_regularizer": regularizers.serialize(
                    self.attention_kernel_regularizer
                ),
                "attention_bias_regularizer": regularizers.serialize(
                    self.attention_bias_regularizer
                ),
                "gamma_constraint": constraints.serialize(self.gamma_constraint),
                "beta_constraint": constraints.serialize(self.beta_constraint),
                "attention_kernel_constraint": constraints.serialize(
                    self.attention_kernel_constraint
                ),
                "attention_bias_constraint": constraints.serialize(
                    self.attention_bias_constraint
                ),
            }
        )
        return config


AttentiveNormalization.__doc__ = AttentiveNormalization.__doc__.format(
    common=_COMMON_ARGS, tail=_COMMON_TAIL, call=_CALL_ARGS, ref=_AN_REFERENCE
)
