"""Covariate-shift study: training without batch normalization on badly scaled inputs.

The linked-neurons paper argues that linked activations make a network
robust to internal covariate shift, so that batch normalization can be left
out. ``python -m linked_neurons.experiments shift`` checks the input side of
that claim: the same plain convolution stack
(:func:`~linked_neurons.experiments.paper.depth_net`, 10 layers of width 8 by
default, Adam 1e-3) is trained with every activation on four versions of the
same images:

- ``normalized``: standardised with the training mean and standard
  deviation (zero mean, unit variance);
- ``unit``: pixels in [0, 1] (the paper's ``x / 255``; the datasets' scale);
- ``raw``: unnormalised pixel values in [0, 255];
- ``shifted``: standardised, then scaled by ``--scale`` and moved by
  ``--shift`` (mean 8, standard deviation 4 by default).

Only ``*_bn`` variants have batch normalization (after every convolution).
The experiment writes ``shift_<dataset>.csv`` / ``.md`` (median test accuracy
per input version and activation, min/max over ``--runs``, dead-unit
fraction), ``shift_<dataset>_runs.csv`` and ``shift_<dataset>.png``.
The paper gives no table for this study; see the documentation for what our
runs show.
"""

import dataclasses
import os

import numpy as np

from linked_neurons.experiments import common, paper, presets

NAME = "shift"
DEFAULT_OUTPUT_DIR = os.path.join("results", NAME)
DEFAULT_VARIANTS = ("relu", "relu_bn", "selu", "lkrelu", "lkselu", "lkswish")
#: The input conditions compared (normalized, unit range, raw and shifted pixels).
CONDITIONS = ("normalized", "unit", "raw", "shifted")
PRESETS = presets.PRESETS[NAME]
COLUMNS = (
    ("condition", "inputs"),
    ("label", "variant"),
    ("best_val_accuracy", "best val acc"),
    ("test_accuracy", "test acc"),
    ("test_accuracy_min", "test min"),
    ("test_accuracy_max", "test max"),
    ("paper_best_test_accuracy", "best test acc (paper)"),
    ("paper_best_test_accuracy_min", "best test min"),
    ("paper_best_test_accuracy_max", "best test max"),
    ("dead_fraction", "dead units"),
    ("final_train_loss", "final train loss"),
    ("runs", "runs"),
)
VALUES = ("best_val_accuracy", "test_accuracy", "paper_best_test_accuracy", "dead_fraction",
          "final_train_loss", "seconds_per_epoch")


def transform(data, condition, shift=8.0, scale=4.0):
    """The ``condition`` version of ``data`` (inputs assumed in [0, 1]).

    Args:
        data: A :class:`~linked_neurons.datasets.Dataset` with inputs in [0, 1].
        condition: One of :data:`CONDITIONS`.
        shift, scale: Mean and standard deviation of the ``shifted`` inputs.

    Returns:
        A new :class:`~linked_neurons.datasets.Dataset`; statistics come from
        the training split only.

    Raises:
        ValueError: For an unknown condition.
    """
    paper.check_names([condition], CONDITIONS, "condition", NAME)
    mean = float(np.mean(data.x_train))
    std = float(np.std(data.x_train)) or 1.0

    def apply(x):
        if condition == "unit":
            return x
        if condition == "raw":
            return (x * 255.0).astype("float32")
        z = (x - mean) / std
        if condition == "normalized":
            return z.astype("float32")
        return (z * scale + shift).astype("float32")

    return dataclasses.replace(data, x_train=apply(data.x_train), x_val=apply(data.x_val),
                               x_test=apply(data.x_test))


