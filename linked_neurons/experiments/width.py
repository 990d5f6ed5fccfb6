"""Width study of the linked-neurons paper: one convolution of W filters per activation.

``python -m linked_neurons.experiments width`` trains the paper's width
network (:func:`~linked_neurons.experiments.paper.width_net`:
``Conv2D(W, 3x3, valid) -> activation -> Flatten -> Dense(softmax)``) for
``W`` in {50, 400} with ReLU, LK-ReLU, PReLU, LK-PReLU, SELU, LK-SELU, Swish
and LK-Swish, with SGD (learning rate 0.01, batch 32). It writes under
``--output-dir``:

- ``width_<dataset>.csv`` / ``.md``: per width and activation, the median
  (and min/max over ``--runs``) best validation accuracy, test accuracy of
  the selected epoch and the paper's score (best test accuracy over epochs),
  with the parameter count;
- ``width_<dataset>_runs.csv``: every run;
- ``width_<dataset>.png``: test accuracy per activation, one bar per width.

The paper's medians on CIFAR-10 (W=50 / W=400): ReLU .5767/.6154, LK-ReLU
.5909/.6165, PReLU .5771/.6156, LK-PReLU .5908/.6168, SELU .4992/.5227,
LK-SELU .5730/.599, Swish .5559/.5442, LK-Swish .5488/.5405.
"""

import os

from linked_neurons.experiments import common, paper, presets

NAME = "width"
DEFAULT_OUTPUT_DIR = os.path.join("results", NAME)
DEFAULT_VARIANTS = ("relu", "lkrelu", "prelu", "lkprelu", "selu", "lkselu", "swish", "lkswish")
DEFAULT_WIDTHS = (50, 400)
PRESETS = presets.PRESETS[NAME]
COLUMNS = (
    ("width", "W"),
    ("label", "activation"),
    ("best_val_accuracy", "best val acc"),
    ("test_accuracy", "test acc"),
    ("test_accuracy_min", "test min"),
    ("test_accuracy_max", "test max"),
    ("paper_best_test_accuracy", "best test acc (paper)"),
    ("paper_best_test_accuracy_min", "best test min"),
    ("paper_best_test_accuracy_max", "best test max"),
    ("params", "params"),
    ("seconds_per_epoch", "s/epoch"),
    ("runs", "runs"),
)
VALUES = ("best_val_accuracy", "test_accuracy", "paper_best_test_accuracy", "seconds_per_epoch")


