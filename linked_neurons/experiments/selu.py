"""SELU study: activation histograms of one CNN trained with several activations.

``linked-neurons selu`` trains :func:`~linked_neurons.study_models.selu_cnn`
(Adam with global gradient-norm clipping at 20) once per activation and
seed, logs its activations to TensorBoard (``logs/`` of the run folder) and
adds ``layers.md`` (per activation and layer: mean, std, min, max, fractions
of zeros, negative values and dead units on the test split),
``histograms.png`` (every layer on a validation batch, first seed) and
``training.png``. Variants: names of :mod:`linked_neurons.activations`,
``_bn`` for BatchNormalization after them. The 8x8 digits are enlarged to
16x16. The original trained 10,000 steps at learning rate 1e-4; the default,
15 epochs at 1e-3, takes a few minutes on two CPU cores.
"""

import os

from linked_neurons.experiments import classify, runner
from linked_neurons.experiments.cli import positive_int
from linked_neurons.study_models import SELU_LAYER_NAMES

__all__ = ["STUDY"]

_LAYERS = {name: name[: -len("_act")] for name in SELU_LAYER_NAMES}
_STATS = ("mean", "std", "min", "max", "zero_fraction", "negative_fraction", "dead_fraction")


def _load(options):
    from linked_neurons import datasets

    size = options["image_size"] or (16 if options["dataset"] == "digits" else None)
    return datasets.prepare(options["dataset"], seed=options["seeds"][0], image_size=size,
                            max_train_samples=options["max_train_samples"])


def _train(task):
    import time

    import keras
    import numpy as np

    from linked_neurons import monitoring
    from linked_neurons.callbacks import ActivationHistograms
    from linked_neurons.study_models import selu_cnn
    from linked_neurons.training import build_before_fit

    options, variant, data = task.options, task.variant, task.data
    model = selu_cnn(data.input_shape, data.num_classes, variant.activation, variant.batch_norm)
    model.compile(optimizer=keras.optimizers.Adam(options["learning_rate"], global_clipnorm=20.0),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    batch, layers = data.x_val[:256], list(SELU_LAYER_NAMES)
    logs = None if options["no_logs"] else os.path.join(task.folder, "logs", task.name)
    monitor = ActivationHistograms(logs, layers=layers, data=batch, freq=options["freq"],
                                   freq_unit="epoch",
                                   images=["activation_map"] if options["images"] else False)
    build_before_fit(model, data.x_train, data.y_train)
    start = time.perf_counter()
    history = model.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val),
                        epochs=options["epochs"], batch_size=options["batch_size"],
                        validation_batch_size=max(options["batch_size"], 256), verbose=0,
                        callbacks=[*task.callbacks, monitor]).history
    seconds = time.perf_counter() - start
    test_accuracy = model.evaluate(data.x_test, data.y_test, batch_size=256, verbose=0)[1]
    statistics = monitoring.activation_statistics(model, data.x_test, layers=layers,
                                                  batch_size=256)
    outputs = monitoring.layer_outputs(model, batch, layers=layers, batch_size=256)
    np.savez(os.path.join(task.folder, "models", f"{task.name}_outputs.npz"),
             **{_LAYERS[k]: v for k, v in outputs.items()})
    units, dead = sum(s.units for s in statistics), sum(s.dead_units for s in statistics)
    row = {"test_accuracy": float(test_accuracy), **classify.history_row(history, seconds),
           "dead_units": dead, "units": units, "dead_fraction": dead / units,
           "params": int(model.count_params())}
    for s in statistics:
        row.update({f"{_LAYERS[s.layer]}_{k}": float(getattr(s, k)) for k in _STATS})
    return row, history


def _report(result):
    import numpy as np
    import pandas as pd

    from linked_neurons import plotting

    folder, first = result.folder, result.options["seeds"][0]
    layers = pd.DataFrame([{"activation": label, "layer": layer,
                            **{k: group[f"{layer}_{k}"].median() for k in _STATS}}
                           for label, group in result.runs.groupby("label", sort=False)
                           for layer in _LAYERS.values()])
    files = [os.path.join(folder, "layers.csv"), os.path.join(folder, "layers.md")]
    layers.to_csv(files[0], index=False)
    with open(files[1], "w") as handle:
        handle.write("# Activations of every layer on the test split (median over the seeds)"
                     f"\n\n{layers.to_markdown(index=False, floatfmt='.4f')}\n")
    keys = dict(zip(result.runs["label"], result.runs["variant"]))
    outputs = {label: dict(np.load(os.path.join(folder, "models", f"{key}__seed{first}_outputs"
                                                ".npz"))) for label, key in keys.items()}
    try:
        figure = plotting.plot_histogram_comparison(
            outputs, bins=40, title=f"Activations after training ({result.data.name}, fixed "
            f"validation batch, seed {first})")
        files.append(plotting.save_figure(figure, os.path.join(folder, "histograms.png"), dpi=72))
        figure = plotting.plot_learning_curves(
            {label: h[0] for label, h in result.histories.items() if h},
            metrics=["accuracy", "loss"], title="Training (solid) and validation (dashed)")
        files.append(plotting.save_figure(figure, os.path.join(folder, "training.png"), dpi=80))
    except ImportError:
        pass
    return files


def _arguments(parser):
    parser.add_argument("--image-size", type=positive_int, default=None, metavar="SIZE",
                        help="resize images to SIZE x SIZE (default: 16 for digits, else none)")
    parser.add_argument("--freq", type=positive_int, default=None,
                        help="log the histograms every FREQ epochs (default: 1)")
    for flag, text in (("--no-logs", "do not write TensorBoard logs"),
                       ("--images", "also log activation-map images to TensorBoard")):
        parser.add_argument(flag, action="store_true", default=None, help=text)


#: The declaration of the study (see :class:`~linked_neurons.experiments.runner.Study`).
STUDY = runner.Study(
    name="selu",
    summary="activation histograms of a CNN with ReLU, leaky ReLU, SELU and linked activations",
    description=__doc__,
    defaults=dict(dataset="digits", epochs=15, batch_size=64, learning_rate=1e-3, seeds=(0,),
                  variants=("relu_bn", "leakyrelu_bn", "selu", "lkrelu", "lkselu"),
                  image_size=None, freq=1, no_logs=False, images=False),
    parse_variant=classify.parse_variant,
    load_data=_load,
    train=_train,
    values=("test_accuracy", "best_val_accuracy", "best_epoch", "final_val_accuracy",
            "dead_fraction", "seconds_per_epoch", "params"),
    columns=(("label", "activation"), ("test_accuracy", "test acc"),
             ("best_val_accuracy", "best val acc"), ("dead_fraction", "dead fraction"),
             ("seconds_per_epoch", "s/epoch"), ("params", "params"), ("runs", "seeds")),
    arguments=_arguments,
    notes=lambda options, data: [
        f"{data!r}; {options['epochs']} epochs, batch {options['batch_size']}, Adam lr "
        f"{options['learning_rate']} (global clip norm 20).",
        "Dead fraction: units (channels of the conv layers) that are zero on every test sample "
        "and position, over all five layers (per layer: layers.md)."],
    report=_report,
)
