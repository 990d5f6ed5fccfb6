"""Activation statistics and dead units of any Keras model, without TensorBoard.

These functions look inside a trained (or untrained) functional or
``Sequential`` model: they run it in inference mode on some data and
summarise the outputs of chosen layers. By default they watch every
*activation-like* layer (see :func:`is_activation_layer`): the library's
activation layers, Keras' ``Activation``, ``ReLU``, ``LeakyReLU``, ``PReLU``,
``ELU`` and ``Softmax`` layers, layers registered in
:mod:`linked_neurons.activations`, and layers with a non-linear
``activation`` argument (``Dense(64, activation="relu")``).

- :func:`activation_statistics`: one row per layer with mean, standard
  deviation, minimum, maximum, fraction of zeros, fraction of negative
  values and fraction of dead units.
- :func:`dead_units`: which units are dead. A unit is *dead* on some data
  when its output is zero for every sample; the unit of a feature map is one
  channel, so a convolution's unit is dead when its channel is zero at every
  position of every sample. For activations whose outputs are never negative
  (ReLU, the two halves of LK-ReLU), this is "maximum over the batch and
  positions <= 0".
- :func:`layer_outputs`: the outputs themselves, as NumPy arrays.

Both summaries stream: they go through the data batch by batch (NumPy
arrays, ``tf.data.Dataset``, ``keras.utils.PyDataset`` or any iterable of
batches) and keep running sums per layer, never every activation at once.
The same model probe (:class:`ActivationProbe`, a side model built once)
feeds the :class:`~linked_neurons.callbacks.ActivationHistograms` callback.

Example:

    >>> import numpy as np, keras
    >>> from linked_neurons import monitoring
    >>> model = keras.Sequential([keras.Input((3,)),
    ...                           keras.layers.Dense(2, name="dense"),
    ...                           keras.layers.ReLU(name="relu")])
    >>> model.get_layer("dense").set_weights([np.array([[1., -1.]] * 3), np.zeros(2)])
    >>> x = np.array([[1., 2., 3.], [0., 1., 1.]])
    >>> rows = monitoring.activation_statistics(model, x)
    >>> rows[0].layer, rows[0].mean, rows[0].dead_units, rows[0].units
    ('relu', 2.0, 1, 2)
    >>> print(monitoring.format_table(rows, ("layer", "mean", "max", "dead_fraction")))
    | layer | mean   | max    | dead_fraction |
    |-------|--------|--------|---------------|
    | relu  | 2.0000 | 6.0000 | 0.5000        |
"""

import dataclasses
import math
import numbers

import keras
import numpy as np

from linked_neurons._validation import check_int, check_number

__all__ = [
    "STATISTICS",
    "ActivationProbe",
    "DeadUnits",
    "LayerStatistics",
    "RunningStatistics",
    "activation_layers",
    "activation_statistics",
    "dead_units",
    "first_batch",
    "format_table",
    "is_activation_layer",
    "iterate_batches",
    "layer_outputs",
    "resolve_layers",
]

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

# Keras layers that are activations whatever their arguments.
_KERAS_ACTIVATION_LAYERS = tuple(
    getattr(keras.layers, name)
    for name in ("ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax")
    if hasattr(keras.layers, name)
)


# --------------------------------------------------------------------- layers
def _is_linear(fn):
    if fn is None:
        return True
    name = getattr(fn, "__name__", None)
    if name is None and isinstance(fn, str):
        name = fn
    return name == "linear" or fn is keras.activations.linear


def _registered_classes():
    from linked_neurons import activations as ln_activations

    classes = set()
    for name in ln_activations.names():
        factory = ln_activations._entry(name).factory
        if isinstance(factory, type):
            classes.add(factory)
    return tuple(classes)


def is_activation_layer(layer):
    """Whether ``layer`` counts as an activation for the default monitoring.

    True for the library's activation layers (subclasses of
    :class:`~linked_neurons.layers.ActivationLayer`, and every layer class
    registered in :mod:`linked_neurons.activations`), for Keras'
    ``Activation`` layer unless it is linear, for ``ReLU``, ``LeakyReLU``,
    ``PReLU``, ``ELU`` and ``Softmax``, and for any other layer whose
    ``activation`` attribute is set to something other than the identity
    (e.g. ``Dense(64, activation="relu")``). Models, input layers and
    everything else are False.

    Args:
        layer: A ``keras.layers.Layer``.

    Returns:
        A bool.
    """
    from linked_neurons.layers.base import ActivationLayer

    if isinstance(layer, keras.Model) or not isinstance(layer, keras.layers.Layer):
        return False
    if isinstance(layer, keras.layers.InputLayer):
        return False
    if isinstance(layer, keras.layers.Activation):
        return not _is_linear(layer.activation)
    if isinstance(layer, (ActivationLayer, *_KERAS_ACTIVATION_LAYERS)):
        return True
    if isinstance(layer, _registered_classes()):
        return True
    fn = getattr(layer, "activation", None)
    return fn is not None and callable(fn) and not _is_linear(fn)


