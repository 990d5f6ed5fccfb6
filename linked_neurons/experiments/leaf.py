"""LEAF and AHAF against fixed activations (Bodyanskiy & Kostiuk; SPEC §3).

``python -m linked_neurons.experiments leaf`` trains LeNet-5 (and, with
``--networks lenet5 kerasnet``, KerasNet; :mod:`linked_neurons.models`) with,
for each initial activation (``relu`` and ``tanh`` by default, ``--inits relu
silu tanh sigmoid`` for all four), the variants of the paper:

- ``relu`` and ``silu``: the base activation, AHAF, AHAF+DSPT, LEAF+P24Sl
  and LEAF+DSPT+P24Sl;
- ``tanh`` and ``sigmoid``: the base activation, LEAF+P24Sl and
  LEAF+DSPT+P24Sl,

where AHAF/LEAF start from that activation (their "relu", "silu", "tanh" or
"sigmoid" init), P24Sl trains LEAF's p2 and p4 with a slower learning rate
(:func:`~linked_neurons.training.p24sl_optimizer`) and DSPT is double-stage
parameter tuning (:class:`~linked_neurons.training.DSPTMixin`). The default
run trains base, AHAF and LEAF+P24Sl (``--variants`` adds the DSPT ones)
with the paper's five seeds, 42, 100, 128, 1999 and 7823, for 20 epochs, so
that each variant can be compared with its base seed by seed. It writes,
under ``results/leaf``:

- ``leaf_<dataset>.csv`` / ``.md``: per network, init and variant, the best
  validation accuracy and its epoch, the final validation and test accuracy
  (mean and standard deviation over the seeds), seconds per epoch and the
  parameter counts;
- ``leaf_<dataset>_paired.csv`` / ``.md``: every variant minus its base
  (e.g. "LEAF+P24Sl - tanh"), seed by seed, for the test accuracy and the
  best validation accuracy: mean difference, 95 % Student-t interval, paired
  t-test p-value and a verdict (:mod:`linked_neurons.stats`);
- ``leaf_<dataset>_runs.csv``: the same for every seed;
  ``leaf_<dataset>_history.csv``: every epoch's metrics;
- ``leaf_<dataset>_<network>_<init>_curves.png``: validation accuracy and
  loss against epochs, one line per variant (mean over the seeds);
- ``leaf_<dataset>_<network>_<init>_<variant>_shapes.png``: the learned
  activation of 5 neurons of every activation layer on [-10, 4] against the
  base activation (first seed).

Data: by default the embedded 8x8 digits, upscaled (bilinear) to 16x16, the
smallest size LeNet-5 takes, so that the default run (5 variants x 5 seeds,
20 epochs) takes about 20 minutes on 2 CPU cores (``--image-size 28`` gives both networks
exactly the layer sizes and parameter counts they have on Fashion-MNIST, at
about three times the cost); ``--dataset fashion_mnist`` or ``cifar10`` use
the paper's datasets when Keras has them. The training split is shuffled every
epoch and augmented as in the paper (random horizontal flip and shifts of up
to 10% of the image; only shifts for digits, which flipping changes), the
best epoch is chosen on a validation split, and the test split is evaluated
once, after the last epoch. The paper (which did not shuffle and picked the
best epoch on the test set) used 100 epochs, batch 128, Adam with learning
rate 1e-3 and seeds 42, 100, 128, 1999 and 7823:

.. code-block:: console

   python -m linked_neurons.experiments leaf --dataset fashion_mnist \\
       --epochs 100 --batch-size 128 --networks lenet5 kerasnet \\
       --variants base ahaf ahaf_dspt leaf_p24sl leaf_dspt_p24sl
   python -m linked_neurons.experiments leaf --dataset cifar10 \\
       --epochs 100 --batch-size 128 --networks lenet5 kerasnet \\
       --variants base ahaf ahaf_dspt leaf_p24sl leaf_dspt_p24sl
   # the stability study: RMSprop, learning rate 1e-4 (p2, p4: 1e-5)
   python -m linked_neurons.experiments leaf --dataset cifar10 --optimizer rmsprop

Example:

    >>> from linked_neurons.experiments.leaf import variants_for
    >>> variants_for("tanh")
    ('base', 'leaf_p24sl', 'leaf_dspt_p24sl')
"""

