"""Keras layers of the library; each is a thin wrapper around ``linked_neurons.ops``."""

from linked_neurons.layers.activations import SELU, Mish, Swish
from linked_neurons.layers.base import ActivationLayer, ChannelActivationLayer
from linked_neurons.layers.linked import LKSELU, Linked, LKPReLU, LKReLU, LKSwish

__all__ = [
    "SELU",
    "ActivationLayer",
    "ChannelActivationLayer",
    "LKPReLU",
    "LKReLU",
    "LKSELU",
    "LKSwish",
    "Linked",
    "Mish",
    "Swish",
]
