"""Trains a model holding every library layer on one device and distributed.

Run as ``python distribution_worker.py mirrored`` (TensorFlow
``tf.distribute.MirroredStrategy`` over two logical CPUs) or
``python distribution_worker.py data_parallel`` (``keras.distribution.DataParallel``
on JAX over two host devices, in float32 and again in float64). Devices must be
configured before the backend starts, hence a separate process. Prints
``max_abs_diff=<float>`` between the final weights of the single-device and the
distributed runs, and the figures the test's float rounding bound is made of.
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


BATCH, EPOCHS, SAMPLES = 16, 3, 64


def train(model, weights, x, y):
    model.set_weights(weights)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    history = model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0)
    return [np.asarray(keras.ops.convert_to_numpy(w)) for w in model.weights], history


def max_diff(a, b):
    return max(float(np.max(np.abs(u - v))) for u, v in zip(a, b))


def main():
    if MODE == "data_parallel":
        import jax

        jax.config.update("jax_enable_x64", True)  # for the float64 run
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(SAMPLES, 8, 8, 3)).astype("float32")
    y = rng.normal(size=(SAMPLES, 1)).astype("float32")
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
        data_parallel = keras.distribution.DataParallel(devices=devices)
        with data_parallel.scope():
            dist, h2 = train(build(), weights, x, y)
        # The same two runs in float64: only the order of the sums differs, so the
        # results must agree to float64 rounding.
        keras.config.set_floatx("float64")
        keras.config.set_dtype_policy("float64")
        x64, y64 = x.astype("float64"), y.astype("float64")
        single64, _ = train(build(), weights, x64, y64)
        with data_parallel.scope():
            dist64, _ = train(build(), weights, x64, y64)
        assert single64[0].dtype == np.float64, single64[0].dtype
        print(f"max_abs_diff_float64={max_diff(single64, dist64):.3e}")
    assert all(np.isfinite(h2.history["loss"]))
    assert h2.history["loss"][-1] < h2.history["loss"][0]
    diff = max_diff(single, dist)
    moved = max_diff(single, weights)
    magnitude = max(float(np.max(np.abs(w))) for w in single)
    steps = EPOCHS * (SAMPLES // BATCH)
    terms = BATCH * 8 * 8  # longest gradient sum: a conv kernel entry over batch x positions
    print(f"max_abs_diff={diff:.3e} max_weight_change={moved:.3e}")
    print(f"max_abs_weight={magnitude:.6e} steps={steps} summed_terms={terms}")


if __name__ == "__main__":
    main()
