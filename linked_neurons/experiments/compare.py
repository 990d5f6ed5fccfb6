"""Activation comparison: one small network, trained once per activation.

``python -m linked_neurons.experiments compare`` trains the same network with
ReLU, ReLU + BatchNormalization, SELU, LK-ReLU, LK-PReLU, LK-SELU, LK-Swish and
Mish on an embedded dataset (8x8 digits by default, no download) and writes:

- ``compare_<dataset>.csv`` and ``compare_<dataset>.md``: final and best
  validation accuracy, final validation loss, test accuracy, epochs, seconds
  per epoch and parameter count of every activation;
- ``compare_<dataset>_history.csv``: the metrics of every epoch;
- ``compare_<dataset>.png``: validation accuracy and loss against epochs
  (needs matplotlib; skipped with a notice without it).

The network, for image inputs ``(H, W, C)``::

    Conv2D(16, 3, same) -> [BN] -> act -> MaxPool2D(2)
    -> Conv2D(32, 3, same) -> [BN] -> act -> Flatten -> Dense(classes, softmax)

``Conv1D(k=5)`` and ``MaxPool1D`` replace them for sequences ``(L, C)`` (the
MNIST-1D data), and ``Dense`` layers for flat vectors. The convolutions have
no activation of their own; ``[BN]`` (BatchNormalization with momentum 0.9,
as the small datasets give few steps per epoch) is only in the ``+BN`` variants. The
layer feeding a linked activation keeps its number of filters, so the linked
activation doubles the channels seen by the next layer and linked models have
more parameters there (the convention of Riera Molina & Pujol Vila,
arXiv 1712.02609); the ``params`` column shows it. SELU-family activations
(SELU, LK-SELU) use ``lecun_normal`` kernels as self-normalising networks
require; the others keep Keras' default ``glorot_uniform``.

Example:

    >>> from linked_neurons.experiments.compare import run_compare
    >>> rows = run_compare(activations=["relu", "lkrelu"], epochs=2,
    ...                    output_dir="/tmp/compare", verbose=False)  # doctest: +SKIP
    >>> [row["activation"] for row in rows]  # doctest: +SKIP
    ['ReLU', 'LK-ReLU']
"""

import functools
import math
import os
import time
from typing import NamedTuple

import keras
import numpy as np

from linked_neurons import activations as ln_activations
from linked_neurons.experiments import common

NAME = "compare"
#: The variants the comparison trains by default.
DEFAULT_ACTIVATIONS = (
    "relu",
    "relu_bn",
    "selu",
    "lkrelu",
    "lkprelu",
    "lkselu",
    "lkswish",
    "mish",
)
DEFAULT_EPOCHS = 30
DEFAULT_BATCH_SIZE = 64
DEFAULT_OUTPUT_DIR = os.path.join("results", "compare")
# With a few steps per epoch, Keras' default momentum (0.99) leaves the moving
# statistics far from the batch ones for hundreds of steps; 0.9 is PyTorch's default.
_BN_MOMENTUM = 0.9
# Validation and test run in large batches: fewer steps, same numbers.
_EVAL_BATCH_SIZE = 256

_LABELS = {
    "relu": "ReLU",
    "prelu": "PReLU",
    "leakyrelu": "LeakyReLU",
    "selu": "SELU",
    "swish": "Swish",
    "mish": "Mish",
    "lkrelu": "LK-ReLU",
    "lkprelu": "LK-PReLU",
    "lkselu": "LK-SELU",
    "lkswish": "LK-Swish",
}
_SELF_NORMALIZING = ("selu", "lkselu")

#: Columns of the result table, as (row key, Markdown header) pairs.
COLUMNS = (
    ("activation", "activation"),
    ("final_val_accuracy", "final val acc"),
    ("final_val_loss", "final val loss"),
    ("best_val_accuracy", "best val acc"),
    ("best_epoch", "best epoch"),
    ("test_accuracy", "test acc"),
    ("epochs", "epochs"),
    ("seconds_per_epoch", "s/epoch"),
    ("params", "params"),
)