def run_shift(
    dataset="digits",
    variants=DEFAULT_VARIANTS,
    conditions=CONDITIONS,
    depth=10,
    width=8,
    shift=8.0,
    scale=4.0,
    epochs=5,
    runs=3,
    seed=0,
    batch_size=32,
    learning_rate=1e-3,
    epsilon=1e-8,
    shuffle=False,
    kernel_initializer="glorot_uniform",
    image_size=None,
    max_train_samples=None,
    output_dir=DEFAULT_OUTPUT_DIR,
    verbose=2,
):
    """Runs the covariate-shift study and writes its tables and plot.

    Args:
        dataset: ``"digits"`` (embedded), ``"cifar10"``, ... or a
            :class:`~linked_neurons.datasets.Dataset` of images in [0, 1].
        variants: Variant names (see :func:`~linked_neurons.experiments.paper.parse_variant`).
        conditions: Input versions, some of :data:`CONDITIONS`.
        depth, width: Size of the convolution stack.
        shift, scale: Mean and standard deviation of the ``shifted`` inputs.
        epochs: Epochs per run.
        runs: Runs per network and input version.
        seed: First seed (also the seed of the data split).
        batch_size: Batch size.
        learning_rate: Adam learning rate.
        epsilon: Adam epsilon (1e-8 as the original's Keras 2.1; None: Keras 3's 1e-7).
        shuffle: Shuffle the training set every epoch (the original did not).
        kernel_initializer: Initializer of every kernel.
        image_size: Optional square resize of the images.
        max_train_samples: Optional training subset (``keras.datasets`` only).
        output_dir: Folder of the results.
        verbose: 0 silent, 1 a line per model and the table, 2 per-epoch progress too.

    Returns:
        ``(summary, runs)``.

    Raises:
        ValueError: For unknown or duplicated variants or conditions.
    """
    variants = paper._variants(variants, NAME)
    conditions = paper.check_names(conditions, CONDITIONS, "conditions", NAME)
    base = paper.prepare_data(dataset, seed=seed, image_size=image_size,
                              max_train_samples=max_train_samples)
    if verbose:
        print(f"{NAME}: {base!r}; inputs {conditions}; {len(variants)} variants x {runs} runs "
              f"x {epochs} epochs; depth {depth}, width {width}, Adam lr {learning_rate}, epsilon "
              f"{epsilon}, shuffle {shuffle}, {kernel_initializer}", flush=True)
        paper.announce(NAME, base, len(variants) * len(conditions) * runs, epochs,
                       PRESETS["default"]["image_size"])
    by_key = {v.key: v for v in variants}
    rows = []
    for condition in conditions:
        data = transform(base, condition, shift=shift, scale=scale)
        if verbose:
            print(f"{NAME}: inputs '{condition}': mean {float(np.mean(data.x_train)):.3f}, "
                  f"std {float(np.std(data.x_train)):.3f}", flush=True)
        configs = [{"condition": condition, "variant": v.key, "label": f"{v.label} [{condition}]",
                    "activation": v.label} for v in variants]

        def build(config, data=data):
            return paper.depth_net(data.input_shape, data.num_classes, by_key[config["variant"]],
                                   depth=depth, width=width,
                                   kernel_initializer=kernel_initializer)

        condition_rows, _ = paper.run_study(
            NAME, data, configs, build, runs=runs, seed=seed, verbose=verbose, epochs=epochs,
            batch_size=batch_size, optimizer="adam", learning_rate=learning_rate,
            epsilon=epsilon, shuffle=shuffle, dead_units=True,
        )
        for row in condition_rows:
            fractions = row.pop("dead_fraction")
            row["dead_fraction"] = float(np.mean(fractions))
        rows += condition_rows
    summary = paper.summarize(rows, ("condition", "variant", "activation"), VALUES)
    for row in summary:
        row["label"] = row["activation"]
    stem = os.path.join(output_dir, f"{NAME}_{base.name}")
    os.makedirs(output_dir, exist_ok=True)
    common.write_tables(rows, f"{stem}_runs", (("label", "network"), ("run", "run"),
                                               ("test_accuracy", "test acc")))
    plots = [
        paper.plot_bars(summary, f"{stem}.png", "label", "condition",
                        "paper_best_test_accuracy",
                        title=f"Input scale and shift without BN ({base.name})",
                        ylabel="best test accuracy (median, min-max)",
                        reference=1.0 / base.num_classes),
    ]
    notes = (
        f"{base!r}; depth {depth}, width {width}, {epochs} epochs, batch {batch_size}, Adam lr "
        f"{learning_rate}, epsilon {epsilon}, shuffle {shuffle}, {kernel_initializer}, "
        f"seeds {seed}..{seed + runs - 1}.",
        "inputs: normalized = (x - mean) / std; unit = x in [0, 1]; raw = 255 x; shifted = "
        f"{scale} (x - mean) / std + {shift}. Only *+BN variants have batch normalization.",
        "dead units: mean over the activation layers of the fraction of channels that are zero "
        "for every one of up to 512 training images, after training.",
        f"Chance level: {1.0 / base.num_classes:.2f}. Hardware: {paper.hardware()}.",
    )
    paper.report(summary, COLUMNS, stem, f"Covariate-shift study on {base.name}", notes, plots,
                 verbose)
    return summary, rows


def register(subparsers):
    """Adds the ``shift`` sub-command."""
    preset = PRESETS["default"]
    parser = subparsers.add_parser(
        NAME,
        help="train without BN on normalised, raw and shifted inputs (covariate shift)",
        description=(
            "Train a plain conv stack per activation on normalized, [0, 1], raw [0, 255] and "
            "shifted inputs; write shift_<dataset>.csv/.md, _runs.csv and .png."
        ),
    )
    paper.add_paper_arguments(parser, NAME, preset)
    parser.add_argument("--variants", nargs="+", metavar="NAME", default=list(DEFAULT_VARIANTS),
                        help=f"activations, _bn suffix for batch normalization (default: "
                        f"{' '.join(DEFAULT_VARIANTS)})")
    parser.add_argument("--conditions", nargs="+", metavar="INPUTS", default=list(CONDITIONS),
                        help=f"input versions (default: {' '.join(CONDITIONS)})")
    parser.add_argument("--depth", type=paper._positive_int, default=None,
                        help=f"convolutions (default: {preset['depth']})")
    parser.add_argument("--width", type=paper._positive_int, default=None,
                        help=f"filters per convolution (default: {preset['width']})")
    parser.add_argument("--shift", type=float, default=8.0,
                        help="mean of the shifted inputs (default: 8)")
    parser.add_argument("--scale", type=float, default=4.0,
                        help="standard deviation of the shifted inputs (default: 4)")
    parser.set_defaults(run=run)
    return parser


def run(args):
    """Runs the ``shift`` sub-command; returns the exit code."""
    options = paper.resolve(args, PRESETS, ("epochs", "batch_size", "learning_rate", "runs",
                                            "image_size", "depth", "width", "epsilon",
                                            "shuffle", "kernel_initializer"))
    run_shift(
        dataset=args.dataset, variants=args.variants, conditions=args.conditions,
        shift=args.shift, scale=args.scale, seed=args.seed,
        max_train_samples=args.max_train_samples, output_dir=args.output_dir,
        verbose=1 if args.quiet else 2, **options,
    )
    return 0
