"""Trains with RAdam and Lookahead on one device and distributed, and compares.

Run as ``python optimizer_distribution_worker.py mirrored`` (TensorFlow
``tf.distribute.MirroredStrategy`` over two logical CPUs) or ``... data_parallel``
(``keras.distribution.DataParallel`` on JAX over two host devices). Devices must
be configured before the backend starts, hence a separate process. For each
optimizer it prints ``NAME: max_abs_diff=<float> max_weight_change=<float>``,
the largest difference between the final weights of the single-device and the
distributed runs, and how far training moved the weights.
"""

import os
import sys

MODE = sys.argv[1]
if MODE == "data_parallel":
    os.environ["KERAS_BACKEND"] = "jax"
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
else:
    os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

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
    return [np.asarray(keras.ops.convert_to_numpy(w)) for w in model.weights]


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6, 6, 2)).astype("float32")
    y = rng.normal(size=(64, 1)).astype("float32")
    if MODE == "mirrored":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
    weights = build().get_weights()
    single = {name: train(build(), weights, make, x, y) for name, make in OPTIMIZERS.items()}

    if MODE == "mirrored":
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        assert strategy.num_replicas_in_sync == 2
        dist = {}
        for name, make in OPTIMIZERS.items():
            with strategy.scope():
                dist[name] = train(build(), weights, make, x, y)
    else:
        devices = keras.distribution.list_devices("cpu")
        assert len(devices) == 2, devices
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        dist = {name: train(build(), weights, make, x, y) for name, make in OPTIMIZERS.items()}

    for name in OPTIMIZERS:
        diff = max(float(np.max(np.abs(a - b))) for a, b in zip(single[name], dist[name]))
        moved = max(float(np.max(np.abs(a - b))) for a, b in zip(single[name], weights))
        print(f"{name}: max_abs_diff={diff:.3e} max_weight_change={moved:.3e}")


if __name__ == "__main__":
    main()
