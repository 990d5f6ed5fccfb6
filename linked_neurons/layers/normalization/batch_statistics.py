"""BatchStatisticsNormalization: the standardisation AttentiveNormalization and IEBN share."""

import numbers

import keras
from keras import backend, initializers, ops

from linked_neurons._backend import TENSORFLOW_HINT
from linked_neurons._validation import channel_axis, check_number
from linked_neurons.ops import normalization as norm_ops

_FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


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
        return channel_axis(self._kind(), self.axis, rank)

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
