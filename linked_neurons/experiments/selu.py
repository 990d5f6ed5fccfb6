"""SELU study: activation histograms of one CNN trained with several activations.

``python -m linked_neurons.experiments selu`` trains the reference network
below once per activation, logs the activations of every layer with
:class:`~linked_neurons.callbacks.ActivationHistograms` (TensorBoard logs in
``<output-dir>/logs/<activation>/activations``), and writes:

- ``selu_<dataset>.csv`` / ``.md``: per activation, test and validation
  accuracy, the mean ± standard deviation of each layer's activations on the
  test set and the fraction of dead units over all layers;
- ``selu_<dataset>_layers.csv`` / ``.md``: per activation and layer, mean,
  standard deviation, minimum, maximum, fractions of zeros and negative
  values, dead units;
- ``selu_<dataset>_history.csv``: the metrics of every epoch;
- ``selu_<dataset>_histograms.png``: the histograms of every layer (rows)
  for every activation (columns) on a fixed validation batch after training;
- ``selu_<dataset>_curves.png``: training and validation accuracy and loss
  per epoch.

The network (the CNN of the SELU histogram study, SPEC §5)::

    3 x [Conv2D(F, 5x5, stride 2, same) -> f -> BatchNormalization -> Dropout(0.5)]
    -> Flatten -> Dense(160) -> f -> Dense(40) -> f -> Dense(classes)  (logits)

with ``F`` = 32, 64, 128 for one-channel images and 64, 128, 256 for colour
images, convolution kernels drawn from a truncated normal of standard
deviation 0.02 and Keras' default dense kernels. Batch normalisation is only
in the variants named ``..._bn`` (by default ReLU and leaky ReLU, as in the
original study); SELU and the linked activations train without it. The
activations compared by default are ReLU+BN, leaky ReLU (slope 0.2)+BN, SELU,
LK-ReLU and LK-SELU; ``--activations`` takes any name of
:mod:`linked_neurons.activations`. A linked activation keeps the filters of
the layer feeding it and doubles its channels (the convention of
:mod:`~linked_neurons.experiments.compare`). Training uses Adam with global
gradient-norm clipping at 20 and sparse categorical cross-entropy on the
logits, batch 64.

Inputs: the stride-2 convolutions halve the image three times, so the 8x8
digits (the default, embedded dataset) are enlarged to 16x16 with bilinear
interpolation (feature maps 8x8, 4x4, 2x2); ``--image-size`` changes it.
MNIST, Fashion-MNIST (28x28) and CIFAR-10 (32x32) keep their size.
One-dimensional data (``mnist1d``) uses ``Conv1D`` layers instead.
The original study trained 10,000 steps at learning rate 1e-4; the
default here is 1e-3 for 15 epochs of the small digits set (255 steps of 64
images), so that the default run takes a few minutes on a 2-core CPU.

Example:

    >>> from linked_neurons.experiments.selu import build_model
    >>> model = build_model((16, 16, 1), 10, "selu")
    >>> [layer.name for layer in model.layers if layer.name.endswith("_act")]
    ['conv1_act', 'conv2_act', 'conv3_act', 'fc1_act', 'fc2_act']
"""

import dataclasses
import os
import time

import keras
import numpy as np

from linked_neurons import activations as ln_activations
from linked_neurons import monitoring, plotting
from linked_neurons.callbacks import ActivationHistograms
from linked_neurons.experiments import common
from linked_neurons.experiments.compare import parse_variant

