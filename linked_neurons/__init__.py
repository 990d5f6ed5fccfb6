"""linked_neurons: Keras 3 activation and normalization layers.

Linked neurons (``LKReLU``, ``LKPReLU``, ``LKSELU``, ``LKSwish``, ``Linked``)
concatenate ``f(x)`` and ``f(-x)`` so every input keeps a gradient, letting
deep networks train without batch normalisation. ``SELU``, ``Mish`` and
``Swish`` complete the set; ``LEAF`` and ``AHAF`` learn their shape, ``NeuralActivation`` and
``InterpolatedActivation`` hold several learned curves;
``AttentiveNormalization`` and ``IEBN`` replace ``BatchNormalization``;
``MixedDepthwiseConv2D`` mixes depthwise kernel sizes and
:mod:`linked_neurons.efficientmixnet` builds EfficientNet/MixNet models from
all of them (``EfficientNetBuilder``).
Every layer is registered as Keras-serializable and has a string name in
:mod:`linked_neurons.activations` or :mod:`linked_neurons.normalizations`.
"""

__version__ = "0.2.0"

from linked_neurons._backend import require_backend

require_backend()  # one clear message when no Keras backend is installed

# training registers GroupedOptimizer and its schedules: a model compiled with them
# loads after a plain `import linked_neurons`.
from linked_neurons import activations, normalizations, ops, optimizers, training  # noqa: E402
from linked_neurons.efficientmixnet import BlockArgs, EfficientNetBuilder  # noqa: E402
from linked_neurons.layers import (  # noqa: E402
    AHAF,
    IEBN,
    LEAF,
    LKSELU,
    SELU,
    AttentiveNormalization,
    InterpolatedActivation,
    Linked,
    LKPReLU,
    LKReLU,
    LKSwish,
    Mish,
    MixedDepthwiseConv2D,
    NeuralActivation,
    Swish,
)

__all__ = [
    "AHAF",
    "LEAF",
    "IEBN",
    "InterpolatedActivation",
    "NeuralActivation",
    "AttentiveNormalization",
    "BlockArgs",
    "EfficientNetBuilder",
    "MixedDepthwiseConv2D",
    "SELU",
    "LKPReLU",
    "LKReLU",
    "LKSELU",
    "LKSwish",
    "Linked",
    "Mish",
    "Swish",
    "__version__",
    "activations",
    "efficientmixnet",
    "normalizations",
    "ops",
    "optimizers",
    "training",
]
