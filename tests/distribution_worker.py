"""Trains a model holding every library layer on one device and distributed.

Run as ``python distribution_worker.py mirrored`` (TensorFlow
``tf.distribute.MirroredStrategy`` over two logical CPUs) or
``python distribution_worker.py data_parallel`` (``keras.distribution.DataParallel``
on JAX over two host devices). Devices must be configured before the backend
starts, hence a separate process. Prints ``max_abs_diff=<float>`` between the
final weights of the single-device and the distributed runs.
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

import linked_neurons as ln  # noqa: E402


def build():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = ln.LKReLU()(x)
    x = keras.layers.Conv2D(4, 1)(x)
    x = ln.LKPReLU()(x)
    x = keras.layers.Conv2D(4, 1)(x)
    x = ln.LKSELU()(x)
    x = keras.layers.Conv2D(4, 1)(x)
    x = ln.LKSwish()(x)
    x = keras.layers.Conv2D(4, 1)(x)
    x = ln.SELU()(x)
    x = ln.Mish()(x)
    x = ln.Swish(trainable_beta=True, per_channel=True)(x)
    x = ln.Linked("elu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(1)(x))


def train(model, weights, x, y):
    model.set_weights(weights)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    return [np.asarray(keras.ops.convert_to_numpy(w)) for w in model.weights], history


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8, 8, 3)).astype("float32")
    y = rng.normal(size=(64, 1)).astype("float32")
    if MODE == "mirrored":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
    reference = build()
    weights = reference.get_weights()
    # Nonzero slopes so that LKPReLU's weights matter.
    weights = [w + 0.1 if w.shape == (1, 1, 4) else w for w in weights]
    single, h1 = train(reference, weights, x, y)

    if MODE == "mirrored":
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        assert strategy.num_replicas_in_sync == 2
        with strategy.scope():
            model = build()
            dist, h2 = train(model, weights, x, y)
    else:
        devices = keras.distribution.list_devices("cpu")
        assert len(devices) == 2, devices
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        model = build()
        dist, h2 = train(model, weights, x, y)
    assert all(np.isfinite(h2.history["loss"]))
    assert h2.history["loss"][-1] < h2.history["loss"][0]
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(single, dist))
    moved = max(float(np.max(np.abs(a - b))) for a, b in zip(single, weights))
    print(f"max_abs_diff={diff:.3e} max_weight_change={moved:.3e}")


if __name__ == "__main__":
    main()
