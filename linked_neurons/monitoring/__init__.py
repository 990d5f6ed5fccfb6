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

from linked_neurons.monitoring import statistics as _statistics
from linked_neurons.monitoring.data import first_batch, iterate_batches
from linked_neurons.monitoring.probe import ActivationProbe
from linked_neurons.monitoring.selection import (
    activation_layers,
    is_activation_layer,
    resolve_layers,
)
from linked_neurons.monitoring.statistics import (
    DeadUnits,
    LayerStatistics,
    RunningStatistics,
    activation_statistics,
    dead_units,
    layer_outputs,
)
from linked_neurons.monitoring.tables import format_table

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
STATISTICS = _statistics.STATISTICS
