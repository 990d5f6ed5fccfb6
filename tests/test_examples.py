"""Runs every script in examples/ and checks that it trains and exits cleanly."""

import os
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("script", ["sequential.py", "functional.py"])
def test_example_runs(script):
    pytest.importorskip("sklearn")  # the examples train on the embedded digits
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "test accuracy:" in result.stdout
    accuracy = float(result.stdout.split("test accuracy:")[1].split()[0])
    assert 0.3 < accuracy <= 1.0  # well above chance (0.1) after two epochs