def activation_layers(model):
    """The activation-like layers of ``model`` (top level), in model order.

    Args:
        model: A ``keras.Model``.

    Returns:
        A list of layers for which :func:`is_activation_layer` is True.
    """
    return [layer for layer in model.layers if is_activation_layer(layer)]


def _nested_owner(model, name):
    """The nested model of ``model`` that holds a layer called ``name``, if any."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            for inner in layer._flatten_layers(include_self=False):
                if inner.name == name:
                    return layer
    return None


def resolve_layers(model, layers=None, caller="resolve_layers"):
    """Turns a ``layers`` argument into a list of layers of ``model``.

    Args:
        model: A ``keras.Model`` (functional or ``Sequential``).
        layers: None for :func:`activation_layers`; otherwise a layer name,
            a layer, or a list of names and layers. Only top-level layers of
            ``model`` can be monitored.
        caller: Name used in error messages.

    Returns:
        A non-empty list of distinct layers, in the order given.

    Raises:
        ValueError: If a name is unknown, a layer is not part of ``model``, a
            layer is listed twice, or nothing is left to monitor.
        TypeError: For entries that are neither names nor layers.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"{caller}: expected a keras.Model, got {type(model).__name__}.")
    if layers is None:
        chosen = activation_layers(model)
        if not chosen:
            raise ValueError(
                f"{caller}: model '{model.name}' has no activation-like layer to monitor "
                f"(its layers: {[layer.name for layer in model.layers]}). Pass `layers` "
                f"with the names of the layers to watch."
            )
        return chosen
    if isinstance(layers, (str, keras.layers.Layer)):
        layers = [layers]
    try:
        layers = list(layers)
    except TypeError:
        raise TypeError(
            f"{caller}: `layers` must be None, a layer name, a layer or a list of them, "
            f"got {layers!r} of type {type(layers).__name__}."
        ) from None
    if not layers:
        raise ValueError(f"{caller}: `layers` is empty; pass None to watch every activation.")
    by_name = {layer.name: layer for layer in model.layers}
    chosen = []
    for item in layers:
        if isinstance(item, str):
            if item not in by_name:
                owner = _nested_owner(model, item)
                if owner is not None:
                    raise ValueError(
                        f"{caller}: layer '{item}' is inside the nested model "
                        f"'{owner.name}' of model '{model.name}'; only top-level layers can "
                        f"be monitored. Monitor '{owner.name}' itself, or build the model "
                        f"without nesting."
                    )
                raise ValueError(
                    f"{caller}: model '{model.name}' has no layer named '{item}'. Its "
                    f"layers are: {sorted(by_name)}."
                )
            layer = by_name[item]
        elif isinstance(item, keras.layers.Layer):
            if by_name.get(item.name) is not item:
                raise ValueError(
                    f"{caller}: layer '{item.name}' ({type(item).__name__}) is not a "
                    f"top-level layer of model '{model.name}'."
                )
            layer = item
        else:
            raise TypeError(
                f"{caller}: every entry of `layers` must be a layer name or a layer, got "
                f"{item!r} of type {type(item).__name__}."
            )
        if any(layer is other for other in chosen):
            raise ValueError(f"{caller}: layer '{layer.name}' is listed twice in `layers`.")
        chosen.append(layer)
    return chosen


def _inbound_layers(layer):
    nodes = getattr(layer, "_inbound_nodes", None) or []
    if not nodes:
        return []
    return [node.operation for node in nodes[0].parent_nodes]


def _data_format(layer, depth=8):
    """The ``data_format`` of ``layer`` or of the closest layer feeding it."""
    for _ in range(depth):
        fmt = getattr(layer, "data_format", None)
        if fmt in ("channels_first", "channels_last"):
            return fmt
        parents = _inbound_layers(layer)
        if len(parents) != 1:
            return None
        layer = parents[0]
    return None


def _default_channel_axis(layer, rank):
    """Channel axis of ``layer``'s output of ``rank`` (batch axis included)."""
    if rank <= 2:
        return rank - 1
    axis = getattr(layer, "axis", None)
    if isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
        if -rank <= axis < rank and axis % rank != 0:
            return int(axis) % rank
    fmt = _data_format(layer) or keras.config.image_data_format()
    return 1 if fmt == "channels_first" else rank - 1


