"""What both diverse activation layers share.

The base and hidden functions, the assignment of channels to activations, the
layers' base class and the diversity measure of sampled curves.
"""

import keras
import numpy as np
from keras import backend, ops

from linked_neurons.layers.base import ChannelActivationLayer, keras_activation, lookup_name

_REFERENCE = (
    "Choudhary, Radhakrishnan, Lindner, Sinha & Ditto, *Neural networks embrace "
    "diversity*, Scientific Reports 13, 2023; arXiv:2204.04348."
)


def _dtype_preserving(name):
    """``keras.ops.NAME`` that keeps float64 on every backend.

    On the JAX backend some Keras unary ops evaluate float64 inputs in the
    default float type; this calls ``jax.numpy`` directly for float64.
    """
    op = getattr(ops, name)

    def fn(x):
        if backend.backend() == "jax" and backend.standardize_dtype(x.dtype) == "float64":
            import jax.numpy as jnp

            return getattr(jnp, name)(x)
        return op(x)

    fn.__name__ = name
    return fn


_sin, _cos, _tanh, _expm1 = (_dtype_preserving(n) for n in ("sin", "cos", "tanh", "expm1"))

#: Hidden activations of the sub-networks, with their derivatives (used by
#: the fused backward pass).
HIDDEN_ACTIVATIONS = {
    "tanh": (_tanh, lambda z: 1.0 - ops.square(_tanh(z))),
    "sigmoid": (ops.sigmoid, lambda z: ops.sigmoid(z) * (1.0 - ops.sigmoid(z))),
    "sin": (_sin, _cos),
    "relu": (ops.relu, lambda z: ops.cast(z > 0, z.dtype)),
}


def _elu(x):
    return ops.where(x > 0, x, _expm1(x - ops.relu(x)))


#: Base activations given as functions; any other name is looked up in the
#: activation registry (through :func:`linked_neurons.layers.base.lookup_name`)
#: at build time.
BASE_FUNCTIONS = {
    "sin": _sin,
    "tanh": _tanh,
    "elu": _elu,
    "linear": lambda x: x,
    "identity": lambda x: x,
    "relu": ops.relu,
    "sigmoid": ops.sigmoid,
    "swish": lambda x: x * ops.sigmoid(x),
    "silu": lambda x: x * ops.sigmoid(x),
    "gelu": ops.gelu,
    "softplus": ops.softplus,
    "selu": ops.selu,
}


def resolve_base(base, where):
    """Returns ``(name, function)`` for a base activation name.

    Args:
        base: A name of :data:`BASE_FUNCTIONS` or of the activation registry
            whose layer keeps the shape (no linked, doubling activations).
        where: The caller, for error messages.

    Raises:
        TypeError: If ``base`` is not a string.
        ValueError: If the name is unknown or names a linked activation.
    """
    if not isinstance(base, str):
        raise TypeError(f"{where}: `base` must be an activation name, got {base!r}.")
    key = base.strip().lower()
    if key in BASE_FUNCTIONS:
        return key, BASE_FUNCTIONS[key]
    fn = keras_activation(key)
    if fn is not None:
        return key, fn
    try:
        layer, multiplier = lookup_name(key)
    except ValueError:
        raise ValueError(
            f"{where}: unknown base activation {base!r}; expected one of "
            f"{', '.join(sorted(BASE_FUNCTIONS))} or a shape-preserving name of "
            f"linked_neurons.activations."
        ) from None
    if not layer.built:  # weights are created by build: an unbuilt PReLU has none yet
        layer.build((None, 2))
    if multiplier != 1 or layer.weights:
        raise ValueError(
            f"{where}: base activation {base!r} must be elementwise and weight-free "
            f"(it doubles the channels or carries weights)."
        )
    return key, layer


def block_assignment(channels, n_activations, where="block_assignment"):
    """``assignment[c] = c // (C / K)``: K contiguous blocks of channels.

    Raises:
        ValueError: If ``channels`` is not a multiple of ``n_activations``.
    """
    if channels % n_activations:
        raise ValueError(
            f"{where}: the channel axis has {channels} channels, which cannot be cut into "
            f"{n_activations} equal blocks (C must be divisible by K = {n_activations}). "
            f"Use a channel count divisible by K or give an explicit `assignment`."
        )
    return np.arange(channels) // (channels // n_activations)


