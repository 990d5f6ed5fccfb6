"""Diverse learnable activations: NeuralActivation and InterpolatedActivation.

Both layers apply K elementwise activations ``g_0 .. g_{K-1}`` to an input
whose channel axis is cut into groups: channel ``c`` uses activation
``assignment[c]``. With ``assignment="blocks"`` (default) the C channels form
K contiguous blocks of ``C / K`` channels, so channel ``c`` uses
``g_{c // (C / K)}``; an explicit integer array gives any other assignment.
All K activations are evaluated together in one batched op: the per-channel
weights are gathered from the K weight sets once, then broadcast over the
input, so there is no Python loop over K or over the channels.
"""

import json
import math
import numbers
import os
import zipfile

import keras
import numpy as np
from keras import backend, ops

from linked_neurons._validation import (
    check_choice,
    check_int,
    check_int_tuple,
    check_number,
    check_numbers,
    check_seed,
)
from linked_neurons.layers.base import ChannelActivationLayer, keras_activation, lookup_name
from linked_neurons.ops._grad import fused_op

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


# ----------------------------------------------------------------------------- neural
def neural_residual(x, w1, b1, w2, b2, hidden="tanh", noise=None):
    """``MLP(x) = sum_h w2[c, h] act(w1[c, h] x + b1[c, h]) + b2[c]``, plain ops.

    ``x`` has its channels on the last axis (size C); ``w1``, ``b1``, ``w2``
    are per-channel ``(C, H)`` and ``b2`` is ``(C,)``. ``noise``, if given, is
    added to the hidden pre-activations' activations (same shape as them).
    """
    act = HIDDEN_ACTIVATIONS[hidden][0]
    h = act(x[..., None] * w1 + b1)
    if noise is not None:
        h = h + noise
    return ops.sum(h * w2, axis=-1) + b2


def _fused_residual(hidden):
    act, dact = HIDDEN_ACTIVATIONS[hidden]

    def forward(x, w1, b1, w2, b2):
        return ops.sum(act(x[..., None] * w1 + b1) * w2, axis=-1) + b2

    def backward(up, x, w1, b1, w2, b2):
        z = x[..., None] * w1 + b1
        lead = tuple(range(len(x.shape) - 1))
        u = up[..., None]
        dz = u * w2 * dact(z)
        dx = ops.sum(dz * w1, axis=-1)
        dw1 = ops.sum(dz * x[..., None], axis=lead)
        db1 = ops.sum(dz, axis=lead)
        dw2 = ops.sum(u * act(z), axis=lead)
        db2 = ops.sum(up, axis=lead)
        return dx, dw1, db1, dw2, db2

    return fused_op(forward, backward)


_FUSED = {name: _fused_residual(name) for name in HIDDEN_ACTIVATIONS}


def neural_activation(
    x, w1, b1, w2, b2, assignment, base_fn, residual_scale=0.2, hidden="tanh", axis=-1,
    fused=False, noise=None,
):
    """Functional form of :class:`NeuralActivation`.

    ``g_k(x) = base(x) + residual_scale * MLP_k(x)`` with the K weight sets
    ``w1, b1, w2`` of shape ``(K, H)`` and ``b2`` of shape ``(K,)``;
    channel ``c`` of ``x`` (along ``axis``) uses ``g_{assignment[c]}``.
    Used by the layer and by the meta-learning loop (which differentiates it
    twice, so it keeps ``fused=False``).
    """
    rank = len(x.shape)
    axis = axis % rank
    idx = ops.convert_to_tensor(np.asarray(assignment, dtype="int32"))
    dtype = x.dtype
    w1c, b1c, w2c, b2c = (ops.cast(ops.take(w, idx, axis=0), dtype) for w in (w1, b1, w2, b2))
    xl = _to_last(x, axis, rank)
    if fused and noise is None:
        res = _FUSED[hidden](xl, w1c, b1c, w2c, b2c)
    else:
        res = neural_residual(xl, w1c, b1c, w2c, b2c, hidden, noise)
    return base_fn(x) + residual_scale * _from_last(res, axis, rank)


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


