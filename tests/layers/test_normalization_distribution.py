"""AttentiveNormalization and IEBN (SPEC §6) under distribution.

Synchronized statistics, training on two devices against one, and empty
training batches.
"""

import os
import re

import keras
import numpy as np
import pytest
from conftest import BACKEND, random_input, run_python
from keras import ops
from normalization_support import ROOT

from linked_neurons.layers.normalization import IEBN, AttentiveNormalization


# ----------------------------------------------------------------------------- distribution
def test_synchronized_layers_equal_local_ones_on_a_single_device():
    if BACKEND != "tensorflow":
        pytest.skip("synchronized=True is TensorFlow-only (checked in the bad-argument test)")
    x = random_input((4, 3, 3, 5), seed=6).astype("float32")
    for local in (AttentiveNormalization(momentum=0.5), IEBN(momentum=0.5)):
        local.build(x.shape)
        synced = type(local).from_config({**local.get_config(), "synchronized": True})
        synced.build(x.shape)
        synced.set_weights(local.get_weights())
        np.testing.assert_allclose(
            ops.convert_to_numpy(synced(x, training=True)),
            ops.convert_to_numpy(local(x, training=True)),
            rtol=1e-6, atol=1e-6,
        )
        np.testing.assert_allclose(
            ops.convert_to_numpy(synced.moving_variance),
            ops.convert_to_numpy(local.moving_variance),
            rtol=1e-6,
        )


WORKER = os.path.join(ROOT, "tests", "normalization_distribution_worker.py")


def _distributed(mode):
    proc = run_python(WORKER, mode, timeout=600)
    match = re.search(r"max_abs_diff=(\S+) max_weight_change=(\S+) max_stat_diff=(\S+)",
                      proc.stdout)
    assert match, proc.stdout
    return [float(v) for v in match.groups()]


@pytest.mark.slow  # trains in a subprocess with two devices
def test_mirrored_strategy_matches_single_device():
    if BACKEND != "tensorflow":
        pytest.skip("tf.distribute: runs in the TensorFlow test run")
    diff, moved, stat_diff = _distributed("mirrored")
    assert moved > 1e-3  # training changed the weights
    assert diff < 1e-4
    assert stat_diff < 1e-4


@pytest.mark.slow  # trains in a subprocess with two devices
def test_keras_data_parallel_matches_single_device():
    if BACKEND != "jax":
        pytest.skip("keras.distribution on JAX: runs in the JAX test run")
    diff, moved, stat_diff = _distributed("data_parallel")
    assert moved > 1e-3
    assert diff < 1e-4
    assert stat_diff < 1e-4


@pytest.mark.parametrize(
    "cls, kwargs",
    [(AttentiveNormalization, {}), (AttentiveNormalization, {"attention": "paper"}),
     (IEBN, {})],
)
def test_empty_training_batch_leaves_moving_statistics(cls, kwargs):
    layer = cls(**kwargs)
    x = np.random.default_rng(0).normal(size=(4, 3, 3, 2)).astype("float32")
    layer(x, training=True)
    before = [ops.convert_to_numpy(v).copy() for v in layer.non_trainable_variables]
    out = layer(x[:0], training=True)
    assert tuple(out.shape) == (0, 3, 3, 2)
    after = [ops.convert_to_numpy(v) for v in layer.non_trainable_variables]
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
    if keras.backend.backend() == "tensorflow":  # batch size unknown while tracing
        import tensorflow as tf

        step = tf.function(lambda t: layer(t, training=True),
                           input_signature=[tf.TensorSpec((None, 3, 3, 2), "float32")])
        step(x[:0])
        for a, v in zip(before, layer.non_trainable_variables):
            np.testing.assert_array_equal(a, ops.convert_to_numpy(v))
        step(x)
        assert all(np.all(np.isfinite(ops.convert_to_numpy(v)))
                   for v in layer.non_trainable_variables)
