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

import os as _os
import sys as _sys

_LAYERS = ("AHAF", "IEBN", "LEAF", "LKSELU", "SELU", "AttentiveNormalization",
           "InterpolatedActivation", "Linked", "LKPReLU", "LKReLU", "LKSwish", "Mish",
           "MixedDepthwiseConv2D", "NeuralActivation", "Swish")
_SUBMODULES = ("activations", "efficientmixnet", "normalizations", "ops", "optimizers",
               "training")


def _load():
    """Imports Keras and every part of the library, registering each serializable object.

    Runs on ``import linked_neurons``, except while the studies' command line
    (``linked-neurons`` or ``python -m linked_neurons.experiments``) parses its
    arguments, so that ``--help`` imports no backend; it then runs before a
    study starts, or on the first access to a name of the package.
    """
    import importlib

    from linked_neurons._backend import require_backend

    require_backend()  # one clear message when no Keras backend is installed
    # training registers GroupedOptimizer and its schedules: a model compiled with them
    # loads after a plain `import linked_neurons`.
    names = {name: importlib.import_module(f"linked_neurons.{name}") for name in _SUBMODULES}
    layers = importlib.import_module("linked_neurons.layers")
    names.update({name: getattr(layers, name) for name in _LAYERS})
    names.update(BlockArgs=names["efficientmixnet"].BlockArgs,
                 EfficientNetBuilder=names["efficientmixnet"].EfficientNetBuilder)
    globals().update(names)


def _started_as_command_line():
    """Whether this process is the studies' command line (``--help`` needs no backend)."""
    argv = list(getattr(_sys, "orig_argv", ()))
    if "-m" in argv[:-1] and argv[argv.index("-m") + 1] == "linked_neurons.experiments":
        return True
    return len(argv) > 1 and _os.path.basename(argv[1]) == "linked-neurons"


if _started_as_command_line():

    def __getattr__(name):
        if name in __all__ and name != "__version__":
            _load()
            return globals()[name]
        raise AttributeError(f"module 'linked_neurons' has no attribute {name!r}")

else:
    _load()

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
