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
   drop-connect) distributed for 8 epochs. Prints ``full losses=<float>,...``,
   the loss of each epoch.
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # tests/: the shared helper
import distribution_support as ds  # noqa: E402

MODE = ds.configure(sys.argv)

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
    return ds.weights_of(model), history


def main():
    ds.split_cpu(MODE)
    distribution = ds.two_devices(MODE)
    x, y = ds.seeded_data((64, 32, 32, 3), (64,), classes=4)

    reference = build("bn", "swish", 0.0)
    freeze_norms(reference)
    weights = reference.get_weights()
    single, _ = train(reference, weights, x, y, epochs=2)

    with distribution.scope():
        model = build("bn", "swish", 0.0)
        freeze_norms(model)
        dist, history = train(model, weights, x, y, epochs=2)
    assert all(np.isfinite(history.history["loss"]))
    ds.report("frozen", max_abs_diff=ds.max_abs_diff(single, dist),
              max_weight_change=ds.max_abs_diff(single, weights))

    with distribution.scope():
        model = build("an", "leaf", 0.5)
        _, history = train(model, model.get_weights(), x, y, epochs=8)
    ds.report("full", losses=",".join(f"{loss:.6f}" for loss in history.history["loss"]))


if __name__ == "__main__":
    main()