NAME = "selu"
#: The variants the study compares by default (see
#: :func:`~linked_neurons.experiments.compare.parse_variant`).
DEFAULT_ACTIVATIONS = ("relu_bn", "leakyrelu_bn", "selu", "lkrelu", "lkselu")
DEFAULT_EPOCHS = 15
DEFAULT_BATCH_SIZE = 64
DEFAULT_LEARNING_RATE = 1e-3
DEFAULT_OUTPUT_DIR = os.path.join("results", "selu")
#: Side of the square images the digits are enlarged to.
DIGITS_IMAGE_SIZE = 16
#: Names of the five activation layers, in model order.
LAYER_NAMES = ("conv1_act", "conv2_act", "conv3_act", "fc1_act", "fc2_act")
_SHORT = {name: name[: -len("_act")] for name in LAYER_NAMES}
_BN_MOMENTUM = 0.9  # few steps per epoch on the small datasets
_EVAL_BATCH_SIZE = 256
_HISTOGRAM_BATCH = 256

#: Columns of the per-layer table, as (row key, Markdown header) pairs.
LAYER_COLUMNS = (
    ("activation", "activation"),
    ("layer", "layer"),
    ("mean", "mean"),
    ("std", "std"),
    ("min", "min"),
    ("max", "max"),
    ("zero_fraction", "zeros"),
    ("negative_fraction", "negative"),
    ("dead_units", "dead units"),
    ("units", "units"),
    ("dead_fraction", "dead fraction"),
)


def _filters_for(channels):
    return (32, 64, 128) if channels == 1 else (64, 128, 256)


def build_model(
    input_shape,
    num_classes,
    activation="selu",
    batch_norm=False,
    filters=None,
    dense_units=(160, 40),
    dropout=0.5,
):
    """Builds the reference CNN of the SELU study (see the module docstring).

    Args:
        input_shape: ``(H, W, C)`` images or ``(L, C)`` sequences.
        num_classes: Number of classes (size of the logits).
        activation: A name of :mod:`linked_neurons.activations`.
        batch_norm: BatchNormalization after each convolution's activation.
        filters: Filters of the three convolutions (default 32, 64, 128 for
            one input channel, 64, 128, 256 otherwise).
        dense_units: Units of the two hidden dense layers.
        dropout: Dropout rate after each convolution block.

    Returns:
        An uncompiled ``keras.Sequential`` model whose activation layers are
        named :data:`LAYER_NAMES`.

    Raises:
        ValueError: For an input of rank other than 2 or 3.
    """
    input_shape = tuple(input_shape)
    if len(input_shape) == 3:
        conv = keras.layers.Conv2D
    elif len(input_shape) == 2:
        conv = keras.layers.Conv1D
    else:
        raise ValueError(
            f"selu.build_model: expected (H, W, C) images or (L, C) sequences, got "
            f"{input_shape}."
        )
    filters = tuple(filters or _filters_for(input_shape[-1]))
    if len(filters) != 3:
        raise ValueError(f"selu.build_model: `filters` needs 3 values, got {filters}.")
    layers = [keras.Input(input_shape)]
    for index, width in enumerate(filters):
        layers.append(
            conv(
                width,
                5,
                strides=2,
                padding="same",
                kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
                name=f"conv{index + 1}",
            )
        )
        layers.append(ln_activations.get(activation, name=LAYER_NAMES[index]))
        if batch_norm:
            layers.append(
                keras.layers.BatchNormalization(momentum=_BN_MOMENTUM, name=f"bn{index + 1}")
            )
        layers.append(keras.layers.Dropout(dropout, name=f"dropout{index + 1}"))
    layers.append(keras.layers.Flatten())
    for index, units in enumerate(dense_units):
        layers.append(keras.layers.Dense(units, name=f"fc{index + 1}"))
        layers.append(ln_activations.get(activation, name=LAYER_NAMES[3 + index]))
    layers.append(keras.layers.Dense(num_classes, name="logits"))
    return keras.Sequential(layers, name=f"selu_cnn_{activation}{'_bn' if batch_norm else ''}")


def _resize(x, size):
    out = []
    for start in range(0, len(x), 512):
        chunk = keras.ops.image.resize(
            x[start : start + 512], (size, size), interpolation="bilinear", antialias=False,
            data_format="channels_last",
        )
        out.append(keras.ops.convert_to_numpy(chunk))
    return np.concatenate(out, axis=0).astype(np.float32) if out else x