import functools
import math
import os
import time

import keras
import numpy as np

from linked_neurons import datasets, models
from linked_neurons.experiments import common
from linked_neurons.layers.learnable import AHAF, LEAF
from linked_neurons.training import (
    count_activation_parameters,
    p24sl_optimizer,
    with_dspt,
)

NAME = "leaf"
#: The two networks of the experiment.
NETWORKS = ("lenet5", "kerasnet")
#: The activations LEAF starts from (its initializations).
INITS = ("relu", "silu", "tanh", "sigmoid")
#: Initial activations of the default run (``--inits`` adds "silu" and "sigmoid").
DEFAULT_INITS = ("relu", "tanh")
#: Every variant, in table order.
VARIANTS = ("base", "ahaf", "ahaf_dspt", "leaf_p24sl", "leaf_dspt_p24sl")
_VARIANT_LABELS = {
    "base": "base",
    "ahaf": "AHAF",
    "ahaf_dspt": "AHAF+DSPT",
    "leaf_p24sl": "LEAF+P24Sl",
    "leaf_dspt_p24sl": "LEAF+DSPT+P24Sl",
}
_BASE_LABELS = {"relu": "ReLU", "silu": "SiLU", "tanh": "tanh", "sigmoid": "sigmoid"}
#: Networks and variants of the default (verdict) run; ``--networks`` and
#: ``--variants`` select the others (KerasNet, the DSPT variants).
DEFAULT_NETWORKS = ("lenet5",)
#: Variants of the default (verdict) run.
DEFAULT_VARIANTS = ("base", "ahaf", "leaf_p24sl")
DEFAULT_EPOCHS = 20
DEFAULT_BATCH_SIZE = 64
#: The paper's seeds.
DEFAULT_SEEDS = (42, 100, 128, 1999, 7823)
#: Side of the upscaled embedded digits (28 gives the networks their Fashion-MNIST sizes).
DEFAULT_IMAGE_SIZE = 16
DEFAULT_OUTPUT_DIR = os.path.join("results", "leaf")
#: The paper's learning rates (Adam 1e-3; RMSprop 1e-4 for the stability study).
DEFAULT_LEARNING_RATES = {"adam": 1e-3, "rmsprop": 1e-4}
AUGMENTATIONS = ("auto", "none", "shift", "flip+shift")
_EVAL_BATCH_SIZE = 256
_SHIFT = 0.1  # largest shift, as a fraction of the image size

#: Columns of the Markdown table, as (row key, header) pairs.
COLUMNS = (
    ("network", "network"),
    ("init", "init"),
    ("label", "variant"),
    ("best_val_accuracy", "best val acc"),
    ("best_val_accuracy_std", "±"),
    ("best_epoch", "best epoch"),
    ("test_accuracy", "test acc"),
    ("test_accuracy_std", "±"),
    ("seconds_per_epoch", "s/epoch"),
    ("activation_params", "act. params"),
    ("params", "params"),
)
#: Columns of the paired table (every variant minus the base, seed by seed).
PAIRED_COLUMNS = (
    ("network", "network"),
    ("init", "init"),
    ("comparison", "comparison"),
    ("metric", "metric"),
    ("seeds", "seeds"),
    ("mean_difference", "mean diff."),
    ("ci", "95% CI"),
    ("std_difference", "std of diff."),
    ("p_value", "p (paired t)"),
    ("verdict", "verdict"),
)


def variants_for(init):
    """The variants the paper trains for an initial activation."""
    if init in ("relu", "silu"):
        return VARIANTS
    if init in ("tanh", "sigmoid"):
        return ("base", "leaf_p24sl", "leaf_dspt_p24sl")
    raise ValueError(f"leaf: unknown init {init!r}; expected one of {', '.join(INITS)}.")


def variant_label(init, variant):
    """Display name, e.g. ``"tanh"`` for the base or ``"LEAF+P24Sl"``."""
    return _BASE_LABELS[init] if variant == "base" else _VARIANT_LABELS[variant]


