"""Linked ReLU in a ``keras.Sequential`` CNN, trained on the 8x8 digits.

The network of the original README, for Keras 3: every convolution and dense
layer has no activation of its own and is followed by ``LKReLU``, which
doubles its channels (32 -> 64, 64 -> 128, 128 -> 256).

Run it with ``python examples/sequential.py`` (a few seconds on a CPU; needs
``pip install -e ".[experiments]"`` for the digits data).
"""

import keras

from linked_neurons import LKReLU
from linked_neurons.datasets import load_digits


def build_model(input_shape=(8, 8, 1), num_classes=10):
    """Conv32-LKReLU-Conv64-LKReLU-MaxPool-Flatten-Dense128-LKReLU-Dense(softmax)."""
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(32, 3),
            LKReLU(),
            keras.layers.Conv2D(64, 3),
            LKReLU(),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(128),
            LKReLU(),
            keras.layers.Dense(num_classes, activation="softmax"),
        ],
        name="lkrelu_sequential",
    )


def main(epochs=2, seed=0):
    keras.utils.set_random_seed(seed)
    data = load_digits(seed=seed)
    model = build_model(data.input_shape, data.num_classes)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.summary()
    model.fit(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=epochs,
        batch_size=32,
        verbose=2,
    )
    loss, accuracy = model.evaluate(data.x_test, data.y_test, verbose=0)
    print(f"test accuracy: {accuracy:.4f} (test loss {loss:.4f})")
    return accuracy


if __name__ == "__main__":
    main()
