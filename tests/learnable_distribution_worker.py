"""Trains a model with LEAF and AHAF under DSPT + P24Sl, on one device and distributed.

Run as ``python learnable_distribution_worker.py mirrored`` (TensorFlow
``tf.distribute.MirroredStrategy`` over two logical CPUs) or
``python learnable_distribution_worker.py data_parallel``
(``keras.distribution.DataParallel`` on JAX over two host devices). Devices
must be configured before the backend starts, hence a separate process.
Prints ``max_abs_diff=<float>`` between the final weights of the
single-device and the distributed runs and how far training moved them.
"""

import sys

import distribution_support as ds

MODE = ds.configure(sys.argv)

import keras  # noqa: E402

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
    return ds.weights_of(model), history


def main():
    x, y = ds.seeded_data((64, 6, 6, 2), (64, 1))
    ds.split_cpu(MODE)
    reference = build()
    weights = reference.get_weights()
    single, _ = train(reference, weights, x, y)

    with ds.two_devices(MODE).scope():
        model = build()
        dist, history = train(model, weights, x, y)
    ds.assert_loss_fell(history)
    steps = [int(keras.ops.convert_to_numpy(o.iterations)) for o in model.optimizer.optimizers]
    assert steps == [12, 12, 12], steps
    ds.report(max_abs_diff=ds.max_abs_diff(single, dist),
              max_weight_change=ds.max_abs_diff(single, weights))


if __name__ == "__main__":
    main()