# ============================================================================ data
def _upscale(x, size):
    if x.shape[1:3] == (size, size):
        return x
    resized = keras.ops.image.resize(x, (size, size), interpolation="bilinear")
    return np.clip(keras.ops.convert_to_numpy(resized), 0.0, 1.0).astype("float32")


def load_images(dataset="digits", image_size=DEFAULT_IMAGE_SIZE, train_samples=None, seed=0):
    """Loads an image dataset for the LEAF experiment.

    Args:
        dataset: ``"digits"`` (embedded, upscaled to ``image_size``), or
            ``"mnist"``, ``"fashion_mnist"``, ``"cifar10"`` (through
            ``keras.datasets``: cached files or network needed).
        image_size: Side of the upscaled digits (at least 16 for LeNet-5).
        train_samples: Optional size of a random subset of the training
            images (Keras datasets only).
        seed: Seed of the split.

    Returns:
        A :class:`~linked_neurons.datasets.Dataset` of ``(H, W, C)`` images.
    """
    key = dataset.strip().lower().replace("-", "_") if isinstance(dataset, str) else dataset
    if key == "digits":
        data = datasets.load_digits(seed=seed, image=True)
        return datasets.Dataset(
            _upscale(data.x_train, image_size), data.y_train,
            _upscale(data.x_val, image_size), data.y_val,
            _upscale(data.x_test, image_size), data.y_test,
            num_classes=data.num_classes, name=f"digits{image_size}",
        )
    if key in ("mnist1d", "mnist_1d"):
        raise ValueError("leaf: the networks need images; 'mnist1d' holds 1-D signals.")
    data = datasets.load(key, seed=seed, max_train_samples=train_samples)
    if data.x_train.ndim != 4:
        raise ValueError(f"leaf: the networks need images, got inputs {data.input_shape}.")
    return data


class AugmentedBatches(keras.utils.PyDataset):
    """Shuffled training batches with random flips and shifts (NumPy, any backend).

    Every epoch the order is reshuffled; each image is flipped left-right
    with probability 1/2 (if ``flip``) and shifted by up to ``shift`` of its
    size in both directions, filling with zeros. DSPT's two stages see the
    same augmented batch.

    Args:
        x: Images ``(N, H, W, C)``.
        y: Labels.
        batch_size: Batch size.
        flip: Random horizontal flips.
        shift: Largest shift as a fraction of the image size (0: none).
        seed: Seed of the shuffling and augmentation.
    """

    def __init__(self, x, y, batch_size, flip=False, shift=0.0, seed=0):
        super().__init__()
        self.x, self.y = x, y
        self.batch_size = int(batch_size)
        self.flip = bool(flip)
        self.max_shift = (int(round(shift * x.shape[1])), int(round(shift * x.shape[2])))
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(x))

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index):
        idx = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        x = self.x[idx].copy()
        if self.flip:
            mask = self.rng.random(len(x)) < 0.5
            x[mask] = x[mask, :, ::-1]
        sh, sw = self.max_shift
        if sh or sw:
            height, width = x.shape[1:3]
            padded = np.pad(x, ((0, 0), (sh, sh), (sw, sw), (0, 0)))
            dy = self.rng.integers(-sh, sh + 1, size=len(x))
            dx = self.rng.integers(-sw, sw + 1, size=len(x))
            for i in range(len(x)):
                top, left = sh + dy[i], sw + dx[i]
                x[i] = padded[i, top : top + height, left : left + width]
        return x, self.y[idx]

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.x))


# ============================================================================ models
def _activation(init, variant):
    if variant == "base":
        return {"relu": "relu", "silu": "silu", "tanh": "tanh", "sigmoid": "sigmoid"}[init]
    if variant.startswith("ahaf"):
        return functools.partial(AHAF, init=init)
    return functools.partial(LEAF, init=init)


def _optimizer(name, learning_rate):
    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate, rho=0.9, epsilon=1e-7)
    raise ValueError(f"leaf: unknown optimizer {name!r}; expected 'adam' or 'rmsprop'.")


