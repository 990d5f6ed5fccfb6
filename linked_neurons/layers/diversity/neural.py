"""NeuralActivation: K activations, each a base function plus a tiny network."""

import math

import keras
import numpy as np
from keras import ops

from linked_neurons._validation import (
    check_choice,
    check_int,
    check_number,
    check_seed,
)
from linked_neurons.layers.diversity.common import (
    _REFERENCE,
    HIDDEN_ACTIVATIONS,
    _DiverseActivation,
    _from_last,
    _parse_assignment,
    _to_last,
    curve_diversity,
    resolve_base,
)
from linked_neurons.layers.diversity.interpolated import InterpolatedActivation
from linked_neurons.ops._grad import fused_op


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
    """Functional form of :class:`~linked_neurons.layers.NeuralActivation`.

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


NeuralActivation.__doc__ = NeuralActivation.__doc__.replace("{ref}", _REFERENCE)
