"""Adam, RAdam, Lookahead(Adam) and Lookahead(RAdam) on the 8x8 digits.

The same small LKReLU network, from the same initial weights, is trained with
each optimizer (same learning rate, batches in the same order) and the script
prints a table of the final losses and accuracies. With ``--plot PATH`` it
also draws the training and validation loss curves into a PNG file.

The default learning rate, 3e-2, is high for Adam: its loss jumps back up
during training, while RAdam (whose rectification keeps the first steps
small) and both Lookahead variants (whose slow weights average the fast
ones) train smoothly, which is what both papers report. At
``--learning-rate 3e-3`` Adam is the fastest of the four on this short run:
RAdam's rectification then acts as a warmup of about ``2 / (1 - beta_2)``
steps that the run never leaves.

Run it with ``python examples/optimizers.py`` (about half a minute on a CPU;
needs ``pip install -e ".[experiments]"`` for the digits data and
matplotlib), or ``python examples/optimizers.py --plot loss.png``.
"""

import argparse
import time

import keras

from linked_neurons import LKReLU
from linked_neurons.datasets import load
from linked_neurons.optimizers import Lookahead, RAdam

OPTIMIZERS = {
    "Adam": lambda lr: keras.optimizers.Adam(lr),
    "RAdam": lambda lr: RAdam(lr),
    "Lookahead(Adam)": lambda lr: Lookahead(keras.optimizers.Adam(lr), sync_period=5),
    "Lookahead(RAdam)": lambda lr: Lookahead(RAdam(lr), sync_period=5),
}


def build_model(input_shape, num_classes):
    """Conv16-LKReLU-MaxPool-Flatten-Dense64-LKReLU-Dense(softmax)."""
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(16, 3, padding="same"),
            LKReLU(),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(64),
            LKReLU(),
            keras.layers.Dense(num_classes, activation="softmax"),
        ],
        name="digits_lkrelu",
    )


def train_all(epochs=15, learning_rate=3e-2, batch_size=64, seed=0):
    """Trains one model per optimizer; returns ``{name: (history, test accuracy, seconds)}``."""
    data = load("digits", seed=seed)
    keras.utils.set_random_seed(seed)
    initial = build_model(data.input_shape, data.num_classes).get_weights()
    results = {}
    for name, make in OPTIMIZERS.items():
        keras.utils.set_random_seed(seed)  # same batch order for every optimizer
        model = build_model(data.input_shape, data.num_classes)
        model.set_weights(initial)
        model.compile(
            optimizer=make(learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        start = time.perf_counter()
        history = model.fit(
            data.x_train,
            data.y_train,
            validation_data=(data.x_val, data.y_val),
            epochs=epochs,
            batch_size=batch_size,
            verbose=0,
        )
        seconds = time.perf_counter() - start
        _, accuracy = model.evaluate(data.x_test, data.y_test, verbose=0)
        results[name] = (history.history, accuracy, seconds)
    return results


def print_table(results):
    header = (
        f"{'optimizer':<18} {'first loss':>10} {'final loss':>10} {'val loss':>9} "
        f"{'val acc':>8} {'test acc':>9} {'seconds':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, (history, accuracy, seconds) in results.items():
        print(
            f"{name:<18} {history['loss'][0]:>10.4f} {history['loss'][-1]:>10.4f} "
            f"{history['val_loss'][-1]:>9.4f} {history['val_accuracy'][-1]:>8.4f} "
            f"{accuracy:>9.4f} {seconds:>8.1f}"
        )


def plot(results, path, learning_rate):
    """Training (solid) and validation (dashed) loss per epoch, log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    for (name, (history, _, _)), color in zip(results.items(), plt.cm.tab10.colors):
        epochs = range(1, len(history["loss"]) + 1)
        ax.plot(epochs, history["loss"], color=color, label=f"{name} (train)")
        ax.plot(epochs, history["val_loss"], color=color, linestyle="--", label=f"{name} (val)")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy loss")
    ax.set_title(f"8x8 digits, LKReLU network, learning rate {learning_rate:g}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--learning-rate", type=float, default=3e-2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", metavar="PATH", help="write the loss curves to this PNG file")
    args = parser.parse_args(argv)
    results = train_all(args.epochs, args.learning_rate, seed=args.seed)
    print_table(results)
    if args.plot:
        plot(results, args.plot, args.learning_rate)
        print(f"loss curves written to {args.plot}")
    return results


if __name__ == "__main__":
    main()
