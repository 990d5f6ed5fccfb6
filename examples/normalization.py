"""AttentiveNormalization and IEBN as drop-in replacements for BatchNormalization.

The same small CNN is trained on the 8x8 digits three times, once with each
normalization, picked by name from ``linked_neurons.normalizations`` (the
registry the EfficientMixNet builder uses for ``typeBN``). The script prints
each layer's weight count and each model's test accuracy, then checks that the
AttentiveNormalization model survives a ``.keras`` round trip.

Run it with ``python examples/normalization.py`` (well under a minute on a
CPU; needs ``pip install -e ".[experiments]"`` for the digits data).
"""

import os
import tempfile

import keras
import numpy as np

from linked_neurons import normalizations
from linked_neurons.datasets import load_digits


def build_model(norm, input_shape=(8, 8, 1), num_classes=10):
    """Conv-Norm-ReLU twice, global pooling, softmax; ``norm`` is a registry name."""
    inputs = keras.Input(input_shape)
    x = inputs
    for filters in (32, 64):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        # The builder passes the same arguments: axis, momentum, epsilon, n_mixture.
        x = normalizations.get(norm, axis=-1, momentum=0.9, epsilon=1e-3, n_mixture=5)(x)
        x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name=f"cnn_{norm}")


def main(epochs=5, seed=0):
    data = load_digits(seed=seed)
    models = {}
    for norm in ("bn", "an", "iebn"):
        keras.utils.set_random_seed(seed)
        model = build_model(norm, data.input_shape, data.num_classes)
        model.compile(
            optimizer=keras.optimizers.Adam(3e-3),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        model.fit(data.x_train, data.y_train, epochs=epochs, batch_size=32, verbose=0)
        layer = model.layers[2]
        _, accuracy = model.evaluate(data.x_test, data.y_test, verbose=0)
        name = type(layer).__name__
        print(f"{name}: {layer.count_params()} weights after a 32-channel conv "
              f"({sum(int(np.prod(w.shape)) for w in layer.trainable_weights)} trainable)")
        print(f"{name} test accuracy: {accuracy:.4f}")
        models[norm] = model

    # A saved model reloads with identical inference outputs.
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "an.keras")
        models["an"].save(path)
        loaded = keras.saving.load_model(path)
    same = np.array_equal(models["an"].predict(data.x_test, verbose=0),
                          loaded.predict(data.x_test, verbose=0))
    print(f"reloaded AttentiveNormalization model gives identical outputs: {same}")


if __name__ == "__main__":
    main()