@keras.saving.register_keras_serializable(package="linked_neurons")
class NeuralActivation(_DiverseActivation):
    """K learnable activations, each a base function plus a tiny neural network.

    ``g_k(x) = base(x) + residual_scale * MLP_k(x)``, with
    ``MLP_k(x) = sum_h w2[k, h] * act(w1[k, h] * x + b1[k, h]) + b2[k]`` a
    1 → ``hidden_units`` → 1 network applied elementwise (151 weights for 50
    hidden units). Channel ``c`` uses ``g_{assignment[c]}``: K contiguous
    blocks by default. The weights are initialised as PyTorch's ``Linear``
    does: ``w1, b1 ~ U(-1, 1)`` (fan-in 1) and
    ``w2, b2 ~ U(-1/sqrt(H), 1/sqrt(H))``. With ``noise > 0`` a uniform
    ``U(-noise, noise)`` perturbation is added to the hidden units during
    training only (0.1 in the paper).

    :meth:`diversity` measures how different the K activations are: the mean
    over the pairs ``k < l`` of the root-mean-square distance
    ``sqrt(mean_x (g_k(x) - g_l(x))**2)`` on an even grid of ``x_range``
    (0 for identical curves or K = 1; same units as the activations).

    Args:
        n_activations: K, the number of distinct activations.
        hidden_units: H, the width of each sub-network's hidden layer.
        base: The base function: ``"sin"`` (default), ``"tanh"``, ``"elu"``,
            or another elementwise name (``"relu"``, ``"gelu"``, any
            shape-preserving name of :mod:`linked_neurons.activations`).
        hidden_activation: Hidden activation of the sub-networks:
            ``"tanh"`` (default), ``"sigmoid"``, ``"sin"`` or ``"relu"``.
        residual_scale: Factor of the network's output (0.2).
        assignment: ``"blocks"`` or a 1-D integer array with one activation
            index per channel.
        noise: Half-width of the training-only uniform noise on the hidden
            units; 0 (default) disables it.
        seed: Seed of the noise generator.
        kernel_initializer: Overrides the PyTorch-style init of ``w1``.
        bias_initializer: Overrides the init of ``b1``.
        output_kernel_initializer: Overrides the init of ``w2``.
        output_bias_initializer: Overrides the init of ``b2``.
        axis: Channel axis: -1 (default) or 1 (channels_first).
        fused: If True (default) the backward pass keeps only the input and
            the weights and recomputes the ``H``-times larger hidden tensor.
        **kwargs: Base layer keyword arguments (``name``, ``dtype``, ...).

    Input shape:
        Rank >= 2, floating point, known channel size (a multiple of K with
        ``assignment="blocks"``).

    Output shape:
        Same as the input.

    Example:

        >>> import keras
        >>> from linked_neurons.layers.diversity import NeuralActivation
        >>> layer = NeuralActivation(n_activations=2, seed=0)
        >>> y = layer(keras.ops.ones((4, 6)))  # channels 0-2 use g_0, 3-5 use g_1
        >>> [tuple(w.shape) for w in layer.weights]
        [(2, 50), (2, 50), (2, 50), (2,)]
        >>> layer.count_params() // 2  # weights per sub-network
        151
        >>> curves = layer.sample(keras.ops.linspace(-5.0, 5.0, 11))
        >>> tuple(curves.shape)
        (2, 11)

    Reference:
        {ref}
    """

    def __init__(
        self,
        n_activations=1,
        hidden_units=50,
        base="sin",
        hidden_activation="tanh",
        residual_scale=0.2,
        assignment="blocks",
        noise=0.0,
        seed=None,
        kernel_initializer=None,
        bias_initializer=None,
        output_kernel_initializer=None,
        output_bias_initializer=None,
        axis=-1,
        fused=True,
        **kwargs,
    ):
        super().__init__(axis=axis, fused=fused, **kwargs)
        self.n_activations = check_int(self._kind(), "n_activations", n_activations, low=1)
        self.hidden_units = check_int(self._kind(), "hidden_units", hidden_units, low=1)
        self.base, self._base_fn = resolve_base(base, self._kind())
        self.hidden_activation = check_choice(
            self._kind(), "hidden_activation", hidden_activation, HIDDEN_ACTIVATIONS
        )
        self.residual_scale = check_number(self._kind(), "residual_scale", residual_scale)
        self.noise = check_number(self._kind(), "noise", noise, low=0.0)
        self.seed = seed = check_seed(self._kind(), "seed", seed)
        self.assignment = _parse_assignment(assignment, self.n_activations, self._kind())
        bound = 1.0 / math.sqrt(self.hidden_units)
        inits = (
            (kernel_initializer, 1.0), (bias_initializer, 1.0),
            (output_kernel_initializer, bound), (output_bias_initializer, bound),
        )
        self._initializers = [
            keras.initializers.get(init) if init is not None
            else keras.initializers.RandomUniform(-b, b, seed=None if seed is None else seed + i)
            for i, (init, b) in enumerate(inits)
        ]
        self._given_inits = [init for init, _ in inits]
        self._noise_gen = keras.random.SeedGenerator(seed) if self.noise > 0 else None

    # The noise generator's state is not one of the layer's own variables: without
    # these two methods a reloaded layer would restart the noise sequence.
    _SEED_KEY = "noise_seed_generator_state"

    def save_own_variables(self, store):
        """Saves the weights and, with ``noise > 0``, the noise generator's state."""
        super().save_own_variables(store)
        if self._noise_gen is not None:
            store[self._SEED_KEY] = self._noise_gen.state

    def load_own_variables(self, store):
        """Loads what :meth:`save_own_variables` saved (older files: weights only)."""
        keys = list(store.keys())
        if self._SEED_KEY in keys:
            if self._noise_gen is not None:
                self._noise_gen.state.assign(store[self._SEED_KEY])
            store = {k: store[k] for k in keys if k != self._SEED_KEY}
        super().load_own_variables(store)

    def _build_weights(self):
        k, h = self.n_activations, self.hidden_units
        dtype = self._weight_dtype()
        shapes = {"w1": (k, h), "b1": (k, h), "w2": (k, h), "b2": (k,)}
        for (name, shape), init in zip(shapes.items(), self._initializers):
            setattr(self, name, self.add_weight(name=name, shape=shape, initializer=init,
                                                dtype=dtype, autocast=False))

    def _apply(self, x, training, assignment=None):
        noise = None
        if self.noise > 0 and training:
            rank = len(x.shape)
            shape = list(ops.shape(_to_last(x, self.axis % rank, rank))) + [self.hidden_units]
            noise = keras.random.uniform(shape, -self.noise, self.noise, dtype=x.dtype,
                                         seed=self._noise_gen)
        return neural_activation(
            x, self.w1, self.b1, self.w2, self.b2,
            self._assignment if assignment is None else assignment,
            self._base_fn, self.residual_scale, self.hidden_activation, self.axis,
            fused=self.fused, noise=noise,
        )

    def sample(self, x):
        """The K activations evaluated on ``x``.

        Args:
            x: 1-D tensor of N points.

        Returns:
            ``(K, N)`` tensor, row ``k`` is ``g_k(x)`` (no noise). An unbuilt
            layer is built first (its weights do not depend on the input).
        """
        if not self.built:  # the weights do not depend on the channel count
            self.build((None, self.n_activations) if self.assignment == "blocks"
                       else (None, len(self.assignment)))
        x = ops.convert_to_tensor(x, dtype=self._weight_dtype())
        if len(x.shape) != 1:
            raise ValueError(f"{self._kind()}: `sample` expects a 1-D tensor, got shape "
                             f"{tuple(x.shape)}.")
        grid = ops.repeat(x[:, None], self.n_activations, axis=1)  # (N, K)
        y = neural_activation(
            grid, self.w1, self.b1, self.w2, self.b2, np.arange(self.n_activations),
            self._base_fn, self.residual_scale, self.hidden_activation, -1, fused=False,
        )
        return ops.transpose(y)

    def diversity(self, x_range=(-5.0, 5.0), num_points=201):
        """Mean pairwise RMS distance between the K curves on ``x_range``.

        Returns:
            A Python float; 0.0 when K = 1.
        """
        return curve_diversity(
            ops.convert_to_numpy(self.sample(np.linspace(*x_range, num_points)))
        )

    def to_interpolated(self, num_points=201, x_range=(-5.0, 5.0), **kwargs):
        """An :class:`InterpolatedActivation` sampled from the current curves.

        Args:
            num_points: Number of knots N on an even grid of ``x_range``.
            x_range: ``(low, high)`` of the knots.
            **kwargs: Further arguments of :class:`InterpolatedActivation`
                (by default the same ``assignment`` and ``axis``).
        """
        x = np.linspace(float(x_range[0]), float(x_range[1]), int(num_points))
        y = ops.convert_to_numpy(self.sample(x)).astype("float64")
        kwargs.setdefault("assignment", self.assignment)
        kwargs.setdefault("axis", self.axis)
        return InterpolatedActivation(y, x_values=x, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "n_activations": self.n_activations,
                "hidden_units": self.hidden_units,
                "base": self.base,
                "hidden_activation": self.hidden_activation,
                "residual_scale": self.residual_scale,
                "noise": self.noise,
                "seed": self.seed,
            }
        )
        for key, init in zip(
            ("kernel_initializer", "bias_initializer", "output_kernel_initializer",
             "output_bias_initializer"),
            self._given_inits,
        ):
            config[key] = None if init is None else keras.initializers.serialize(
                keras.initializers.get(init))
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