def build_variant(network, init, variant, input_shape, num_classes, optimizer="adam",
                  learning_rate=None, jit_compile=False):
    """Builds and compiles one model of the experiment.

    Args:
        network: ``"lenet5"`` or ``"kerasnet"``.
        init: ``"relu"``, ``"silu"``, ``"tanh"`` or ``"sigmoid"``.
        variant: One of :data:`VARIANTS` valid for ``init``.
        input_shape: Image shape ``(H, W, C)``.
        num_classes: Number of classes.
        optimizer: ``"adam"`` or ``"rmsprop"`` (rho 0.9, epsilon 1e-7).
        learning_rate: Base learning rate (default: 1e-3 for Adam, 1e-4 for
            RMSprop).
        jit_compile: Passed to ``compile``.

    Returns:
        A compiled model (a :class:`~linked_neurons.training.DSPTModel` for
        the DSPT variants).

    Example:

        >>> from linked_neurons.experiments.leaf import build_variant
        >>> model = build_variant("lenet5", "relu", "leaf_dspt_p24sl", (28, 28, 1), 10)
        >>> type(model).__name__, len(model.optimizer.optimizers)
        ('DSPTModel', 3)
    """
    if network not in NETWORKS:
        raise ValueError(f"leaf: unknown network {network!r}; expected one of {NETWORKS}.")
    if variant not in variants_for(init):
        raise ValueError(
            f"leaf: variant {variant!r} is not trained for init {init!r}; expected one of "
            f"{', '.join(variants_for(init))}."
        )
    rate = learning_rate if learning_rate is not None else DEFAULT_LEARNING_RATES.get(optimizer)
    builder = getattr(models, network)
    model = builder(input_shape, num_classes, activation=_activation(init, variant),
                    name=f"{network}_{init}_{variant}")
    compile_args = dict(loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                        jit_compile=jit_compile)
    if "dspt" in variant:
        model = with_dspt(model)
        activation_optimizer = _optimizer(optimizer, rate)
        if variant.endswith("p24sl"):
            activation_optimizer = p24sl_optimizer(model, activation_optimizer)
        model.compile(optimizer=_optimizer(optimizer, rate),
                      activation_optimizer=activation_optimizer, **compile_args)
    elif variant.endswith("p24sl"):
        model.compile(optimizer=p24sl_optimizer(model, _optimizer(optimizer, rate)),
                      **compile_args)
    else:
        model.compile(optimizer=_optimizer(optimizer, rate), **compile_args)
    return model


# ============================================================================ plots
def _np_sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


_BASE_FUNCTIONS = {
    "relu": lambda x: np.maximum(x, 0.0),
    "silu": lambda x: x * _np_sigmoid(x),
    "tanh": np.tanh,
    "sigmoid": _np_sigmoid,
}


def activation_curves(layer, x, neurons=5):
    """Learned activation of ``neurons`` evenly spread neurons of a LEAF/AHAF layer.

    Args:
        layer: A built :class:`~linked_neurons.layers.learnable.LEAF` or
            :class:`~linked_neurons.layers.learnable.AHAF`.
        x: 1-D grid of inputs.
        neurons: How many neurons.

    Returns:
        ``(indices, curves)``: flat neuron indices and an array
        ``(len(x), neurons)`` of float64 outputs.
    """
    params = [np.asarray(keras.ops.convert_to_numpy(p), "float64").reshape(-1)
              for p in layer.shape_parameters]
    size = params[0].size
    indices = np.unique(np.linspace(0, size - 1, min(neurons, size)).round().astype(int))
    p = [q[indices][None, :] for q in params]
    x = np.asarray(x, "float64")[:, None]
    if isinstance(layer, LEAF):
        curves = (p[0] * x + p[1]) * _np_sigmoid(p[2] * x) + p[3]
    else:
        curves = p[0] * x * _np_sigmoid(p[1] * x)
    return indices, curves