def prepare_dataset(dataset="digits", seed=0, image_size=None):
    """Loads ``dataset`` and brings its images to the size the CNN needs.

    Args:
        dataset: A dataset name or :class:`~linked_neurons.datasets.Dataset`.
        seed: Seed of the split.
        image_size: Side of the square images; None keeps the size, except
            for the 8x8 digits, enlarged to :data:`DIGITS_IMAGE_SIZE`.

    Returns:
        A :class:`~linked_neurons.datasets.Dataset` with ``(H, W, C)`` images
        (or ``(L, 1)`` sequences).
    """
    data = common.load_dataset(dataset, seed=seed, shape="conv")
    if image_size is None and data.name == "digits" and data.input_shape[:2] == (8, 8):
        image_size = DIGITS_IMAGE_SIZE
    if image_size is None or len(data.input_shape) != 3:
        return data
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 8:
        raise ValueError(f"`image_size` must be an int >= 8, got {image_size!r}.")
    if data.input_shape[:2] == (image_size, image_size):
        return data
    return dataclasses.replace(
        data,
        x_train=_resize(data.x_train, image_size),
        x_val=_resize(data.x_val, image_size),
        x_test=_resize(data.x_test, image_size),
    )


def _train_one(data, variant, fixed_batch, *, epochs, batch_size, seed, learning_rate, log_root,
               freq, images, verbose):
    keras.utils.set_random_seed(seed)
    model = build_model(data.input_shape, data.num_classes, variant.activation, variant.batch_norm)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, global_clipnorm=20.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    monitor = ActivationHistograms(
        None if log_root is None else os.path.join(log_root, variant.key),
        layers=list(LAYER_NAMES),
        data=fixed_batch,
        freq=freq,
        freq_unit="epoch",
        images=images,
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
        callbacks=[progress, monitor],
    ).history
    train_seconds = time.perf_counter() - start
    evaluation = data if len(data.x_test) else dataclasses.replace(
        data, x_test=data.x_val, y_test=data.y_val
    )
    _, test_accuracy = model.evaluate(
        evaluation.x_test, evaluation.y_test, batch_size=_EVAL_BATCH_SIZE, verbose=0
    )
    statistics = monitoring.activation_statistics(
        model, evaluation.x_test, layers=list(LAYER_NAMES), batch_size=_EVAL_BATCH_SIZE
    )
    outputs = monitoring.layer_outputs(model, fixed_batch, layers=list(LAYER_NAMES),
                                       batch_size=_EVAL_BATCH_SIZE)
    val_accuracy = history["val_accuracy"]
    best = int(np.argmax(val_accuracy))
    units = sum(s.units for s in statistics)
    dead = sum(s.dead_units for s in statistics)
    row = {
        "variant": variant.key,
        "activation": variant.label,
        "test_accuracy": float(test_accuracy),
        "best_val_accuracy": float(val_accuracy[best]),
        "best_epoch": best + 1,
        "final_val_accuracy": float(val_accuracy[-1]),
        "dead_units": dead,
        "units": units,
        "dead_fraction": dead / units,
    }
    for stats in statistics:
        short = _SHORT[stats.layer]
        row[f"{short}_mean"] = stats.mean
        row[f"{short}_std"] = stats.std
        row[f"{short}_dead_fraction"] = stats.dead_fraction
        row[short] = f"{stats.mean:.2f} ± {stats.std:.2f}"
    row.update(
        {
            "epochs": len(val_accuracy),
            "seconds_per_epoch": float(progress.seconds_per_epoch),
            "train_seconds": float(train_seconds),
            "params": int(model.count_params()),
        }
    )
    layer_rows = [
        {"variant": variant.key, "activation": variant.label, **s.as_dict()} for s in statistics
    ]
    for layer_row in layer_rows:
        layer_row["layer"] = _SHORT[layer_row["layer"]]
        layer_row["shape"] = "x".join(str(d) for d in layer_row["shape"])
    return row, layer_rows, history, outputs, monitor.records


