"""Pieces of the classification studies: variant names, data and one training.

- :func:`parse_variant`: ``ACTIVATION[_sqrt2][_bn]``, any name of
  :mod:`linked_neurons.activations`, with ``_sqrt2`` (every hidden layer
  widened to ``int(sqrt(2) * W)``) and ``_bn`` (Conv -> BatchNormalization
  -> activation).
- :func:`fit_and_score`: one training, tested with the weights of its best
  validation epoch, the paper's score (best test accuracy) beside it.
- :func:`paired_tables`: every variant minus its baseline, seed by seed.
"""

import math
import time
from typing import NamedTuple

__all__ = ["PAPER_COLUMNS", "Variant", "activation_layer_names", "bar_report", "fit_and_score",
           "fit_task", "history_row", "load_images", "paired_tables",
           "paper_arguments", "paper_study", "parse_variant"]

EVAL_BATCH_SIZE = 256
_LABELS = {"relu": "ReLU", "prelu": "PReLU", "leakyrelu": "LeakyReLU", "selu": "SELU",
           "swish": "Swish", "mish": "Mish", "lkrelu": "LK-ReLU", "lkprelu": "LK-PReLU",
           "lkselu": "LK-SELU", "lkswish": "LK-Swish"}
_SUFFIXES = {"bn": ("_bn", "+bn", "-bn", " bn"),
             "sqrt2": ("_sqrt2", "-sqrt2", "+sqrt2", "sqrt2", "√2")}


class Variant(NamedTuple):
    """One network variant.

    Attributes:
        key: Canonical name, e.g. ``"relu_sqrt2"`` or ``"lkselu_bn"``.
        label: Display name, e.g. ``"ReLU√2"`` or ``"LK-SELU+BN"``.
        activation: Name in :mod:`linked_neurons.activations`, e.g. ``"relu"``.
        batch_norm: Conv -> BatchNormalization -> activation.
        sqrt2: Every hidden layer widened to ``int(sqrt(2) * W)``.
    """

    key: str
    label: str
    activation: str
    batch_norm: bool = False
    sqrt2: bool = False


def _strip(text, kind):
    for suffix in _SUFFIXES[kind]:
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)], True
    return text, False


def parse_variant(name):
    """Parses ``ACTIVATION[_sqrt2][_bn]`` into a :class:`Variant`.

    Example:

        >>> from linked_neurons.experiments.classify import parse_variant
        >>> parse_variant("relu_sqrt2").label, parse_variant("LK-ReLU").key
        ('ReLU√2', 'lkrelu')

    Raises:
        ValueError: For an empty or unknown name.
    """
    from linked_neurons import activations

    if isinstance(name, Variant):
        return name
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"A variant must be a non-empty name, got {name!r}.")
    text, batch_norm = _strip(name.strip().lower(), "bn")
    text, sqrt2 = _strip(text, "sqrt2")
    activation = "".join(ch for ch in text if ch not in "-_+ ")
    activations.get(activation)  # a ValueError listing the names for unknown ones
    key = activation + ("_sqrt2" if sqrt2 else "") + ("_bn" if batch_norm else "")
    label = _LABELS.get(activation, activation) + ("√2" if sqrt2 else "") + (
        "+BN" if batch_norm else "")
    return Variant(key, label, activation, batch_norm, sqrt2)


def activation_layer_names(model):
    """Names of ``model``'s hidden activation layers, in order (the output layer left out)."""
    from linked_neurons import monitoring

    output = model.layers[-1]
    return [layer.name for layer in monitoring.activation_layers(model) if layer is not output]


def _optimizer(name, learning_rate, epsilon):
    import keras

    optimizers = {"sgd": keras.optimizers.SGD, "adam": keras.optimizers.Adam,
                  "rmsprop": keras.optimizers.RMSprop}
    if name not in optimizers:
        raise ValueError(f"Unknown optimizer {name!r}; valid: {', '.join(optimizers)}.")
    if epsilon is None or name == "sgd":
        return optimizers[name](learning_rate)
    return optimizers[name](learning_rate, epsilon=float(epsilon))