def plot_shapes(model, init, path, title=None, neurons=5, x_range=(-10.0, 4.0)):
    """Plots learned activations of every LEAF/AHAF layer against the base one.

    Returns the path, or None when matplotlib is missing or the model has no
    learnable activation.
    """
    layers = [layer for layer in model._flatten_layers() if isinstance(layer, (LEAF, AHAF))]
    if not layers:
        return None
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    x = np.linspace(*x_range, 281)
    # at least 4.5 in x 100 dpi = 450 px high; one panel per activation layer
    figure = Figure(figsize=(3.6 * len(layers), 4.5), layout="constrained")
    axes = figure.subplots(1, len(layers), squeeze=False)[0]
    for number, (axis, layer) in enumerate(zip(axes, layers), start=1):
        indices, curves = activation_curves(layer, x, neurons)
        for index, curve in zip(indices, curves.T):
            axis.plot(x, curve, linewidth=1.5, label=f"neuron {index}")
        axis.plot(x, _BASE_FUNCTIONS[init](x), "k--", linewidth=2.0,
                  label=f"{_BASE_LABELS[init]} (initial)")
        axis.set_title(f"activation layer {number} ({layer.name})")
        axis.set_xlabel("input x")
        axis.set_ylabel("activation output")
        axis.grid(alpha=0.3)
        axis.legend(fontsize="small")
    if title:
        figure.suptitle(title)
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    figure.savefig(path, dpi=100)
    return path


# ============================================================================ runs
def _train(model, data, epochs, batch_size, augment, seed, label, verbose):
    flip = augment == "flip+shift"
    shift = _SHIFT if augment in ("shift", "flip+shift") else 0.0
    batches = AugmentedBatches(data.x_train, data.y_train, batch_size, flip, shift, seed)
    progress = common.EpochProgress(label, epochs, verbose=verbose)
    start = time.perf_counter()
    history = model.fit(
        batches,
        validation_data=(data.x_val, data.y_val),
        validation_batch_size=_EVAL_BATCH_SIZE,
        epochs=epochs,
        verbose=0,
        callbacks=[progress],
    ).history
    seconds = time.perf_counter() - start
    if len(data.x_test):
        test_loss, test_accuracy = model.evaluate(
            data.x_test, data.y_test, batch_size=_EVAL_BATCH_SIZE, verbose=0
        )
    else:
        test_loss = test_accuracy = math.nan
    val = history["val_accuracy"]
    best = int(np.argmax(val))
    return {
        "best_val_accuracy": float(val[best]),
        "best_epoch": best + 1,
        "final_val_accuracy": float(val[-1]),
        "final_val_loss": float(history["val_loss"][-1]),
        "test_accuracy": float(test_accuracy),
        "test_loss": float(test_loss),
        "final_train_loss": float(history["loss"][-1]),
        "epochs": len(val),
        "seconds_per_epoch": float(progress.seconds_per_epoch),
        "train_seconds": float(seconds),
    }, history


def _mean_history(histories):
    keys = histories[0].keys()
    return {k: list(np.mean([h[k] for h in histories], axis=0)) for k in keys}


def _aggregate(runs):
    groups = {}
    for row in runs:
        groups.setdefault((row["network"], row["init"], row["variant"]), []).append(row)
    table = []
    for (network, init, variant), rows in groups.items():
        out = {"network": network, "init": init, "variant": variant,
               "label": rows[0]["label"], "seeds": len(rows)}
        for key in ("best_val_accuracy", "final_val_accuracy", "test_accuracy"):
            values = [r[key] for r in rows]
            out[key] = float(np.mean(values))
            out[f"{key}_std"] = float(np.std(values))
        epochs = [r["best_epoch"] for r in rows]
        out["best_epoch"] = epochs[0] if len(rows) == 1 else round(float(np.mean(epochs)), 1)
        out["seconds_per_epoch"] = float(np.mean([r["seconds_per_epoch"] for r in rows]))
        out["activation_params"] = rows[0]["activation_params"]
        out["params"] = rows[0]["params"]
        table.append(out)
    return table