def _channel_axes(layers, channel_axis, caller):
    """Validates ``channel_axis`` (None, int or dict) into a dict name -> int|None."""
    names = [layer.name for layer in layers]
    if channel_axis is None:
        return dict.fromkeys(names)
    if isinstance(channel_axis, dict):
        unknown = sorted(set(channel_axis) - set(names))
        if unknown:
            raise ValueError(
                f"{caller}: `channel_axis` names layers that are not monitored: {unknown}; "
                f"monitored layers: {names}."
            )
        axes = {name: channel_axis.get(name) for name in names}
    else:
        axes = dict.fromkeys(names, channel_axis)
    for name, axis in axes.items():
        if axis is not None and (isinstance(axis, bool) or not isinstance(axis, numbers.Integral)):
            raise TypeError(
                f"{caller}: the channel axis of layer '{name}' must be an int or None, got "
                f"{axis!r}."
            )
        if axis == 0:
            raise ValueError(
                f"{caller}: the channel axis of layer '{name}' cannot be 0, the batch axis."
            )
    return axes


# ---------------------------------------------------------------------- batches
def _to_numpy(value):
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "numpy") and not isinstance(value, np.generic):
        try:
            return np.asarray(value.numpy())
        except Exception:  # noqa: BLE001 - e.g. a torch tensor that needs detach()
            pass
    return np.asarray(keras.ops.convert_to_numpy(value))


def _inputs_of(batch):
    """``x`` of a batch that may be ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, w)``."""
    if isinstance(batch, tuple) and 1 <= len(batch) <= 3:
        return batch[0]
    return batch


def _num_samples(x):
    leaves = keras.tree.flatten(x)
    if not leaves:
        raise ValueError("The data holds no arrays.")
    return int(np.shape(leaves[0])[0])


def _is_array_like(x):
    leaves = keras.tree.flatten(x) if isinstance(x, (list, dict)) else [x]
    return bool(leaves) and all(
        isinstance(leaf, np.ndarray) or hasattr(leaf, "shape") and hasattr(leaf, "dtype")
        for leaf in leaves
    )


