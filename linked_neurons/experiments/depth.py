"""Depth study of the linked-neurons paper: a deep, thin plain network per activation.

``python -m linked_neurons.experiments depth`` trains the paper's depth
network (:func:`~linked_neurons.experiments.paper.depth_net`: a 7x7 stride-2
convolution, then 50 convolutions of 3x3, all of width 4, each followed by
the activation, no batch normalization) per activation. On the embedded
digits (resized to 32x32, so that the stem leaves 16x16 maps as on CIFAR-10)
the default variants are ReLU, LK-ReLU, PReLU, LK-PReLU, SELU, LK-SELU and
ReLU+BN, 3 seeds of 15 epochs; ``--dataset cifar10`` adds Swish, LK-Swish and
the √2-widened plain baselines (every layer ``int(sqrt(2) * 4) = 5`` filters,
about the linked nets' parameter count) and trains 200 epochs, as the
original. Both use the original's Adam (learning rate 1e-3, epsilon 1e-8),
batch 32, no shuffling and ``glorot_uniform`` kernels
(:data:`~linked_neurons.experiments.presets.PRESETS`). It writes under
``--output-dir``:

- ``depth_<dataset>.csv`` / ``.md``: median (and min/max over ``--runs``)
  best validation accuracy, test accuracy of the selected epoch, the
  paper's score (best test accuracy over epochs), parameter count and the
  number of activation layers with dead units;
- ``depth_<dataset>_runs.csv``: every run;
- ``depth_<dataset>_dead.csv`` and ``depth_<dataset>_dead.png``: the
  fraction of dead units (a channel whose output is zero for every training
  image and position, :func:`linked_neurons.monitoring.dead_units`) of every
  activation layer, after training;
- ``depth_<dataset>_accuracy.png`` (median and min-max of the paper's score)
  and ``depth_<dataset>_curves.png``.

``--diagnose`` trains nothing: :func:`diagnose` measures, on the untrained
networks, the gradient RMS of every kernel and the second moment of every
activation layer, the figures that explain whether Adam can move the deep
layers at all.

The paper's claim (CIFAR-10, Adam 1e-3, batch 32): plain ReLU, PReLU and
Swish nets this deep and thin stay at chance (.10) with dead units from about
layer 7; LK-ReLU (.56), LK-PReLU (.52), SELU (.56) and LK-SELU (.57) train
without batch normalization; ReLU+BN reaches .51.
"""

import math
import os

import keras
import numpy as np

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

# ---------------------------------------------------------------- diagnostics
def _gradients(model, x, y):
    """Gradients of the mean cross-entropy on ``(x, y)`` for ``model.trainable_weights``."""
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    weights = model.trainable_weights
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, [w.value for w in weights])
    elif backend == "jax":
        import jax

        fixed = [v.value for v in model.non_trainable_variables]

        def loss_of(values):
            out, _ = model.stateless_call(values, fixed, x, training=True)
            return loss_fn(y, out)

        grads = jax.grad(loss_of)([w.value for w in weights])
    elif backend == "torch":
        loss = loss_fn(y, model(x, training=True))
        loss.backward()
        grads = [w.value.grad for w in weights]
    else:
        raise NotImplementedError(
            f"{NAME} --diagnose: gradients need the TensorFlow, JAX or PyTorch backend, "
            f"got {backend!r}."
        )
    return [np.asarray(keras.ops.convert_to_numpy(g), dtype="float64") for g in grads]


def _sci(rows):
    """Rows with floats as 4-significant-digit strings (the tables hold values near 1e-10)."""
    return [{k: f"{v:.4g}" if isinstance(v, float) else v for k, v in row.items()}
            for row in rows]


