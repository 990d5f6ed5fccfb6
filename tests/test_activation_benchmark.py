"""``benchmarks/activations.py``: the CPU activation benchmark runs and names the default's form."""

import os
import subprocess
import sys

import pytest

from linked_neurons.ops import _policy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "activations.py")
OPS = {"lkrelu": "lk_relu", "lkselu": "lk_selu", "selu": "selu"}
LABELS = {"lkrelu": "LKReLU", "lkselu": "LKSELU", "selu": "SELU"}


@pytest.mark.slow  # a TensorFlow subprocess that traces and compiles 12 steps (~20 s)
def test_default_rows_name_the_form_the_policy_picks():
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, SCRIPT, "--markdown", "--no-memory", "--shape", "2", "4", "4", "8",
         "--repeats", "2", "--warmup", "0", "--ops", *OPS],
        capture_output=True, text=True, env=env, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [[c.strip() for c in line.strip("|").split("|")]
            for line in proc.stdout.splitlines()
            if line.startswith("| ") and not line.startswith("| ---")]
    defaults = {(r[0], r[2]): r[1] for r in rows if r[1].startswith("default")}
    for op, name in OPS.items():
        for xla, mode in (("on", "xla"), ("off", "graph")):
            fused = _policy.fused_by_default(name, ("tensorflow", mode, "cpu"), "float32")
            expected = f"default ({'fused' if fused else 'plain'})"
            assert defaults[(LABELS[op], xla)] == expected, (op, xla)
    for op in OPS:  # the comparison below the targets
        assert f"- {LABELS[op]}, XLA on: " in proc.stdout
        assert f"- {LABELS[op]}, XLA off: " in proc.stdout