def run_selu(
    dataset="digits",
    activations=None,
    epochs=DEFAULT_EPOCHS,
    seed=0,
    output_dir=DEFAULT_OUTPUT_DIR,
    batch_size=DEFAULT_BATCH_SIZE,
    learning_rate=DEFAULT_LEARNING_RATE,
    image_size=None,
    freq=1,
    logs=True,
    images=False,
    verbose=True,
):
    """Trains the SELU-study CNN once per activation and writes the results.

    Args:
        dataset: A dataset name (``"digits"`` by default, embedded) or a
            :class:`~linked_neurons.datasets.Dataset`.
        activations: Variant names (any name of
            :mod:`linked_neurons.activations`, ``_bn`` appended for batch
            normalisation after the activation); None for
            :data:`DEFAULT_ACTIVATIONS`.
        epochs: Training epochs per model.
        seed: Seed of the split and of every model.
        output_dir: Folder for the tables, figures and TensorBoard logs.
        batch_size: Training batch size.
        learning_rate: Adam learning rate.
        image_size: See :func:`prepare_dataset`.
        freq: Log the activation histograms every ``freq`` epochs.
        logs: Write TensorBoard logs to ``<output_dir>/logs``.
        images: Also write activation-map images to the logs.
        verbose: True or 2: per-epoch progress; 1: summary; False or 0: silent.

    Returns:
        A list with one dict per activation (the row of ``selu_<dataset>.csv``).

    Raises:
        ValueError: For an unknown activation or dataset, duplicated
            activations or invalid numbers.
    """
    level = common.progress_level(verbose)
    variants = [parse_variant(name) for name in (activations or DEFAULT_ACTIVATIONS)]
    keys = [v.key for v in variants]
    if len(set(keys)) != len(keys):
        raise ValueError(f"run_selu: duplicated activations in {keys}.")
    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("freq", freq)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"run_selu: `{name}` must be a positive int, got {value!r}.")
    data = prepare_dataset(dataset, seed=seed, image_size=image_size)
    if not len(data.x_val):
        raise ValueError("run_selu: the dataset needs a non-empty validation split.")
    fixed_batch = data.x_val[:_HISTOGRAM_BATCH]
    log_root = os.path.join(output_dir, "logs") if logs else None
    if level:
        print(
            f"selu: {data!r}; {len(variants)} activations x {epochs} epochs, batch "
            f"{batch_size}, Adam lr {learning_rate}, seed {seed}",
            flush=True,
        )
    rows, layer_rows, histories, outputs = [], [], {}, {}
    for variant in variants:
        row, layers, history, values, _ = _train_one(
            data,
            variant,
            fixed_batch,
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            learning_rate=learning_rate,
            log_root=log_root,
            freq=freq,
            images=["activation_map"] if images else False,
            verbose=level >= 2,
        )
        rows.append(row)
        layer_rows.extend(layers)
        histories[variant.label] = history
        outputs[variant.label] = {_SHORT[name]: v for name, v in values.items()}
        if level == 1:
            print(
                f"  {variant.label}: test acc {row['test_accuracy']:.4f}, dead fraction "
                f"{row['dead_fraction']:.4f}",
                flush=True,
            )

    stem = os.path.join(output_dir, f"{NAME}_{data.name}")
    title = f"SELU study on {data.name} {'x'.join(map(str, data.input_shape))}"
    columns = (
        ("activation", "activation"),
        ("test_accuracy", "test acc"),
        ("best_val_accuracy", "best val acc"),
        *((_SHORT[name], f"{_SHORT[name]} mean ± std") for name in LAYER_NAMES),
        ("dead_fraction", "dead fraction"),
        ("seconds_per_epoch", "s/epoch"),
    )
    notes = (
        f"{data!r}; {epochs} epochs, batch {batch_size}, Adam lr {learning_rate} "
        f"(global clip norm 20), seed {seed}.",
        "Mean ± std of every activation value of each layer on the test split after "
        "training; dead fraction: units (channels of the conv layers) that are zero on every "
        "test sample and position, over all five layers.",
        "BN: BatchNormalization after the activation; SELU and linked activations have none.",
    )
    csv_path, md_path = common.write_tables(rows, stem, columns, title=title, notes=notes)
    layer_csv, layer_md = common.write_tables(
        layer_rows, f"{stem}_layers", LAYER_COLUMNS, title=f"{title}: per-layer statistics",
        notes=("Statistics of each activation layer's outputs on the test split after "
               "training.",),
    )
    history_path = common.write_history(histories, f"{stem}_history.csv")
    figures = []
    try:
        figure = plotting.plot_histogram_comparison(
            outputs,
            bins=40,
            title=f"Activations after training ({data.name}, fixed validation batch)",
        )
        figures.append(plotting.save_figure(figure, f"{stem}_histograms.png", dpi=72))
        figure = plotting.plot_learning_curves(
            histories, metrics=["accuracy", "loss"],
            title=f"Training (solid) and validation (dashed) on {data.name}",
        )
        figures.append(plotting.save_figure(figure, f"{stem}_curves.png", dpi=80))
    except ImportError:
        figures = []
    if level:
        print()
        print(common.markdown_table(rows, columns))
        print()
        for path in (csv_path, md_path, layer_csv, layer_md, history_path, *figures):
            print(f"wrote {path}")
        if not figures:
            print('matplotlib is not installed: no figures (pip install -e ".'
                  '[experiments]").')
        if log_root is not None:
            print(f"TensorBoard logs: tensorboard --logdir {log_root}")
    return rows


