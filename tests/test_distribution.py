"""Every layer trains under Keras/TensorFlow data parallelism (two CPU devices)."""

import os
import re

import pytest
from conftest import run_python

WORKER = os.path.join(os.path.dirname(__file__), "distribution_worker.py")


def _run(mode):
    proc = run_python(WORKER, mode, timeout=600)
    match = re.search(r"max_abs_diff=(\S+) max_weight_change=(\S+)", proc.stdout)
    assert match, proc.stdout
    return float(match.group(1)), float(match.group(2))


def test_mirrored_strategy_matches_single_device():
    pytest.importorskip("tensorflow")
    diff, moved = _run("mirrored")
    assert moved > 1e-3  # training did change the weights
    assert diff < 1e-5


def test_keras_data_parallel_matches_single_device():
    pytest.importorskip("jax")
    diff, moved = _run("data_parallel")
    assert moved > 1e-3
    assert diff < 1e-5
