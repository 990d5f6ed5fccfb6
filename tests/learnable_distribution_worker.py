"""Trains a model with LEAF and AHAF under DSPT + P24Sl, on one device and distributed.

Run as ``python learnable_distribution_worker.py mirrored`` (TensorFlow
``tf.distribute.MirroredStrategy`` over two logical CPUs) or
``python learnable_distribution_worker.py data_parallel``
(``keras.distribution.DataParallel`` on JAX over two host devices). Devices
must be configured before the backend starts, hence a separate process.
Prints ``max_abs_diff=<float>`` between the final weights of the
single-device and the distributed runs and how far training moved them.
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

from linked_neurons import training  # noqa: E402
from linked_neurons.layers.learnable import AHAF, LEAF  # noqa: E402


def build():
    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(3, 3)(inputs)
    x = LEAF(init="tanh")(x)  # one parameter set per neuron: (4, 4, 3)
    x = keras.layers.Conv2D(4, 1)(x)
    x = AHAF(init="silu", shared_axes="spatial")(x)
    x = keras.layers.Flatten()(x)
    return training.DSPTModel(inputs, keras.layers.Dense(1)(x))


def train(model, weights, x, y):
    model.set_weights(weights)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        activation_optimizer=training.p24sl_optimizer(model, keras.optimizers.Adam(1e-2)),
        loss="mse",
    )
    history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    return [np.asarray(keras.ops.convert_to_numpy(w)) for w in model.weights], history


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
    reference = build()
    weights = reference.get_weights()
    single, _ = train(reference, weights, x, y)

    if MODE == "mirrored":
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        assert strategy.num_replicas_in_sync == 2
        with strategy.scope():
            model = build()
            dist, history = train(model, weights, x, y)
    else:
        devices = keras.distribution.list_devices("cpu")
        assert len(devices) == 2, devices
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        model = build()
        dist, history = train(model, weights, x, y)
    assert all(np.isfinite(history.history["loss"]))
    assert history.history["loss"][-1] < history.history["loss"][0]
    steps = [int(keras.ops.convert_to_numpy(o.iterations)) for o in model.optimizer.optimizers]
    assert steps == [12, 12, 12], steps
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(single, dist))
    moved = max(float(np.max(np.abs(a - b))) for a, b in zip(single, weights))
    print(f"max_abs_diff={diff:.3e} max_weight_change={moved:.3e}")


if __name__ == "__main__":
    main()
