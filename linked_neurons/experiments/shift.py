"""Covariate-shift study: training without batch normalization on badly scaled inputs.

The paper argues that linked activations make batch normalization
unnecessary. ``linked-neurons shift`` checks the input side of that claim:
:func:`linked_neurons.paper_models.depth_net` (10 layers of width 8, Adam
1e-3, epsilon 1e-8) trained with every activation on each input version:

- ``normalized``: standardised with the training mean and standard deviation;
- ``unit``: pixels in [0, 1] (the paper's ``x / 255``; the datasets' scale);
- ``raw``: unnormalised pixel values in [0, 255];
- ``shifted``: standardised, then scaled by ``--scale`` and moved by
  ``--shift`` (mean 8, standard deviation 4 by default).

Only ``*_bn`` variants have batch normalization. The table adds the mean
fraction of dead units over the layers after training; the paper gives no
table for this study.
"""

import dataclasses
from types import SimpleNamespace

from linked_neurons.experiments import classify
from linked_neurons.experiments.cli import choice, finite_float, positive_float

__all__ = ["CONDITIONS", "STUDY", "transform"]

#: The input versions compared (normalized, unit range, raw and shifted pixels).
CONDITIONS = ("normalized", "unit", "raw", "shifted")


def transform(data, condition, shift=8.0, scale=4.0):
    """The ``condition`` version of ``data`` (inputs assumed in [0, 1]).

    Args:
        data: A :class:`~linked_neurons.datasets.Dataset` with inputs in [0, 1].
        condition: One of :data:`CONDITIONS`.
        shift, scale: Mean and standard deviation of the ``shifted`` inputs.

    Returns:
        A new :class:`~linked_neurons.datasets.Dataset`; the statistics come
        from the training split only.

    Raises:
        ValueError: For an unknown condition.
    """
    import numpy as np

    if condition not in CONDITIONS:
        raise ValueError(f"transform: unknown `condition` {condition!r}; valid: "
                         f"{', '.join(CONDITIONS)}.")
    mean, std = float(np.mean(data.x_train)), float(np.std(data.x_train)) or 1.0

    def apply(x):
        if condition == "unit":
            return x
        if condition == "raw":
            return (x * 255.0).astype("float32")
        z = (x - mean) / std
        return (z if condition == "normalized" else z * scale + shift).astype("float32")

    return dataclasses.replace(data, x_train=apply(data.x_train), x_val=apply(data.x_val),
                               x_test=apply(data.x_test))


def _grid(options):
    if len(set(options["conditions"])) != len(options["conditions"]):
        raise ValueError(f"shift: `conditions` must be distinct, got {options['conditions']}.")
    variants = [classify.parse_variant(v) for v in options["variants"]]
    return [SimpleNamespace(key=f"{v.key}__{c}", label=f"{v.label} [{c}]", net=v, condition=c)
            for c in options["conditions"] for v in variants]


def _train(task):
    from linked_neurons.paper_models import depth_net

    o, v = task.options, task.variant
    data = transform(task.data, v.condition, o["shift"], o["scale"])
    model = depth_net(data.input_shape, data.num_classes, v.net.activation, depth=o["depth"],
                      width=o["width"], batch_norm=v.net.batch_norm, sqrt2=v.net.sqrt2,
                      kernel_initializer=o["kernel_initializer"])
    row, history = classify.fit_task(task, model, "adam", data, dead_units=True)
    dead = row.pop("dead_fraction")
    return {"condition": v.condition, "activation": v.net.label,
            "dead_fraction": sum(dead) / len(dead), **row}, history


def _arguments(parser):
    classify.paper_arguments(parser, "shift", "epsilon", "shuffle", "kernel_initializer",
                             "image_size", "depth", "width")
    parser.add_argument("--conditions", nargs="+", type=choice(*CONDITIONS), default=None,
                        metavar="INPUTS", help=f"input versions (default: {' '.join(CONDITIONS)})")
    parser.add_argument("--shift", type=finite_float, default=None,
                        help="mean of the shifted inputs (default: 8)")
    parser.add_argument("--scale", type=positive_float, default=None,
                        help="standard deviation of the shifted inputs (default: 4)")


#: The declaration of the study (see :class:`~linked_neurons.experiments.runner.Study`).
STUDY = classify.paper_study(
    "shift", "Adam", extra=dict(conditions=CONDITIONS, shift=8.0, scale=4.0), train=_train,
    summary="no BN on normalised, raw and shifted inputs (covariate shift)", grid=_grid,
    description=__doc__, arguments=_arguments,
    values=("best_val_accuracy", "test_accuracy", "paper_best_test_accuracy", "dead_fraction",
            "final_train_loss", "seconds_per_epoch"),
    columns=(("condition", "inputs"), ("activation", "variant"), *classify.PAPER_COLUMNS,
             ("dead_fraction", "dead units"), ("final_train_loss", "final train loss"),
             ("runs", "seeds")),
    extra_notes=[lambda o: "inputs: normalized = (x - mean) / std; unit = x in [0, 1]; raw = "
                 f"255 x; shifted = {o['scale']} (x - mean) / std + {o['shift']}. dead units: "
                 "mean over the activation layers of the fraction of channels that are zero "
                 "for up to 512 training images."],
    report=classify.bar_report("accuracy_by_inputs.png", "condition",
                               "Input scale and shift, no BN"),
)
