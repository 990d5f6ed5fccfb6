"""Parameter-matched study of the linked-neurons paper: single, √2-widened and linked networks.

``python -m linked_neurons.experiments params`` trains the paper's
"extended" network (:func:`~linked_neurons.experiments.paper.extended_net`:
C32 same, C32 valid, MaxPool, C64 same, C64 valid, MaxPool, D512, D10, all
3x3 kernels, ``glorot_normal``, RMSprop 1e-4) three times per activation:

- *single*: the plain activation;
- *√2*: every hidden layer widened to ``int(sqrt(2) * W)`` filters, which
  gives about the parameter count of the linked network;
- *linked*: the same widths as *single* with the linked activation (which
  doubles the inputs of every following layer).

It writes ``params_<dataset>.csv`` / ``.md`` (median, min/max over ``--runs``,
parameter counts), ``params_<dataset>_runs.csv`` and ``params_<dataset>.png``.
The paper's CIFAR-10 results (single / √2 / linked): ReLU .7337/.7581/.7696,
PReLU .7201/.7568/.7687, SELU .6981/.7012/.7559, Swish .6961/.7376/.7368.

The network needs at least 10x10 pixels, so the embedded 8x8 digits are
resized to 16x16 by default (``--image-size``).
"""

import os

from linked_neurons.experiments import common, paper, presets

NAME = "params"
DEFAULT_OUTPUT_DIR = os.path.join("results", NAME)
DEFAULT_ACTIVATIONS = ("relu", "prelu", "selu", "swish")
LINKED = {"relu": "lkrelu", "prelu": "lkprelu", "selu": "lkselu", "swish": "lkswish"}
KINDS = ("single", "sqrt2", "linked")
PRESETS = presets.PRESETS[NAME]
COLUMNS = (
    ("activation", "activation"),
    ("kind", "network"),
    ("label", "variant"),
    ("params", "params"),
    ("best_val_accuracy", "best val acc"),
    ("test_accuracy", "test acc"),
    ("test_accuracy_min", "test min"),
    ("test_accuracy_max", "test max"),
    ("paper_best_test_accuracy", "best test acc (paper)"),
    ("paper_best_test_accuracy_min", "best test min"),
    ("paper_best_test_accuracy_max", "best test max"),
    ("seconds_per_epoch", "s/epoch"),
    ("runs", "runs"),
)
VALUES = ("best_val_accuracy", "test_accuracy", "paper_best_test_accuracy", "seconds_per_epoch")


def variant_name(activation, kind):
    """The variant of ``activation`` for a network ``kind`` (single, sqrt2, linked)."""
    if kind == "single":
        return activation
    if kind == "sqrt2":
        return f"{activation}_sqrt2"
    return LINKED[activation]


