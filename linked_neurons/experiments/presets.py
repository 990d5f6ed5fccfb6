"""Default settings of the linked-neurons paper studies, in one table.

Every paper study (``depth``, ``width``, ``params``, ``shift``, ``speed``)
takes the values it is not given on the command line from :data:`PRESETS`:
the ``"default"`` preset for the embedded digits and the ``"cifar10"`` preset
(the settings of the original code) for ``--dataset cifar10``. The
documentation's table of presets (``docs/reproduction/index.rst``) is
:func:`rst_table`'s output, and a test checks that the two agree.

The original code (Keras 2.1, December 2017) trained with Adam's epsilon at
``1e-8``, without shuffling the training set between epochs, with Keras'
``glorot_uniform`` kernels and zero biases (``glorot_normal`` in the
parameter-matched network), for 200 epochs in the depth study. Keras 3's
Adam uses ``1e-7``, a difference that matters when the gradients are tiny, as
in the deep thin nets of the depth study at initialisation.

:data:`COST` holds the measured cost of each study's networks on two CPU
cores: setup (model building and graph tracing) and one epoch of the digits
training split, per network; :func:`expected_seconds` scales it.

Example:

    >>> from linked_neurons.experiments import presets
    >>> presets.PRESETS["depth"]["default"]["image_size"]
    32
    >>> presets.PRESETS["depth"]["cifar10"]["epochs"]
    200
"""

__all__ = ["COST", "PRESETS", "estimate", "expected_seconds", "rst_table", "study_settings"]

_DEPTH_ALL = (
    "relu", "lkrelu", "prelu", "lkprelu", "selu", "lkselu", "swish", "lkswish",
    "relu_sqrt2", "prelu_sqrt2", "selu_sqrt2", "swish_sqrt2", "relu_bn",
)
_DEPTH_DIGITS = ("relu", "lkrelu", "prelu", "lkprelu", "selu", "lkselu", "relu_bn")
_WIDTH = ("relu", "lkrelu", "prelu", "lkprelu", "selu", "lkselu", "swish", "lkswish")
_SEEDS = (0, 1, 2)
_PARAMS = ("relu", "prelu", "selu", "swish")
_SHIFT = ("relu", "relu_bn", "selu", "lkrelu", "lkselu", "lkswish")
_SPEED = dict(batch_size=32, learning_rate=1e-3, epsilon=1e-8, shuffle=False, seeds=_SEEDS,
              depth=20, width=16, target=0.8, width_multiplier=0.125,
              kernel_initializer="glorot_uniform",
              variants=("lkrelu", "relu_bn", "lkrelu_bn", "selu", "selu_bn", "lkselu",
                        "lkselu_bn"))

#: ``PRESETS[study][preset]``: the default of every option of a paper study.
PRESETS = {
    "depth": {
        "default": dict(epochs=15, batch_size=32, learning_rate=1e-3, epsilon=1e-8,
                        shuffle=False, seeds=_SEEDS, image_size=32, depth=51, width=4,
                        kernel_initializer="glorot_uniform", variants=_DEPTH_DIGITS),
        "cifar10": dict(epochs=200, batch_size=32, learning_rate=1e-3, epsilon=1e-8,
                        shuffle=False, seeds=_SEEDS, image_size=None, depth=51, width=4,
                        kernel_initializer="glorot_uniform", variants=_DEPTH_ALL),
    },
    "width": {
        "default": dict(epochs=10, batch_size=32, learning_rate=0.01, epsilon=None,
                        shuffle=False, seeds=_SEEDS, image_size=None,
                        kernel_initializer="glorot_uniform", variants=_WIDTH),
        "cifar10": dict(epochs=50, batch_size=32, learning_rate=0.01, epsilon=None,
                        shuffle=False, seeds=_SEEDS, image_size=None,
                        kernel_initializer="glorot_uniform", variants=_WIDTH),
    },
    "params": {
        "default": dict(epochs=8, batch_size=32, learning_rate=1e-4, epsilon=1e-8,
                        shuffle=False, seeds=_SEEDS, image_size=16,
                        kernel_initializer="glorot_normal", variants=_PARAMS),
        "cifar10": dict(epochs=100, batch_size=32, learning_rate=1e-4, epsilon=1e-8,
                        shuffle=False, seeds=_SEEDS, image_size=None,
                        kernel_initializer="glorot_normal", variants=_PARAMS),
    },
    "shift": {
        "default": dict(epochs=5, batch_size=32, learning_rate=1e-3, epsilon=1e-8,
                        shuffle=False, seeds=_SEEDS, image_size=None, depth=10, width=8,
                        kernel_initializer="glorot_uniform", variants=_SHIFT),
        "cifar10": dict(epochs=30, batch_size=32, learning_rate=1e-3, epsilon=1e-8,
                        shuffle=False, seeds=_SEEDS, image_size=None, depth=10, width=16,
                        kernel_initializer="glorot_uniform", variants=_SHIFT),
    },
    # One seed: a timing study (7 networks of 12 epochs take about 5 minutes per seed).
    "speed": {
        "default": dict(epochs=12, image_size=16, network="stack", **_SPEED),
        "cifar10": dict(epochs=30, image_size=None, network="resnet50",
                        **{**_SPEED, "batch_size": 128}),
    },
}