# ----------------------------------------------------------------------------- interpolated
def interpolate(x, x_knots, y_channels, extrapolation="linear"):
    """Piecewise-linear interpolation, one curve per channel (last axis of ``x``).

    Args:
        x: Tensor with channels last (C).
        x_knots: 1-D increasing NumPy array of N knots.
        y_channels: ``(C, N)`` tensor of values at the knots.
        extrapolation: ``"linear"`` (extend the end segments) or
            ``"constant"`` (hold the end values).

    Returns:
        Tensor of ``x``'s shape; its gradient is the slope of the segment.
    """
    dtype = x.dtype
    n = len(x_knots)
    channels = int(y_channels.shape[0])
    knots = ops.convert_to_tensor(np.asarray(x_knots), dtype=dtype)
    y_channels = ops.cast(y_channels, dtype)
    if extrapolation == "constant":  # where, not clip: keeps float64 bounds exact on torch
        x = ops.where(x < knots[0], knots[0], ops.where(x > knots[-1], knots[-1], x))
    x_knots = np.asarray(x_knots, dtype="float64")
    steps = np.diff(x_knots)
    if np.allclose(steps, steps[0], rtol=1e-9, atol=0.0):
        # Evenly spaced knots (linspace, as InterpolatedActivation uses): the
        # segment is a floor, which every runtime has (ONNX has no searchsorted).
        # Next to a knot rounding may pick the neighbouring segment; the curve
        # is continuous there, so the value differs by rounding only.
        seg = ops.floor((x - knots[0]) * ((n - 1) / (x_knots[-1] - x_knots[0])))
        seg = ops.clip(ops.cast(seg, "int32"), 0, n - 2)
    else:
        flat = ops.reshape(x, (-1,))
        seg = ops.searchsorted(knots, flat, side="right") - 1
        seg = ops.clip(ops.cast(seg, "int32"), 0, n - 2)
        seg = ops.reshape(seg, ops.shape(x))
    x0 = ops.take(knots, seg)
    x1 = ops.take(knots, seg + 1)
    offset = ops.convert_to_tensor(np.arange(channels, dtype="int32") * n)
    flat_y = ops.reshape(y_channels, (-1,))
    y0 = ops.take(flat_y, seg + offset)
    y1 = ops.take(flat_y, seg + 1 + offset)
    slope = (y1 - y0) / (x1 - x0)
    return y0 + slope * (x - x0)


