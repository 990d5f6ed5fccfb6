"""``python -m linked_neurons.experiments diversity`` and ``examples/diversity.py`` (SPEC §4)."""

import csv
import doctest
import os
import pathlib
import re

import keras
import numpy as np
import pytest
from conftest import run_python

from linked_neurons.experiments import EXPERIMENTS
from linked_neurons.experiments import diversity as experiment
from linked_neurons.experiments.__main__ import main
from linked_neurons.layers.diversity import InterpolatedActivation

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"

needs_tf = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                              reason="the Hessian densities need TensorFlow")


def _read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow  # whole-command smoke run (~10 s); .ci/run's slow step runs it
@needs_tf
def test_tiny_run_writes_tables_curves_and_plots(tmp_path, capsys):
    out = str(tmp_path / "diversity")
    code = main(["diversity", "--samples", "400", "--outer-steps", "2", "--inner-epochs", "1",
                 "--batch-size", "80", "--epochs", "1", "--seeds", "0", "1",
                 "--lanczos-steps", "10", "--output-dir", out])
    assert code == 0
    printed = capsys.readouterr().out
    assert "meta step 2/2" in printed and "Hessian diverse (K=2)" in printed
    summary = _read_csv(os.path.join(out, "diversity_validation.csv"))
    assert [r["config"] for r in summary] == ["diverse (K=2)", "learned 0", "learned 1",
                                              "base sin"]
    for row in summary:
        assert 0.0 <= float(row["mean"]) <= 1.0
        assert re.fullmatch(r"\d\.\d{4} ± \d\.\d{4}", row["test accuracy"])
    with open(os.path.join(out, "diversity_validation.md")) as handle:
        assert "| diverse (K=2)" in handle.read()
    runs = _read_csv(os.path.join(out, "diversity_validation_runs.csv"))
    paired = _read_csv(os.path.join(out, "diversity_validation_paired.csv"))
    assert [r["config"] for r in paired] == ["diverse (K=2)", "learned 0", "learned 1"]
    acc = {(r["config"], r["seed"]): float(r["test_accuracy"]) for r in runs}
    diff = np.mean([acc["learned 0", k] - acc["base sin", k] for k in ("0", "1")])
    assert float(paired[1]["mean_difference"]) == pytest.approx(diff, abs=1e-9)
    history = _read_csv(os.path.join(out, "diversity_meta_history.csv"))
    assert [int(r["step"]) for r in history] == [1, 2]
    assert all(np.isfinite(float(r["outer_loss"])) for r in history)
    # the text file is the DiversityNN format, the .npz our own: same curves
    text = InterpolatedActivation.from_file(os.path.join(out, "learned_activations.txt"))
    npz = InterpolatedActivation.from_file(os.path.join(out, "learned_activations.npz"))
    np.testing.assert_allclose(text.initial_y_values, npz.initial_y_values, rtol=1e-12)
    for name in ("curves", "outer_loss", "hessian"):
        path = os.path.join(out, f"diversity_{name}.png")
        assert 1000 < os.path.getsize(path) < 150_000


def test_registered_and_documented():
    assert "diversity" in EXPERIMENTS
    defaults = experiment.build_parser_defaults()
    assert defaults["output_dir"] == os.path.join("results", "diversity")
    assert defaults["preset"] == "quick" and defaults["data_seed"] == 42
    assert experiment.CLI_PRESETS["paper"]["outer_steps"] == 300
    assert "--preset paper" in experiment.__doc__
    result = doctest.testmod(experiment, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.slow
def test_quick_preset_run_under_five_cpu_minutes(tmp_path):
    """CPU time rather than wall time: the latter depends on the machine's load
    (128 s of CPU time took 9 minutes of wall time at a load average of 12)."""
    result = experiment.run_diversity(preset="quick", output_dir=str(tmp_path), verbose=0)
    assert result["cpu_seconds"] < 300
    assert len(result["history"]["outer_loss"]) == 20


@pytest.mark.slow  # whole-command smoke run (~10 s); .ci/run's slow step runs it
@needs_tf
def test_replot_redraws_from_the_written_files(tmp_path):
    out = str(tmp_path / "d")
    experiment.run_diversity(samples=400, outer_steps=2, inner_epochs=1, batch_size=80,
                             epochs=1, seeds=[0], lanczos_steps=5, output_dir=out, verbose=0,
                             plots=False)
    files = experiment.replot(out)
    assert [os.path.basename(f) for f in files] == [
        "diversity_curves.png", "diversity_outer_loss.png", "diversity_hessian.png"]
    image = pytest.importorskip("matplotlib.image")
    assert all(image.imread(f).shape[0] >= 400 for f in files)  # readable without zooming


@pytest.mark.slow  # the example script in a subprocess
@needs_tf
def test_example_script():
    result = run_python(EXAMPLES / "diversity.py", timeout=300)
    assert "meta step 5/5" in result.stdout
    acc = float(re.search(r"test accuracy (\d\.\d+)", result.stdout).group(1))
    assert acc > 0.2  # ten classes: well above chance after 5 epochs
    assert "trainable sub-network weights: 302" in result.stdout