class Variant(NamedTuple):
    """One model of the comparison.

    Attributes:
        key: Canonical variant name, e.g. ``"relu_bn"``.
        activation: Registry name of the activation, e.g. ``"relu"``.
        batch_norm: Whether BatchNormalization precedes the activation.
        label: Display name, e.g. ``"ReLU+BN"``.
    """

    key: str
    activation: str
    batch_norm: bool
    label: str


def parse_variant(name):
    """Splits a variant name into a :class:`Variant`.

    A variant is any name of :mod:`linked_neurons.activations`, optionally
    followed by ``_bn`` (or ``+bn``, ``-bn``) to put BatchNormalization
    between the convolution and the activation: ``"relu_bn"`` is Conv -> BN
    -> ReLU.

    Args:
        name: The variant name, e.g. ``"lkrelu"``, ``"LK-ReLU"``, ``"relu+bn"``.

    Returns:
        A :class:`Variant` ``(key, activation, batch_norm, label)``, e.g.
        ``Variant("relu_bn", "relu", True, "ReLU+BN")``.

    Raises:
        ValueError: If the activation is unknown.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"An activation variant must be a non-empty name, got {name!r}.")
    text = name.strip().lower()
    batch_norm = False
    for suffix in ("_bn", "+bn", "-bn", " bn"):
        if text.endswith(suffix):
            text, batch_norm = text[: -len(suffix)], True
            break
    activation = "".join(ch for ch in text if ch not in "-_+ ")
    ln_activations.get(activation)  # raises ValueError for unknown names
    label = _LABELS.get(activation, activation) + ("+BN" if batch_norm else "")
    key = activation + ("_bn" if batch_norm else "")
    return Variant(key, activation, batch_norm, label)


def kernel_initializer_for(activation):
    """``"lecun_normal"`` for the SELU family, ``"glorot_uniform"`` otherwise."""
    return "lecun_normal" if activation in _SELF_NORMALIZING else "glorot_uniform"


def build_model(
    input_shape,
    num_classes,
    activation="relu",
    batch_norm=False,
    filters=(16, 32),
    kernel_initializer="glorot_uniform",
):
    """Builds the comparison network (see the module docstring).

    Args:
        input_shape: Shape of one example: ``(H, W, C)`` for images, ``(L, C)``
            for sequences, ``(F,)`` for vectors.
        num_classes: Number of output classes.
        activation: A name of :mod:`linked_neurons.activations`.
        batch_norm: Insert BatchNormalization before each activation.
        filters: Filters of the two convolutions (units of the two Dense
            layers for vectors). Linked activations double them after
            themselves.
        kernel_initializer: Initializer of every kernel.

    Returns:
        An uncompiled ``keras.Sequential`` model.

    Raises:
        ValueError: For an input rank other than 1, 2 or 3.

    Example:

        >>> from linked_neurons.experiments.compare import build_model
        >>> build_model((8, 8, 1), 10, "lkrelu").output_shape
        (None, 10)
    """
    input_shape = tuple(input_shape)
    rank = len(input_shape)
    kw = {"kernel_initializer": kernel_initializer, "use_bias": not batch_norm}
    if rank == 3:
        hidden = functools.partial(keras.layers.Conv2D, kernel_size=3, padding="same", **kw)
        pool = keras.layers.MaxPooling2D
    elif rank == 2:
        hidden = functools.partial(keras.layers.Conv1D, kernel_size=5, padding="same", **kw)
        pool = keras.layers.MaxPooling1D
    elif rank == 1:
        hidden = functools.partial(keras.layers.Dense, **kw)
        pool = None
    else:
        raise ValueError(
            f"build_model: expected an input of rank 1, 2 or 3 (without batch), got {input_shape}."
        )
    layers = [keras.Input(input_shape)]
    for index, units in enumerate(filters):
        layers.append(hidden(units))
        if batch_norm:
            layers.append(keras.layers.BatchNormalization(momentum=_BN_MOMENTUM))
        layers.append(ln_activations.get(activation))
        if pool is not None and index == 0:
            layers.append(pool(2))
    if rank > 1:
        layers.append(keras.layers.Flatten())
    layers.append(
        keras.layers.Dense(num_classes, activation="softmax", kernel_initializer=kernel_initializer)
    )
    return keras.Sequential(layers, name=f"compare_{activation}{'_bn' if batch_norm else ''}")


def _train_one(data, variant, *, epochs, batch_size, seed, learning_rate, filters, verbose):
    """Trains ``variant`` on ``data``; returns its result row and Keras history."""
    keras.utils.set_random_seed(seed)
    activation = variant.activation
    initializer = kernel_initializer_for(activation)
    model = build_model(
        data.input_shape, data.num_classes, activation, variant.batch_norm, filters, initializer
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    progress = common.EpochProgress(variant.label, epochs, verbose=verbose)
    start = time.perf_counter()
    history = model.fit(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=epochs,
        batch_size=batch_size,
        validation_batch_size=max(batch_size, _EVAL_BATCH_SIZE),
        verbose=0,
        callbacks=[progress],
    ).history
    train_seconds = time.perf_counter() - start
    if len(data.x_test):
        test_loss, test_accuracy = model.evaluate(
            data.x_test, data.y_test, batch_size=max(batch_size, _EVAL_BATCH_SIZE), verbose=0
        )
    else:
        test_loss = test_accuracy = math.nan
    val_accuracy = history["val_accuracy"]
    best = int(np.argmax(val_accuracy))
    row = {
        "final_val_accuracy": float(val_accuracy[-1]),
        "final_val_loss": float(history["val_loss"][-1]),
        "best_val_accuracy": float(val_accuracy[best]),
        "best_epoch": best + 1,
        "test_accuracy": float(test_accuracy),
        "test_loss": float(test_loss),
        "final_train_accuracy": float(history["accuracy"][-1]),
        "epochs": len(val_accuracy),
        "seconds_per_epoch": float(progress.seconds_per_epoch),
        "train_seconds": float(train_seconds),
        "params": int(model.count_params()),
        "kernel_initializer": initializer,
    }
    return row, history


def run_compare(
    dataset="digits",
    activations=None,
    epochs=DEFAULT_EPOCHS,
    seed=0,
    output_dir=DEFAULT_OUTPUT_DIR,
    batch_size=DEFAULT_BATCH_SIZE,
    verbose=True,
    learning_rate=1e-3,
    filters=(16, 32),
):
    """Trains the comparison network once per activation and writes the results.

    Every model starts from ``keras.utils.set_random_seed(seed)``, is
    trained with Adam and sparse categorical cross-entropy on the training
    split, validated every epoch and tested once at the end.

    Args:
        dataset: A name of :func:`linked_neurons.datasets.available`
            (``"digits"``, ``"mnist1d"``, or ``"mnist"``, ``"fashion_mnist"``,
            ``"cifar10"`` when Keras has them), or a
            :class:`~linked_neurons.datasets.Dataset` with a validation split.
        activations: Variant names (see :func:`parse_variant`); None for
            :data:`DEFAULT_ACTIVATIONS`.
        epochs: Training epochs per model.
        seed: Seed of the data split and of every model.
        output_dir: Folder for the tables, history and plot.
        batch_size: Batch size.
        verbose: True or 2: per-epoch progress, result table and file names;
            1: table and file names only; False or 0: nothing.
        learning_rate: Adam learning rate.
        filters: Filters of the two convolutions (see :func:`build_model`).

    Returns:
        A list with one dict per activation, in the order given, with the
        keys ``variant``, ``activation`` (display label), ``final_val_accuracy``,
        ``final_val_loss``, ``best_val_accuracy``, ``best_epoch``,
        ``test_accuracy``, ``test_loss``, ``final_train_accuracy``, ``epochs``,
        ``seconds_per_epoch`` (mean over the epochs after the first, which
        includes graph tracing), ``train_seconds``, ``params`` and
        ``kernel_initializer``.

    Raises:
        ValueError: For an unknown activation or dataset, duplicated
            activations, or a dataset without validation data.

    Example:

        >>> from linked_neurons.experiments import run_compare
        >>> rows = run_compare(activations=["relu", "lkrelu"], epochs=1,
        ...                    output_dir="/tmp/compare", verbose=False)  # doctest: +SKIP
        >>> sorted(rows[0])[:3]  # doctest: +SKIP
        ['activation', 'best_epoch', 'best_val_accuracy']
    """
    level = common.progress_level(verbose)
    variants = [parse_variant(name) for name in (activations or DEFAULT_ACTIVATIONS)]
    keys = [variant.key for variant in variants]
    if len(set(keys)) != len(keys):
        raise ValueError(f"run_compare: duplicated activations in {keys}.")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"run_compare: `epochs` must be a positive int, got {epochs!r}.")
    data = common.load_dataset(dataset, seed=seed, shape="conv")
    if not len(data.x_val):
        raise ValueError("run_compare: the dataset needs a non-empty validation split.")
    if level:
        print(
            f"compare: {data!r}; {len(variants)} activations x {epochs} epochs, "
            f"batch {batch_size}, seed {seed}",
            flush=True,
        )

    rows, histories = [], {}
    for variant in variants:
        row, history = _train_one(
            data,
            variant,
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            learning_rate=learning_rate,
            filters=tuple(filters),
            verbose=level >= 2,
        )
        label = variant.label
        rows.append({"variant": variant.key, "activation": label, **row})
        histories[label] = history
        if level == 1:
            print(
                f"  {label}: val acc {row['final_val_accuracy']:.4f}, "
                f"test acc {row['test_accuracy']:.4f}",
                flush=True,
            )

    stem = os.path.join(output_dir, f"{NAME}_{data.name}")
    title = f"Activation comparison on {data.name}"
    notes = (
        f"{data!r}; {epochs} epochs, batch {batch_size}, Adam lr {learning_rate}, "
        f"seed {seed}, filters {tuple(filters)}.",
        "Linked activations (LK-*) keep the filters of the layer that feeds them and double "
        "its channels, so their models have more parameters (the paper's convention).",
        "SELU and LK-SELU use lecun_normal kernels; the others glorot_uniform. "
        "s/epoch leaves out the first epoch (graph tracing).",
    )
    csv_path, md_path = common.write_tables(rows, stem, COLUMNS, title=title, notes=notes)
    history_path = common.write_history(histories, f"{stem}_history.csv")
    dashed = [v.label for v in variants if not ln_activations.is_linked(v.activation)]
    png_path = common.plot_curves(histories, f"{stem}.png", title=title, dashed=dashed)
    if level:
        print()
        print(common.markdown_table(rows, COLUMNS))
        print()
        for path in (csv_path, md_path, history_path, png_path):
            if path is not None:
                print(f"wrote {path}")
        if png_path is None:
            print(
                "matplotlib is not installed: no learning-curve plot "
                '(pip install -e ".[experiments]").'
            )
    return rows


def register(subparsers):
    """Adds the ``compare`` sub-command to ``subparsers``."""
    parser = subparsers.add_parser(
        NAME,
        help="train one small network per activation and compare them",
        description=(
            "Train the same small network once per activation (default: "
            f"{', '.join(DEFAULT_ACTIVATIONS)}) and write compare_<dataset>.csv, .md, "
            "_history.csv and .png (learning curves, needs matplotlib) to --output-dir. "
            "Linked activations keep the filters of the layer feeding them, so they double "
            "its channels and their models have more parameters."
        ),
    )
    common.add_common_arguments(
        parser, output_dir=DEFAULT_OUTPUT_DIR, epochs=DEFAULT_EPOCHS, batch_size=DEFAULT_BATCH_SIZE
    )
    parser.add_argument(
        "--activations",
        nargs="+",
        metavar="NAME",
        default=None,
        help=(
            f"activations to compare (default: {' '.join(DEFAULT_ACTIVATIONS)}); any name of "
            "linked_neurons.activations, with _bn for Conv -> BatchNorm -> activation"
        ),
    )
    parser.add_argument(
        "--learning-rate", type=float, default=1e-3, help="Adam learning rate (default: 1e-3)"
    )
    parser.add_argument(
        "--filters",
        nargs=2,
        type=int,
        default=(16, 32),
        metavar=("F1", "F2"),
        help="filters of the two convolutions (default: 16 32)",
    )
    parser.set_defaults(run=run)
    return parser


def run(args):
    """Runs the ``compare`` sub-command from parsed ``args``; returns the exit code."""
    run_compare(
        dataset=args.dataset,
        activations=args.activations,
        epochs=args.epochs,
        seed=args.seed,
        output_dir=args.output_dir,
        batch_size=args.batch_size,
        verbose=1 if args.quiet else 2,
        learning_rate=args.learning_rate,
        filters=tuple(args.filters),
    )
    return 0