def paired_rows(runs, metrics=("test_accuracy", "best_val_accuracy")):
    """Every variant minus its base (same network and init), paired by seed.

    Returns:
        Rows of :func:`linked_neurons.stats.paired_table` with ``"metric"``,
        ``"comparison"`` (e.g. ``"AHAF - ReLU"``) and ``"ci"`` (text) added;
        empty with fewer than two seeds.
    """
    from linked_neurons.stats import paired_table

    rows = []
    for metric in metrics:
        for row in paired_table(runs, lambda key: _BASE_LABELS[key[1]], metric,
                                config_key="label", group_keys=("network", "init")):
            rows.append({**row, "metric": metric,
                         "comparison": f"{row['config']} - {row['baseline']}",
                         "ci": f"[{row['ci_low']:+.4f}, {row['ci_high']:+.4f}]"})
    return rows


def _check_choice(values, allowed, what):
    values = tuple(values)
    unknown = [v for v in values if v not in allowed]
    if unknown or not values:
        raise ValueError(
            f"leaf: unknown {what} {unknown or values!r}; expected some of {', '.join(allowed)}."
        )
    if len(set(values)) != len(values):
        raise ValueError(f"leaf: duplicated {what} in {values!r}.")
    return values


def run_leaf(
    dataset="digits",
    networks=DEFAULT_NETWORKS,
    inits=DEFAULT_INITS,
    variants=DEFAULT_VARIANTS,
    seeds=DEFAULT_SEEDS,
    epochs=DEFAULT_EPOCHS,
    batch_size=DEFAULT_BATCH_SIZE,
    optimizer="adam",
    learning_rate=None,
    augment="auto",
    train_samples=None,
    image_size=DEFAULT_IMAGE_SIZE,
    output_dir=DEFAULT_OUTPUT_DIR,
    verbose=True,
    jit_compile=False,
    plots=True,
):
    """Runs the LEAF/AHAF experiment (see the module docstring) and writes its results.

    Args:
        dataset: ``"digits"`` (default, embedded), ``"fashion_mnist"``,
            ``"cifar10"`` or ``"mnist"`` (see :func:`load_images`).
        networks: Subset of :data:`NETWORKS` (default LeNet-5 only).
        inits: Subset of :data:`INITS` (default :data:`DEFAULT_INITS`:
            ``relu`` and ``tanh``; all four take twice as long).
        variants: Subset of :data:`VARIANTS` (default
            :data:`DEFAULT_VARIANTS`: base, AHAF and LEAF+P24Sl; None: all);
            variants the paper does not train for an init are skipped.
        seeds: Model seeds (``keras.utils.set_random_seed``; default the
            paper's five); the data split is the same for all. With two
            seeds or more every variant is compared with its base seed by
            seed (:func:`linked_neurons.stats.paired_table`).
        epochs: Training epochs.
        batch_size: Training batch size.
        optimizer: ``"adam"`` or ``"rmsprop"``.
        learning_rate: Base learning rate (default 1e-3 Adam, 1e-4 RMSprop).
        augment: ``"auto"`` (flips and shifts; only shifts for digits and
            MNIST), ``"none"``, ``"shift"`` or ``"flip+shift"``.
        train_samples: Optional training subset size (Keras datasets).
        image_size: Side of the upscaled digits.
        output_dir: Folder of the tables and plots.
        verbose: True or 2: per-epoch progress and the table; 1: one line
            per run and the table; False or 0: nothing.
        jit_compile: Compile the training step with XLA.
        plots: Write the PNG plots (needs matplotlib).

    Returns:
        ``(table, runs)``: the aggregated rows (one per network, init and
        variant) and one row per run. The paired comparisons are written to
        ``leaf_<dataset>_paired.csv``/``.md``.

    Raises:
        ValueError: For unknown names, or a dataset without images or
            validation split.
    """
    level = common.progress_level(verbose)
    networks = _check_choice(networks, NETWORKS, "networks")
    inits = _check_choice(inits, INITS, "inits")
    variants = _check_choice(variants or VARIANTS, VARIANTS, "variants")
    if augment not in AUGMENTATIONS:
        raise ValueError(f"leaf: unknown augment {augment!r}; expected one of {AUGMENTATIONS}.")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"leaf: `epochs` must be a positive int, got {epochs!r}.")
    seeds = tuple(int(s) for s in seeds)
    if not seeds:
        raise ValueError("leaf: give at least one seed.")
    data = load_images(dataset, image_size=image_size, train_samples=train_samples)
    if not len(data.x_val):
        raise ValueError("leaf: the dataset needs a validation split.")
    if augment == "auto":
        augment = "shift" if data.name.startswith(("digits", "mnist")) else "flip+shift"
    plan = [(n, i, v) for n in networks for i in inits for v in variants_for(i) if v in variants]
    if level:
        print(
            f"leaf: {data!r}; {len(plan)} models x {len(seeds)} seed(s) x {epochs} epochs, "
            f"batch {batch_size}, {optimizer}, augment {augment}",
            flush=True,
        )
    runs, histories, firsts = [], {}, {}
    for network, init, variant in plan:
        label = variant_label(init, variant)
        for seed in seeds:
            keras.utils.set_random_seed(seed)
            model = build_variant(network, init, variant, data.input_shape, data.num_classes,
                                  optimizer, learning_rate, jit_compile)
            tag = f"{network} {init} {label} seed {seed}"
            row, history = _train(model, data, epochs, batch_size, augment, seed, tag,
                                  level >= 2)
            row = {"network": network, "init": init, "variant": variant, "label": label,
                   "seed": seed, **row,
                   "activation_params": int(count_activation_parameters(model)),
                   "params": int(model.count_params())}
            runs.append(row)
            histories.setdefault((network, init), {}).setdefault(label, []).append(history)
            firsts.setdefault((network, init, variant), model)
            if level == 1:
                print(f"  {tag}: best val acc {row['best_val_accuracy']:.4f} "
                      f"(epoch {row['best_epoch']}), test acc {row['test_accuracy']:.4f}",
                      flush=True)
    table = _aggregate(runs)

    stem = os.path.join(output_dir, f"{NAME}_{data.name}")
    notes = (
        f"{data!r}; {epochs} epochs, batch {batch_size}, {optimizer} "
        f"(lr {learning_rate or DEFAULT_LEARNING_RATES.get(optimizer)}), augment {augment}, "
        f"seeds {', '.join(map(str, seeds))}.",
        "best val acc: best validation accuracy over the epochs (with several seeds: mean, "
        "± std, and the mean best epoch); "
        "test acc: after the last epoch. P24Sl: LEAF's p2 and p4 learn at base/1000 "
        "(Adam) or base/10 (RMSprop); DSPT: activation parameters, then the other weights, "
        "on every batch.",
    )
    paths = []
    title = f"LEAF and AHAF on {data.name}"
    paired = paired_rows(runs)
    if paired:
        paths.extend(common.write_tables(
            paired, f"{stem}_paired", PAIRED_COLUMNS,
            title=f"LEAF and AHAF minus their base, paired by seed, on {data.name}",
            notes=notes[:1] + ("mean diff.: mean over the seeds of (variant - base); 95% CI: "
                               "Student-t interval of that mean; verdict: which is better when "
                               "the interval excludes 0.",)))
    columns = COLUMNS if len(seeds) > 1 else tuple(c for c in COLUMNS if c[1] != "±")
    paths += list(common.write_tables(table, stem, columns, title=title, notes=notes))
    paths.append(common.write_tables(runs, f"{stem}_runs", COLUMNS[:3] + (
        ("seed", "seed"), ("best_val_accuracy", "best val acc"), ("best_epoch", "best epoch"),
        ("test_accuracy", "test acc")))[0])
    flat = {f"{n}/{i}/{label}/seed{k}": h
            for (n, i), by_label in histories.items()
            for label, hs in by_label.items() for k, h in zip(seeds, hs)}
    paths.append(common.write_history(flat, f"{stem}_history.csv"))
    if plots:
        for (network, init), by_label in histories.items():
            mean = {label: _mean_history(hs) for label, hs in by_label.items()}
            paths.append(common.plot_curves(
                mean, f"{stem}_{network}_{init}_curves.png",
                title=f"{network}, {_BASE_LABELS[init]} init, {data.name} (mean of "
                      f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''})",
                dashed=[_BASE_LABELS[init]], chance=1.0 / data.num_classes))
        for (network, init, variant), model in firsts.items():
            paths.append(plot_shapes(
                model, init, f"{stem}_{network}_{init}_{variant}_shapes.png",
                title=f"{network}: {variant_label(init, variant)} ({init} init) after "
                      f"{epochs} epochs, seed {seeds[0]}"))
    if level:
        print()
        print(common.markdown_table(table, columns))
        print()
        if paired:
            print(common.markdown_table(paired, PAIRED_COLUMNS))
            print()
        written = [p for p in paths if p is not None]
        for path in written:
            print(f"wrote {path}")
        if plots and not any(str(p).endswith(".png") for p in written):
            print('matplotlib is not installed: no plots '
                  '(pip install -e ".[experiments]").')
    return table, runs


