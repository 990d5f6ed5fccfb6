"""Trains a model with AttentiveNormalization and IEBN on one device and distributed.

Run as ``python normalization_distribution_worker.py mirrored`` (TensorFlow
``tf.distribute.MirroredStrategy`` over two logical CPUs, layers built with
``synchronized=True`` so that the batch statistics cover the global batch) or
``python normalization_distribution_worker.py data_parallel``
(``keras.distribution.DataParallel`` on JAX over two host devices, where the
statistics are global without synchronisation). Devices must be configured
before the backend starts, hence a separate process. Prints
``max_abs_diff=<float>`` between the final trainable weights of the
single-device and the distributed runs, ``max_weight_change`` (how far
training moved them) and ``max_stat_diff`` between the final moving
statistics.
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

from linked_neurons.layers.normalization import IEBN, AttentiveNormalization  # noqa: E402

SYNC = MODE == "mirrored"


def build():
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(8, 3, padding="same")(inputs)
    x = AttentiveNormalization(n_mixture=3, momentum=0.9, synchronized=SYNC, seed=1)(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(8, 3, padding="same")(x)
    x = AttentiveNormalization(n_mixture=2, attention="paper", momentum=0.9,
                               synchronized=SYNC, seed=2)(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(8, 1)(x)
    x = IEBN(momentum=0.9, synchronized=SYNC)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(1)(x))


def train(model, weights, x, y):
    model.set_weights(weights)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    as_numpy = [np.asarray(keras.ops.convert_to_numpy(w)) for w in model.weights]
    trainable = [bool(w.trainable) for w in model.weights]
    return as_numpy, trainable, history


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(64, 6, 6, 3)) + 0.5).astype("float32")
    y = rng.normal(size=(64, 1)).astype("float32")
    if MODE == "mirrored":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
    reference = build()
    weights = reference.get_weights()
    single, trainable, h1 = train(reference, weights, x, y)

    if MODE == "mirrored":
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        assert strategy.num_replicas_in_sync == 2
        with strategy.scope():
            model = build()
            dist, _, h2 = train(model, weights, x, y)
    else:
        devices = keras.distribution.list_devices("cpu")
        assert len(devices) == 2, devices
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        model = build()
        dist, _, h2 = train(model, weights, x, y)
    assert all(np.isfinite(h2.history["loss"]))
    assert h2.history["loss"][-1] < h2.history["loss"][0]

    def max_diff(a_list, b_list, select):
        return max(float(np.max(np.abs(a - b)))
                   for a, b, t in zip(a_list, b_list, trainable) if t == select)

    diff = max_diff(single, dist, True)
    moved = max_diff(single, weights, True)
    stat_diff = max_diff(single, dist, False)
    assert max_diff(single, weights, False) > 1e-3  # the moving statistics moved
    print(f"max_abs_diff={diff:.3e} max_weight_change={moved:.3e} max_stat_diff={stat_diff:.3e}")


if __name__ == "__main__":
    main()