def _load_text_table(path, where):
    try:
        values = np.loadtxt(path, dtype="float64", ndmin=2)
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{where}: cannot read {path!r} as a table of numbers: {err}") from None
    return values


@keras.saving.register_keras_serializable(package="linked_neurons")
class InterpolatedActivation(_DiverseActivation):
    """K piecewise-linear activations given by their values at N knots.

    Between knots the activation is the straight line through the
    neighbouring samples, so its derivative is the segment's slope; outside
    ``[x_values[0], x_values[-1]]`` the end segments are extended
    (``extrapolation="linear"``) or the end values held (``"constant"``).
    Channel ``c`` uses row ``assignment[c]`` of ``y_values`` (K contiguous
    blocks by default). The knots and the initial values are part of the
    config; the values are a weight (``"y_values"``), trained only when the
    layer is built with ``trainable=True``.

    Args:
        y_values: ``(K, N)`` (or ``(N,)`` for K = 1) values at the knots,
            N >= 2.
        x_values: The N strictly increasing knots; default
            ``linspace(x_range[0], x_range[1], N)``.
        x_range: ``(low, high)`` of the default knots, ``(-5, 5)``.
        select: None (all rows), or an int or list of ints: the rows of
            ``y_values`` to keep (e.g. one learned activation alone).
        assignment: ``"blocks"`` or one activation index per channel.
        extrapolation: ``"linear"`` (default) or ``"constant"``.
        trainable: Whether the knot values are trained (default False).
        axis: Channel axis: -1 (default) or 1 (channels_first).
        fused: Accepted for the library's common signature; the op keeps
            only the input and the gathered segment values in both modes.
        **kwargs: Base layer keyword arguments (``name``, ``dtype``, ...).

    Input shape:
        Rank >= 2, floating point, known channel size (a multiple of K with
        ``assignment="blocks"``).

    Output shape:
        Same as the input.

    Example:

        >>> import keras
        >>> import numpy as np
        >>> from linked_neurons.layers.diversity import InterpolatedActivation
        >>> layer = InterpolatedActivation([[0.0, 0.0, 1.0], [1.0, 0.0, 1.0]],
        ...                                x_values=[-1.0, 0.0, 1.0])
        >>> x = np.array([[-2.0, 0.5, -2.0, 0.5]], dtype="float32")
        >>> y = layer(x)  # a ReLU-like curve on channels 0-1, |x| on channels 2-3
        >>> keras.ops.convert_to_numpy(y) + 0.0
        array([[0. , 0.5, 2. , 0.5]], dtype=float32)

    Reference:
        {ref}
    """

    def __init__(
        self,
        y_values,
        x_values=None,
        x_range=(-5.0, 5.0),
        select=None,
        assignment="blocks",
        extrapolation="linear",
        trainable=False,
        axis=-1,
        fused=True,
        **kwargs,
    ):
        super().__init__(axis=axis, fused=fused, trainable=trainable, **kwargs)
        try:
            y = np.asarray(y_values, dtype="float64")
        except (TypeError, ValueError):
            raise TypeError(
                f"{self._kind()}: `y_values` must be a (K, N) array of numbers, got "
                f"{type(y_values).__name__}."
            ) from None
        if y.ndim == 1:
            y = y[None, :]
        if y.ndim != 2 or y.shape[1] < 2 or y.shape[0] < 1:
            raise ValueError(
                f"{self._kind()}: `y_values` must have shape (K, N) with N >= 2 knots (or "
                f"(N,) for one activation), got shape {np.shape(y_values)}."
            )
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{self._kind()}: `y_values` contains NaN or infinite values.")
        if select is not None:
            rows = list(check_int_tuple(self._kind(), "select", select))
            if not rows or any(
                isinstance(r, bool) or not isinstance(r, numbers.Integral)
                or not -y.shape[0] <= r < y.shape[0] for r in rows
            ):
                raise ValueError(
                    f"{self._kind()}: `select` must be an int or a list of ints in "
                    f"[0, {y.shape[0] - 1}], got {select!r}."
                )
            y = y[np.asarray(rows)]
        n = y.shape[1]
        if x_values is None:
            try:
                low, high = (float(v) for v in x_range)
            except (TypeError, ValueError):
                raise ValueError(
                    f"{self._kind()}: `x_range` must be a pair (low, high), got {x_range!r}."
                ) from None
            x = np.linspace(low, high, n)
        else:
            x = np.asarray(x_values, dtype="float64")
            if x.shape != (n,):
                raise ValueError(
                    f"{self._kind()}: `x_values` must have shape ({n},) to match the {n} "
                    f"columns of `y_values`, got shape {x.shape}."
                )
        if not np.all(np.diff(x) > 0) or not np.all(np.isfinite(x)):
            raise ValueError(
                f"{self._kind()}: the knots `x_values` must be finite and strictly "
                f"increasing; got {x[:6].tolist()}{' ...' if n > 6 else ''}."
            )
        if extrapolation not in ("linear", "constant"):
            raise ValueError(
                f"{self._kind()}: `extrapolation` must be 'linear' or 'constant', got "
                f"{extrapolation!r}."
            )
        self.extrapolation = extrapolation
        self.x_values = x
        self.initial_y_values = y
        self.n_activations = y.shape[0]
        self.num_points = n
        self.assignment = _parse_assignment(assignment, self.n_activations, self._kind())

    def _build_weights(self):
        dtype = self._weight_dtype()
        self.y_values = self.add_weight(
            name="y_values",
            shape=self.initial_y_values.shape,
            initializer="zeros",
            dtype=dtype,
            autocast=False,
        )
        # assigned, not a Constant initializer: keeps float64 values exact on every backend
        self.y_values.assign(self.initial_y_values.astype(dtype))

    def _apply(self, x, training):
        rank = len(x.shape)
        axis = self.axis % rank
        idx = ops.convert_to_tensor(self._assignment.astype("int32"))
        y_c = ops.take(self.y_values, idx, axis=0)
        out = interpolate(_to_last(x, axis, rank), self.x_values, y_c, self.extrapolation)
        return _from_last(out, axis, rank)

    def sample(self, x):
        """The K activations evaluated on the 1-D tensor ``x``: a ``(K, N)`` tensor."""
        if not self.built:
            self.build((None, self.n_activations) if self.assignment == "blocks"
                       else (None, len(self.assignment)))
        x = ops.convert_to_tensor(x, dtype=self._weight_dtype())
        grid = ops.repeat(x[:, None], self.n_activations, axis=1)
        out = interpolate(grid, self.x_values, self.y_values, self.extrapolation)
        return ops.transpose(out)

    def diversity(self, x_range=None, num_points=201):
        """Mean pairwise RMS distance between the K curves (see NeuralActivation)."""
        low, high = x_range or (self.x_values[0], self.x_values[-1])
        return curve_diversity(ops.convert_to_numpy(self.sample(np.linspace(low, high,
                                                                            num_points))))

    def current_y_values(self):
        """The knot values now (the weight once built), float64 NumPy."""
        if self.built:
            return np.asarray(ops.convert_to_numpy(self.y_values), dtype="float64")
        return self.initial_y_values.copy()

    # ------------------------------------------------------------------ files
    def save(self, path, metadata=None):
        """Writes the knots, values and ``metadata`` to ``.npz`` or ``.json``.

        Args:
            path: File name ending in ``.npz`` or ``.json``.
            metadata: JSON-serializable dict stored beside the arrays.
        """
        save_curves(path, self.current_y_values(), self.x_values, {
            "extrapolation": self.extrapolation, **(metadata or {})})

    @classmethod
    def from_file(cls, path, x_range=(-5.0, 5.0), **kwargs):
        """Builds the layer from a file.

        Reads our ``.npz``/``.json`` format
        (:func:`~linked_neurons.layers.diversity.save_curves`) or the
        DiversityNN text format: a whitespace-separated table with one row per
        activation and one column per knot, the knots being
        ``linspace(x_range[0], x_range[1], N)`` with N the number of columns.

        Args:
            path: The file.
            x_range: Knot range of a text file.
            **kwargs: Further constructor arguments (``select``, ``axis``...).
        """
        y, x, metadata = load_curves(path, x_range=x_range)
        if "extrapolation" in metadata:
            kwargs.setdefault("extrapolation", metadata["extrapolation"])
        try:
            return cls(y, x_values=x, **kwargs)
        except (TypeError, ValueError) as err:
            raise type(err)(f"{err} (read from {os.fspath(path)!r})") from None

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "y_values": self.current_y_values().tolist(),
                "x_values": self.x_values.tolist(),
                "extrapolation": self.extrapolation,
            }
        )
        return config


