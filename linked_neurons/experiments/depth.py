"""Depth study of the linked-neurons paper: a deep, thin plain network per activation.

``python -m linked_neurons.experiments depth`` trains the paper's depth
network (:func:`~linked_neurons.experiments.paper.depth_net`: a 7x7 stride-2
convolution, then 50 convolutions of 3x3, all of width 4, each followed by
the activation, no batch normalization) with ReLU, LK-ReLU, PReLU, LK-PReLU,
SELU, LK-SELU, Swish and LK-Swish, the √2-widened plain baselines (every
layer ``int(sqrt(2) * 4) = 5`` filters, about the linked nets' parameter
count) and ReLU+BN (conv -> BN -> ReLU). It writes under ``--output-dir``:

- ``depth_<dataset>.csv`` / ``.md``: median (and min/max over ``--runs``)
  best validation accuracy, test accuracy of the selected epoch, the
  paper's score (best test accuracy over epochs), parameter count and the
  number of activation layers with dead units;
- ``depth_<dataset>_runs.csv``: every run;
- ``depth_<dataset>_dead.csv`` and ``depth_<dataset>_dead.png``: the
  fraction of dead units (a channel whose output is zero for every training
  image and position, :func:`linked_neurons.monitoring.dead_units`) of every
  activation layer, after training;
- ``depth_<dataset>_accuracy.png`` and ``depth_<dataset>_curves.png``.

The paper's claim (CIFAR-10, Adam 1e-3, batch 32): plain ReLU, PReLU and
Swish nets this deep and thin stay at chance (.10) with dead units from about
layer 7; LK-ReLU (.56), LK-PReLU (.52), SELU (.56) and LK-SELU (.57) train
without batch normalization; ReLU+BN reaches .51.

``--dataset cifar10`` uses the paper's settings (32x32x3 images, depth 51,
width 4, Adam 1e-3, batch 32, glorot_uniform).
"""

import os

from linked_neurons.experiments import common, paper, presets

NAME = "depth"
DEFAULT_OUTPUT_DIR = os.path.join("results", NAME)
PRESETS = presets.PRESETS[NAME]
DEFAULT_VARIANTS = PRESETS["default"]["variants"]
#: The paper's eight activations, the four √2 baselines and ReLU+BN.
ALL_VARIANTS = PRESETS["cifar10"]["variants"]
COLUMNS = (
    ("label", "variant"),
    ("best_val_accuracy", "best val acc"),
    ("test_accuracy", "test acc"),
    ("test_accuracy_min", "test min"),
    ("test_accuracy_max", "test max"),
    ("paper_best_test_accuracy", "best test acc (paper)"),
    ("paper_best_test_accuracy_min", "best test min"),
    ("paper_best_test_accuracy_max", "best test max"),
    ("dead_layers", "layers with dead units"),
    ("first_dead_layer", "first dead layer"),
    ("params", "params"),
    ("seconds_per_epoch", "s/epoch"),
    ("runs", "runs"),
)
VALUES = ("best_val_accuracy", "test_accuracy", "paper_best_test_accuracy",
          "seconds_per_epoch", "dead_layers", "first_dead_layer")


