"""LEAF and AHAF against fixed activations (Bodyanskiy & Kostiuk).

``linked-neurons leaf`` trains LeNet-5 (``--networks lenet5 kerasnet`` adds
KerasNet) for each initial activation (``--inits``: relu and tanh by
default; also silu and sigmoid) with each of ``--variants`` that the paper
trains for it (:func:`~linked_neurons.study_models.learnable_model`): the
fixed activation (``base``), ``ahaf``, ``ahaf_dspt`` (relu and silu only),
``leaf_p24sl`` and ``leaf_dspt_p24sl``. P24Sl: LEAF's p2 and p4 learn at the
base rate / 1000 (Adam) or / 10 (RMSprop); DSPT: the activation parameters,
then the other weights, on every batch. Default seeds: the paper's 42, 100,
128, 1999, 7823. Besides the runner's tables the run folder gets
``paired.csv``/``.md`` (every variant minus its base, seed by seed),
``curves_<network>_<init>.png`` and ``<variant>_shapes.png`` (the learned
activations of every layer against the base, first seed).

Data: the 8x8 digits upscaled to 16x16 (``--image-size 28`` gives the
networks their Fashion-MNIST sizes, at three times the cost), or
``fashion_mnist``, ``cifar10``, ``mnist`` through ``keras.datasets``; the
split is the same (seed 0) for every seed. Training batches are reshuffled
every epoch and augmented (random 10 % shifts, and horizontal flips except
for digits and MNIST); the test accuracy is that of the last epoch. The
paper: ``--dataset fashion_mnist --epochs 100 --batch-size 128 --networks
lenet5 kerasnet --inits relu silu tanh sigmoid --variants base ahaf ahaf_dspt
leaf_p24sl leaf_dspt_p24sl`` (``--optimizer rmsprop --learning-rate 1e-4`` for
its stability study).
"""

import argparse
import os

from linked_neurons.experiments import classify, figures, runner
from linked_neurons.experiments.cli import choice, positive_int
from linked_neurons.study_models import (
    LEARNABLE_INITS,
    LEARNABLE_NETWORKS,
    LEARNABLE_VARIANTS,
    learnable_variants,
)

__all__ = ["STUDY", "parse_variant"]

_NAMES = {"base": "base", "ahaf": "AHAF", "ahaf_dspt": "AHAF+DSPT", "leaf_p24sl": "LEAF+P24Sl",
          "leaf_dspt_p24sl": "LEAF+DSPT+P24Sl", "relu": "ReLU", "silu": "SiLU", "tanh": "tanh",
          "sigmoid": "sigmoid", "lenet5": "", "kerasnet": "KerasNet "}


def parse_variant(name):
    """``NETWORK/INIT/VARIANT`` (e.g. ``"lenet5/relu/ahaf"``) -> a variant with its parts.

    Example:

        >>> from linked_neurons.experiments.leaf import parse_variant
        >>> parse_variant("kerasnet/tanh/leaf_p24sl").label
        'KerasNet LEAF+P24Sl (tanh)'

    Raises:
        ValueError: For a malformed name or a combination the paper does not train.
    """
    parts = str(name).strip().lower().split("/")
    if len(parts) != 3 or parts[0] not in LEARNABLE_NETWORKS or parts[1] not in LEARNABLE_INITS:
        raise ValueError(f"leaf: expected NETWORK/INIT/VARIANT, got {name!r}.")
    network, init, kind = parts
    if kind not in learnable_variants(init):
        raise ValueError(f"leaf: --variants {kind!r} is not trained for init {init!r}; valid: "
                         f"{', '.join(learnable_variants(init))}.")
    label = _NAMES[network] + (_NAMES[init] if kind == "base" else f"{_NAMES[kind]} "
                                                                   f"({_NAMES[init]})")
    return runner.Variant("_".join(parts), label)


def _expand(options):
    unknown = [v for v in options["variants"] if v not in LEARNABLE_VARIANTS]
    if unknown:
        raise ValueError(f"leaf: unknown --variants {unknown}; valid: "
                         f"{', '.join(LEARNABLE_VARIANTS)}.")
    names = [f"{n}/{i}/{v}" for n in options["networks"] for i in options["inits"]
             for v in learnable_variants(i) if v in options["variants"]]
    if not names:
        raise ValueError(f"leaf: --variants {' '.join(options['variants'])} are not trained "
                         f"for --inits {' '.join(options['inits'])}.")
    return names


def _load(options):
    size = options["image_size"] if options["dataset"] == "digits" else None
    return classify.load_data(options["dataset"], seed=0, image_size=size, images=True,
                              max_train_samples=options["max_train_samples"])


def _augment(options, data):
    if options["augment"] != "auto":
        return options["augment"]
    return "shift" if data.name.startswith(("digits", "mnist")) else "flip+shift"