def diagnose(
    dataset="digits",
    variants=("relu", "lkrelu", "prelu", "lkprelu", "selu"),
    depth=51,
    width=4,
    batch_size=32,
    runs=3,
    seed=0,
    epsilon=1e-8,
    kernel_initializer="glorot_uniform",
    image_size=32,
    max_train_samples=None,
    output_dir=DEFAULT_OUTPUT_DIR,
    verbose=1,
):
    """Gradient sizes and activation second moments of the depth network at initialisation.

    For every variant and seed, builds the untrained network and measures on
    the first ``batch_size`` training images (the original's first batch,
    unshuffled): the RMS of the cross-entropy gradient of every convolution
    kernel, and the second moment ``E[a^2]`` of every activation layer's
    output. Adam's update of a weight is about ``lr * g / (sqrt(v) + eps)``:
    a gradient RMS far below ``eps`` makes the steps shrink in proportion,
    so epsilon decides whether the deep layers move at all.

    Writes ``depth_<dataset>_<size>_diagnose.csv`` (every layer) and
    ``..._diagnose.md`` (per variant: medians over the seeds).

    Args:
        dataset: As :func:`run_depth`; so are ``depth``, ``width``,
            ``kernel_initializer``, ``image_size``, ``max_train_samples``
            and ``output_dir``.
        variants: Variant names.
        batch_size: Images of the batch.
        runs: Seeds ``seed`` ... ``seed + runs - 1``.
        seed: First seed (also the seed of the data split).
        epsilon: Adam epsilon the gradients are compared with.
        verbose: Print the table.

    Returns:
        ``(summary, layers)``: one row per variant (medians over seeds) and
        one row per variant, seed and layer.
    """
    variants = paper._variants(variants, NAME)
    data = paper.prepare_data(dataset, seed=seed, image_size=image_size,
                              max_train_samples=max_train_samples)
    x = data.x_train[:batch_size]
    y = data.y_train[:batch_size]
    layers, rows = [], []
    middle = (depth + 1) // 2
    for variant in variants:
        for run_seed in range(seed, seed + runs):
            keras.utils.set_random_seed(run_seed)
            model = paper.depth_net(data.input_shape, data.num_classes, variant, depth=depth,
                                    width=width, kernel_initializer=kernel_initializer)
            grads = dict(zip([id(w) for w in model.trainable_weights], _gradients(model, x, y)))
            convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
            rms = [math.sqrt(float(np.mean(grads[id(c.kernel)] ** 2))) for c in convs]
            names = paper.activation_layer_names(model)
            probe = keras.Model(model.inputs, [model.get_layer(n).output for n in names])
            outputs = probe.predict(x, verbose=0)
            moments = [float(np.mean(np.asarray(o, dtype="float64") ** 2)) for o in outputs]
            deep = np.concatenate([grads[id(c.kernel)].ravel() for c in convs[1:]] or [[0.0]])
            for index, (g, m) in enumerate(zip(rms, moments)):
                layers.append({"label": variant.label, "seed": run_seed, "layer": index + 1,
                               "kernel_grad_rms": g, "second_moment": m})
            rows.append({
                "variant": variant.key, "label": variant.label, "seed": run_seed,
                "grad_rms_deep": math.sqrt(float(np.mean(deep ** 2))),
                "grad_rms_2": rms[min(1, len(rms) - 1)], "grad_rms_mid": rms[middle - 1],
                "grad_rms_last": rms[-1],
                "moment_1": moments[0], "moment_mid": moments[middle - 1],
                "moment_last": moments[-1],
            })
            keras.backend.clear_session()
    values = ("grad_rms_deep", "grad_rms_2", "grad_rms_mid", "grad_rms_last", "moment_1",
              "moment_mid", "moment_last")
    summary = paper.summarize(rows, ("variant", "label"), values)
    for row in summary:
        row["deep_over_eps"] = row["grad_rms_deep"] / epsilon if epsilon else math.nan
    size = data.input_shape[0]
    stem = os.path.join(output_dir, f"{NAME}_{data.name}_{size}_diagnose")
    os.makedirs(output_dir, exist_ok=True)
    common.write_tables(_sci(layers), stem, (("label", "variant"), ("seed", "seed"),
                                       ("layer", "layer"), ("kernel_grad_rms", "grad RMS"),
                                       ("second_moment", "E[a^2]")))
    columns = (
        ("label", "variant"), ("grad_rms_deep", "grad RMS, kernels 2.."),
        ("deep_over_eps", "/ epsilon"), ("grad_rms_2", "grad RMS layer 2"),
        ("grad_rms_mid", f"layer {middle}"), ("grad_rms_last", f"layer {depth}"),
        ("moment_1", "E[a^2] layer 1"), ("moment_mid", f"layer {middle}"),
        ("moment_last", f"layer {depth}"), ("runs", "seeds"),
    )
    notes = (
        f"{data!r}, {size}x{size} inputs; depth {depth}, width {width}, {kernel_initializer}; "
        f"untrained networks, seeds {seed}..{seed + runs - 1} (medians), first {len(x)} "
        f"training images; epsilon {epsilon}.",
        "grad RMS: root mean square of the cross-entropy gradient of a conv kernel ('kernels "
        "2..': all kernels after the stem together); E[a^2]: mean square of an activation "
        "layer's output.",
        f"Hardware: {paper.hardware()}.",
    )
    shown = _sci(summary)
    common.write_tables(shown, f"{stem}_summary", columns,
                        title=f"Depth network at initialisation ({data.name}, {size}x{size})",
                        notes=notes)
    if verbose:
        print(common.markdown_table(shown, columns))
        for note in notes:
            print(note)
    return summary, layers


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
    parser.add_argument("--diagnose", action="store_true",
                        help="no training: gradient RMS of every kernel and second moment of "
                        "every activation at initialisation (depth_<dataset>_<size>_diagnose"
                        "*.csv/.md)")
    parser.set_defaults(run=run)
    return parser


def run(args):
    """Runs the ``depth`` sub-command; returns the exit code."""
    options = paper.resolve(args, PRESETS, ("epochs", "batch_size", "learning_rate", "runs",
                                            "image_size", "depth", "width", "epsilon",
                                            "shuffle", "kernel_initializer", "variants"))
    if args.diagnose:
        diagnose(
            dataset=args.dataset, variants=args.variants or ("relu", "lkrelu", "prelu",
                                                             "lkprelu", "selu"),
            seed=args.seed, max_train_samples=args.max_train_samples,
            output_dir=args.output_dir, depth=options["depth"], width=options["width"],
            batch_size=options["batch_size"], runs=options["runs"],
            epsilon=options["epsilon"], kernel_initializer=options["kernel_initializer"],
            image_size=options["image_size"],
        )
        return 0
    run_depth(
        dataset=args.dataset, seed=args.seed,
        max_train_samples=args.max_train_samples, output_dir=args.output_dir,
        verbose=1 if args.quiet else 2, **options,
    )
    return 0
