"""Pure tensor functions written with ``keras.ops``.

Every activation comes in a fused form (the default: a hand-written backward
pass that keeps only the input) and a plain form (``fused=False``: the
composition of ``keras.ops`` calls, differentiated by the backend).
"""

from linked_neurons.ops.activations import (
    SELU_ALPHA,
    SELU_SCALE,
    mish,
    mish_plain,
    selu,
    selu_plain,
    swish,
    swish_plain,
)
from linked_neurons.ops.linked import linked, lk_prelu, lk_relu, lk_selu, lk_swish

__all__ = [
    "SELU_ALPHA",
    "SELU_SCALE",
    "linked",
    "lk_prelu",
    "lk_relu",
    "lk_selu",
    "lk_swish",
    "mish",
    "mish_plain",
    "selu",
    "selu_plain",
    "swish",
    "swish_plain",
]
