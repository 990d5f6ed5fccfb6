"""Networks, training loop and tables shared by the linked-neurons paper's experiments.

The five experiments ``depth``, ``width``, ``params``, ``shift`` and ``speed``
(``python -m linked_neurons.experiments NAME``) re-run the studies of
C. R. Riera Molina and O. Pujol Vila, *Solving internal covariate shift in deep
learning with linked neurons* (arXiv 1712.02609). This module holds what they
share:

- the networks of the paper: :func:`width_net` (one convolution),
  :func:`depth_net` (a deep, thin plain convolution stack, 51 layers of width 4
  in the paper) and :func:`extended_net` (the parameter-matched comparison);
  the larger AllCNN and CIFAR ResNet50 are in :mod:`linked_neurons.models`;
- :class:`Variant` and :func:`parse_variant`: an activation name with the
  optional ``_bn`` (Conv -> BatchNormalization -> activation) and ``_sqrt2``
  (every layer widened from ``W`` to ``int(sqrt(2) * W)`` filters) suffixes;
- :func:`train_variant`: one training run with a validation split for model
  selection (the weights of the best validation epoch are restored before the
  test), the paper's own score (best test accuracy over epochs) beside it,
  epoch times and, optionally, dead-unit fractions per layer measured with
  :func:`linked_neurons.monitoring.dead_units`;
- :func:`summarize`: medians and spread (minimum, maximum) over ``--runs``;
- :func:`prepare_data` (embedded data by default, CIFAR-10 through
  ``keras.datasets``), :func:`plot_bars`, :func:`hardware` and the
  command-line options every paper experiment shares.

Linked activations keep the filters of the layer that feeds them and double
its output channels, so the next layer has twice the inputs (the paper's
convention); the ``params`` column of every table shows the counts.

Example:

    >>> from linked_neurons.experiments import paper
    >>> model = paper.depth_net((8, 8, 1), 10, "lkrelu", depth=5, width=4)
    >>> model.output_shape, len(paper.activation_layer_names(model))
    ((None, 10), 5)
    >>> paper.parse_variant("relu_sqrt2").label
    'ReLU√2'
    >>> paper.widen(4), paper.widen(50)
    (5, 70)
"""

import argparse
import dataclasses
import math
import os
import platform
import sys
import time
from typing import NamedTuple

import keras
import numpy as np

from linked_neurons import activations as ln_activations
from linked_neurons import monitoring
from linked_neurons.experiments import common
from linked_neurons.experiments.compare import parse_variant as _parse_activation

__all__ = [
    "Variant",
    "activation_layer_names",
    "add_paper_arguments",
    "check_names",
    "depth_net",
    "extended_net",
    "hardware",
    "parse_variant",
    "plot_bars",
    "prepare_data",
    "resolve",
    "summarize",
    "train_variant",
    "widen",
    "width_net",
]

# With few steps per epoch, Keras' default BN momentum (0.99) leaves the moving
# statistics far from the batch ones; 0.9 as in the ``compare`` experiment.
BN_MOMENTUM = 0.9
_EVAL_BATCH_SIZE = 256
_SQRT2_SUFFIXES = ("_sqrt2", "-sqrt2", "+sqrt2", "sqrt2", "√2")


def widen(width):
    """The paper's widened baseline: ``int(sqrt(2) * width)`` filters."""
    return int(math.sqrt(2.0) * width)


class Variant(NamedTuple):
    """One network variant of a paper experiment.

    Attributes:
        key: Canonical name, e.g. ``"relu_sqrt2"`` or ``"lkselu_bn"``.
        activation: Registry name of the activation, e.g. ``"relu"``.
        batch_norm: Conv -> BatchNormalization -> activation.
        sqrt2: Every hidden layer widened to ``int(sqrt(2) * W)``.
        label: Display name, e.g. ``"ReLU√2"`` or ``"LK-SELU+BN"``.
    """

    key: str
    activation: str
    batch_norm: bool
    sqrt2: bool
    label: str


