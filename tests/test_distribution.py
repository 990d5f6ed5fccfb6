"""Every layer trains under Keras/TensorFlow data parallelism (two CPU devices).

Splitting a batch over two replicas changes only the order in which the
gradients' sums are added up. The tests bound the difference this makes to
the trained weights by the floating-point rounding of those sums: summing
``n`` terms in another order changes the result by at most about
``n * u * magnitude`` (``u`` the unit roundoff, half a unit in the last place
at 1), and training adds one such error per step, so

    |w_single - w_distributed| <= steps * n * u * max|w|

with ``n`` the longest sum in a gradient (a convolution kernel entry, summed
over the batch and the 8 x 8 positions) and ``max|w|`` the largest trained
weight. In float64 the JAX run must meet the same bound with float64's ``u``,
which shows that the float32 difference is rounding and nothing else.
"""

import os
import re

import numpy as np
import pytest
from conftest import run_python

# Two training runs per test in a subprocess configured with two devices.
pytestmark = pytest.mark.slow

WORKER = os.path.join(os.path.dirname(__file__), "distribution_worker.py")
UNIT_ROUNDOFF = {dtype: float(np.finfo(dtype).eps) / 2 for dtype in ("float32", "float64")}


def _run(mode):
    proc = run_python(WORKER, mode, timeout=600)
    found = dict(re.findall(r"(\w+)=(\S+)", proc.stdout))
    assert {"max_abs_diff", "max_weight_change", "max_abs_weight"} <= found.keys(), proc.stdout
    return {key: float(value) for key, value in found.items()}


def _rounding_bound(result, dtype):
    """steps * n * u * max|w|: the reordered-sum rounding over the whole run."""
    return (
        result["steps"] * result["summed_terms"] * UNIT_ROUNDOFF[dtype] * result["max_abs_weight"]
    )


def test_mirrored_strategy_matches_single_device():
    pytest.importorskip("tensorflow")
    result = _run("mirrored")
    assert result["max_weight_change"] > 1e-3  # training did change the weights
    bound = _rounding_bound(result, "float32")
    assert bound < 0.1 * result["max_weight_change"]  # the bound is tight enough to mean something
    assert result["max_abs_diff"] <= bound, (result, bound)


def test_keras_data_parallel_matches_single_device():
    pytest.importorskip("jax")
    result = _run("data_parallel")
    assert result["max_weight_change"] > 1e-3
    bound = _rounding_bound(result, "float32")
    assert bound < 0.1 * result["max_weight_change"]
    assert result["max_abs_diff"] <= bound, (result, bound)
    assert result["max_abs_diff_float64"] <= _rounding_bound(result, "float64"), result