def save_curves(path, y_values, x_values, metadata=None):
    """Saves sampled activations: ``.npz`` (arrays + JSON metadata) or ``.json``."""
    path = os.fspath(path)
    y = np.asarray(y_values, dtype="float64")
    x = np.asarray(x_values, dtype="float64")
    meta = json.dumps(metadata or {})
    if path.endswith(".npz"):
        np.savez(path, y_values=y, x_values=x, metadata=np.asarray(meta))
    elif path.endswith(".json"):
        with open(path, "w") as f:
            json.dump({"x_values": x.tolist(), "y_values": y.tolist(),
                       "metadata": json.loads(meta)}, f)
    else:
        raise ValueError(f"save_curves: the file name must end in .npz or .json, got {path!r}.")


def _float_array(value, what, path, where):
    try:
        return np.asarray(value, dtype="float64")
    except (TypeError, ValueError):
        raise ValueError(
            f"{where}: {path!r} holds {what} that are not a rectangular array of numbers."
        ) from None


def _metadata(meta, path, where):
    if not isinstance(meta, dict):
        raise ValueError(
            f"{where}: {path!r} has metadata {meta!r} of type {type(meta).__name__}; "
            f"expected a JSON object (dict)."
        )
    return meta


def _load_npz(path, where):
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = {"y_values", "x_values"} - set(data.files)
            if missing:
                raise ValueError(f"{where}: {path!r} lacks the arrays {sorted(missing)}.")
            meta = {}
            if "metadata" in data.files:
                try:
                    meta = json.loads(str(data["metadata"]))
                except json.JSONDecodeError as err:
                    raise ValueError(
                        f"{where}: {path!r} has metadata that is not valid JSON: {err}."
                    ) from None
            y = _float_array(data["y_values"], "y_values", path, where)
            x = _float_array(data["x_values"], "x_values", path, where)
    except (zipfile.BadZipFile, EOFError, OSError, KeyError) as err:
        raise ValueError(
            f"{where}: {path!r} is not a readable .npz file ({type(err).__name__}: {err})."
        ) from None
    return y, x, _metadata(meta, path, where)


