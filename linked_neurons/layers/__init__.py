"""Keras layers of the library; each is a thin wrapper around ``linked_neurons.ops``."""

from linked_neurons.layers.activations import SELU, Mish, Swish
from linked_neurons.layers.base import ActivationLayer, ChannelActivationLayer
from linked_neurons.layers.convolutional import ChannelsFirstConv2D, MixedDepthwiseConv2D
from linked_neurons.layers.diversity import InterpolatedActivation, NeuralActivation
from linked_neurons.layers.learnable import AHAF, LEAF, LearnableActivation
from linked_neurons.layers.linked import LKSELU, Linked, LKPReLU, LKReLU, LKSwish
from linked_neurons.layers.normalization import (
    IEBN,
    AttentiveNormalization,
    BatchStatisticsNormalization,
)

__all__ = [
    "AHAF",
    "LEAF",
    "LearnableActivation",
    "SELU",
    "IEBN",
    "InterpolatedActivation",
    "NeuralActivation",
    "ActivationLayer",
    "AttentiveNormalization",
    "BatchStatisticsNormalization",
    "ChannelActivationLayer",
    "ChannelsFirstConv2D",
    "MixedDepthwiseConv2D",
    "LKPReLU",
    "LKReLU",
    "LKSELU",
    "LKSwish",
    "Linked",
    "Mish",
    "Swish",
]