def _train(task):
    import time

    import numpy as np

    from linked_neurons import datasets
    from linked_neurons.study_models import learnable_model
    from linked_neurons.training import count_activation_parameters

    options, data = task.options, task.data
    network, init, kind = task.variant.key.split("_", 2)
    model = learnable_model(network, init, kind, data.input_shape, data.num_classes,
                            options["optimizer"], options["learning_rate"],
                            options["jit_compile"])
    augment = _augment(options, data)
    batches = datasets.augmented_batches(data.x_train, data.y_train, options["batch_size"],
                                         flip=augment == "flip+shift",
                                         shift=0.0 if augment == "none" else 0.1, seed=task.seed)
    start = time.perf_counter()
    history = model.fit(batches, validation_data=(data.x_val, data.y_val),
                        validation_batch_size=256, epochs=options["epochs"], verbose=0,
                        callbacks=task.callbacks).history
    seconds = time.perf_counter() - start
    test_loss = test_accuracy = float("nan")
    if len(data.x_test):
        test_loss, test_accuracy = model.evaluate(data.x_test, data.y_test, batch_size=256,
                                                  verbose=0)
    if task.seed == options["seeds"][0]:
        figures.plot_learned_activations(
            model, init, os.path.join(task.folder, f"{task.variant.key}_shapes.png"),
            title=f"{task.variant.label} after {options['epochs']} epochs, seed {task.seed}")
    val = history["val_accuracy"]
    return {"network": network, "init": init, "best_val_accuracy": float(max(val)),
            "best_epoch": int(np.argmax(val)) + 1, "final_val_accuracy": float(val[-1]),
            "final_val_loss": float(history["val_loss"][-1]),
            "test_accuracy": float(test_accuracy), "test_loss": float(test_loss),
            "final_train_loss": float(history["loss"][-1]), "epochs": len(val),
            "seconds_per_epoch": seconds / len(val), "train_seconds": seconds,
            "activation_params": int(count_activation_parameters(model)),
            "params": int(model.count_params())}, history


def _report(result):
    import numpy as np

    runs, folder = result.runs, result.folder
    files = classify.paired_tables(
        result, lambda group: parse_variant(f"{group[0]}/{group[1]}/base").label,
        ("test_accuracy", "best_val_accuracy"), ("network", "init"))
    for (network, init), group in runs.groupby(["network", "init"], sort=False):
        curves = {label: {k: list(np.median([h[k] for h in result.histories[label]], axis=0))
                          for k in ("val_accuracy", "val_loss")}
                  for label in dict.fromkeys(group["label"])}
        files.append(figures.plot_curves(curves, os.path.join(folder, f"curves_{network}_{init}"
                                                              ".png"),
                                         title=f"{network}, {init} init (median over seeds)"))
    return files + [os.path.join(folder, f"{key}_shapes.png") for key in
                    dict.fromkeys(runs["variant"])
                    if os.path.isfile(os.path.join(folder, f"{key}_shapes.png"))]


def _image_size(text):
    value = positive_int(text)
    if value < 16:  # LeNet-5's smallest input
        raise argparse.ArgumentTypeError(f"expected an integer >= 16, got {text!r}")
    return value


def _arguments(parser):
    parser.add_argument("--networks", nargs="+", type=choice(*LEARNABLE_NETWORKS), default=None,
                        help="networks (default: lenet5; also kerasnet)")
    parser.add_argument("--inits", nargs="+", type=choice(*LEARNABLE_INITS), default=None,
                        help="initial activations (default: relu tanh; also silu sigmoid)")
    parser.add_argument("--optimizer", type=choice("adam", "rmsprop"), default=None,
                        help="adam (default) or rmsprop (the paper's stability study: "
                        "rmsprop with --learning-rate 1e-4)")
    parser.add_argument("--augment", type=choice("auto", "none", "shift", "flip+shift"),
                        default=None, help="training augmentation (default auto: 10%% shifts, "
                        "and flips except for digits and mnist)")
    parser.add_argument("--image-size", type=_image_size, default=None, metavar="SIZE",
                        help="side of the upscaled digits, at least 16 (default: 16)")
    parser.add_argument("--jit-compile", action="store_true", default=None,
                        help="compile the training step with XLA")


#: The declaration of the study (see :class:`~linked_neurons.experiments.runner.Study`).
STUDY = runner.Study(
    name="leaf",
    summary="LEAF and AHAF against fixed activations on LeNet-5 and KerasNet",
    description=__doc__,
    defaults=dict(dataset="digits", epochs=20, batch_size=64, learning_rate=1e-3,
                  seeds=(42, 100, 128, 1999, 7823), variants=("base", "ahaf", "leaf_p24sl"),
                  networks=("lenet5",), inits=("relu", "tanh"), optimizer="adam",
                  augment="auto", image_size=16, jit_compile=False),
    parse_variant=parse_variant,
    load_data=_load,
    train=_train,
    expand=_expand,
    values=("best_val_accuracy", "test_accuracy", "best_epoch", "final_val_accuracy",
            "seconds_per_epoch", "activation_params", "params"),
    columns=(("label", "variant"), ("best_val_accuracy", "best val acc"),
             ("best_epoch", "best epoch"), ("test_accuracy", "test acc"),
             ("test_accuracy_min", "test min"), ("test_accuracy_max", "test max"),
             ("seconds_per_epoch", "s/epoch"), ("activation_params", "act. params"),
             ("params", "params"), ("runs", "seeds")),
    arguments=_arguments,
    notes=lambda options, data: [
        f"{data!r}; {options['epochs']} epochs, batch {options['batch_size']}, "
        f"{options['optimizer']} (lr {options['learning_rate']}), augment "
        f"{_augment(options, data)}; test acc: after the last epoch."],
    report=_report,
)