def _load_json(path, where):
    try:
        with open(path) as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{where}: {path!r} is not valid JSON: {err}.") from None
    if not isinstance(data, dict) or "y_values" not in data:
        raise ValueError(f"{where}: {path!r} is not a saved activation (no 'y_values').")
    y = _float_array(data["y_values"], "y_values", path, where)
    x = data.get("x_values")
    x = None if x is None else _float_array(x, "x_values", path, where)
    return y, x, _metadata(data.get("metadata", {}), path, where)


def load_curves(path, x_range=(-5.0, 5.0)):
    """Reads ``(y_values, x_values, metadata)`` from ``.npz``, ``.json`` or text.

    Raises:
        FileNotFoundError: No such file.
        ValueError: A file that cannot be read (truncated, malformed JSON,
            non-numeric or ragged values, metadata that is not a dict) or a bad
            ``x_range``; the message names the file.
    """
    path = os.fspath(path)
    where = "InterpolatedActivation.from_file"
    x_range = check_numbers(where, "x_range", x_range, length=2)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{where}: no file {path!r}.")
    if path.endswith(".npz"):
        return _load_npz(path, where)
    if path.endswith(".json"):
        return _load_json(path, where)
    y = _load_text_table(path, where)
    x = np.linspace(x_range[0], x_range[1], y.shape[1])
    return y, x, {}


for _cls in (NeuralActivation, InterpolatedActivation):
    _cls.__doc__ = _cls.__doc__.replace("{ref}", _REFERENCE)
