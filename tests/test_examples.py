"""Runs every script in examples/ and checks that it trains and exits cleanly."""

import pathlib

import pytest
from conftest import run_python

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.slow  # two training runs in subprocesses; README.rst's blocks are tested fast
@pytest.mark.parametrize("script", ["sequential.py", "functional.py"])
def test_example_runs(script):
    pytest.importorskip("sklearn")  # the examples train on the embedded digits
    result = run_python(EXAMPLES / script)
    assert "test accuracy:" in result.stdout
    accuracy = float(result.stdout.split("test accuracy:")[1].split()[0])
    assert 0.3 < accuracy <= 1.0  # well above chance (0.1) after two epochs
