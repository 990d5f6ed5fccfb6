"""Normalization layers that replace BatchNormalization: AttentiveNormalization and IEBN.

Both standardise their input exactly like ``keras.layers.BatchNormalization``
(batch statistics in training, moving averages at inference, the same
momentum convention) and then apply a per-sample affine transform whose
coefficients come from an attention branch that pools the raw input.
"""

import numbers

import keras
from keras import backend, constraints, initializers, ops, regularizers

from linked_neurons._backend import TENSORFLOW_HINT
from linked_neurons._validation import check_number
from linked_neurons.ops import normalization as norm_ops

_FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")
_ATTENTIONS = ("sigmoid", "paper")

_AN_REFERENCE = (
    "X. Li, W. Sun, T. Wu, *Attentive Normalization*, arXiv:1908.01259 (ECCV 2020)."
)
_IEBN_REFERENCE = (
    "S. Liang, Z. Huang, M. Liang, H. Yang, *Instance Enhancement Batch Normalization: "
    "an Adaptive Regulator of Batch Noise*, arXiv:1908.04008 (AAAI 2020)."
)


class BatchStatisticsNormalization(keras.layers.Layer):
    """Base class: BatchNormalization's statistics, then a layer-specific affine map.

    It validates the arguments shared with ``keras.layers.BatchNormalization``,
    creates and updates the moving mean and variance, and computes the
    statistics in float32 (float64 for a float64 layer) whatever the compute
    dtype, casting the output back to the compute dtype. Subclasses create
    their own weights in ``_build_weights(channels)`` and map the statistics
    to the output in ``_normalize``.

    Args:
        axis: Integer, the channel axis: -1 (default, channels_last), 1 for
            channels_first, or any other non-batch axis.
        momentum: Momentum of the moving averages, in [0, 1]:
            ``moving = moving * momentum + batch * (1 - momentum)``.
        epsilon: Non-negative float added to the variance.
        moving_mean_initializer: Initializer of the moving mean.
        moving_variance_initializer: Initializer of the moving variance.
        synchronized: TensorFlow only. If True, the batch statistics are
            computed over the global batch of every replica of a
            ``tf.distribute`` strategy; if False (default) each replica uses
            its own local batch.
        **kwargs: Base layer keyword arguments (``name``, ``dtype``, ...).
    """

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        synchronized=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise TypeError(
                f"{self._kind()}: `axis` must be an integer (-1 for channels_last, 1 "
                f"for channels_first), got {axis!r} of type {type(axis).__name__}."
            )
        if axis == 0:
            raise ValueError(
                f"{self._kind()}: `axis` cannot be 0, the batch axis; use -1 "
                f"(channels_last) or 1 (channels_first)."
            )
        self.axis = int(axis)
        self.momentum = self._check_number("momentum", momentum, 0.0, 1.0)
        self.epsilon = self._check_number("epsilon", epsilon, 0.0, None)
        if not isinstance(synchronized, bool):
            raise TypeError(
                f"{self._kind()}: `synchronized` must be a bool, got {synchronized!r}."
            )
        if synchronized and backend.backend() != "tensorflow":
            raise ValueError(
                f"{self._kind()}: `synchronized=True` is only supported with the "
                f"TensorFlow backend, not {backend.backend()!r}. On JAX, "
                f"keras.distribution.DataParallel already computes the statistics "
                f"over the global batch. For tf.distribute, install TensorFlow with "
                f"{TENSORFLOW_HINT}, and set KERAS_BACKEND=tensorflow."
            )
        self.synchronized = synchronized
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.supports_masking = True
        self.moving_mean = None
        self.moving_variance = None

    # ------------------------------------------------------------------ checks
    def _kind(self):
        return f"{type(self).__name__} layer '{self.name}'"

    def _check_number(self, name, value, low, high):
        return check_number(self._kind(), name, value, low=low, high=high)

    def _check_dtype(self, x):
        dtype = backend.standardize_dtype(x.dtype)
        if dtype not in _FLOAT_DTYPES:
            raise TypeError(
                f"{self._kind()} expects a floating-point input (float16, bfloat16, "
                f"float32 or float64), got dtype {dtype}. Cast the input first, "
                f"e.g. keras.ops.cast(x, 'float32')."
            )

    def _channel_axis(self, input_shape):
        """Checks ``input_shape`` against ``axis``; returns the non-negative channel axis."""
        rank = len(input_shape)
        if rank < 2:
            raise ValueError(
                f"{self._kind()} expects an input of rank >= 2 (batch axis plus "
                f"feature axes), got rank {rank} with shape {tuple(input_shape)}."
            )
        if not -rank <= self.axis < rank or self.axis % rank == 0:
            raise ValueError(
                f"{self._kind()}: invalid `axis`={self.axis} for an input of rank "
                f"{rank}; expected a non-batch axis in [-{rank}, {rank - 1}] other "
                f"than 0 and -{rank}."
            )
        return self.axis % rank

    # ------------------------------------------------------------------ build
    def build(self, input_shape):
        axis = self._channel_axis(input_shape)
        channels = input_shape[axis]
        if channels is None:
            raise ValueError(
                f"{self._kind()} needs the size of its channel axis {axis} to create "
                f"its weights, but the input shape {tuple(input_shape)} leaves it "
                f"unknown. Give the input a known number of channels."
            )
        channels = int(channels)
        self.input_spec = keras.InputSpec(ndim=len(input_shape), axes={axis: channels})
        self._build_weights(channels)
        self.moving_mean = self.add_weight(
            shape=(channels,),
            name="moving_mean",
            initializer=self.moving_mean_initializer,
            trainable=False,
            autocast=False,
        )
        self.moving_variance = self.add_weight(
            shape=(channels,),
            name="moving_variance",
            initializer=self.moving_variance_initializer,
            trainable=False,
            autocast=False,
        )
        self.built = True

    def _build_weights(self, channels):
        raise NotImplementedError

    def _weight(self, name, shape, initializer, regularizer=None, constraint=None,
                trainable=True):
        return self.add_weight(
            shape=shape,
            name=name,
            initializer=initializer,
            regularizer=regularizer,
            constraint=constraint,
            trainable=trainable,
            autocast=False,
        )

    def compute_output_shape(self, input_shape):
        self._channel_axis(input_shape)
        return tuple(input_shape)

    # ------------------------------------------------------------------ statistics
    def _batch_moments(self, x, axis, means=None, counts=None, weights=None):
        """Batch mean and variance per channel; over every replica if synchronized.

        Synchronized, the two passes of :func:`norm_ops.batch_moments` each end
        with an all-reduce (sum and count, then squared deviations), so the
        variance is as accurate as on one device.
        """
        if self.synchronized:
            import tensorflow as tf

            context = tf.distribute.get_replica_context()
            if context is not None and context.num_replicas_in_sync > 1:
                rank = len(x.shape)
                reduce = [0] + norm_ops.spatial_axes(rank, axis)
                ones = ops.ones_like(x) if weights is None else weights + ops.zeros_like(x)
                masked = x if weights is None else x * weights
                local = ops.stack([ops.sum(masked, axis=reduce), ops.sum(ones, axis=reduce)])
                total = context.all_reduce(tf.distribute.ReduceOp.SUM, local)
                mean = norm_ops.divide_or_zero(total[0], total[1])
                center = norm_ops.per_channel(ops.stop_gradient(mean), rank, axis)
                deviations = ops.square(x - center) * ones
                squares = context.all_reduce(
                    tf.distribute.ReduceOp.SUM, ops.sum(deviations, axis=reduce)
                )
                return mean, norm_ops.divide_or_zero(squares, total[1])
        return norm_ops.batch_moments(x, axis, means, counts, weights)

    def _update_moving(self, moving_mean, moving_variance, mean, variance, x):
        """Moves the averages towards the batch's; an empty batch (0 rows) leaves them.

        The batch moments of 0 samples are 0/0 = NaN, which would poison the
        averages for good (``keras.layers.BatchNormalization`` does that).
        """
        m = self.momentum
        rows = ops.shape(x)[0]
        if isinstance(rows, int) and rows == 0:
            return
        for var, value in ((moving_mean, mean), (moving_variance, variance)):
            old = ops.cast(var, value.dtype)
            new = old * m + value * (1.0 - m)
            if not isinstance(rows, int):  # batch size known only when run
                new = ops.where(rows > 0, new, old)
            var.assign(ops.cast(new, var.dtype))

    def _statistics(self, x, axis, training, weights):
        """``(pooled, counts, mean, variance)`` of ``x``.

        ``pooled`` is the per-sample channel mean ``(N, C)`` (global average
        pooling of the raw input, masked positions left out), ``counts`` the
        positions behind it (None without a mask). In training, ``mean`` and
        ``variance`` are the batch statistics and the moving averages are
        updated; otherwise they are the moving averages.
        """
        pooled, counts = norm_ops.sample_means(x, axis, weights)
        if training:
            mean, variance = self._batch_moments(x, axis, pooled, counts, weights)
            self._update_moving(self.moving_mean, self.moving_variance, mean, variance, x)
        else:
            mean = ops.cast(self.moving_mean, x.dtype)
            variance = ops.cast(self.moving_variance, x.dtype)
        return pooled, counts, mean, variance

    # ------------------------------------------------------------------ call
    def call(self, inputs, training=None, mask=None):
        self._check_dtype(inputs)
        rank = len(inputs.shape)
        axis = self._channel_axis(inputs.shape)
        # Statistics in float32 at least: float16/bfloat16 overflow and round.
        dtype = "float64" if backend.standardize_dtype(inputs.dtype) == "float64" else "float32"
        x = ops.cast(inputs, dtype)
        weights = None
        if mask is not None:
            if len(mask.shape) != rank - 1:
                raise ValueError(
                    f"{self._kind()}: the mask must have the input's shape without "
                    f"the channel axis (rank {rank - 1}), got a mask of shape "
                    f"{tuple(mask.shape)} for an input of shape {tuple(inputs.shape)}."
                )
            weights = norm_ops.mask_weights(mask, x, axis)
        training = bool(training) and self.trainable
        outputs = self._normalize(x, axis, training, weights)
        return ops.cast(outputs, self.compute_dtype)

    def _normalize(self, x, axis, training, weights):
        raise NotImplementedError

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "axis": self.axis,
                "momentum": self.momentum,
                "epsilon": self.epsilon,
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(
                    self.moving_variance_initializer
                ),
                "synchronized": self.synchronized,
            }
        )
        return config


