"""LEAF and AHAF against fixed activations (Bodyanskiy & Kostiuk).

``linked-neurons leaf`` trains LeNet-5 (or KerasNet) for each initial
activation (``--inits``) with each of ``--variants`` the paper trains for it
(:func:`~linked_neurons.study_models.learnable_model`), on the 8x8 digits
upscaled to ``--image-size`` or a ``keras.datasets`` set (split with seed 0
for every seed); batches are reshuffled and augmented every epoch (10 %
shifts, flips except for digits and MNIST); the test accuracy is that of the
last epoch. The run folder also gets ``paired.md`` (every variant minus its
base, seed by seed) and ``<variant>_shapes.png`` (learned activations, first
seed). The paper: ``--dataset fashion_mnist --epochs 100 --batch-size 128
--networks lenet5 kerasnet --inits relu silu tanh sigmoid --variants base ahaf
ahaf_dspt leaf_p24sl leaf_dspt_p24sl`` (stability study: ``--optimizer rmsprop
--learning-rate 1e-4``).
"""

import glob
import os

from linked_neurons.experiments import classify, runner
from linked_neurons.experiments.cli import choice, positive_int
from linked_neurons.study_models import LEARNABLE_INITS as INITS
from linked_neurons.study_models import learnable_variants

__all__ = ["STUDY"]

_NAMES = {"base": "base", "ahaf": "AHAF", "ahaf_dspt": "AHAF+DSPT", "leaf_p24sl": "LEAF+P24Sl",
          "leaf_dspt_p24sl": "LEAF+DSPT+P24Sl", "relu": "ReLU", "silu": "SiLU", "tanh": "tanh",
          "sigmoid": "sigmoid", "lenet5": "", "kerasnet": "KerasNet "}
_NETWORKS = ("lenet5", "kerasnet")


def _parse(name):  # NETWORK/INIT/VARIANT, e.g. "lenet5/relu/ahaf"
    parts = str(name).strip().lower().split("/")
    if len(parts) != 3 or parts[0] not in _NETWORKS or parts[1] not in INITS:
        raise ValueError(f"leaf: expected NETWORK/INIT/VARIANT, got {name!r}.")
    network, init, kind = parts
    if kind not in learnable_variants(init):
        raise ValueError(f"leaf: --variants {kind!r} is not trained for init {init!r}; valid: "
                         f"{', '.join(learnable_variants(init))}.")
    label = _NAMES[network] + (_NAMES[init] if kind == "base" else f"{_NAMES[kind]} "
                                                                   f"({_NAMES[init]})")
    return runner.Variant("_".join(parts), label)


def _grid(options):  # also checks --image-size: LeNet-5 takes 16 x 16 or more
    if options["image_size"] < 16:
        raise ValueError(f"leaf: --image-size must be >= 16, got {options['image_size']}.")
    unknown = [v for v in options["variants"] if v not in learnable_variants("relu")]
    if unknown:
        raise ValueError(f"leaf: unknown --variants {unknown}; valid: "
                         f"{', '.join(learnable_variants('relu'))}.")
    names = [f"{n}/{i}/{v}" for n in options["networks"] for i in options["inits"]
             for v in learnable_variants(i) if v in options["variants"]]
    if not names:
        raise ValueError(f"leaf: --variants {' '.join(options['variants'])} are not trained "
                         f"for --inits {' '.join(options['inits'])}.")
    return [_parse(name) for name in names]


def _load(options):
    from linked_neurons import datasets

    size = options["image_size"] if options["dataset"] == "digits" else None
    return datasets.prepare(options["dataset"], seed=0, image_size=size, images=True,
                            max_train_samples=options["max_train_samples"])


def _augment(options, data):
    if options["augment"] != "auto":
        return options["augment"]
    return "shift" if data.name.startswith(("digits", "mnist")) else "flip+shift"


def _train(task):
    import time

    from linked_neurons import datasets, plotting
    from linked_neurons.study_models import learnable_model
    from linked_neurons.training import build_before_fit, count_activation_parameters

    options, data = task.options, task.data
    network, init, kind = task.variant.key.split("_", 2)
    model = learnable_model(network, init, kind, data.input_shape, data.num_classes,
                            options["optimizer"], options["learning_rate"],
                            options["jit_compile"])
    augment = _augment(options, data)
    batches = datasets.augmented_batches(data.x_train, data.y_train, options["batch_size"],
                                         flip=augment == "flip+shift",
                                         shift=0.0 if augment == "none" else 0.1, seed=task.seed)
    build_before_fit(model, data.x_val, data.y_val)  # the batches' shapes
    start = time.perf_counter()
    history = model.fit(batches, validation_data=(data.x_val, data.y_val),
                        validation_batch_size=256, epochs=options["epochs"], verbose=0,
                        callbacks=task.callbacks).history
    seconds = time.perf_counter() - start
    test_loss, test_accuracy = model.evaluate(data.x_test, data.y_test, batch_size=256, verbose=0)
    if task.seed == options["seeds"][0] and kind != "base":
        runner.save_plot(
            os.path.join(task.folder, f"{task.variant.key}_shapes.png"),
            plotting.plot_learned_activations, model, init,
            title=f"{task.variant.label} after {options['epochs']} epochs, seed {task.seed}")
    return {"network": network, "init": init, "test_accuracy": float(test_accuracy),
            "test_loss": float(test_loss), **classify.history_row(history, seconds),
            "activation_params": int(count_activation_parameters(model)),
            "params": int(model.count_params())}, history


def _report(result):
    return classify.paired_tables(
        result, lambda group: _parse(f"{group[0]}/{group[1]}/base").label,
        ("test_accuracy", "best_val_accuracy"), ("network", "init")) + sorted(
        glob.glob(os.path.join(result.folder, "*_shapes.png")))


def _arguments(parser):
    for flag, kind, text in (
            ("--networks", choice(*_NETWORKS), "networks (default: lenet5; also kerasnet)"),
            ("--inits", choice(*INITS), "initial activations (default: relu tanh; also silu "
             "sigmoid)"),
            ("--optimizer", choice("adam", "rmsprop"), "adam (default) or rmsprop"),
            ("--augment", choice("auto", "none", "shift", "flip+shift"), "training "
             "augmentation (default auto: shifts, and flips except for digits and mnist)"),
            ("--image-size", positive_int, "side of the upscaled digits, >= 16 (default: 16)")):
        parser.add_argument(flag, type=kind, default=None, help=text,
                            nargs="+" if flag in ("--networks", "--inits") else None)
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
    parse_variant=_parse,
    load_data=_load,
    train=_train,
    grid=_grid,
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