# ============================================================================ command line
def register(subparsers):
    """Adds the ``leaf`` sub-command."""
    parser = subparsers.add_parser(
        NAME,
        help="LEAF and AHAF vs fixed activations on LeNet-5 and KerasNet",
        description=(
            "Trains LeNet-5 and KerasNet with fixed activations, AHAF, AHAF+DSPT, LEAF+P24Sl "
            "and LEAF+DSPT+P24Sl (SPEC section 3) and writes tables, paired comparisons and "
            "plots. Full paper run: --dataset fashion_mnist (or cifar10) --epochs 100 "
            "--batch-size 128 --networks lenet5 kerasnet --variants base ahaf ahaf_dspt "
            "leaf_p24sl leaf_dspt_p24sl."
        ),
    )
    common.add_common_arguments(parser, DEFAULT_OUTPUT_DIR, DEFAULT_EPOCHS,
                                batch_size=DEFAULT_BATCH_SIZE, dataset="digits")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="model seeds (default: --seed if given, else the paper's 42 100 "
                             "128 1999 7823)")
    parser.add_argument("--networks", nargs="+", default=list(DEFAULT_NETWORKS),
                        choices=NETWORKS, help="networks (default: lenet5; also kerasnet)")
    parser.add_argument("--inits", nargs="+", default=list(DEFAULT_INITS), choices=INITS,
                        help="initial activations (default: relu tanh; all: relu silu tanh "
                             "sigmoid)")
    parser.add_argument("--variants", nargs="+", default=list(DEFAULT_VARIANTS),
                        choices=VARIANTS,
                        help="variants (default: base ahaf leaf_p24sl; those that apply to "
                             "each init are trained)")
    parser.add_argument("--optimizer", default="adam", choices=("adam", "rmsprop"),
                        help="adam (lr 1e-3) or rmsprop (lr 1e-4, the stability study)")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="base learning rate (default: 1e-3 adam, 1e-4 rmsprop)")
    parser.add_argument("--augment", default="auto", choices=AUGMENTATIONS,
                        help="training augmentation (default auto: flips and 10%% shifts; "
                             "shifts only for digits and mnist)")
    parser.add_argument("--train-samples", type=int, default=None,
                        help="random subset of the training images (keras datasets)")
    parser.add_argument("--image-size", type=int, default=DEFAULT_IMAGE_SIZE,
                        help=f"side of the upscaled embedded digits (default {DEFAULT_IMAGE_SIZE}; "
                             "28 gives the Fashion-MNIST layer sizes)")
    parser.add_argument("--jit-compile", action="store_true", help="compile with XLA")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.set_defaults(run=run, seed=None)


def run(args):
    """Runs the experiment from parsed arguments; returns the exit code."""
    seeds = args.seeds or ([args.seed] if args.seed is not None else list(DEFAULT_SEEDS))
    run_leaf(
        dataset=args.dataset,
        networks=args.networks,
        inits=args.inits,
        variants=args.variants,
        seeds=seeds,
        epochs=args.epochs,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        learning_rate=args.learning_rate,
        augment=args.augment,
        train_samples=args.train_samples,
        image_size=args.image_size,
        output_dir=args.output_dir,
        verbose=1 if args.quiet else 2,
        jit_compile=args.jit_compile,
        plots=not args.no_plots,
    )
    return 0