def fit_and_score(model, data, *, epochs, batch_size=32, optimizer="adam", learning_rate=1e-3,
                  epsilon=None, shuffle=True, callbacks=(), restore_best=True,
                  test_every_epoch=True, target_accuracy=None, dead_units=False,
                  dead_samples=512, loss="sparse_categorical_crossentropy"):
    """Trains ``model`` once and returns its result row and history.

    Args:
        model: An uncompiled Keras model with a softmax output.
        data: A :class:`~linked_neurons.datasets.Dataset`.
        epochs: Epochs.
        batch_size: Training batch size (evaluation uses at least 256).
        optimizer: ``"sgd"``, ``"adam"`` or ``"rmsprop"``.
        learning_rate: Learning rate.
        epsilon: Epsilon of Adam or RMSprop (None: Keras' 1e-7; the
            original code ran Keras 2.1 with 1e-8). Ignored by SGD.
        shuffle: Shuffle the training set every epoch (the original did not).
        callbacks: Keras callbacks (the runner's progress and epoch CSV).
        restore_best: Test the weights of the best validation epoch (False:
            the final weights).
        test_every_epoch: Evaluate the test split after every epoch, for the
            paper's score ``paper_best_test_accuracy`` (NaN otherwise).
        target_accuracy: Adds ``epochs_to_target`` and ``seconds_to_target``
            (training time until the validation accuracy first reaches it).
        dead_units: Adds ``dead_fraction``, one fraction per hidden activation
            layer, on up to ``dead_samples`` training images (selected weights).
        dead_samples: Images for the dead-unit count.
        loss: The loss (sparse labels).

    Returns:
        ``(row, history)``: scalar results and the per-epoch metrics (with
        ``test_accuracy`` when measured).
    """
    import keras
    import numpy as np

    from linked_neurons.training import build_before_fit

    durations, tests, best = [], [], {"value": -math.inf, "weights": None}
    eval_batch = max(batch_size, EVAL_BATCH_SIZE)

    class Track(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            durations.append(time.perf_counter() - self.start)
            value = float((logs or {}).get("val_accuracy", -math.inf))
            if restore_best and value > best["value"]:
                best.update(value=value, weights=self.model.get_weights())
            if test_every_epoch and len(data.x_test):  # after the timing: not in the epoch
                tests.append(float(self.model.evaluate(data.x_test, data.y_test,
                                                       batch_size=eval_batch, verbose=0)[1]))

    model.compile(optimizer=_optimizer(optimizer, learning_rate, epsilon), loss=loss,
                  metrics=["accuracy"])
    build_before_fit(model, data.x_train, data.y_train)
    start = time.perf_counter()
    history = model.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val),
                        epochs=epochs, batch_size=batch_size, shuffle=bool(shuffle),
                        validation_batch_size=eval_batch, verbose=0,
                        callbacks=[Track(), *callbacks]).history
    wall = time.perf_counter() - start
    if best["weights"] is not None:
        model.set_weights(best["weights"])
    test_loss = test_accuracy = math.nan
    if len(data.x_test):
        test_loss, test_accuracy = model.evaluate(data.x_test, data.y_test,
                                                  batch_size=eval_batch, verbose=0)
    steady = durations[1:] or durations
    row = {**history_row(history, wall), "test_accuracy": float(test_accuracy),
           "test_loss": float(test_loss),
           "paper_best_test_accuracy": max(tests) if tests else math.nan,
           "final_train_accuracy": float(history["accuracy"][-1]),
           "seconds_per_epoch": float(np.median(steady)) if steady else math.nan,
           "first_epoch_seconds": float(durations[0]) if durations else math.nan,
           "params": int(model.count_params())}
    if target_accuracy is not None:
        reached = [i for i, v in enumerate(history["val_accuracy"]) if v >= target_accuracy]
        row["epochs_to_target"] = reached[0] + 1 if reached else math.nan
        row["seconds_to_target"] = float(sum(durations[: reached[0] + 1])) if reached else math.nan
    if dead_units:
        from linked_neurons import monitoring

        result = monitoring.dead_units(model, data.x_train[:dead_samples],
                                       layers=activation_layer_names(model),
                                       batch_size=EVAL_BATCH_SIZE)
        row["dead_fraction"] = [r.fraction for r in result]
    history = {k: [float(v) for v in values] for k, values in history.items()}
    if tests:
        history["test_accuracy"] = tests
    return row, history


