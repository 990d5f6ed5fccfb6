"""Speed study: linked activations without batch normalization against BN and SELU.

The paper reports the wall-clock time of whole training runs of its CIFAR
ResNet50 relative to LK-ReLU without batch normalization (= 1): LK-ReLU+BN
2.09, SELU+BN 2.07, LK-SELU+BN 2.08, SELU 1.38, LK-SELU 1.6 (the source of
"200% faster than batch normalization, 40% faster than SELU").

``python -m linked_neurons.experiments speed`` trains one network with each
of LK-ReLU, ReLU+BN, LK-ReLU+BN, SELU, SELU+BN, LK-SELU and LK-SELU+BN, in
one process on the same machine, and measures

- the time per epoch (median over the epochs after the first, which
  includes graph tracing; training plus validation),
- the time to a target validation accuracy (training wall-clock, first
  epoch included, until the validation accuracy first reaches
  ``--target``; NaN when it never does) and the epochs it took,

both also as ratios to LK-ReLU without BN of the same run (median over
``--runs``). The machine (CPU model, cores, backend) is printed and written
below the table. It writes ``speed_<dataset>.csv`` / ``.md``,
``speed_<dataset>_runs.csv`` and ``speed_<dataset>.png``.

The default network is the plain convolution stack of
:func:`~linked_neurons.experiments.paper.depth_net` (20 layers of width 16,
on the digits resized to 16x16); ``--network resnet50`` uses
:func:`linked_neurons.models.resnet50_cifar` (the paper's network; meant for
CIFAR-10 on a GPU, and the default with ``--dataset cifar10``).
"""

import math
import os
import time

import keras
import numpy as np

from linked_neurons.experiments import common, paper, presets

NAME = "speed"
DEFAULT_OUTPUT_DIR = os.path.join("results", NAME)
REFERENCE = "lkrelu"
DEFAULT_VARIANTS = ("lkrelu", "relu_bn", "lkrelu_bn", "selu", "selu_bn", "lkselu", "lkselu_bn")
NETWORKS = ("stack", "resnet50")
#: The paper's ratios (ResNet50, whole run, relative to LK-ReLU without BN).
PAPER_RATIOS = {"lkrelu": 1.0, "lkrelu_bn": 2.09, "selu_bn": 2.07, "lkselu_bn": 2.08,
                "selu": 1.38, "lkselu": 1.6}
PRESETS = presets.PRESETS[NAME]
COLUMNS = (
    ("label", "variant"),
    ("step_ms", "ms/step"),
    ("step_ratio", "step time ratio"),
    ("seconds_per_epoch", "s/epoch"),
    ("epoch_ratio", "epoch time ratio"),
    ("paper_ratio", "paper ratio"),
    ("epochs_to_target", "epochs to target"),
    ("seconds_to_target", "s to target"),
    ("target_ratio", "time-to-target ratio"),
    ("best_val_accuracy", "best val acc"),
    ("test_accuracy", "test acc"),
    ("params", "params"),
    ("runs", "runs"),
)
VALUES = ("step_ms", "step_ratio", "seconds_per_epoch", "epoch_ratio", "epochs_to_target",
          "seconds_to_target", "target_ratio", "best_val_accuracy", "test_accuracy")


class StepTimer(keras.callbacks.Callback):
    """Wall time of every training step after the first epoch (graph tracing excluded).

    A step is timed from the end of the previous batch to the end of this one,
    so host work between steps (the input pipeline) is included.
    """

    def __init__(self):
        super().__init__()
        self.seconds = []
        self._last = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._last = epoch, time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if self._epoch > 0 and self._last is not None:
            self.seconds.append(now - self._last)
        self._last = now

    def median_ms(self):
        """Median step time in milliseconds (NaN before the second epoch)."""
        return float(np.median(self.seconds)) * 1e3 if self.seconds else math.nan


