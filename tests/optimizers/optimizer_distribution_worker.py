"""Trains with RAdam and Lookahead on one device and distributed, and compares.

Run as ``python optimizer_distribution_worker.py mirrored`` (TensorFlow
``tf.distribute.MirroredStrategy`` over two logical CPUs) or ``... data_parallel``
(``keras.distribution.DataParallel`` on JAX over two host devices). Devices must
be configured before the backend starts, hence a separate process. For each
optimizer it prints ``NAME: max_abs_diff=<float> max_weight_change=<float>``,
the largest difference between the final weights of the single-device and the
distributed runs, and how far training moved the weights.
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # tests/: the shared helper
import distribution_support as ds  # noqa: E402

MODE = ds.configure(sys.argv)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from linked_neurons.optimizers import Lookahead, RAdam  # noqa: E402

OPTIMIZERS = {
    "radam": lambda: RAdam(0.01, total_steps=6, weight_decay=0.01),
    "lookahead_radam": lambda: Lookahead(RAdam(0.01), sync_period=3),
}


def build():
    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="tanh")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(8, activation="tanh")(x)
    return keras.Model(inputs, keras.layers.Dense(1)(x))


def train(model, weights, make_optimizer, x, y):
    model.set_weights(weights)
    model.compile(optimizer=make_optimizer(), loss="mse")
    history = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert all(np.isfinite(history.history["loss"]))
    return ds.weights_of(model)


def main():
    x, y = ds.seeded_data((64, 6, 6, 2), (64, 1))
    ds.split_cpu(MODE)
    weights = build().get_weights()
    single = {name: train(build(), weights, make, x, y) for name, make in OPTIMIZERS.items()}

    distribution = ds.two_devices(MODE)
    dist = {}
    for name, make in OPTIMIZERS.items():
        with distribution.scope():
            dist[name] = train(build(), weights, make, x, y)

    for name in OPTIMIZERS:
        ds.report(f"{name}:", max_abs_diff=ds.max_abs_diff(single[name], dist[name]),
                  max_weight_change=ds.max_abs_diff(single[name], weights))


if __name__ == "__main__":
    main()
