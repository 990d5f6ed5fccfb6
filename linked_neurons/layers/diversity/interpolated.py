"""InterpolatedActivation: K piecewise-linear activations given at N knots."""

import numbers
import os

import keras
import numpy as np
from keras import ops

from linked_neurons._validation import check_int_tuple
from linked_neurons.layers.diversity.common import (
    _REFERENCE,
    _DiverseActivation,
    _from_last,
    _parse_assignment,
    _to_last,
    curve_diversity,
)
from linked_neurons.layers.diversity.files import load_curves, save_curves


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


InterpolatedActivation.__doc__ = InterpolatedActivation.__doc__.replace(
    "{ref}", _REFERENCE)
