"""Streaming per-layer statistics, dead units and layer outputs."""

import dataclasses
import math

import numpy as np

from linked_neurons._validation import check_int, check_number
from linked_neurons.monitoring.data import iterate_batches
from linked_neurons.monitoring.probe import ActivationProbe
from linked_neurons.monitoring.selection import _channel_axes

#: Names of the per-layer statistics, in the order they are reported.
STATISTICS = (
    "mean",
    "std",
    "min",
    "max",
    "zero_fraction",
    "negative_fraction",
    "dead_fraction",
)


class RunningStatistics:
    """Streaming statistics of one layer's outputs.

    Merges batches with exact float64 running sums (counts, minimum, maximum,
    and mean/variance with the parallel update of Chan et al.), and keeps the
    largest absolute output of each unit to count dead units.

    NaN outputs are counted (``nan_count`` in :meth:`result`) and left out
    of every other statistic, so one NaN does not hide the rest of the
    batch: the mean, spread, extremes and fractions are those of the other
    values (all NaN when only NaNs were seen). A unit that output a NaN is
    not dead. Infinities are ordinary values (they make the mean and std
    infinite or NaN).

    Args:
        channel_axis: Axis of the units in the (batched) outputs.
        threshold: Values with ``|y| <= threshold`` count as zero.
    """

    def __init__(self, channel_axis=-1, threshold=0.0):
        self.channel_axis = check_int("RunningStatistics", "channel_axis", channel_axis)
        self.threshold = check_number("RunningStatistics", "threshold", threshold, low=0.0)
        self.count = 0
        self.samples = 0
        self._mean = 0.0
        self._m2 = 0.0
        self._min = math.inf
        self._max = -math.inf
        self._zeros = 0
        self._negatives = 0
        self.nan_count = 0
        self.unit_max_abs = None
        self.shape = None

    def update(self, values):
        """Adds a batch of outputs (batch axis first)."""
        values = np.asarray(values)
        if values.dtype != np.float64:
            values = values.astype(np.float64)
        if values.ndim < 2:
            raise ValueError(
                f"RunningStatistics.update: expected outputs with a batch axis and at least "
                f"one feature axis, got "
                f"shape {values.shape}."
            )
        shape = values.shape[1:]
        if self.shape is None:
            self.shape = shape
        elif shape != self.shape:
            raise ValueError(
                f"RunningStatistics.update: output shape changed from {self.shape} to "
                f"{shape} between batches."
            )
        if values.size == 0:
            return
        axis = self.channel_axis % values.ndim
        other = tuple(i for i in range(values.ndim) if i != axis)
        nan = np.isnan(values)
        # a NaN unit is not dead: +inf keeps it above any threshold
        unit_max = np.max(np.where(nan, np.inf, np.abs(values)), axis=other)
        if self.unit_max_abs is None:
            self.unit_max_abs = unit_max
        else:
            self.unit_max_abs = np.maximum(self.unit_max_abs, unit_max)
        self.samples += values.shape[0]
        nans = int(np.count_nonzero(nan))
        if nans:
            self.nan_count += nans
            values = values[~nan]
        n = values.size
        if n == 0:
            return
        batch_mean = float(np.mean(values))
        batch_m2 = float(np.sum((values - batch_mean) ** 2))
        total = self.count + n
        delta = batch_mean - self._mean
        self._mean += delta * n / total
        self._m2 += batch_m2 + delta * delta * self.count * n / total
        self.count = total
        self._min = float(np.minimum(self._min, np.min(values)))
        self._max = float(np.maximum(self._max, np.max(values)))
        self._zeros += int(np.count_nonzero(np.abs(values) <= self.threshold))
        self._negatives += int(np.count_nonzero(values < -self.threshold))

    @property
    def dead_mask(self):
        """Boolean array, True for each unit whose outputs were all zero."""
        return self.unit_max_abs <= self.threshold

    def result(self):
        """The statistics as a dict with the keys of :data:`STATISTICS` and counts.

        ``count`` is the number of values other than NaN, ``nan_count`` the
        number of NaNs, ``samples`` the number of batch rows.
        """
        if self.count == 0 and self.nan_count == 0:
            raise ValueError("RunningStatistics.result: no values were added.")
        dead = self.dead_mask
        count = self.count
        nan = math.nan
        return {
            "mean": self._mean if count else nan,
            "std": math.sqrt(max(self._m2 / count, 0.0)) if count else nan,
            "min": self._min if count else nan,
            "max": self._max if count else nan,
            "zero_fraction": self._zeros / count if count else nan,
            "negative_fraction": self._negatives / count if count else nan,
            "dead_fraction": float(np.mean(dead)),
            "units": int(dead.size),
            "dead_units": int(np.count_nonzero(dead)),
            "count": count,
            "nan_count": self.nan_count,
            "samples": self.samples,
        }