def _parse_assignment(assignment, n_activations, where):
    if isinstance(assignment, str):
        if assignment.strip().lower() != "blocks":
            raise ValueError(
                f"{where}: `assignment` must be 'blocks' or an array of activation indices "
                f"(one per channel), got {assignment!r}."
            )
        return "blocks"
    try:
        arr = np.asarray(assignment)
    except Exception:  # pragma: no cover - numpy accepts almost anything
        arr = None
    if arr is None or arr.ndim != 1 or arr.size == 0 or not (
        np.issubdtype(arr.dtype, np.integer)
        or (np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr)))
    ):
        raise TypeError(
            f"{where}: `assignment` must be 'blocks' or a 1-D array of integer activation "
            f"indices, got {assignment!r}."
        )
    arr = arr.astype("int64")
    if arr.min() < 0 or arr.max() >= n_activations:
        raise ValueError(
            f"{where}: `assignment` holds indices in [{arr.min()}, {arr.max()}], expected "
            f"indices in [0, {n_activations - 1}] for {n_activations} activations."
        )
    return [int(a) for a in arr]


def _to_last(x, axis, rank):
    return x if axis == rank - 1 else ops.moveaxis(x, axis, -1)


def _from_last(x, axis, rank):
    return x if axis == rank - 1 else ops.moveaxis(x, -1, axis)


class _DiverseActivation(ChannelActivationLayer):
    """Shared machinery: K activations, channel assignment, float32 evaluation."""

    def _resolve_assignment(self, channels):
        if self.assignment == "blocks":
            if channels is None:
                raise ValueError(
                    f"{self._kind()} needs the size of the channel axis to assign the "
                    f"{self.n_activations} activations to channels, but it is unknown."
                )
            return block_assignment(channels, self.n_activations, self._kind())
        if channels is not None and channels != len(self.assignment):
            raise ValueError(
                f"{self._kind()}: `assignment` has {len(self.assignment)} entries but the "
                f"channel axis has {channels} channels; expected one entry per channel."
            )
        return np.asarray(self.assignment, dtype="int64")

    def build(self, input_shape):
        rank = self._check_rank(input_shape)
        channel = self._channel_axis(rank)
        self._assignment = self._resolve_assignment(input_shape[channel])
        self.input_spec = keras.InputSpec(ndim=rank, axes={channel: len(self._assignment)})
        self._build_weights()
        self.built = True

    @property
    def channel_assignment(self):
        """The activation index of each channel (NumPy array), once built."""
        return np.array(self._assignment)

    def _eval_dtype(self, x):
        dtype = backend.standardize_dtype(x.dtype)
        return "float32" if dtype in ("float16", "bfloat16") else dtype

    def call(self, inputs, training=None):
        self._check_dtype(inputs)
        compute = backend.standardize_dtype(inputs.dtype)
        x = ops.cast(inputs, self._eval_dtype(inputs))
        y = self._apply(x, training)
        return ops.cast(y, compute)

    def _weight_dtype(self):
        dtype = backend.standardize_dtype(self.variable_dtype)
        return "float32" if dtype in ("float16", "bfloat16") else dtype

    def get_config(self):
        config = super().get_config()
        config["assignment"] = self.assignment
        return config


def curve_diversity(curves):
    """Mean over pairs ``k < l`` of ``sqrt(mean((curves[k] - curves[l])**2))``.

    Args:
        curves: ``(K, N)`` array of activations sampled on a common grid.

    Returns:
        A float; 0.0 when K = 1.
    """
    curves = np.asarray(curves, dtype="float64")
    k = curves.shape[0]
    if k < 2:
        return 0.0
    diff = curves[:, None, :] - curves[None, :, :]
    rms = np.sqrt(np.mean(diff**2, axis=-1))
    return float(np.sum(np.triu(rms, 1)) / (k * (k - 1) / 2))
