"""Trains a model holding every library layer on one device and distributed.

Run as ``python distribution_worker.py mirrored`` (TensorFlow
``tf.distribute.MirroredStrategy`` over two logical CPUs) or
``python distribution_worker.py data_parallel`` (``keras.distribution.DataParallel``
on JAX over two host devices, in float32 and again in float64). Devices must be
configured before the backend starts, hence a separate process. Prints
``max_abs_diff=<float>`` between the final weights of the single-device and the
distributed runs, and the figures the test's float rounding bound is made of.
"""

import sys

import distribution_support as ds

MODE = ds.configure(sys.argv)

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
    return ds.weights_of(model), history


def main():
    if MODE == "data_parallel":
        import jax

        jax.config.update("jax_enable_x64", True)  # for the float64 run
    x, y = ds.seeded_data((SAMPLES, 8, 8, 3), (SAMPLES, 1))
    ds.split_cpu(MODE)
    reference = build()
    weights = reference.get_weights()
    # Nonzero slopes so that LKPReLU's weights matter.
    weights = [w + 0.1 if w.shape == (1, 1, 4) else w for w in weights]
    single, h1 = train(reference, weights, x, y)

    distribution = ds.two_devices(MODE)
    with distribution.scope():
        dist, h2 = train(build(), weights, x, y)
    if MODE == "data_parallel":
        # The same two runs in float64: only the order of the sums differs, so the
        # results must agree to float64 rounding.
        keras.config.set_floatx("float64")
        keras.config.set_dtype_policy("float64")
        x64, y64 = x.astype("float64"), y.astype("float64")
        single64, _ = train(build(), weights, x64, y64)
        with distribution.scope():
            dist64, _ = train(build(), weights, x64, y64)
        assert single64[0].dtype == np.float64, single64[0].dtype
        ds.report(max_abs_diff_float64=ds.max_abs_diff(single64, dist64))
    ds.assert_loss_fell(h2)
    ds.report(max_abs_diff=ds.max_abs_diff(single, dist),
              max_weight_change=ds.max_abs_diff(single, weights))
    magnitude = max(float(np.max(np.abs(w))) for w in single)
    terms = BATCH * 8 * 8  # longest gradient sum: a conv kernel entry over batch x positions
    ds.report(max_abs_weight=f"{magnitude:.6e}", steps=EPOCHS * (SAMPLES // BATCH),
              summed_terms=terms)


if __name__ == "__main__":
    main()