def iterate_batches(data, batch_size=32, caller="iterate_batches"):
    """Yields the model inputs of ``data`` one batch at a time, as NumPy.

    Args:
        data: One of

            - an array (NumPy or backend tensor), a list of arrays (several
              inputs) or a dict of arrays: cut into batches of
              ``batch_size`` samples;
            - a tuple ``(x, y)`` or ``(x, y, sample_weight)``, as Keras'
              ``validation_data``: ``x`` is used;
            - a ``tf.data.Dataset``, a ``keras.utils.PyDataset``, or any
              other iterable of batches (each batch ``x`` or ``(x, y, ...)``,
              e.g. a generator or a PyTorch ``DataLoader``).
        batch_size: Batch size for arrays.
        caller: Name used in error messages.

    Yields:
        The inputs of each batch (an array, or a list/dict of arrays for
        models with several inputs) as NumPy arrays.

    Raises:
        TypeError: For data of another kind.
        ValueError: For an invalid ``batch_size`` or empty data.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or (
        batch_size < 1
    ):
        raise ValueError(f"{caller}: `batch_size` must be a positive int, got {batch_size!r}.")
    if data is None or isinstance(data, (str, bytes)):
        raise TypeError(
            f"{caller}: `data` must be an array, a tuple (x, y), a dict or list of arrays, a "
            f"tf.data.Dataset or an iterable of batches, got {data!r}."
        )
    data = _inputs_of(data) if isinstance(data, tuple) else data
    if _is_array_like(data):
        x = keras.tree.map_structure(_to_numpy, data)
        total = _num_samples(x)
        if total == 0:
            raise ValueError(f"{caller}: `data` has no samples.")
        for start in range(0, total, int(batch_size)):
            yield keras.tree.map_structure(lambda a, s=start: a[s : s + int(batch_size)], x)
        return
    if isinstance(data, keras.utils.PyDataset):
        batches = (data[i] for i in range(len(data)))
    else:
        try:
            batches = iter(data)
        except TypeError:
            raise TypeError(
                f"{caller}: `data` must be an array, a tuple (x, y), a dict or list of arrays, "
                f"a tf.data.Dataset or an iterable of batches, got {type(data).__name__}."
            ) from None
    empty = True
    for batch in batches:
        empty = False
        yield keras.tree.map_structure(_to_numpy, _inputs_of(batch))
    if empty:
        raise ValueError(f"{caller}: `data` yielded no batch.")


def first_batch(data, batch_size=None, caller="first_batch"):
    """The inputs of the first batch of ``data`` (see :func:`iterate_batches`).

    With ``batch_size=None`` an array is taken whole.
    """
    if batch_size is None:
        if isinstance(data, tuple):
            data = _inputs_of(data)
        if _is_array_like(data):
            x = keras.tree.map_structure(_to_numpy, data)
            if _num_samples(x) == 0:
                raise ValueError(f"{caller}: `data` has no samples.")
            return x
        batch_size = 32
    return next(iter(iterate_batches(data, batch_size, caller=caller)))


# ----------------------------------------------------------------------- probe
class ActivationProbe:
    """Runs a model up to chosen layers and returns their outputs.

    Builds, once, a side model ``keras.Model(model.inputs, [layer.output
    ...])`` that shares the weights of ``model``; calling the probe runs it
    in inference mode (dropout off, batch normalisation with its moving
    statistics) and returns NumPy arrays. It never changes the model.

    Args:
        model: A functional or ``Sequential`` Keras model with known inputs.
        layers: Layers to watch, as in :func:`resolve_layers` (default: every
            activation-like layer).
        caller: Name used in error messages.

    Attributes:
        layers: The watched layers.
        names: Their names.
        side_model: The side model.

    Raises:
        ValueError: If the model has no symbolic inputs (a subclassed model
            or a ``Sequential`` model without an ``Input``), or for the
            errors of :func:`resolve_layers`.
    """

    def __init__(self, model, layers=None, caller="ActivationProbe"):
        self.model = model
        self.layers = resolve_layers(model, layers, caller=caller)
        self.names = [layer.name for layer in self.layers]
        try:
            inputs = model.inputs
        except (AttributeError, ValueError):
            inputs = None
        self._single_input = bool(inputs) and len(inputs) == 1
        if inputs and len(inputs) == 1:
            inputs = inputs[0]
        elif inputs:
            try:
                inputs = model.input  # keeps the structure of several inputs (list or dict)
            except (AttributeError, ValueError):
                pass
        if inputs is None or isinstance(inputs, (list, tuple, dict)) and not inputs:
            raise ValueError(
                f"{caller}: model '{model.name}' has no symbolic inputs, so its layers' "
                f"outputs cannot be reached. Use a functional model or a Sequential model "
                f"that starts with keras.Input(shape) (or is built), not a subclassed model."
            )
        try:
            outputs = [layer.output for layer in self.layers]
            self.side_model = keras.Model(inputs, outputs, name=f"{model.name}_probe")
        except (AttributeError, ValueError) as error:
            raise ValueError(
                f"{caller}: cannot reach the outputs of {self.names} from the inputs of "
                f"model '{model.name}': {error}"
            ) from error

    def __call__(self, x):
        """Outputs of the watched layers on inputs ``x``, as a dict name -> NumPy array."""
        if self._single_input and isinstance(x, (list, tuple)) and len(x) == 1:
            x = x[0]
        if keras.backend.backend() == "torch":
            import torch

            with torch.no_grad():
                outputs = self.side_model(x, training=False)
        else:
            outputs = self.side_model(x, training=False)
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        return {name: _to_numpy(y) for name, y in zip(self.names, outputs)}

    def channel_axis(self, name, rank, override=None):
        """Channel axis of layer ``name``'s output of ``rank`` (batch axis included)."""
        if override is not None:
            if not -rank <= override < rank or override % rank == 0:
                raise ValueError(
                    f"invalid channel axis {override} for the output of layer '{name}', which "
                    f"has rank {rank}; expected a non-batch axis."
                )
            return int(override) % rank
        layer = self.layers[self.names.index(name)]
        return _default_channel_axis(layer, rank)


# ------------------------------------------------------------------ statistics
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
                f"expected outputs with a batch axis and at least one feature axis, got "
                f"shape {values.shape}."
            )
        shape = values.shape[1:]
        if self.shape is None:
            self.shape = shape
        elif shape != self.shape:
            raise ValueError(f"output shape changed from {self.shape} to {shape} between batches.")
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


# ---------------------------------------------------------------------- tables
def _cell(value):
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):.4f}"
    return str(value)


def format_table(rows, columns=None):
    """Formats statistics rows as a Markdown table.

    Args:
        rows: :class:`LayerStatistics` or :class:`DeadUnits` objects, or dicts.
        columns: Keys to show, in order; default: every key of the first row.

    Returns:
        The table as a string.
    """
    dicts = [row if isinstance(row, dict) else row.as_dict() for row in rows]
    if not dicts:
        return ""
    columns = list(columns or dicts[0])
    body = [[_cell(row.get(key, "")) for key in columns] for row in dicts]
    widths = [max(len(cell) for cell in column) for column in zip(columns, *body)]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(columns), rule, *(line(cells) for cells in body)])
