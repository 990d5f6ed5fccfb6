"""The builder's models under tf.distribute.MirroredStrategy (TensorFlow, two
logical CPUs).

The worker also has a ``data_parallel`` mode (``keras.distribution.DataParallel``
on JAX over two simulated host devices) for machines with more cores: on a
2-core host, XLA's CPU collectives deadlock on this model (one replica's
all-reduce waits for the other, whose fused ops wait for the busy thread
pool), so the default suite does not run it.
"""

import os
import re

import pytest
from conftest import BACKEND, run_python

WORKER = os.path.join(os.path.dirname(__file__), "efficientmixnet_worker.py")


def _check(mode):
    out = run_python(WORKER, mode, timeout=600).stdout
    frozen = re.search(r"frozen max_abs_diff=(\S+) max_weight_change=(\S+)", out)
    full = re.search(r"full first_loss=(\S+) last_loss=(\S+)", out)
    assert frozen and full, out
    diff, moved = float(frozen.group(1)), float(frozen.group(2))
    assert moved > 1e-3  # training changed the weights
    assert diff < 1e-5  # and the two replicas computed the single-device step
    first, last = float(full.group(1)), float(full.group(2))
    assert last < first  # AN, IEBN, LEAF, drop-connect: trains when distributed


@pytest.mark.slow  # trains in a subprocess with two devices
def test_mirrored_strategy():
    pytest.importorskip("tensorflow")
    if BACKEND != "tensorflow":
        pytest.skip("the worker always runs TensorFlow; once, in the TensorFlow run, is enough")
    _check("mirrored")
