"""EfficientNet and MixNet models built from the library's layers.

:class:`EfficientNetBuilder` makes EfficientNet B0..B7 and custom models
whose activation (any name of :mod:`linked_neurons.activations`, linked ones
included) and normalization (``"bn"``, ``"an"``, ``"iebn"``) are chosen by
name, with mixed depthwise convolutions
(:class:`~linked_neurons.layers.MixedDepthwiseConv2D`) on
request. Stages are described by :class:`BlockArgs` or block strings.

>>> from linked_neurons.efficientmixnet import EfficientNetBuilder
>>> model = EfficientNetBuilder(input_shape=(32, 32, 3), activation="lkrelu",
...                             classes=10).default_model("B0")
>>> model.get_layer("stem_conv").filters, model.get_layer("stem_activation").output.shape
(16, (None, 16, 16, 32))
"""

from linked_neurons.efficientmixnet.blocks import DropConnect, linked_filters, mbconv_block
from linked_neurons.efficientmixnet.builder import EfficientNetBuilder
from linked_neurons.efficientmixnet.config import (
    BLOCK_STRINGS,
    MIXED_KERNELS,
    VARIANTS,
    BlockArgs,
    Variant,
    decode_block_list,
    encode_block_list,
    get_block_list,
    get_variant,
    round_filters,
    round_repeats,
)
from linked_neurons.layers.convolutional import MixedDepthwiseConv2D

__all__ = [
    "BLOCK_STRINGS",
    "MIXED_KERNELS",
    "VARIANTS",
    "BlockArgs",
    "DropConnect",
    "EfficientNetBuilder",
    "MixedDepthwiseConv2D",
    "Variant",
    "decode_block_list",
    "encode_block_list",
    "get_block_list",
    "get_variant",
    "linked_filters",
    "mbconv_block",
    "round_filters",
    "round_repeats",
]