def run_depth(
    dataset="digits",
    variants=DEFAULT_VARIANTS,
    depth=51,
    width=4,
    epochs=15,
    runs=3,
    seed=0,
    batch_size=32,
    learning_rate=1e-3,
    epsilon=1e-8,
    shuffle=False,
    kernel_initializer="glorot_uniform",
    image_size=32,
    max_train_samples=None,
    output_dir=DEFAULT_OUTPUT_DIR,
    verbose=2,
):
    """Runs the depth study and writes its tables and plots.

    Args:
        dataset: ``"digits"`` (embedded), ``"cifar10"``, ... or a
            :class:`~linked_neurons.datasets.Dataset` of images.
        variants: Variant names (see :func:`~linked_neurons.experiments.paper.parse_variant`).
        depth: Number of convolutions (51 in the paper).
        width: Filters per convolution (4 in the paper).
        epochs: Epochs per run.
        runs: Runs per variant (seeds ``seed`` ... ``seed + runs - 1``).
        seed: First seed (also the seed of the data split).
        batch_size: Batch size.
        learning_rate: Adam learning rate.
        epsilon: Adam epsilon (1e-8 as the original's Keras 2.1; None: Keras 3's 1e-7).
        shuffle: Shuffle the training set every epoch (the original did not).
        kernel_initializer: Initializer of every kernel (the original: glorot_uniform).
        image_size: Square resize of the images (32: the digits give 16x16 maps
            after the stride-2 stem, as CIFAR-10 does; None: native size).
        max_train_samples: Optional training subset (``keras.datasets`` only).
        output_dir: Folder of the results.
        verbose: 0 silent, 1 a line per model and the table, 2 per-epoch progress too.

    Returns:
        ``(summary, runs, dead)``: the summary rows (medians), every run's row
        and the dead-fraction rows (``label``, ``layer`` index, median
        ``dead_fraction``).

    Raises:
        ValueError: For unknown or duplicated variants or bad sizes.
    """
    variants = paper._variants(variants, NAME)
    if depth < 1 or width < 1:
        raise ValueError(f"{NAME}: `depth` and `width` must be >= 1, got {depth}, {width}.")
    data = paper.prepare_data(dataset, seed=seed, image_size=image_size,
                              max_train_samples=max_train_samples)
    if verbose:
        print(f"{NAME}: {data!r}; depth {depth}, width {width}; {len(variants)} variants x "
              f"{runs} runs x {epochs} epochs; Adam lr {learning_rate}, epsilon {epsilon}, "
              f"batch {batch_size}, shuffle {shuffle}, {kernel_initializer}", flush=True)
        paper.announce(NAME, data, len(variants) * runs, epochs,
                       PRESETS["default"]["image_size"])
    configs = [{"variant": v.key, "label": v.label} for v in variants]
    by_key = {v.key: v for v in variants}

    def build(config):
        return paper.depth_net(data.input_shape, data.num_classes, by_key[config["variant"]],
                               depth=depth, width=width, kernel_initializer=kernel_initializer)

    rows, histories = paper.run_study(
        NAME, data, configs, build, runs=runs, seed=seed, verbose=verbose, epochs=epochs,
        batch_size=batch_size, optimizer="adam", learning_rate=learning_rate, epsilon=epsilon,
        shuffle=shuffle, dead_units=True,
    )
    for row in rows:
        dead = row.pop("dead_fraction")
        row["dead_layers"] = sum(1 for f in dead if f > 0)
        first = [i + 1 for i, f in enumerate(dead) if f > 0]
        row["first_dead_layer"] = first[0] if first else float("nan")
        row["_dead"] = dead
    dead_rows = []
    for config in configs:
        fractions = [r["_dead"] for r in rows if r["label"] == config["label"]]
        for index in range(len(fractions[0])):
            values = sorted(f[index] for f in fractions)
            dead_rows.append({"label": config["label"], "layer": index + 1,
                              "dead_fraction": values[len(values) // 2]})
    for row in rows:
        row["dead_fraction_per_layer"] = " ".join(f"{f:.3f}" for f in row.pop("_dead"))
    summary = paper.summarize(rows, ("variant", "label"), VALUES)

    tag = f"{NAME}_{data.name}"
    stem = os.path.join(output_dir, tag)
    os.makedirs(output_dir, exist_ok=True)
    common.write_tables(rows, f"{stem}_runs", COLUMNS[:1] + (("run", "run"),) + COLUMNS[1:3])
    common.write_tables(dead_rows, f"{stem}_dead", (("label", "variant"), ("layer", "layer"),
                                                    ("dead_fraction", "dead fraction")))
    plots = [
        _plot_dead(dead_rows, f"{stem}_dead.png", f"Dead units per layer ({data.name})"),
        paper.plot_bars(summary, f"{stem}_accuracy.png", "label", "runs",
                        "paper_best_test_accuracy",
                        title=f"Depth {depth}, width {width} ({data.name})",
                        ylabel="best test accuracy (median, min-max)",
                        reference=1.0 / data.num_classes),
        common.plot_curves({k: paper.median_history(h) for k, h in histories.items()},
                           f"{stem}_curves.png", title=f"Depth {depth} x width {width}"),
    ]
    notes = (
        f"{data!r}; depth {depth}, width {width}, {epochs} epochs, batch {batch_size}, Adam lr "
        f"{learning_rate}, epsilon {epsilon}, shuffle {shuffle}, {kernel_initializer}, "
        f"seeds {seed}..{seed + runs - 1}.",
        "best val acc and test acc: medians over the runs; test acc is measured with the "
        "weights of the best validation epoch, 'best test acc (paper)' is the best test "
        "accuracy over the epochs (the paper's selection on the test set).",
        "Dead unit: a channel whose output is zero for every one of up to 512 training images "
        "at every position, after training; 'layers with dead units' counts activation "
        f"layers (of {depth}) with at least one; √2 = every layer int(sqrt(2)*{width}) wide.",
        f"Chance level: {1.0 / data.num_classes:.2f}. Hardware: {paper.hardware()}.",
    )
    paper.report(summary, COLUMNS, stem, f"Depth study on {data.name}", notes, plots, verbose)
    return summary, rows, dead_rows


def _plot_dead(dead_rows, path, title):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    figure = Figure(figsize=(7.0, 4.0), layout="constrained")
    axis = figure.subplots()
    labels = list(dict.fromkeys(r["label"] for r in dead_rows))
    colors = matplotlib_colors(len(labels))
    for label, color in zip(labels, colors):
        points = [(r["layer"], r["dead_fraction"]) for r in dead_rows if r["label"] == label]
        linestyle = "-" if label.startswith("LK") else "--"
        axis.plot(*zip(*points), label=label, linestyle=linestyle, color=color)
    axis.set_xlabel("activation layer")
    axis.set_ylabel("dead fraction")
    axis.set_ylim(-0.02, 1.02)
    axis.grid(alpha=0.3)
    axis.legend(fontsize="x-small", ncols=2)
    axis.set_title(title)
    figure.savefig(path, dpi=90)
    return path


def matplotlib_colors(count):
    """``count`` distinct colours of matplotlib's tab20 map."""
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    return [cmap(i % 20) for i in range(count)]


def register(subparsers):
    """Adds the ``depth`` sub-command."""
    preset = PRESETS["default"]
    parser = subparsers.add_parser(
        NAME,
        help="deep thin plain network per activation, with dead units per layer (paper §depth)",
        description=(
            "Train the paper's depth network (51 conv layers of width 4, no BN) per activation "
            "and write depth_<dataset>.csv/.md, _runs.csv, _dead.csv, _dead.png, _accuracy.png "
            "and _curves.png. --dataset cifar10 uses the paper's settings."
        ),
    )
    paper.add_paper_arguments(parser, NAME, preset)
    parser.add_argument("--variants", nargs="+", metavar="NAME", default=None,
                        help="activations, with _sqrt2 (widened) and _bn suffixes (default: "
                        f"{' '.join(DEFAULT_VARIANTS)} on digits; on cifar10 also swish, "
                        "lkswish and the _sqrt2 baselines)")
    parser.add_argument("--depth", type=paper._positive_int, default=None,
                        help=f"convolutions (default: {preset['depth']})")
    parser.add_argument("--width", type=paper._positive_int, default=None,
                        help=f"filters per convolution (default: {preset['width']})")
    parser.set_defaults(run=run)
    return parser


def run(args):
    """Runs the ``depth`` sub-command; returns the exit code."""
    options = paper.resolve(args, PRESETS, ("epochs", "batch_size", "learning_rate", "runs",
                                            "image_size", "depth", "width", "epsilon",
                                            "shuffle", "kernel_initializer", "variants"))
    run_depth(
        dataset=args.dataset, seed=args.seed,
        max_train_samples=args.max_train_samples, output_dir=args.output_dir,
        verbose=1 if args.quiet else 2, **options,
    )
    return 0
