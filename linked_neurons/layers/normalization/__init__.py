"""Normalization layers that replace BatchNormalization: AttentiveNormalization and IEBN.

Both standardise their input exactly like ``keras.layers.BatchNormalization``
(batch statistics in training, moving averages at inference, the same
momentum convention) and then apply a per-sample affine transform whose
coefficients come from an attention branch that pools the raw input.

One module per layer: ``batch_statistics`` (the shared base class),
``attentive`` and ``iebn``; every name is importable from here.
"""

from linked_neurons.layers.normalization.attentive import AttentiveNormalization
from linked_neurons.layers.normalization.batch_statistics import BatchStatisticsNormalization
from linked_neurons.layers.normalization.iebn import IEBN

__all__ = ["IEBN", "AttentiveNormalization", "BatchStatisticsNormalization"]