def run_speed(
    dataset="digits",
    variants=DEFAULT_VARIANTS,
    network="stack",
    depth=20,
    width=16,
    target=0.8,
    epochs=12,
    runs=1,
    seed=0,
    batch_size=32,
    learning_rate=1e-3,
    epsilon=1e-8,
    shuffle=False,
    kernel_initializer="glorot_uniform",
    width_multiplier=0.125,
    image_size=16,
    max_train_samples=None,
    output_dir=DEFAULT_OUTPUT_DIR,
    verbose=2,
):
    """Runs the speed study and writes its tables and plot.

    Args:
        dataset: ``"digits"`` (embedded), ``"cifar10"``, ... or a
            :class:`~linked_neurons.datasets.Dataset` of images.
        variants: Variant names; must include ``"lkrelu"`` (the reference).
        network: ``"stack"`` (:func:`~linked_neurons.experiments.paper.depth_net`
            of ``depth`` x ``width``) or ``"resnet50"``
            (:func:`linked_neurons.models.resnet50_cifar`).
        depth, width: Size of the ``stack`` network.
        target: Target validation accuracy in (0, 1].
        epochs: Epochs per run.
        runs: Runs per variant (interleaved, ratios taken within a run).
        seed: First seed (also the seed of the data split).
        batch_size: Batch size.
        learning_rate: Adam learning rate.
        epsilon: Adam epsilon (None: Keras 3's 1e-7).
        shuffle: Shuffle the training set every epoch.
        kernel_initializer: Initializer of the ``stack`` network's kernels.
        width_multiplier: Width of the ``resnet50`` network (1/8 in the paper).
        image_size: Square resize of the images (None: native size).
        max_train_samples: Optional training subset (``keras.datasets`` only).
        output_dir: Folder of the results.
        verbose: 0 silent, 1 a line per model and the table, 2 per-epoch progress too.

    Returns:
        ``(summary, runs)``.

    Raises:
        ValueError: For unknown variants or networks, a missing reference or
            a target outside (0, 1].
    """
    variants = paper._variants(variants, NAME)
    if REFERENCE not in [v.key for v in variants]:
        raise ValueError(f"{NAME}: the variants must include the reference {REFERENCE!r} "
                         f"(LK-ReLU without BN), got {[v.key for v in variants]}.")
    paper.check_names([network], NETWORKS, "network", NAME)
    if not 0 < target <= 1:
        raise ValueError(f"{NAME}: `target` must be in (0, 1], got {target!r}.")
    data = paper.prepare_data(dataset, seed=seed, image_size=image_size,
                              max_train_samples=max_train_samples)
    machine = paper.hardware()
    if verbose:
        print(f"{NAME}: {data!r}; network {network}"
              + (f" {depth}x{width}" if network == "stack" else "")
              + f"; {len(variants)} variants x {runs} runs x {epochs} epochs, target val acc "
              f"{target}", flush=True)
        print(f"{NAME}: hardware: {machine}", flush=True)
    by_key = {v.key: v for v in variants}
    configs = [{"variant": v.key, "label": v.label} for v in variants]

    def build(config):
        variant = by_key[config["variant"]]
        if network == "resnet50":
            from linked_neurons.models import resnet50_cifar

            return resnet50_cifar(data.input_shape, data.num_classes,
                                  activation=variant.activation, batch_norm=variant.batch_norm,
                                  width_multiplier=width_multiplier)
        return paper.depth_net(data.input_shape, data.num_classes, variant, depth=depth,
                               width=width, kernel_initializer=kernel_initializer)

    timers, current = [], []

    def build_timed(config):
        # run_study builds a model, then trains it with ``callbacks=current``:
        # the list holds the timer of the model just built.
        timers.append(StepTimer())
        current[:] = [timers[-1]]
        return build(config)

    rows, _ = paper.run_study(
        NAME, data, configs, build_timed, runs=runs, seed=seed, verbose=verbose, epochs=epochs,
        batch_size=batch_size, optimizer="adam", learning_rate=learning_rate, epsilon=epsilon,
        shuffle=shuffle, test_every_epoch=False, target_accuracy=target, callbacks=current,
    )
    for row, timer in zip(rows, timers):
        row["step_ms"] = timer.median_ms()
        if verbose:
            print(f"{NAME}: {row['label']} run {row['run']}: median step "
                  f"{row['step_ms']:.2f} ms (batch {batch_size})", flush=True)
    for run_index in range(1, runs + 1):
        same = [r for r in rows if r["run"] == run_index]
        ref = next(r for r in same if r["variant"] == REFERENCE)
        for row in same:
            row["step_ratio"] = row["step_ms"] / ref["step_ms"]
            row["epoch_ratio"] = row["seconds_per_epoch"] / ref["seconds_per_epoch"]
            row["target_ratio"] = (row["seconds_to_target"] / ref["seconds_to_target"]
                                   if math.isfinite(ref["seconds_to_target"]) else math.nan)
    summary = paper.summarize(rows, ("variant", "label"), VALUES)
    for row in summary:
        row["paper_ratio"] = PAPER_RATIOS.get(row["variant"], math.nan)
        row["hardware"] = machine
    stem = os.path.join(output_dir, f"{NAME}_{data.name}")
    os.makedirs(output_dir, exist_ok=True)
    common.write_tables(rows, f"{stem}_runs", (("label", "variant"), ("run", "run"),
                                               ("seconds_per_epoch", "s/epoch")))
    plot_rows = []
    for row in summary:
        for kind, key in (("time per step", "step_ratio"), ("time per epoch", "epoch_ratio"),
                          ("time to target", "target_ratio"),
                          ("paper (ResNet50)", "paper_ratio")):
            value = row[key]
            if np.isfinite(value):
                plot_rows.append({"label": row["label"], "measure": kind, "ratio": value,
                                  "ratio_min": row.get(f"{key}_min", value),
                                  "ratio_max": row.get(f"{key}_max", value)})
    plots = [
        paper.plot_bars(plot_rows, f"{stem}.png", "label", "measure", "ratio",
                        title=f"Time relative to LK-ReLU without BN ({data.name})",
                        ylabel="ratio to LK-ReLU", reference=1.0)
        if plot_rows else None,
    ]
    notes = (
        f"{data!r}; network {network}"
        + (f" (depth {depth}, width {width})" if network == "stack"
           else f" (width multiplier {width_multiplier})")
        + f"; {epochs} epochs, batch {batch_size}, Adam lr {learning_rate}, "
        f"seeds {seed}..{seed + runs - 1}; target validation accuracy {target}.",
        "ms/step: median training step after the first epoch; "
        "s/epoch: median over the epochs after the first (training + validation); s to target: "
        "training wall-clock, first epoch (graph tracing) included, until the validation "
        "accuracy first reaches the target; ratios are to LK-ReLU without BN in the same run.",
        "paper ratio: whole-run time of the paper's ResNet50 on a GPU (for comparison only).",
        f"Hardware: {machine}.",
    )
    paper.report(summary, COLUMNS, stem, f"Speed study on {data.name}", notes, plots, verbose)
    return summary, rows