@dataclasses.dataclass(frozen=True)
class LayerStatistics:
    """Statistics of one layer's outputs over some data.

    Attributes:
        layer: Name of the layer.
        shape: Shape of one sample's output (without the batch axis).
        samples: Number of samples seen.
        count: Number of output values seen (``samples * prod(shape)``).
        mean: Mean of every output value.
        std: Population standard deviation of every output value.
        min: Smallest output value.
        max: Largest output value.
        zero_fraction: Fraction of values that are zero (``|y| <= threshold``).
        negative_fraction: Fraction of values below ``-threshold``.
        dead_fraction: Fraction of units that are dead (see :func:`dead_units`).
        units: Number of units (channels of a feature map, features of a vector).
        dead_units: Number of dead units.
        channel_axis: Axis of the units in the batched output.
    """

    layer: str
    shape: tuple
    samples: int
    count: int
    mean: float
    std: float
    min: float
    max: float
    zero_fraction: float
    negative_fraction: float
    dead_fraction: float
    units: int
    dead_units: int
    channel_axis: int

    def as_dict(self):
        """The row as a plain dict (for ``csv.DictWriter``, pandas, ...)."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class DeadUnits:
    """The dead units of one layer.

    Attributes:
        layer: Name of the layer.
        units: Number of units.
        dead: Number of dead units.
        fraction: ``dead / units``.
        mask: Boolean NumPy array of shape ``(units,)``, True where a unit is dead.
        channel_axis: Axis of the units in the batched output.
        samples: Number of samples seen.
    """

    layer: str
    units: int
    dead: int
    fraction: float
    mask: np.ndarray = dataclasses.field(repr=False, compare=False)
    channel_axis: int
    samples: int

    @property
    def indices(self):
        """Indices of the dead units."""
        return np.flatnonzero(self.mask)

    def as_dict(self):
        """The row as a plain dict, without the mask."""
        row = dataclasses.asdict(self)
        row.pop("mask")
        return row


def _check_threshold(threshold, caller):
    return check_number(caller, "threshold", threshold, low=0.0)


def _probe(model, layers, caller):
    if isinstance(model, ActivationProbe):
        if layers is not None:
            raise ValueError(
                f"{caller}: `layers` must be None when an ActivationProbe is given; the probe "
                f"already watches {model.names}."
            )
        return model
    return ActivationProbe(model, layers, caller=caller)


def _stream(model, data, layers, batch_size, channel_axis, threshold, caller):
    _check_threshold(threshold, caller)
    probe = _probe(model, layers, caller)
    overrides = _channel_axes(probe.layers, channel_axis, caller)
    running = {}
    for x in iterate_batches(data, batch_size, caller=caller):
        for name, values in probe(x).items():
            if name not in running:
                axis = probe.channel_axis(name, values.ndim, overrides[name])
                running[name] = RunningStatistics(axis, threshold)
            running[name].update(values)
    return probe, running


def activation_statistics(
    model, data, layers=None, batch_size=32, channel_axis=None, threshold=0.0
):
    """Per-layer statistics of the outputs of ``model``'s layers on ``data``.

    The model runs in inference mode, batch by batch; only running sums are
    kept, so ``data`` may be larger than memory.

    Args:
        model: A functional or ``Sequential`` Keras model (or an
            :class:`ActivationProbe` built from one).
        data: Inputs, see :func:`iterate_batches`.
        layers: Layers to summarise (names or layers); None for every
            activation-like layer.
        batch_size: Batch size used to cut arrays.
        channel_axis: Axis of the units in each output, for the dead-unit
            count: None to infer it (the layer's own ``axis``, else the
            ``data_format`` of the layer or of the convolution feeding it,
            else ``keras.config.image_data_format()``; the last axis for
            vectors), an int for every layer, or a dict from layer name to
            int.
        threshold: Outputs with ``|y| <= threshold`` count as zero (0 by
            default: exactly zero).

    Returns:
        A list of :class:`LayerStatistics`, one per layer, in the order of
        ``layers`` (model order by default).

    Raises:
        ValueError: For unknown or foreign layers, empty data or a negative
            threshold.

    Example:

        >>> import numpy as np, keras
        >>> from linked_neurons import LKReLU
        >>> from linked_neurons.monitoring import activation_statistics
        >>> model = keras.Sequential([keras.Input((2,)), LKReLU(name="lk")])
        >>> row = activation_statistics(model, np.array([[1.0, -3.0]]))[0]
        >>> row.shape, row.mean, row.zero_fraction, row.dead_fraction
        ((4,), 1.0, 0.5, 0.5)
    """
    caller = "activation_statistics"
    probe, running = _stream(model, data, layers, batch_size, channel_axis, threshold, caller)
    rows = []
    for name in probe.names:
        stats = running[name].result()
        rows.append(
            LayerStatistics(
                layer=name,
                shape=tuple(int(d) for d in running[name].shape),
                samples=stats["samples"],
                count=stats["count"],
                mean=stats["mean"],
                std=stats["std"],
                min=stats["min"],
                max=stats["max"],
                zero_fraction=stats["zero_fraction"],
                negative_fraction=stats["negative_fraction"],
                dead_fraction=stats["dead_fraction"],
                units=stats["units"],
                dead_units=stats["dead_units"],
                channel_axis=running[name].channel_axis,
            )
        )
    return rows


def dead_units(model, data, layers=None, batch_size=32, channel_axis=None, threshold=0.0):
    """The dead units of ``model``'s layers on ``data``.

    A unit is dead when its output is zero (``|y| <= threshold``) for every
    sample of ``data``. The units of a vector output are its features; the
    units of a feature map are its channels, so a channel is dead only when
    it is zero at every position of every sample (for non-negative
    activations such as ReLU: its maximum over the batch and the positions is
    <= 0). Only the largest absolute output of each unit is kept between
    batches.

    Args:
        model: A functional or ``Sequential`` Keras model (or an
            :class:`ActivationProbe`).
        data: Inputs, see :func:`iterate_batches`.
        layers: Layers to check; None for every activation-like layer.
        batch_size: Batch size used to cut arrays.
        channel_axis: Axis of the units, as in :func:`activation_statistics`.
        threshold: Outputs with ``|y| <= threshold`` count as zero.

    Returns:
        A list of :class:`DeadUnits`, one per layer.

    Raises:
        ValueError: For unknown or foreign layers, empty data or a negative
            threshold.

    Example:

        >>> import numpy as np, keras
        >>> from linked_neurons.monitoring import dead_units
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.ReLU(name="relu")])
        >>> result = dead_units(model, np.array([[1.0, -1.0, 0.0], [2.0, -5.0, 3.0]]))[0]
        >>> result.dead, result.units, result.indices.tolist()
        (1, 3, [1])
    """
    caller = "dead_units"
    probe, running = _stream(model, data, layers, batch_size, channel_axis, threshold, caller)
    result = []
    for name in probe.names:
        stats = running[name]
        mask = np.asarray(stats.dead_mask)
        result.append(
            DeadUnits(
                layer=name,
                units=int(mask.size),
                dead=int(np.count_nonzero(mask)),
                fraction=float(np.mean(mask)),
                mask=mask,
                channel_axis=stats.channel_axis,
                samples=stats.samples,
            )
        )
    return result


def layer_outputs(model, data, layers=None, batch_size=32):
    """The outputs of ``model``'s layers on ``data``, in inference mode.

    Unlike :func:`activation_statistics`, this keeps every output: use it on
    a batch or a small dataset (for histograms and plots).

    Args:
        model: A functional or ``Sequential`` Keras model (or an
            :class:`ActivationProbe`).
        data: Inputs, see :func:`iterate_batches`.
        layers: Layers to read; None for every activation-like layer.
        batch_size: Batch size used to cut arrays.

    Returns:
        A dict from layer name to a NumPy array whose first axis runs over
        the samples, in the order of the layers.

    Example:

        >>> import numpy as np, keras
        >>> from linked_neurons.monitoring import layer_outputs
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.ReLU(name="r")])
        >>> layer_outputs(model, np.array([[1.0, -2.0]]))["r"].tolist()
        [[1.0, 0.0]]
    """
    caller = "layer_outputs"
    probe = _probe(model, layers, caller)
    parts = {name: [] for name in probe.names}
    for x in iterate_batches(data, batch_size, caller=caller):
        for name, values in probe(x).items():
            parts[name].append(values)
    return {name: np.concatenate(values, axis=0) for name, values in parts.items()}
