"""Activation comparison: one small network, trained once per activation and seed.

``linked-neurons compare`` trains the same network with ReLU, ReLU +
BatchNormalization, SELU, LK-ReLU, LK-PReLU, LK-SELU, LK-Swish and Mish on an
embedded dataset (8x8 digits by default, no download). The network, for
image inputs ``(H, W, C)``::

    Conv2D(16, 3, same) -> [BN] -> act -> MaxPool2D(2)
    -> Conv2D(32, 3, same) -> [BN] -> act -> Flatten -> Dense(classes, softmax)

``Conv1D(k=5)`` and ``MaxPool1D`` replace them for sequences (MNIST-1D). The
convolutions have no activation of their own; ``[BN]`` (momentum 0.9, as
the small datasets give few steps per epoch) is only in the ``_bn``
variants. A linked activation keeps the filters of the layer feeding it and
doubles the channels the next layer sees, so linked models have more
parameters (the convention of Riera Molina & Pujol Vila, arXiv 1712.02609;
the ``params`` column shows it). SELU and LK-SELU use ``lecun_normal``
kernels, as self-normalising networks require; the others Keras'
``glorot_uniform``. Adam, sparse categorical cross-entropy; the test
accuracy is that of the final weights.

Example:

    >>> from linked_neurons.experiments.compare import build_model
    >>> build_model((8, 8, 1), 10, "lkrelu").output_shape
    (None, 10)
"""

from linked_neurons.experiments import classify, runner
from linked_neurons.experiments.cli import positive_int

__all__ = ["STUDY", "build_model", "run_compare"]

_SELF_NORMALIZING = ("selu", "lkselu")


def build_model(input_shape, num_classes, activation="relu", batch_norm=False, filters=(16, 32),
                kernel_initializer="glorot_uniform"):
    """Builds the comparison network (see the module docstring).

    Args:
        input_shape: ``(H, W, C)`` for images, ``(L, C)`` for sequences.
        num_classes: Number of output classes.
        activation: A name of :mod:`linked_neurons.activations`.
        batch_norm: BatchNormalization before each activation.
        filters: Filters of the two convolutions.
        kernel_initializer: Initializer of every kernel.

    Returns:
        An uncompiled ``keras.Sequential``.

    Raises:
        ValueError: For an input rank other than 2 or 3.
    """
    import keras

    from linked_neurons import activations
    from linked_neurons.paper_models import BN_MOMENTUM

    input_shape = tuple(input_shape)
    if len(input_shape) not in (2, 3):
        raise ValueError(f"build_model: expected an input of rank 2 or 3 (without batch), "
                         f"got {input_shape}.")
    conv = keras.layers.Conv2D if len(input_shape) == 3 else keras.layers.Conv1D
    pool = keras.layers.MaxPooling2D if len(input_shape) == 3 else keras.layers.MaxPooling1D
    layers = [keras.Input(input_shape)]
    for index, units in enumerate(filters):
        layers.append(conv(units, 3 if len(input_shape) == 3 else 5, padding="same",
                           use_bias=not batch_norm, kernel_initializer=kernel_initializer))
        if batch_norm:
            layers.append(keras.layers.BatchNormalization(momentum=BN_MOMENTUM))
        layers.append(activations.get(activation))
        if index == 0:
            layers.append(pool(2))
    layers += [keras.layers.Flatten(),
               keras.layers.Dense(num_classes, activation="softmax",
                                  kernel_initializer=kernel_initializer)]
    return keras.Sequential(layers, name=f"compare_{activation}{'_bn' if batch_norm else ''}")


def _train(task):
    options, variant, data = task.options, task.variant, task.data
    initializer = "lecun_normal" if variant.activation in _SELF_NORMALIZING else "glorot_uniform"
    model = build_model(data.input_shape, data.num_classes, variant.activation,
                        variant.batch_norm, options["filters"], initializer)
    row, history = classify.fit_and_score(
        model, data, epochs=options["epochs"], batch_size=options["batch_size"],
        learning_rate=options["learning_rate"], callbacks=task.callbacks, restore_best=False,
        test_every_epoch=False)
    return {**row, "kernel_initializer": initializer}, history


def _load(options):
    from linked_neurons import datasets

    return datasets.prepare(options["dataset"], seed=options["seeds"][0],
                            max_train_samples=options["max_train_samples"])


def _arguments(parser):
    parser.add_argument("--filters", nargs=2, type=positive_int, default=None,
                        metavar=("F1", "F2"), help="filters of the two convolutions "
                        "(default: 16 32)")


#: The declaration of the study (see :class:`~linked_neurons.experiments.runner.Study`).
STUDY = runner.Study(
    name="compare",
    summary="one small network per activation",
    description=__doc__.split("Example:")[0],
    defaults=dict(dataset="digits", epochs=30, batch_size=64, learning_rate=1e-3, seeds=(0,),
                  variants=("relu", "relu_bn", "selu", "lkrelu", "lkprelu", "lkselu",
                            "lkswish", "mish"), filters=(16, 32)),
    parse_variant=classify.parse_variant,
    load_data=_load,
    train=_train,
    values=("final_val_accuracy", "final_val_loss", "best_val_accuracy", "best_epoch",
            "test_accuracy", "seconds_per_epoch", "params"),
    columns=(("label", "activation"), ("final_val_accuracy", "final val acc"),
             ("final_val_loss", "final val loss"), ("best_val_accuracy", "best val acc"),
             ("best_epoch", "best epoch"), ("test_accuracy", "test acc"),
             ("test_accuracy_min", "test min"), ("test_accuracy_max", "test max"),
             ("seconds_per_epoch", "s/epoch"), ("params", "params"), ("runs", "seeds")),
    arguments=_arguments,
    notes=lambda options, data: [
        f"{data!r}; {options['epochs']} epochs, batch {options['batch_size']}, Adam lr "
        f"{options['learning_rate']}, filters {tuple(options['filters'])}.",
        "Linked activations (LK-*) keep the filters of the layer that feeds them and double "
        "its channels, so their models have more parameters. SELU and LK-SELU use "
        "lecun_normal kernels, the others glorot_uniform; s/epoch is the median epoch time "
        "after the first (graph tracing)."],
)


def run_compare(output_dir="results", name=None, resume=None, verbose=2, **options):
    """Runs the comparison; see :func:`linked_neurons.experiments.runner.run`.

    Options: ``dataset``, ``variants``, ``seeds``, ``epochs``,
    ``batch_size``, ``learning_rate``, ``max_train_samples``, ``filters``.

    Returns:
        A :class:`~linked_neurons.experiments.runner.StudyResult`.
    """
    return runner.run(STUDY, output_dir=output_dir, name=name, resume=resume, verbose=verbose,
                      **options)