_COMMON_ARGS = """        axis: Integer, the channel axis: -1 (default, channels_last), 1 for
            channels_first (e.g. after ``Conv2D(data_format="channels_first")``),
            or any other non-batch axis.
        momentum: Momentum of the moving averages, in [0, 1] (default 0.99),
            with BatchNormalization's convention:
            ``moving = moving * momentum + batch * (1 - momentum)``.
        epsilon: Non-negative float added to the variance (default 1e-3)."""

_COMMON_TAIL = """        moving_mean_initializer: Initializer of the moving mean (default zeros).
        moving_variance_initializer: Initializer of the moving variance
            (default ones).
        synchronized: TensorFlow only. If True, the batch statistics are
            computed over the global batch of all replicas of a
            ``tf.distribute`` strategy (two all-reduces of C-vectors per step);
            if False (default) each replica uses its own batch, as
            ``keras.layers.BatchNormalization`` does.
        **kwargs: Base layer keyword arguments (``name``, ``dtype``, ...)."""

_CALL_ARGS = """    Call arguments:

    - ``inputs``: floating-point tensor of rank >= 2.
    - ``training``: if True, normalise with the statistics of the current
      batch and update the moving averages; otherwise (the default, and
      always when the layer is frozen with ``trainable = False``) normalise
      with the moving averages, as ``keras.layers.BatchNormalization`` does.
    - ``mask``: optional boolean tensor, the input's shape without the channel
      axis. Masked positions are left out of the batch statistics and of the
      pooled attention input (they are still normalised)."""


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


AttentiveNormalization.__doc__ = AttentiveNormalization.__doc__.format(
    common=_COMMON_ARGS, tail=_COMMON_TAIL, call=_CALL_ARGS, ref=_AN_REFERENCE
)
IEBN.__doc__ = IEBN.__doc__.format(
    common=_COMMON_ARGS, tail=_COMMON_TAIL, call=_CALL_ARGS, ref=_IEBN_REFERENCE
)