def run_width(
    dataset="digits",
    variants=DEFAULT_VARIANTS,
    widths=DEFAULT_WIDTHS,
    epochs=10,
    runs=3,
    seed=0,
    batch_size=32,
    learning_rate=0.01,
    shuffle=False,
    kernel_initializer="glorot_uniform",
    image_size=None,
    epsilon=None,
    max_train_samples=None,
    output_dir=DEFAULT_OUTPUT_DIR,
    verbose=2,
):
    """Runs the width study and writes its tables and plot.

    Args:
        dataset: ``"digits"`` (embedded), ``"cifar10"``, ... or a
            :class:`~linked_neurons.datasets.Dataset` of images.
        variants: Variant names (see :func:`~linked_neurons.experiments.paper.parse_variant`).
        widths: Filters ``W`` of the convolution, one network each.
        epochs: Epochs per run.
        runs: Runs per network.
        seed: First seed (also the seed of the data split).
        batch_size: Batch size.
        learning_rate: SGD learning rate.
        shuffle: Shuffle the training set every epoch (the original did not).
        kernel_initializer: Initializer of every kernel.
        epsilon: Unused (SGD); accepted so that every study takes the same options.
        image_size: Optional square resize of the images.
        max_train_samples: Optional training subset (``keras.datasets`` only).
        output_dir: Folder of the results.
        verbose: 0 silent, 1 a line per model and the table, 2 per-epoch progress too.

    Returns:
        ``(summary, runs)``: the summary rows (medians) and every run's row.

    Raises:
        ValueError: For unknown or duplicated variants or widths below 1.
    """
    variants = paper._variants(variants, NAME)
    widths = tuple(int(w) for w in widths)
    if not widths or min(widths) < 1 or len(set(widths)) != len(widths):
        raise ValueError(f"{NAME}: `widths` must be distinct positive ints, got {widths!r}.")
    data = paper.prepare_data(dataset, seed=seed, image_size=image_size,
                              max_train_samples=max_train_samples)
    if verbose:
        print(f"{NAME}: {data!r}; widths {widths}; {len(variants)} activations x {runs} runs x "
              f"{epochs} epochs; SGD lr {learning_rate}, batch {batch_size}, shuffle {shuffle}, "
              f"{kernel_initializer}", flush=True)
        paper.announce(NAME, data, len(variants) * len(widths) * runs, epochs,
                       PRESETS["default"]["image_size"])
    by_key = {v.key: v for v in variants}
    configs = [
        {"width": w, "variant": v.key, "label": v.label, "name": f"{v.label} W={w}"}
        for w in widths for v in variants
    ]
    for config in configs:
        config["label"], config["activation"] = config.pop("name"), config["label"]

    def build(config):
        return paper.width_net(data.input_shape, data.num_classes, by_key[config["variant"]],
                               width=config["width"], kernel_initializer=kernel_initializer)

    rows, histories = paper.run_study(
        NAME, data, configs, build, runs=runs, seed=seed, verbose=verbose, epochs=epochs,
        batch_size=batch_size, optimizer="sgd", learning_rate=learning_rate,
        shuffle=shuffle,
    )
    summary = paper.summarize(rows, ("width", "variant", "activation"), VALUES)
    for row in summary:
        row["label"] = row["activation"]
    stem = os.path.join(output_dir, f"{NAME}_{data.name}")
    os.makedirs(output_dir, exist_ok=True)
    common.write_tables(rows, f"{stem}_runs", (("label", "network"), ("run", "run"),
                                               ("test_accuracy", "test acc")))
    plots = [
        paper.plot_bars(summary, f"{stem}.png", "label", "width", "paper_best_test_accuracy",
                        title=f"One conv layer of W filters ({data.name}); bars: W",
                        ylabel="best test accuracy (median, min-max)"),
    ]
    notes = (
        f"{data!r}; {epochs} epochs, batch {batch_size}, SGD lr {learning_rate}, "
        f"shuffle {shuffle}, {kernel_initializer}, "
        f"seeds {seed}..{seed + runs - 1}.",
        "Medians over the runs (min/max beside the test accuracy); test acc uses the weights "
        "of the best validation epoch; 'best test acc (paper)' is the best test accuracy over "
        "the epochs, the paper's score.",
        f"Hardware: {paper.hardware()}.",
    )
    paper.report(summary, COLUMNS, stem, f"Width study on {data.name}", notes, plots, verbose)
    return summary, rows


def register(subparsers):
    """Adds the ``width`` sub-command."""
    parser = subparsers.add_parser(
        NAME,
        help="one conv layer of W filters per activation (paper §width)",
        description=(
            "Train Conv2D(W, 3x3) -> activation -> Dense for W in --widths and every activation; "
            "write width_<dataset>.csv/.md, _runs.csv and .png. --dataset cifar10 uses the "
            "paper's settings."
        ),
    )
    paper.add_paper_arguments(parser, NAME, PRESETS["default"])
    parser.add_argument("--variants", nargs="+", metavar="NAME", default=list(DEFAULT_VARIANTS),
                        help=f"activations (default: {' '.join(DEFAULT_VARIANTS)})")
    parser.add_argument("--widths", nargs="+", type=paper._positive_int,
                        default=list(DEFAULT_WIDTHS), metavar="W",
                        help="filters of the convolution (default: 50 400)")
    parser.set_defaults(run=run)
    return parser


def run(args):
    """Runs the ``width`` sub-command; returns the exit code."""
    options = paper.resolve(args, PRESETS, ("epochs", "batch_size", "learning_rate", "runs",
                                            "image_size", "shuffle", "kernel_initializer",
                                            "epsilon"))
    run_width(
        dataset=args.dataset, variants=args.variants, widths=args.widths, seed=args.seed,
        max_train_samples=args.max_train_samples, output_dir=args.output_dir,
        verbose=1 if args.quiet else 2, **options,
    )
    return 0
