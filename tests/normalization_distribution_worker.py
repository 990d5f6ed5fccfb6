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

import sys

import distribution_support as ds

MODE = ds.configure(sys.argv)

import keras  # noqa: E402

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
    return ds.weights_of(model), [bool(w.trainable) for w in model.weights], history


def main():
    x, y = ds.seeded_data((64, 6, 6, 3), (64, 1), shift=0.5)
    ds.split_cpu(MODE)
    reference = build()
    weights = reference.get_weights()
    single, trainable, h1 = train(reference, weights, x, y)

    with ds.two_devices(MODE).scope():
        dist, _, h2 = train(build(), weights, x, y)
    ds.assert_loss_fell(h2)
    stats = [not t for t in trainable]
    assert ds.max_abs_diff(single, weights, stats) > 1e-3  # the moving statistics moved
    ds.report(max_abs_diff=ds.max_abs_diff(single, dist, trainable),
              max_weight_change=ds.max_abs_diff(single, weights, trainable),
              max_stat_diff=ds.max_abs_diff(single, dist, stats))


if __name__ == "__main__":
    main()