def register(subparsers):
    """Adds the ``speed`` sub-command."""
    preset = PRESETS["default"]
    parser = subparsers.add_parser(
        NAME,
        help="time per epoch and to a target accuracy: LK-ReLU without BN vs BN and SELU",
        description=(
            "Time the same network with LK-ReLU (no BN), ReLU+BN, LK-ReLU+BN, SELU, SELU+BN, "
            "LK-SELU and LK-SELU+BN; write speed_<dataset>.csv/.md, _runs.csv and .png with "
            "ratios to LK-ReLU and the hardware."
        ),
    )
    paper.add_paper_arguments(parser, NAME, preset)
    parser.add_argument("--variants", nargs="+", metavar="NAME", default=list(DEFAULT_VARIANTS),
                        help=f"variants, must include lkrelu (default: "
                        f"{' '.join(DEFAULT_VARIANTS)})")
    parser.add_argument("--network", default=None, choices=NETWORKS,
                        help="stack (default on digits) or resnet50 (default on cifar10)")
    parser.add_argument("--depth", type=paper._positive_int, default=None,
                        help=f"convolutions of the stack (default: {preset['depth']})")
    parser.add_argument("--width", type=paper._positive_int, default=None,
                        help=f"filters of the stack (default: {preset['width']})")
    parser.add_argument("--target", type=float, default=None,
                        help=f"target validation accuracy (default: {preset['target']} on "
                        "digits, 0.8 on cifar10)")
    parser.add_argument("--width-multiplier", type=float, default=None,
                        help="width of the resnet50 network (default: 0.125, the paper's 1/8)")
    parser.set_defaults(run=run)
    return parser


def run(args):
    """Runs the ``speed`` sub-command; returns the exit code."""
    options = paper.resolve(args, PRESETS, ("epochs", "batch_size", "learning_rate", "runs",
                                            "image_size", "depth", "width", "network", "target",
                                            "epsilon", "shuffle", "kernel_initializer",
                                            "width_multiplier"))
    run_speed(
        dataset=args.dataset, variants=args.variants, seed=args.seed,
        max_train_samples=args.max_train_samples, output_dir=args.output_dir,
        verbose=1 if args.quiet else 2, **options,
    )
    return 0
