"""What the distribution workers share: the mode's backend and devices, the
two-device distribution, seeded data, weight comparisons and the result lines.

A worker runs in its own process because devices must be configured before the
backend starts. It calls :func:`configure` before it imports Keras, then
:func:`split_cpu` before TensorFlow runs anything:

    import sys
    import distribution_support as ds
    MODE = ds.configure(sys.argv)
    import keras
    x, y = ds.seeded_data((64, 6), (64, 1))
    ds.split_cpu(MODE)
    ...  # train on one device
    with ds.two_devices(MODE).scope():
        ...  # build and train the same model distributed
    ds.report(max_abs_diff=ds.max_abs_diff(single, distributed))

The modes: ``mirrored`` (TensorFlow ``tf.distribute.MirroredStrategy`` over two
logical CPUs) and ``data_parallel`` (``keras.distribution.DataParallel`` on JAX
over two host devices). Nothing here imports Keras at module level.
"""

import os
import sys

MODES = ("mirrored", "data_parallel")


def configure(argv):
    """Sets the backend (and the host device count) of the mode named in ``argv[1]``.

    Returns the mode; ``mirrored`` when none is given. Exits with a message
    for an unknown mode.
    """
    mode = argv[1] if len(argv) > 1 else "mirrored"
    if mode not in MODES:
        raise SystemExit(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    if mode == "data_parallel":
        os.environ["KERAS_BACKEND"] = "jax"
        os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    else:
        os.environ["KERAS_BACKEND"] = "tensorflow"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return mode


def split_cpu(mode):
    """In ``mirrored`` mode, makes two logical CPUs of the first one (before TF runs)."""
    if mode != "mirrored":
        return
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)


def two_devices(mode):
    """The two-device distribution of ``mode``; build and train under its ``scope()``."""
    if mode == "mirrored":
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        assert strategy.num_replicas_in_sync == 2
        return strategy
    import keras

    devices = keras.distribution.list_devices("cpu")
    assert len(devices) == 2, devices
    return keras.distribution.DataParallel(devices=devices)


def seeded_data(x_shape, y_shape, shift=0.0, classes=None):
    """Seeds Keras with 0 and draws ``(x, y)`` from a NumPy generator seeded with 0.

    ``x`` is normal float32 plus ``shift``; ``y`` is normal float32 or, with
    ``classes``, integer labels in ``[0, classes)``.
    """
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = (rng.normal(size=x_shape) + shift).astype("float32")
    if classes is not None:
        return x, rng.integers(0, classes, size=y_shape)
    return x, rng.normal(size=y_shape).astype("float32")


def weights_of(model):
    """The model's weights as NumPy arrays, in ``model.weights`` order."""
    import keras
    import numpy as np

    return [np.asarray(keras.ops.convert_to_numpy(w)) for w in model.weights]


def max_abs_diff(first, second, keep=None):
    """Largest absolute difference between two lists of arrays (pairs where ``keep`` is True)."""
    import numpy as np

    keep = [True] * len(first) if keep is None else keep
    return max(float(np.max(np.abs(a - b))) for a, b, k in zip(first, second, keep) if k)


def assert_loss_fell(history):
    """Every epoch's loss is finite and the last is below the first."""
    import numpy as np

    losses = history.history["loss"]
    assert all(np.isfinite(losses)), losses
    assert losses[-1] < losses[0], losses


def report(prefix="", **figures):
    """Prints one result line, ``[prefix ]name=value ...`` (floats as ``%.3e``)."""
    parts = [f"{k}={v:.3e}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()]
    print(" ".join(([prefix] if prefix else []) + parts))
    sys.stdout.flush()
