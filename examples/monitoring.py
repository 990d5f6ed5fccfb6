"""Monitoring the activations of your own model.

Trains a small CNN on the 8x8 digits with an ``ActivationHistograms``
callback (TensorBoard histograms and statistics of every activation layer),
then summarises the trained model's activations on the test split with
``linked_neurons.monitoring`` and draws them with ``linked_neurons.plotting``.

Run it with ``python examples/monitoring.py`` (well under a minute on a CPU;
needs ``pip install -e ".[experiments]"``), then look at the logs
with ``tensorboard --logdir results/monitoring_example/logs``.
"""

import argparse
import importlib.util
import os

import keras

from linked_neurons import LKReLU, monitoring, plotting
from linked_neurons.callbacks import ActivationHistograms
from linked_neurons.datasets import load_digits


def build_model(input_shape=(8, 8, 1), num_classes=10):
    """Conv-ReLU, Conv-LKReLU, Dense(relu), Dense(softmax)."""
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(16, 3, padding="same", name="conv1"),
            keras.layers.ReLU(name="relu1"),
            keras.layers.Conv2D(16, 3, padding="same", name="conv2"),
            LKReLU(name="lkrelu2"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(32, activation="relu", name="dense3"),
            keras.layers.Dense(num_classes, activation="softmax", name="output"),
        ],
        name="monitored_cnn",
    )


OUTPUT_DIR = os.path.join("results", "monitoring_example")


def main(output_dir=OUTPUT_DIR, epochs=3, seed=0):
    keras.utils.set_random_seed(seed)
    data = load_digits(seed=seed)
    model = build_model(data.input_shape, data.num_classes)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    log_dir = os.path.join(output_dir, "logs")
    # Histograms of relu1, lkrelu2 and dense3 (the activation-like layers; the
    # softmax output is left out by naming the layers) every 10 batches, on 128
    # fixed validation images. They go to <log_dir>/activations.
    monitor = ActivationHistograms(
        log_dir,
        layers=["relu1", "lkrelu2", "dense3"],
        data=data.x_val[:128],
        freq=10,
        images=["activation_map"],
    )
    callbacks = [monitor]
    if importlib.util.find_spec("tensorboard") is not None:
        # Keras' own callback writes the losses to <log_dir>/train and /validation.
        callbacks.append(keras.callbacks.TensorBoard(log_dir))
    model.fit(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=epochs,
        batch_size=32,
        verbose=2,
        callbacks=callbacks,
    )
    _, accuracy = model.evaluate(data.x_test, data.y_test, verbose=0)
    print(f"test accuracy: {accuracy:.4f}")

    # The same statistics without TensorBoard, streamed over the whole test split.
    rows = monitoring.activation_statistics(model, data.x_test, batch_size=64)
    print(monitoring.format_table(rows, ("layer", "mean", "std", "zero_fraction",
                                         "dead_units", "units")))
    for result in monitoring.dead_units(model, data.x_test):
        print(f"{result.layer}: {result.dead} dead units of {result.units} "
              f"{result.indices.tolist()}")

    outputs = monitoring.layer_outputs(model, data.x_val[:128])
    paths = [
        plotting.save_figure(plotting.plot_histograms(outputs, title="Validation batch"),
                             os.path.join(output_dir, "histograms.png")),
        plotting.save_figure(plotting.plot_statistics(monitor),
                             os.path.join(output_dir, "statistics.png")),
    ]
    for path in paths:
        print(f"wrote {path}")
    print(f"TensorBoard: tensorboard --logdir {log_dir}")
    return accuracy


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", default=OUTPUT_DIR)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    main(args.output_dir, args.epochs)
