"""Trains a small EfficientMixNet model on one device and distributed.

Run as ``python efficientmixnet_worker.py mirrored`` (TensorFlow
``tf.distribute.MirroredStrategy`` over two logical CPUs) or
``python efficientmixnet_worker.py data_parallel``
(``keras.distribution.DataParallel`` on JAX over two host devices). Devices
must be configured before the backend starts, hence a separate process.
Two runs:

1. ``frozen``: the normalizations are frozen (``trainable = False``, so they
   use their moving statistics and are batch independent) and drop-connect
   and dropout are off: the single-device and the distributed runs must reach
   the same weights. Prints ``frozen max_abs_diff=<float> max_weight_change=<float>``.
2. ``full``: every layer trains (AN, IEBN, LEAF, linked activations,
   drop-connect) distributed. Prints ``full first_loss=<float> last_loss=<float>``.
"""

import os
import sys

MODE = sys.argv[1] if len(sys.argv) > 1 else "mirrored"
if MODE == "data_parallel":
    os.environ["KERAS_BACKEND"] = "jax"
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
elif MODE == "mirrored":
    os.environ["KERAS_BACKEND"] = "tensorflow"
else:
    raise SystemExit(f"unknown mode {MODE!r}; expected 'mirrored' or 'data_parallel'")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from linked_neurons.efficientmixnet import EfficientNetBuilder  # noqa: E402

BLOCKS = [
    "r2_k[3,5]_s11_e1_i16_o16_se0.25",
    "r1_k[3,5,7]_s22_e2_i16_o24_se0.25_biebn_alkrelu",
]


def build(norm, activation, drop_connect_rate):
    builder = EfficientNetBuilder(input_shape=(32, 32, 3), classes=4, typeBN=norm,
                                  n_mixture=3, activation=activation,
                                  drop_connect_rate=drop_connect_rate)
    return builder.custom_model(BLOCKS, 0.5, 1.0, dropout_rate=0.0)


def freeze_norms(model):
    for layer in model.layers:
        if layer.name.endswith("bn"):
            layer.trainable = False


def train(model, weights, x, y, epochs):
    model.set_weights(weights)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy",
                  jit_compile=False)
    history = model.fit(x, y, batch_size=16, epochs=epochs, shuffle=False, verbose=0)
    return [np.asarray(keras.ops.convert_to_numpy(w)) for w in model.weights], history


def main():
    if MODE == "mirrored":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        assert strategy.num_replicas_in_sync == 2
        scope = strategy.scope
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 4, size=(64,))

    reference = build("bn", "swish", 0.0)
    freeze_norms(reference)
    weights = reference.get_weights()
    single, _ = train(reference, weights, x, y, epochs=2)

    if MODE == "data_parallel":
        import contextlib

        devices = keras.distribution.list_devices("cpu")
        assert len(devices) == 2, devices
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        scope = contextlib.nullcontext
    with scope():
        model = build("bn", "swish", 0.0)
        freeze_norms(model)
        dist, history = train(model, weights, x, y, epochs=2)
    assert all(np.isfinite(history.history["loss"]))
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(single, dist))
    moved = max(float(np.max(np.abs(a - b))) for a, b in zip(single, weights))
    print(f"frozen max_abs_diff={diff:.3e} max_weight_change={moved:.3e}")

    with scope():
        model = build("an", "leaf", 0.5)
        _, history = train(model, model.get_weights(), x, y, epochs=4)
    losses = history.history["loss"]
    print(f"full first_loss={losses[0]:.6f} last_loss={losses[-1]:.6f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