def paired_tables(result, baseline, metrics=("test_accuracy",), group_keys=(), stem="paired"):
    """Writes every variant minus its baseline, paired by seed, as CSV and Markdown.

    Args:
        result: A :class:`~linked_neurons.experiments.runner.StudyResult`.
        baseline: The baseline's label, or ``group -> label`` (see
            :func:`linked_neurons.stats.paired_table`).
        metrics: Compared row values.
        group_keys: Row keys that split the comparisons.
        stem: File name in the run folder, without extension.

    Returns:
        The written paths; none with fewer than two seeds.
    """
    import os

    import pandas as pd

    from linked_neurons.stats import paired_table

    if len(result.options["seeds"]) < 2:
        return []
    rows = [{**row, "metric": metric, "comparison": f"{row['config']} - {row['baseline']}",
             "ci": f"[{row['ci_low']:+.4f}, {row['ci_high']:+.4f}]"}
            for metric in metrics
            for row in paired_table(result.runs.to_dict("records"), baseline, metric,
                                    config_key="label", group_keys=group_keys)]
    if not rows:
        return []
    table = pd.DataFrame(rows)
    path = os.path.join(result.folder, stem)
    table.to_csv(f"{path}.csv", index=False)
    shown = [*group_keys, "comparison", "metric", "seeds", "mean_difference", "ci", "p_value",
             "verdict"]
    with open(f"{path}.md", "w") as handle:
        handle.write("# Every variant minus its baseline, paired by seed\n\n"
                     f"{table[shown].to_markdown(index=False, floatfmt='.4f')}\n\n"
                     "mean_difference: mean over the seeds of (variant - baseline); ci: 95% "
                     "Student-t interval of that mean; verdict: which is better when the "
                     "interval excludes 0.\n")
    return [f"{path}.csv", f"{path}.md"]


def history_row(history, seconds):
    """The result columns of a ``fit`` history that lasted ``seconds``.

    Returns:
        ``best_val_accuracy``, ``best_epoch`` (from 1), ``final_val_accuracy``,
        ``final_val_loss``, ``final_train_loss``, ``epochs``,
        ``seconds_per_epoch`` (the mean) and ``train_seconds``.
    """
    val = [float(v) for v in history["val_accuracy"]]
    return {"best_val_accuracy": max(val), "best_epoch": val.index(max(val)) + 1,
            "final_val_accuracy": val[-1], "final_val_loss": float(history["val_loss"][-1]),
            "final_train_loss": float(history["loss"][-1]), "epochs": len(val),
            "seconds_per_epoch": seconds / len(val), "train_seconds": float(seconds)}


# ------------------------------------------------- the paper studies' shared parts
#: Accuracy columns of the paper studies, the validation-selected test accuracy
#: and, beside it, the paper's score (the best test accuracy over the epochs).
PAPER_COLUMNS = (("best_val_accuracy", "best val acc"), ("test_accuracy", "test acc"),
                 ("test_accuracy_min", "test min"), ("test_accuracy_max", "test max"),
                 ("paper_best_test_accuracy", "best test (paper)"),
                 ("paper_best_test_accuracy_min", "best test min"),
                 ("paper_best_test_accuracy_max", "best test max"))
_INITIALIZERS = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
                 "lecun_normal", "orthogonal", "random_normal", "random_uniform",
                 "truncated_normal")


def paper_arguments(parser, study, *names):
    """Adds flags of the paper studies, each checked by an ``argparse`` type of the CLI.

    Args:
        parser: An ``argparse`` parser or argument group.
        study: The study whose defaults (``presets.PRESETS``) the help shows.
        *names: Some of ``epsilon``, ``shuffle`` (``--shuffle/--no-shuffle``),
            ``kernel_initializer``, ``image_size``, ``depth``, ``width``.
    """
    import argparse

    from linked_neurons.experiments import presets
    from linked_neurons.experiments.cli import choice, positive_float, positive_int

    flags = {"epsilon": (dict(type=positive_float), "epsilon of Adam or RMSprop (the original's "
                         "Keras 2.1: 1e-8; Keras 3: 1e-7)"),
             "shuffle": (dict(action=argparse.BooleanOptionalAction), "shuffle the training "
                         "set every epoch (the original did not)"),
             "kernel_initializer": (dict(type=choice(*_INITIALIZERS), metavar="NAME"),
                                    f"initializer of every kernel: {', '.join(_INITIALIZERS)}"),
             "image_size": (dict(type=positive_int, metavar="PIXELS"), "resize the images to "
                            "this square size"),
             "depth": (dict(type=positive_int), "convolutions of the network"),
             "width": (dict(type=positive_int), "filters of every convolution")}
    for name in names:
        kwargs, text = flags[name]
        default, cifar = ("native" if name == "image_size" and v is None else v for v in
                          (presets.PRESETS[study][p].get(name) for p in ("default", "cifar10")))
        text += f" (default: {default}" + (f"; {cifar} with --dataset cifar10)"
                                           if cifar != default else ")")
        parser.add_argument("--" + name.replace("_", "-"), default=None, **kwargs, help=text)


