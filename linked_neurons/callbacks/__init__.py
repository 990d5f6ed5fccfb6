"""Keras callbacks of the library.

:class:`ActivationHistograms` logs, every ``freq`` batches or epochs, the
histograms and statistics (mean, standard deviation, minimum, maximum,
fractions of zeros and negatives, dead units) of chosen layers' outputs on a
fixed batch to TensorBoard. The same statistics are available without
TensorBoard from :mod:`linked_neurons.monitoring`.
"""

from linked_neurons.callbacks.histograms import (
    IMAGES,
    ActivationHistograms,
    activation_grid,
    histogram_buckets,
)

__all__ = ["IMAGES", "ActivationHistograms", "activation_grid", "histogram_buckets"]