def study_settings(study, **extra):
    """``(defaults, presets)`` of a :class:`~linked_neurons.experiments.runner.Study`.

    The digits preset (plus ``extra``, the study's options outside the
    table) is the defaults; the ``cifar10`` preset overrides them.
    """
    return ({"dataset": "digits", **PRESETS[study]["default"], **extra},
            {"cifar10": dict(PRESETS[study]["cifar10"])})


#: Seconds per network on two cores with the digits preset's image size:
#: ``(setup, epoch)``: the CPU time (user + system) of each study's default
#: run halved (speed: 395 s for 21 networks of 12 epochs at 16x16).
COST = {"depth": (10.0, 1.8), "width": (1.0, 0.11), "params": (1.0, 0.6), "shift": (1.5, 0.38),
        "speed": (2.8, 0.55)}
_DIGITS_TRAIN_IMAGES = 1079  # the digits training split


def expected_seconds(study, networks, epochs, train_pixels, preset_pixels=None):
    """Expected wall time of a study on two idle CPU cores.

    Args:
        study: A key of :data:`COST`.
        networks: Number of trainings (configurations times seeds).
        epochs: Epochs per training.
        train_pixels: Training images times pixels per image of the data used.
        preset_pixels: The same for the data :data:`COST` was measured on
            (default: the digits training split at the study's preset size).

    Returns:
        The expected seconds, a rough guide (a busy machine takes longer).
    """
    if preset_pixels is None:
        preset_pixels = _DIGITS_TRAIN_IMAGES * (PRESETS[study]["default"]["image_size"] or 8) ** 2
    setup, epoch = COST[study]
    return networks * (setup + epochs * epoch * train_pixels / max(1, preset_pixels))


def _cell(value):
    if value is None:
        return "--"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (tuple, list)):
        return str(len(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


_ROWS = (("epochs", "epochs"), ("seeds", "seeds"), ("batch_size", "batch"),
         ("learning_rate", "lr"), ("epsilon", "epsilon"), ("shuffle", "shuffle"),
         ("image_size", "image size"), ("kernel_initializer", "initializer"),
         ("depth", "depth"), ("width", "width"), ("variants", "variants"))


def rst_table():
    """The presets as the lines of an RST ``list-table``, one row per study and preset."""
    lines = [".. list-table::", "   :header-rows: 1", "", "   * - study"]
    lines += [f"     - {title}" for _, title in _ROWS]
    for study, by_preset in PRESETS.items():
        for preset, settings in by_preset.items():
            lines.append(f"   * - {study} ({'digits' if preset == 'default' else preset})")
            for key, _ in _ROWS:
                value = settings.get(key)
                if key not in settings:
                    cell = "--"
                elif key == "image_size" and value is None:
                    cell = "native"
                elif key == "epsilon" and value is None:
                    cell = "(SGD)"
                else:
                    cell = _cell(value)
                lines.append(f"     - {cell}")
    return lines


def estimate(study):
    """``Study.expected_seconds`` of a paper study: :func:`expected_seconds` of its run."""
    return lambda options, data, n: expected_seconds(study, n, options["epochs"], data.x_train.size)