def run_params(
    dataset="digits",
    activations=DEFAULT_ACTIVATIONS,
    kinds=KINDS,
    epochs=8,
    runs=3,
    seed=0,
    batch_size=32,
    learning_rate=1e-4,
    epsilon=1e-8,
    shuffle=False,
    kernel_initializer="glorot_normal",
    image_size=16,
    max_train_samples=None,
    output_dir=DEFAULT_OUTPUT_DIR,
    verbose=2,
):
    """Runs the parameter-matched study and writes its tables and plot.

    Args:
        dataset: ``"digits"`` (embedded), ``"cifar10"``, ... or a
            :class:`~linked_neurons.datasets.Dataset` of images.
        activations: Plain activations with a linked counterpart: some of
            ``relu``, ``prelu``, ``selu``, ``swish``.
        kinds: Networks per activation: some of ``single``, ``sqrt2``, ``linked``.
        epochs: Epochs per run.
        runs: Runs per network.
        seed: First seed (also the seed of the data split).
        batch_size: Batch size.
        learning_rate: RMSprop learning rate.
        epsilon: RMSprop epsilon (1e-8 here; None: Keras 3's 1e-7).
        shuffle: Shuffle the training set every epoch (the original did not).
        kernel_initializer: Initializer of every kernel (the paper's: glorot_normal).
        image_size: Square resize of the images (None: native size).
        max_train_samples: Optional training subset (``keras.datasets`` only).
        output_dir: Folder of the results.
        verbose: 0 silent, 1 a line per model and the table, 2 per-epoch progress too.

    Returns:
        ``(summary, runs)``.

    Raises:
        ValueError: For unknown or duplicated activations or kinds.
    """
    activations = paper.check_names(activations, tuple(LINKED), "activations", NAME)
    kinds = paper.check_names(kinds, KINDS, "kinds", NAME)
    data = paper.prepare_data(dataset, seed=seed, image_size=image_size,
                              max_train_samples=max_train_samples)
    if verbose:
        print(f"{NAME}: {data!r}; {len(activations)} activations x {kinds} x {runs} runs x "
              f"{epochs} epochs; RMSprop lr {learning_rate}, epsilon {epsilon}, "
              f"batch {batch_size}, shuffle {shuffle}, {kernel_initializer}", flush=True)
        paper.announce(NAME, data, len(activations) * len(kinds) * runs, epochs,
                       PRESETS["default"]["image_size"])
    configs = []
    for activation in activations:
        for kind in kinds:
            variant = paper.parse_variant(variant_name(activation, kind))
            configs.append({"activation": paper.parse_variant(activation).label, "kind": kind,
                            "variant": variant.key, "label": variant.label})

    def build(config):
        return paper.extended_net(data.input_shape, data.num_classes, config["variant"],
                                  kernel_initializer=kernel_initializer)

    rows, _ = paper.run_study(
        NAME, data, configs, build, runs=runs, seed=seed, verbose=verbose, epochs=epochs,
        batch_size=batch_size, optimizer="rmsprop", learning_rate=learning_rate,
        epsilon=epsilon, shuffle=shuffle,
    )
    summary = paper.summarize(rows, ("activation", "kind", "variant", "label"), VALUES)
    stem = os.path.join(output_dir, f"{NAME}_{data.name}")
    os.makedirs(output_dir, exist_ok=True)
    common.write_tables(rows, f"{stem}_runs", (("label", "variant"), ("run", "run"),
                                               ("test_accuracy", "test acc")))
    plots = [
        paper.plot_bars(summary, f"{stem}.png", "activation", "kind",
                        "paper_best_test_accuracy",
                        title=f"Parameter-matched networks ({data.name})",
                        ylabel="best test accuracy (median, min-max)"),
    ]
    notes = (
        f"{data!r}; {epochs} epochs, batch {batch_size}, RMSprop lr {learning_rate}, "
        f"epsilon {epsilon}, shuffle {shuffle}, {kernel_initializer}, "
        f"seeds {seed}..{seed + runs - 1}.",
        "single: plain activation; sqrt2: every hidden layer int(sqrt(2)*W) wide; linked: same "
        "widths as single with the linked activation (doubles the next layer's inputs).",
        "Medians over the runs; test acc uses the weights of the best validation epoch; "
        "'best test acc (paper)' is the best test accuracy over the epochs.",
        f"Hardware: {paper.hardware()}.",
    )
    paper.report(summary, COLUMNS, stem, f"Parameter-matched study on {data.name}", notes,
                 plots, verbose)
    return summary, rows


def register(subparsers):
    """Adds the ``params`` sub-command."""
    parser = subparsers.add_parser(
        NAME,
        help="parameter-matched single / sqrt2-widened / linked networks (paper §extended)",
        description=(
            "Train the paper's extended network per activation as single, sqrt2-widened and "
            "linked variants; write params_<dataset>.csv/.md, _runs.csv and .png. "
            "--dataset cifar10 uses the paper's settings."
        ),
    )
    paper.add_paper_arguments(parser, NAME, PRESETS["default"])
    parser.add_argument("--activations", nargs="+", metavar="NAME",
                        default=list(DEFAULT_ACTIVATIONS),
                        help=f"plain activations (default: {' '.join(DEFAULT_ACTIVATIONS)})")
    parser.add_argument("--kinds", nargs="+", metavar="KIND", default=list(KINDS),
                        help="networks per activation (default: single sqrt2 linked)")
    parser.set_defaults(run=run)
    return parser


def run(args):
    """Runs the ``params`` sub-command; returns the exit code."""
    options = paper.resolve(args, PRESETS, ("epochs", "batch_size", "learning_rate", "runs",
                                            "image_size", "epsilon", "shuffle",
                                            "kernel_initializer"))
    run_params(
        dataset=args.dataset, activations=args.activations, kinds=args.kinds, seed=args.seed,
        max_train_samples=args.max_train_samples, output_dir=args.output_dir,
        verbose=1 if args.quiet else 2, **options,
    )
    return 0
