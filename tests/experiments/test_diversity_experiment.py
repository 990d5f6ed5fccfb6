"""Tests of the ``diversity`` study (``linked-neurons diversity``) and ``examples/diversity.py``."""

import os
import pathlib
import re

import keras
import numpy as np
import pandas as pd
import pytest
from conftest import run_python

from linked_neurons.experiments import cli, diversity, runner
from linked_neurons.layers.diversity import InterpolatedActivation

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"

needs_tf = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                              reason="the Hessian densities need TensorFlow")


def _variants(**given):
    options = runner.resolve_options(diversity.STUDY, given)
    return [v.label for v in diversity.STUDY.grid(options)]


def test_configurations():
    assert _variants() == ["diverse (all K)", "learned 0", "learned 1", "base"]
    assert _variants(n_activations=3, variants=["single"]) == [
        "learned 0", "learned 1", "learned 2"]
    assert _variants(n_activations=1) == ["learned 0", "base"]  # K = 1: nothing to mix
    options = runner.resolve_options(diversity.STUDY, {})
    assert options["seeds"] == (0, 1, 2) and options["outer_steps"] == 20


@pytest.mark.slow  # the whole study from its command line (~12 s); .ci/run's slow step runs it
@needs_tf
def test_tiny_run_from_the_command_line(tmp_path, capsys):
    code = cli.main(["diversity", "--outer-steps", "1", "--epochs", "1", "--seeds", "0", "1",
                     "--max-train-samples", "400", "--batch-size", "80", "--lanczos-steps", "4",
                     "--output-dir", str(tmp_path), "--name", "t", "--quiet"])
    assert code == 0
    assert "meta step 1/1" in capsys.readouterr().out
    folder = tmp_path / "diversity" / "t"
    runs = pd.read_csv(folder / "runs.csv")
    assert list(runs["label"][:4]) == ["diverse (all K)", "learned 0", "learned 1", "base"]
    assert runs["test_accuracy"].between(0, 1).all() and list(runs["seed"]) == [0] * 4 + [1] * 4
    assert len(pd.read_csv(folder / "meta_history.csv")) == 1
    paired = pd.read_csv(folder / "paired.csv")
    assert list(paired["comparison"]) == ["diverse (all K) - base", "learned 0 - base",
                                          "learned 1 - base"]
    npz = InterpolatedActivation.from_file(str(folder / "learned_activations.npz"))
    text = np.loadtxt(folder / "learned_activations.txt")
    assert text.shape == (2, 201)
    np.testing.assert_allclose(text, npz.initial_y_values, rtol=1e-12)
    densities = np.load(folder / "hessian_density.npz")
    assert sorted(densities) == sorted(set(runs["label"]))  # the first seed's models
    grid, density = densities["base"]
    assert np.all(density >= 0) and np.sum(density) * (grid[1] - grid[0]) == pytest.approx(
        1.0, abs=0.05)
    for name in ("learned_curves", "meta_history", "hessian"):
        assert 1000 < os.path.getsize(folder / f"{name}.png") < 150_000
    assert "40-200-10" in (folder / "summary.md").read_text()


@pytest.mark.parametrize("flag, value", [
    ("--batch-size", "0"), ("--n-activations", "0"), ("--epochs", "0"),
    ("--outer-steps", "-1"), ("--lanczos-steps", "-3"), ("--inner-epochs", "0"),
    ("--outer-lr", "0"), ("--clip", "inf"), ("--base", "relu"), ("--data-seed", "-1"),
    ("--validation-optimizer", "sgd"), ("--max-train-samples", "0")])
def test_bad_flag_values_name_the_flag(flag, value, capsys, tmp_path):
    with pytest.raises(SystemExit) as stop:
        cli.main(["diversity", flag, value, "--output-dir", str(tmp_path)])
    assert stop.value.code == 2 and f"argument {flag}" in capsys.readouterr().err
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("argv, message", [
    (["--dataset", "digits"], "--dataset must be mnist1d"),
    (["--variants", "mixed"], "unknown --variants ['mixed']")])
def test_bad_choices_train_nothing(argv, message, capsys, tmp_path):
    assert cli.main(["diversity", *argv, "--output-dir", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert not os.listdir(tmp_path)


@pytest.mark.slow  # the example script in a subprocess
@needs_tf
def test_example_script():
    result = run_python(EXAMPLES / "diversity.py", timeout=300)
    assert "meta step 5/5" in result.stdout
    acc = float(re.search(r"test accuracy (\d\.\d+)", result.stdout).group(1))
    assert acc > 0.2  # ten classes: well above chance after 5 epochs
    assert "trainable sub-network weights: 302" in result.stdout