def parse_variant(name):
    """Parses ``ACTIVATION[_sqrt2][_bn]`` into a :class:`Variant`.

    Args:
        name: An activation of :mod:`linked_neurons.activations`, optionally
            with ``_sqrt2`` (widened) and ``_bn`` (batch normalization), e.g.
            ``"relu"``, ``"LK-ReLU"``, ``"relu_sqrt2"``, ``"selu_bn"``.

    Returns:
        A :class:`Variant`.

    Raises:
        ValueError: For an empty or unknown name.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"A variant must be a non-empty name, got {name!r}.")
    text = name.strip().lower()
    batch_norm = False
    for suffix in ("_bn", "+bn", "-bn"):
        if text.endswith(suffix):
            text, batch_norm = text[: -len(suffix)], True
            break
    sqrt2 = False
    for suffix in _SQRT2_SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            text, sqrt2 = text[: -len(suffix)], True
            break
    base = _parse_activation(text)
    key = base.activation + ("_sqrt2" if sqrt2 else "") + ("_bn" if batch_norm else "")
    label = base.label + ("√2" if sqrt2 else "") + ("+BN" if batch_norm else "")
    return Variant(key, base.activation, batch_norm, sqrt2, label)


def check_names(values, allowed, what, experiment):
    """Checks that ``values`` are distinct members of ``allowed``.

    Raises:
        ValueError: Naming ``experiment``, the bad values and the valid ones.
    """
    values = tuple(values)
    unknown = [v for v in values if v not in allowed]
    if unknown or not values:
        raise ValueError(
            f"{experiment}: unknown {what} {unknown or list(values)!r}; valid: "
            f"{', '.join(map(str, allowed))}."
        )
    if len(set(values)) != len(values):
        raise ValueError(f"{experiment}: duplicated {what} in {list(values)!r}.")
    return values


def _variants(names, experiment):
    try:
        variants = [parse_variant(n) for n in names]
    except ValueError as error:
        raise ValueError(f"{experiment}: {error}") from None
    keys = [v.key for v in variants]
    if not keys or len(set(keys)) != len(keys):
        raise ValueError(f"{experiment}: expected distinct variants, got {list(names)!r}.")
    return variants


# ------------------------------------------------------------------- networks
def _block(layers, conv, variant, axis, name=None):
    """Appends conv -> [BN] -> activation to ``layers``."""
    layers.append(conv)
    if variant.batch_norm:
        layers.append(keras.layers.BatchNormalization(axis=axis, momentum=BN_MOMENTUM))
    kwargs = {"name": name} if name else {}
    layers.append(ln_activations.get(variant.activation, axis=axis, **kwargs))


def _as_variant(activation, batch_norm, sqrt2):
    if isinstance(activation, Variant):
        return activation
    variant = parse_variant(activation)
    return variant._replace(
        batch_norm=variant.batch_norm or batch_norm, sqrt2=variant.sqrt2 or sqrt2
    )


def _axis(data_format):
    data_format = data_format or keras.config.image_data_format()
    return data_format, (1 if data_format == "channels_first" else -1)


def width_net(
    input_shape,
    num_classes,
    activation="relu",
    width=50,
    batch_norm=False,
    sqrt2=False,
    kernel_initializer="glorot_uniform",
    data_format=None,
):
    """The paper's width network: ``Conv2D(W, 3x3, valid) -> act -> Flatten -> Dense``.

    Args:
        input_shape: ``(H, W, C)`` (``(C, H, W)`` for channels_first).
        num_classes: Number of classes (softmax output).
        activation: A variant name (see :func:`parse_variant`) or a :class:`Variant`.
        width: Filters ``W`` of the convolution.
        batch_norm: BatchNormalization between the convolution and the activation.
        sqrt2: Widen the convolution to ``int(sqrt(2) * W)``.
        kernel_initializer: Initializer of every kernel.
        data_format: ``"channels_last"``, ``"channels_first"`` or None.

    Returns:
        An uncompiled ``keras.Sequential``.
    """
    variant = _as_variant(activation, batch_norm, sqrt2)
    data_format, axis = _axis(data_format)
    filters = widen(width) if variant.sqrt2 else width
    layers = [keras.Input(tuple(input_shape))]
    conv = keras.layers.Conv2D(
        filters, 3, padding="valid", data_format=data_format,
        use_bias=not variant.batch_norm, kernel_initializer=kernel_initializer,
    )
    _block(layers, conv, variant, axis)
    layers += [
        keras.layers.Flatten(data_format=data_format),
        keras.layers.Dense(
            num_classes, activation="softmax", kernel_initializer=kernel_initializer
        ),
    ]
    return keras.Sequential(layers, name=f"width_{variant.key}_{width}")


def depth_net(
    input_shape,
    num_classes,
    activation="relu",
    depth=51,
    width=4,
    batch_norm=False,
    sqrt2=False,
    kernel_initializer="glorot_uniform",
    data_format=None,
):
    """The paper's depth network: a deep, thin stack of convolutions.

    ``Conv2D(W, 7x7, stride 2, same) -> act``, then ``depth - 1`` times
    ``Conv2D(W, 3x3, same) -> act``, then ``Flatten -> Dense(num_classes,
    softmax)``. The paper uses ``depth=51`` and ``W=4`` on CIFAR-10.

    Args:
        input_shape: ``(H, W, C)`` (``(C, H, W)`` for channels_first).
        num_classes: Number of classes.
        activation: A variant name (see :func:`parse_variant`) or a :class:`Variant`.
        depth: Number of convolutions (each followed by an activation).
        width: Filters ``W`` of every convolution.
        batch_norm: Conv (no bias) -> BatchNormalization -> activation.
        sqrt2: Widen every convolution to ``int(sqrt(2) * W)``.
        kernel_initializer: Initializer of every kernel.
        data_format: ``"channels_last"``, ``"channels_first"`` or None.

    Returns:
        An uncompiled ``keras.Sequential`` whose activation layers are named
        ``act_1`` ... ``act_<depth>``.

    Raises:
        ValueError: For ``depth < 1`` or ``width < 1``.

    Example:

        >>> from linked_neurons.experiments.paper import depth_net
        >>> depth_net((32, 32, 3), 10, "relu").count_params()
        18242
    """
    if depth < 1 or width < 1:
        raise ValueError(f"depth_net: `depth` and `width` must be >= 1, got {depth}, {width}.")
    variant = _as_variant(activation, batch_norm, sqrt2)
    data_format, axis = _axis(data_format)
    filters = widen(width) if variant.sqrt2 else width
    kw = dict(
        padding="same", data_format=data_format, use_bias=not variant.batch_norm,
        kernel_initializer=kernel_initializer,
    )
    layers = [keras.Input(tuple(input_shape))]
    for index in range(depth):
        conv = (
            keras.layers.Conv2D(filters, 7, strides=2, **kw)
            if index == 0
            else keras.layers.Conv2D(filters, 3, **kw)
        )
        _block(layers, conv, variant, axis, name=f"act_{index + 1}")
    layers += [
        keras.layers.Flatten(data_format=data_format),
        keras.layers.Dense(
            num_classes, activation="softmax", kernel_initializer=kernel_initializer
        ),
    ]
    return keras.Sequential(layers, name=f"depth_{variant.key}_{depth}x{width}")


def extended_net(
    input_shape,
    num_classes,
    activation="relu",
    widths=(32, 32, 64, 64, 512),
    batch_norm=False,
    sqrt2=False,
    kernel_initializer="glorot_normal",
    data_format=None,
):
    """The paper's parameter-matched ("extended") network.

    ``C32 same -> act -> C32 valid -> act -> MaxPool -> C64 same -> act -> C64
    valid -> act -> MaxPool -> Flatten -> D512 -> act -> D(num_classes,
    softmax)``, 3x3 kernels, ``glorot_normal``. The *single* network uses a
    plain activation, the *√2* one widens every hidden layer to
    ``int(sqrt(2) * W)`` and the *linked* one keeps the widths with a linked
    activation (which doubles the inputs of the following layer); the two
    last have about the same number of parameters.

    Args:
        input_shape: ``(H, W, C)`` with H and W at least 10 (channels_first:
            ``(C, H, W)``).
        num_classes: Number of classes.
        activation: A variant name (see :func:`parse_variant`) or a :class:`Variant`.
        widths: The five hidden widths (four convolutions, one Dense).
        batch_norm: BatchNormalization before every hidden activation.
        sqrt2: Widen every hidden layer to ``int(sqrt(2) * W)``.
        kernel_initializer: Initializer of every kernel.
        data_format: ``"channels_last"``, ``"channels_first"`` or None.

    Returns:
        An uncompiled ``keras.Sequential``.

    Raises:
        ValueError: For fewer than 10x10 pixels or not five widths.
    """
    variant = _as_variant(activation, batch_norm, sqrt2)
    data_format, axis = _axis(data_format)
    widths = tuple(int(w) for w in widths)
    if len(widths) != 5:
        raise ValueError(f"extended_net: `widths` must have five entries, got {widths!r}.")
    spatial = input_shape[1:] if data_format == "channels_first" else input_shape[:2]
    if min(spatial) < 10:
        raise ValueError(
            f"extended_net: the input needs at least 10x10 pixels (two valid 3x3 "
            f"convolutions and two 2x2 poolings), got {tuple(input_shape)}."
        )
    if variant.sqrt2:
        widths = tuple(widen(w) for w in widths)
    kw = dict(
        data_format=data_format, use_bias=not variant.batch_norm,
        kernel_initializer=kernel_initializer,
    )
    layers = [keras.Input(tuple(input_shape))]
    for index, padding in enumerate(("same", "valid", "same", "valid")):
        _block(layers, keras.layers.Conv2D(widths[index], 3, padding=padding, **kw), variant, axis)
        if padding == "valid":
            layers.append(keras.layers.MaxPooling2D(2, data_format=data_format))
    layers.append(keras.layers.Flatten(data_format=data_format))
    _block(
        layers,
        keras.layers.Dense(
            widths[4], use_bias=not variant.batch_norm, kernel_initializer=kernel_initializer
        ),
        variant,
        -1,
    )
    layers.append(
        keras.layers.Dense(num_classes, activation="softmax", kernel_initializer=kernel_initializer)
    )
    return keras.Sequential(layers, name=f"extended_{variant.key}")


def activation_layer_names(model):
    """Names of ``model``'s hidden activation layers, in order.

    The activation-like layers of :func:`linked_neurons.monitoring.activation_layers`
    without the output layer (the softmax classifier).
    """
    output = model.layers[-1]
    return [layer.name for layer in monitoring.activation_layers(model) if layer is not output]


# ----------------------------------------------------------------------- data
def prepare_data(dataset="digits", seed=0, image_size=None, max_train_samples=None):
    """Loads an image dataset for the paper experiments.

    Args:
        dataset: ``"digits"`` (embedded 8x8 images, default), or
            ``"cifar10"``, ``"mnist"``, ``"fashion_mnist"`` through
            ``keras.datasets`` (cached files or network needed). Inputs are in
            [0, 1] (the paper's ``x / 255``).
        seed: Seed of the split.
        image_size: If given, images are resized (bilinear) to this square size.
        max_train_samples: Optional subset of the training images (Keras datasets only).

    Returns:
        A :class:`~linked_neurons.datasets.Dataset` with ``(H, W, C)`` images.

    Raises:
        ValueError: For a dataset without images (``"mnist1d"``) or an unknown name.
    """
    from linked_neurons import datasets

    name = dataset if isinstance(dataset, str) else None
    if name is not None and name.strip().lower().replace("-", "_") in ("mnist1d", "mnist_1d"):
        raise ValueError(
            "The paper experiments need images (Conv2D networks); 'mnist1d' is 1-D. Use "
            "'digits' (embedded) or 'cifar10', 'mnist', 'fashion_mnist'."
        )
    if name is not None and name in datasets.available() and name not in datasets.available(True):
        data = datasets.load_keras_dataset(name, seed=seed, max_train_samples=max_train_samples)
    else:
        data = common.load_dataset(dataset, seed=seed, shape="conv")
    if len(data.input_shape) != 3:
        raise ValueError(f"Expected image inputs (H, W, C), got {data.input_shape}.")
    if image_size and data.input_shape[:2] != (image_size, image_size):

        def resize(x):
            if not len(x):
                return np.zeros((0, image_size, image_size, x.shape[-1]), "float32")
            out = keras.ops.image.resize(x, (image_size, image_size), interpolation="bilinear")
            return np.clip(keras.ops.convert_to_numpy(out), 0.0, 1.0).astype("float32")

        data = dataclasses.replace(
            data, x_train=resize(data.x_train), x_val=resize(data.x_val),
            x_test=resize(data.x_test),
        )
    if not len(data.x_val):
        raise ValueError("The paper experiments need a non-empty validation split.")
    return data


# ------------------------------------------------------------------- training
class _Tracker(keras.callbacks.Callback):
    """Keeps the weights of the best validation epoch and the test accuracy of every epoch."""

    def __init__(self, x_test, y_test, test_every_epoch):
        super().__init__()
        self.x_test, self.y_test = x_test, y_test
        self.test_every_epoch = test_every_epoch and len(x_test) > 0
        self.best = -math.inf
        self.best_weights = None
        self.test_accuracy = []

    def on_epoch_end(self, epoch, logs=None):
        value = float((logs or {}).get("val_accuracy", -math.inf))
        if value > self.best:
            self.best, self.best_weights = value, self.model.get_weights()
        if self.test_every_epoch:
            # Timed apart from the epoch: EpochProgress sees only training + validation.
            _, accuracy = self.model.evaluate(
                self.x_test, self.y_test, batch_size=_EVAL_BATCH_SIZE, verbose=0
            )
            self.test_accuracy.append(float(accuracy))


def _optimizer(name, learning_rate, epsilon=None):
    optimizers = {
        "sgd": keras.optimizers.SGD,
        "adam": keras.optimizers.Adam,
        "rmsprop": keras.optimizers.RMSprop,
    }
    if name not in optimizers:
        raise ValueError(f"Unknown optimizer {name!r}; valid: {', '.join(optimizers)}.")
    if epsilon is None or name == "sgd":
        return optimizers[name](learning_rate)
    if not epsilon > 0:
        raise ValueError(f"train_variant: `epsilon` must be > 0, got {epsilon!r}.")
    return optimizers[name](learning_rate, epsilon=float(epsilon))


def train_variant(
    model,
    data,
    *,
    label,
    epochs,
    batch_size=32,
    optimizer="adam",
    learning_rate=1e-3,
    epsilon=None,
    shuffle=True,
    verbose=False,
    dead_units=False,
    dead_samples=512,
    test_every_epoch=True,
    target_accuracy=None,
    callbacks=(),
):
    """Trains ``model`` once and returns its result row and history.

    Training uses categorical cross-entropy (sparse labels), validates every
    epoch, restores the weights of the best validation epoch and tests them
    (model selection on validation data); ``paper_best_test_accuracy`` is the
    paper's own score, the best test accuracy over the epochs.

    Args:
        model: An uncompiled Keras model with a softmax output.
        data: A :class:`~linked_neurons.datasets.Dataset`.
        label: Name shown in the progress.
        epochs: Number of epochs.
        batch_size: Training batch size.
        optimizer: ``"sgd"``, ``"adam"`` or ``"rmsprop"``.
        learning_rate: Learning rate.
        epsilon: Epsilon of Adam or RMSprop (None: Keras' default, 1e-7;
            the original code ran Keras 2.1 with 1e-8). Ignored by SGD.
        shuffle: Shuffle the training set every epoch (the original did not).
        verbose: Per-epoch progress lines.
        dead_units: Also return ``dead_fraction`` (a list, one fraction per
            activation layer, measured on up to ``dead_samples`` training
            images with the selected weights).
        dead_samples: Number of training images for the dead-unit count.
        test_every_epoch: Evaluate the test split after every epoch (for the
            paper's score; NaN otherwise).
        target_accuracy: If given, ``epochs_to_target`` and
            ``seconds_to_target`` (training wall-clock until the validation
            accuracy first reaches it; NaN if never).
        callbacks: Further Keras callbacks for ``fit``.

    Returns:
        ``(row, history)``: a dict of scalar results and the Keras history
        (a dict of per-epoch lists, with ``test_accuracy`` added when measured).
    """
    model.compile(
        optimizer=_optimizer(optimizer, learning_rate, epsilon),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    progress = common.EpochProgress(label, epochs, verbose=verbose)
    tracker = _Tracker(data.x_test, data.y_test, test_every_epoch)
    start = time.perf_counter()
    history = model.fit(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=epochs,
        batch_size=batch_size,
        shuffle=bool(shuffle),
        validation_batch_size=max(batch_size, _EVAL_BATCH_SIZE),
        verbose=0,
        callbacks=[progress, tracker, *callbacks],
    ).history
    wall = time.perf_counter() - start
    val = [float(v) for v in history["val_accuracy"]]
    best = int(np.argmax(val))
    if tracker.best_weights is not None:
        model.set_weights(tracker.best_weights)
    if len(data.x_test):
        _, test_accuracy = model.evaluate(
            data.x_test, data.y_test, batch_size=_EVAL_BATCH_SIZE, verbose=0
        )
    else:
        test_accuracy = math.nan
    durations = list(progress.durations)
    steady = durations[1:] or durations
    row = {
        "best_val_accuracy": val[best],
        "best_epoch": best + 1,
        "test_accuracy": float(test_accuracy),
        "paper_best_test_accuracy": (
            max(tracker.test_accuracy) if tracker.test_accuracy else math.nan
        ),
        "final_val_accuracy": val[-1],
        "final_train_accuracy": float(history["accuracy"][-1]),
        "final_train_loss": float(history["loss"][-1]),
        "seconds_per_epoch": float(np.median(steady)) if steady else math.nan,
        "first_epoch_seconds": float(durations[0]) if durations else math.nan,
        "train_seconds": float(wall),
        "params": int(model.count_params()),
    }
    if target_accuracy is not None:
        reached = [i for i, v in enumerate(val) if v >= target_accuracy]
        row["epochs_to_target"] = reached[0] + 1 if reached else math.nan
        row["seconds_to_target"] = (
            float(sum(durations[: reached[0] + 1])) if reached else math.nan
        )
    if dead_units:
        sample = data.x_train[:dead_samples]
        names = activation_layer_names(model)
        result = monitoring.dead_units(model, sample, layers=names, batch_size=_EVAL_BATCH_SIZE)
        row["dead_fraction"] = [r.fraction for r in result]
    history = {k: [float(v) for v in values] for k, values in history.items()}
    if tracker.test_accuracy:
        history["test_accuracy"] = tracker.test_accuracy
    return row, history


def summarize(runs, group_keys, value_keys):
    """Medians and spread over runs.

    Args:
        runs: Result rows, one per run.
        group_keys: Keys that identify a configuration (rows sharing them are runs of it).
        value_keys: Numeric keys to summarise: each gives ``<key>`` (median),
            ``<key>_min`` and ``<key>_max``.

    Returns:
        One row per configuration, in first-seen order, with ``runs`` (count).
    """
    groups = {}
    for row in runs:
        groups.setdefault(tuple(row[k] for k in group_keys), []).append(row)
    table = []
    for key, rows in groups.items():
        out = dict(zip(group_keys, key))
        out["runs"] = len(rows)
        for name in value_keys:
            values = np.array([float(r[name]) for r in rows if name in r], dtype=float)
            finite = values[np.isfinite(values)]
            if len(finite) == 0:
                out[name] = out[f"{name}_min"] = out[f"{name}_max"] = math.nan
            else:
                values = (float(np.median(finite)), float(finite.min()), float(finite.max()))
                if all(isinstance(r.get(name), int) for r in rows):
                    # Counts stay integers where the median is one.
                    values = tuple(int(v) if v.is_integer() else v for v in values)
                out[name], out[f"{name}_min"], out[f"{name}_max"] = values
        for name, value in rows[0].items():
            if name not in out and name not in value_keys and not isinstance(value, list):
                if all(r.get(name) == value for r in rows):
                    out[name] = value
        table.append(out)
    return table


def median_history(histories):
    """Per-epoch medians of a list of Keras histories (dicts of lists)."""
    keys = [k for k in histories[0] if all(k in h for h in histories)]
    return {k: [float(v) for v in np.median([h[k] for h in histories], axis=0)] for k in keys}


# ---------------------------------------------------------------------- output
def plot_bars(rows, path, group_key, series_key, value_key, title=None, ylabel=None,
              errors=True, reference=None):
    """Grouped bar chart: one group per ``group_key``, one bar per ``series_key``.

    Error bars span ``<value_key>_min`` to ``<value_key>_max`` when present.
    Needs matplotlib; returns None without it.

    Args:
        rows: Summary rows (see :func:`summarize`).
        path: PNG file to write.
        group_key, series_key, value_key: Row keys.
        title, ylabel: Optional labels.
        errors: Draw the min/max range.
        reference: Optional y value drawn as a dashed line.

    Returns:
        ``path``, or None when matplotlib is missing.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    groups = list(dict.fromkeys(str(r[group_key]) for r in rows))
    series = list(dict.fromkeys(str(r[series_key]) for r in rows))
    figure = Figure(figsize=(max(5.0, 0.45 * len(groups) * len(series) + 2), 4.0),
                    layout="constrained")
    axis = figure.subplots()
    width = 0.8 / max(1, len(series))
    for s_index, name in enumerate(series):
        xs, ys, lo, hi = [], [], [], []
        for g_index, group in enumerate(groups):
            for row in rows:
                if str(row[group_key]) == group and str(row[series_key]) == name:
                    value = float(row[value_key])
                    xs.append(g_index + (s_index - (len(series) - 1) / 2) * width)
                    ys.append(value)
                    lo.append(value - float(row.get(f"{value_key}_min", value)))
                    hi.append(float(row.get(f"{value_key}_max", value)) - value)
        yerr = np.nan_to_num(np.array([lo, hi])) if errors else None
        axis.bar(xs, ys, width=width, label=name if len(series) > 1 else None, yerr=yerr,
                 capsize=2)
    if reference is not None:
        axis.axhline(reference, color="grey", linestyle="--", linewidth=1)
    axis.set_xticks(range(len(groups)))
    axis.set_xticklabels(groups, rotation=45 if len(groups) > 4 else 0, ha="right"
                         if len(groups) > 4 else "center")
    axis.set_ylabel(ylabel or value_key.replace("_", " "))
    axis.grid(alpha=0.3, axis="y")
    if len(series) > 1:
        axis.legend(fontsize="small")
    if title:
        axis.set_title(title)
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    figure.savefig(path, dpi=90)
    return path


def hardware():
    """A one-line description of the machine: CPU model, cores, backend and versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    backend = keras.backend.backend()
    version = ""
    try:
        module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend]
        version = " " + sys.modules[module].__version__ if module in sys.modules else ""
    except KeyError:
        pass
    return (
        f"{cpu}, {cores} cores available, Python {platform.python_version()}, "
        f"Keras {keras.__version__}, backend {backend}{version}"
    )


def report(rows, columns, stem, title, notes, plots, verbose):
    """Writes ``stem``.csv/.md and prints the table and file names when ``verbose``."""
    csv_path, md_path = common.write_tables(rows, stem, columns, title=title, notes=notes)
    if verbose:
        print()
        print(common.markdown_table(rows, columns))
        print()
        for note in notes:
            print(note)
        for path in (csv_path, md_path, *plots):
            if path is not None:
                print(f"wrote {path}")
        if any(p is None for p in plots):
            print(
                "matplotlib is not installed: no plots "
                '(pip install -e ".[experiments]").'
            )
    return csv_path, md_path


# ---------------------------------------------------------------- command line
def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def add_paper_arguments(parser, name, preset):
    """Adds the shared options of the paper experiments.

    Options left out take their value from ``preset`` (the embedded-data
    preset, or the paper's CIFAR-10 one with ``--dataset cifar10``); see
    :func:`~linked_neurons.experiments.paper.resolve`.
    """
    parser.add_argument(
        "--dataset", default="digits",
        help="digits (embedded 8x8 images, default) or cifar10 / mnist / fashion_mnist "
        "through keras.datasets; cifar10 switches to the paper's settings",
    )
    parser.add_argument("--epochs", type=_positive_int, default=None,
                        help=f"epochs (default: {preset['epochs']} on digits)")
    parser.add_argument("--batch-size", type=_positive_int, default=None,
                        help=f"batch size (default: {preset['batch_size']})")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help=f"learning rate (default: {preset['learning_rate']})")
    parser.add_argument("--runs", type=_positive_int, default=None,
                        help=f"runs per variant, seeds seed..seed+runs-1; tables give the "
                        f"median and min/max (default: {preset['runs']} on digits)")
    parser.add_argument("--seed", type=int, default=0, help="first seed (default: 0)")
    parser.add_argument("--image-size", type=_positive_int, default=None,
                        help="resize images to this square size (default: "
                        f"{preset.get('image_size') or 'native'} on digits)")
    parser.add_argument("--max-train-samples", type=_positive_int, default=None,
                        help="subset of the training images (keras.datasets only)")
    parser.add_argument("--epsilon", type=float, default=None,
                        help="epsilon of Adam / RMSprop (default: "
                        f"{preset.get('epsilon') or 'Keras default'}; the original code ran "
                        "Keras 2.1 with 1e-8, Keras 3 uses 1e-7)")
    parser.add_argument("--shuffle", action=argparse.BooleanOptionalAction, default=None,
                        help="shuffle the training set every epoch (default: "
                        f"{'yes' if preset.get('shuffle') else 'no, as the original'})")
    parser.add_argument("--kernel-initializer", default=None,
                        help="initializer of every kernel, a keras.initializers name "
                        f"(default: {preset.get('kernel_initializer', 'glorot_uniform')}, "
                        "as the original)")
    parser.add_argument("--output-dir", default=os.path.join("results", name),
                        help=f"folder for tables and plots (default: results/{name})")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch progress")


def resolve(args, presets, keys):
    """The value of every option in ``keys``: given on the command line, else the preset's.

    ``presets`` maps ``"cifar10"`` to the paper's settings and ``"default"``
    to the embedded-data ones.
    """
    preset = presets["cifar10"] if args.dataset.lower().replace("-", "") in (
        "cifar10", "cifar_10") else presets["default"]
    return {
        key: getattr(args, key) if getattr(args, key, None) is not None else preset.get(key)
        for key in keys
    }


def announce(experiment, data, networks, epochs, image_size):
    """Prints the expected wall time of a study (two idle CPU cores) and returns it.

    ``image_size`` is the preset's image size on the digits (None: 8x8), the
    data :data:`~linked_neurons.experiments.presets.COST` was measured on.
    """
    from linked_neurons.experiments import presets

    pixels = len(data.x_train) * int(np.prod(data.input_shape))
    preset_pixels = 1079 * (image_size or 8) ** 2
    seconds = presets.expected_seconds(experiment, networks, epochs, pixels, preset_pixels)
    print(f"{experiment}: {networks} trainings x {epochs} epochs; expected time about "
          f"{presets.format_seconds(seconds)} on 2 idle CPU cores (longer on a busy machine)",
          flush=True)
    return seconds


def run_study(experiment, data, configs, build, *, runs, seed, verbose, **train_kwargs):
    """Trains every configuration ``runs`` times; the loop shared by the experiments.

    Args:
        experiment: Name used in the progress lines.
        data: A :class:`~linked_neurons.datasets.Dataset`.
        configs: A list of dicts, each with at least ``"label"`` (unique) and
            the keys that identify the configuration in the tables.
        build: Function from a config dict to an uncompiled model.
        runs: Runs per configuration; run ``r`` uses seed ``seed + r``
            (through ``keras.utils.set_random_seed``). Runs are interleaved
            (every configuration once, then again), so a slow period of the
            machine affects all configurations alike.
        seed: First seed.
        verbose: 0 silent, 1 one line per model, 2 per-epoch progress too.
        **train_kwargs: Passed to :func:`train_variant`.

    Returns:
        ``(rows, histories)``: one row per configuration and run (the config's
        keys, ``run``, ``seed`` and the results of :func:`train_variant`) and,
        per label, the list of the runs' histories.
    """
    labels = [c["label"] for c in configs]
    if len(set(labels)) != len(labels):
        raise ValueError(f"{experiment}: duplicated configurations {labels!r}.")
    rows, histories = [], {label: [] for label in labels}
    total = runs * len(configs)
    count = 0
    for run_index in range(runs):
        for config in configs:
            count += 1
            run_seed = seed + run_index
            keras.utils.set_random_seed(run_seed)
            model = build(config)
            name = config["label"] + (f" run {run_index + 1}/{runs}" if runs > 1 else "")
            row, history = train_variant(
                model, data, label=name, verbose=verbose >= 2, **train_kwargs
            )
            rows.append({**config, "run": run_index + 1, "seed": run_seed, **row})
            histories[config["label"]].append(history)
            if verbose:
                print(
                    f"{experiment} [{count}/{total}] {name}: best val acc "
                    f"{row['best_val_accuracy']:.4f}, test acc {row['test_accuracy']:.4f}, "
                    f"{row['seconds_per_epoch']:.2f} s/epoch",
                    flush=True,
                )
            keras.backend.clear_session()
    return rows, histories
