"""Linked ReLU in a functional-API model, trained on the 8x8 digits.

The functional example of the original README, for Keras 3: a strided 7x7
convolution and a 3x3 convolution, each followed by ``LKReLU`` (which doubles
the channels, so ``width`` filters give ``2 * width`` channels), then a
softmax classifier.

Run it with ``python examples/functional.py`` (a few seconds on a CPU; needs
``pip install -e ".[experiments]"`` for the digits data).
"""

import keras

from linked_neurons import LKReLU
from linked_neurons.datasets import load_digits


def build_model(input_shape=(8, 8, 1), num_classes=10, width=32):
    """Conv(width, 7, stride 2)-LKReLU-Conv(width, 3)-LKReLU-Flatten-Dense(softmax)."""
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(width, 7, strides=2, padding="same")(inputs)
    x = LKReLU()(x)
    x = keras.layers.Conv2D(width, 3, padding="same")(x)
    x = LKReLU()(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="lkrelu_functional")


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