def fit_task(task, model, optimizer, data=None, **kwargs):
    """:func:`fit_and_score` with a paper study's options and the task's callbacks.

    Args:
        task: A :class:`~linked_neurons.experiments.runner.Task`.
        model: The uncompiled model.
        optimizer: ``"sgd"``, ``"adam"`` or ``"rmsprop"``.
        data: The data (default: ``task.data``).
        **kwargs: Further arguments of :func:`fit_and_score` (``callbacks``
            are added to the task's).

    Returns:
        ``(row, history)`` of :func:`fit_and_score`.
    """
    o = task.options
    return fit_and_score(model, task.data if data is None else data, epochs=o["epochs"],
                         batch_size=o["batch_size"], optimizer=optimizer,
                         learning_rate=o["learning_rate"], epsilon=o.get("epsilon"),
                         shuffle=o["shuffle"], callbacks=[*task.callbacks,
                                                          *kwargs.pop("callbacks", ())], **kwargs)


def load_images(options):
    """The images of a paper study's ``options`` (:func:`linked_neurons.datasets.prepare`)."""
    from linked_neurons.datasets import prepare

    return prepare(options["dataset"], seed=options["seeds"][0],
                   image_size=options.get("image_size"),
                   max_train_samples=options["max_train_samples"], images=True)


def bar_report(file_name, series, title):
    """A ``Study.report`` that plots the paper's score per activation and ``series``.

    Returns:
        ``report(result)`` -> the path of ``file_name`` in the run folder
        (:func:`linked_neurons.plotting.plot_bars` of the summary), or
        ``[None]`` without matplotlib.
    """
    def report(result):
        import os

        from linked_neurons import plotting
        from linked_neurons.experiments import runner

        return [runner.save_plot(os.path.join(result.folder, file_name), plotting.plot_bars,
                                 result.summary, "activation", "paper_best_test_accuracy",
                                 series=series, title=title, dpi=90)]

    return report


def paper_study(name, optimizer, extra=None, extra_notes=(), **fields):
    """The :class:`~linked_neurons.experiments.runner.Study` of the paper study ``name``.

    Fills in what the paper studies share: the defaults and the ``cifar10``
    preset of :data:`~linked_neurons.experiments.presets.PRESETS`, the
    variants of :func:`parse_variant`, the images of :func:`load_images`, the
    expected time, the paper's score as the plotted metric, the accuracy
    values and notes on the settings; a ``grid`` doubles as the ``check``.

    Args:
        name: The study's name (a key of ``PRESETS``).
        optimizer: The optimizer's name in the notes, e.g. ``"Adam"``.
        extra: Defaults of the study's options outside ``PRESETS``.
        extra_notes: Further note lines (callables take the options).
        **fields: Any other field of the ``Study``, or an override.

    Returns:
        A :class:`~linked_neurons.experiments.runner.Study`.
    """
    from linked_neurons.experiments import presets, runner

    def settings(o, data):
        shown = [f"{k} {o[k]}" for k in ("depth", "width") if k in o]
        shown += [f"{o['epochs']} epochs", f"batch {o['batch_size']}",
                  f"{optimizer} lr {o['learning_rate']}"]
        shown += [f"epsilon {o['epsilon']}"] if o.get("epsilon") else []
        shown += [f"shuffle {o['shuffle']}", o["kernel_initializer"]]
        return [f"{data!r}; {', '.join(shown)}; chance {1 / data.num_classes:.2f}.",
                *(n(o) if callable(n) else n for n in extra_notes),
                "test acc: the weights of the best validation epoch; best test (paper): the "
                "best test accuracy over the epochs, the paper's score."]

    defaults, cifar = presets.study_settings(name, **(extra or {}))
    shared = dict(defaults=defaults, presets=cifar, parse_variant=parse_variant,
                  load_data=load_images, expected_seconds=presets.estimate(name),
                  primary="paper_best_test_accuracy", notes=settings,
                  values=("best_val_accuracy", "test_accuracy", "paper_best_test_accuracy",
                          "seconds_per_epoch"))
    if fields.get("grid") and not fields.get("check"):
        shared["check"] = fields["grid"]  # its errors come before the run folder is made
    return runner.Study(name=name, **{**shared, **fields})