def register(subparsers):
    """Adds the ``selu`` sub-command to ``subparsers``."""
    parser = subparsers.add_parser(
        NAME,
        help="activation histograms of a CNN with ReLU, leaky ReLU, SELU and linked activations",
        description=(
            "Train the SELU-study CNN (3 stride-2 5x5 convolutions, dense 160 and 40) once per "
            f"activation (default: {', '.join(DEFAULT_ACTIVATIONS)}), log activation histograms "
            "to TensorBoard and write selu_<dataset>.csv/.md (accuracy, mean ± std per layer, "
            "dead fraction), selu_<dataset>_layers.csv/.md, _history.csv, _histograms.png and "
            "_curves.png to --output-dir."
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
            f"activations (default: {' '.join(DEFAULT_ACTIVATIONS)}); any name of "
            "linked_neurons.activations, with _bn for BatchNormalization after it"
        ),
    )
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=DEFAULT_LEARNING_RATE,
        help=f"Adam learning rate (default: {DEFAULT_LEARNING_RATE})",
    )
    parser.add_argument(
        "--image-size",
        type=int,
        default=None,
        help=f"resize images to this square size (default: {DIGITS_IMAGE_SIZE} for the 8x8 "
        "digits, the native size otherwise)",
    )
    parser.add_argument(
        "--freq", type=int, default=1, help="log histograms every FREQ epochs (default: 1)"
    )
    parser.add_argument("--no-logs", action="store_true", help="do not write TensorBoard logs")
    parser.add_argument(
        "--images", action="store_true", help="also log activation-map images to TensorBoard"
    )
    parser.set_defaults(run=run)
    return parser


def run(args):
    """Runs the ``selu`` sub-command from parsed ``args``; returns the exit code."""
    run_selu(
        dataset=args.dataset,
        activations=args.activations,
        epochs=args.epochs,
        seed=args.seed,
        output_dir=args.output_dir,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        image_size=args.image_size,
        freq=args.freq,
        logs=not args.no_logs,
        images=args.images,
        verbose=1 if args.quiet else 2,
    )
    return 0


__all__ = [
    "DEFAULT_ACTIVATIONS",
    "DIGITS_IMAGE_SIZE",
    "LAYER_NAMES",
    "build_model",
    "prepare_dataset",
    "run_selu",
]
