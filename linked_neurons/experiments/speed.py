"""Speed study: linked activations without batch normalization against BN and SELU.

The paper reports the wall-clock time of whole training runs of its CIFAR
ResNet50 relative to LK-ReLU without batch normalization (= 1): LK-ReLU+BN
2.09, SELU+BN 2.07, LK-SELU+BN 2.08, SELU 1.38, LK-SELU 1.6 (the source of
"200% faster than batch normalization, 40% faster than SELU").

``linked-neurons speed`` trains LK-ReLU, ReLU+BN, LK-ReLU+BN, SELU, SELU+BN,
LK-SELU and LK-SELU+BN in one process and measures the median training step
after the first epoch (graph tracing excluded), the time per epoch (median
after the first; training plus validation) and the epochs and training time
until the validation accuracy first reaches ``--target`` (NaN if never), each
also as a ratio to LK-ReLU without BN of the same seed. A timing study: one
seed by default. The network is :func:`linked_neurons.paper_models.depth_net`
(20 layers of width 16, digits at 16x16) or, with ``--network resnet50`` (the
default with ``--dataset cifar10``), :func:`linked_neurons.models.resnet50_cifar`.
"""

import argparse
import json
import math
import os
import time

from linked_neurons._backend import versions
from linked_neurons.experiments import classify
from linked_neurons.experiments.cli import choice, positive_float

__all__ = ["PAPER_RATIOS", "REFERENCE", "STUDY"]

#: The variant the ratios are taken to, LK-ReLU without batch normalization.
REFERENCE = "lkrelu"
#: The paper's ratios (ResNet50, whole run, relative to LK-ReLU without BN).
PAPER_RATIOS = {"lkrelu": 1.0, "lkrelu_bn": 2.09, "selu_bn": 2.07, "lkselu_bn": 2.08,
                "selu": 1.38, "lkselu": 1.6}
_RATIOS = {"step_ratio": "step_ms", "epoch_ratio": "seconds_per_epoch",
           "target_ratio": "seconds_to_target"}


def _grid(options):
    variants = [classify.parse_variant(v) for v in options["variants"]]
    if REFERENCE not in [v.key for v in variants]:
        raise ValueError(f"speed: `variants` must include the reference {REFERENCE!r} (LK-ReLU "
                         f"without BN), got {list(options['variants'])}.")
    return sorted(variants, key=lambda v: v.key != REFERENCE)  # the reference first


def _train(task):
    import keras
    import numpy as np

    o, v, data = task.options, task.variant, task.data
    if o["network"] == "resnet50":
        from linked_neurons.models import resnet50_cifar

        model = resnet50_cifar(data.input_shape, data.num_classes, activation=v.activation,
                               batch_norm=v.batch_norm, width_multiplier=o["width_multiplier"])
    else:
        from linked_neurons.paper_models import depth_net

        model = depth_net(data.input_shape, data.num_classes, v.activation, depth=o["depth"],
                          width=o["width"], batch_norm=v.batch_norm, sqrt2=v.sqrt2,
                          kernel_initializer=o["kernel_initializer"])
    steps = []

    class StepTimer(keras.callbacks.Callback):  # from one batch end to the next: input included
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch, self.last = epoch, time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            now = time.perf_counter()
            if self.epoch > 0:
                steps.append(now - self.last)
            self.last = now

    row, history = classify.fit_task(task, model, "adam", callbacks=[StepTimer()],
                                     test_every_epoch=False, target_accuracy=o["target"])
    row["step_ms"] = float(np.median(steps)) * 1e3 if steps else math.nan
    reference = row
    if v.key != REFERENCE:  # trained before this one: its record is in the run folder
        with open(os.path.join(task.folder, "models", f"{REFERENCE}__seed{task.seed}.json")) as f:
            reference = json.load(f)["row"]
    for ratio, key in _RATIOS.items():
        row[ratio] = row[key] / reference[key] if math.isfinite(reference[key]) else math.nan
    return {**row, "paper_ratio": PAPER_RATIOS.get(v.key, math.nan)}, history


def _fraction(text):
    value = positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
    return value


def _arguments(parser):
    classify.paper_arguments(parser, "speed", "epsilon", "shuffle", "kernel_initializer",
                             "image_size", "depth", "width")
    parser.add_argument("--network", type=choice("stack", "resnet50"), default=None,
                        help="stack (default) or resnet50 (default with --dataset cifar10)")
    parser.add_argument("--target", type=_fraction, default=None,
                        help="target validation accuracy in (0, 1] (default: 0.8)")
    parser.add_argument("--width-multiplier", type=positive_float, default=None,
                        help="width of the resnet50 network (default: 0.125, the paper's 1/8)")


#: The declaration of the study (see :class:`~linked_neurons.experiments.runner.Study`).
STUDY = classify.paper_study(
    "speed", "Adam", description=__doc__, train=_train, grid=_grid, arguments=_arguments,
    summary="time per step, per epoch and to a target: LK-ReLU vs BN and SELU",
    primary="step_ratio", values=("step_ms", "step_ratio", "seconds_per_epoch", "epoch_ratio",
                                  "epochs_to_target", "seconds_to_target", "target_ratio",
                                  "best_val_accuracy", "test_accuracy"),
    columns=(("label", "variant"), ("step_ms", "ms/step"), ("step_ratio", "step time ratio"),
             ("seconds_per_epoch", "s/epoch"), ("epoch_ratio", "epoch time ratio"),
             ("paper_ratio", "paper ratio"), ("epochs_to_target", "epochs to target"),
             ("seconds_to_target", "s to target"), ("target_ratio", "time-to-target ratio"),
             ("best_val_accuracy", "best val acc"), ("test_accuracy", "test acc"),
             ("params", "params"), ("runs", "seeds")),
    notes=lambda o, data: [
        f"{data!r}; network {o['network']} " + (f"(depth {o['depth']}, width {o['width']})"
                                                if o["network"] == "stack" else
                                                f"(width multiplier {o['width_multiplier']})")
        + f"; {o['epochs']} epochs, batch {o['batch_size']}, Adam lr {o['learning_rate']}; "
        f"target validation accuracy {o['target']}. Ratios: to LK-ReLU without BN of the same "
        "seed; paper ratio: whole-run time of the paper's ResNet50 on a GPU.",
        "Machine: {hardware}, backend {backend}.".format(**versions())],
)
