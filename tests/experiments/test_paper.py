"""Tests of the paper studies depth, width, params, shift and speed on the runner (embedded data).

Backend-neutral: .ci/run also runs this file on PyTorch.
"""

import dataclasses
import json
import math
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from linked_neurons import datasets
from linked_neurons.experiments import cli, runner
from linked_neurons.experiments.shift import transform

PAPER = ("depth", "width", "params", "shift", "speed")


@pytest.fixture(scope="module")
def digits():
    pytest.importorskip("sklearn")
    data = datasets.load_digits(seed=0)
    # A small training split keeps the smoke runs to seconds.
    return dataclasses.replace(data, x_train=data.x_train[:200], y_train=data.y_train[:200])


def _summary(folder, labels):
    status = json.load(open(os.path.join(folder, "status.json")))
    assert status["status"] == "complete"
    summary = pd.read_csv(os.path.join(folder, "summary.csv"))
    assert list(summary["label"]) == labels
    markdown = open(os.path.join(folder, "summary.md")).read()
    assert "best test (paper)" in markdown and "test acc" in markdown
    for row in summary.to_dict("records"):  # medians between min and max
        for key in ("test_accuracy", "paper_best_test_accuracy"):
            if key in row and not math.isnan(row[key]):
                assert 0 <= row[f"{key}_min"] <= row[key] <= row[f"{key}_max"] <= 1
    return summary


def test_width_through_the_command_line(tmp_path, capsys, digits):
    code = cli.main(["width", "--epochs", "1", "--seeds", "0", "--widths", "3", "--variants",
                     "relu", "lkrelu", "--max-train-samples", "200", "--output-dir",
                     str(tmp_path), "--name", "t", "--quiet"])
    assert code == 0
    out = capsys.readouterr().out
    assert "expected time about" in out and "| LK-ReLU " in out
    summary = _summary(tmp_path / "width" / "t", ["ReLU W=3", "LK-ReLU W=3"])
    assert list(summary["width"]) == [3, 3] and list(summary["activation"]) == ["ReLU", "LK-ReLU"]
    # Conv2D(W, 3x3) on 8x8x1 -> 6x6xW (x2 when linked) -> Dense(10).
    assert list(summary["params"]) == [9 * 3 + 3 + 36 * m * 3 * 10 + 10 for m in (1, 2)]
    # The paper's score is measured every epoch: with one epoch it is the final test accuracy.
    np.testing.assert_allclose(summary["paper_best_test_accuracy"], summary["test_accuracy"])


def test_depth_smoke_with_dead_units(tmp_path, digits):
    result = runner.run("depth", dataset=digits, variants=["lkrelu", "relu_sqrt2"], depth=3,
                        width=2, epochs=1, seeds=(0, 1), image_size=8, output_dir=str(tmp_path),
                        verbose=0)
    summary = _summary(result.folder, ["LK-ReLU", "ReLU√2"])
    assert (summary["runs"] == 2).all() and summary["dead_layers"].between(0, 3).all()
    runs = result.runs
    for row in runs.to_dict("records"):
        assert len(row["dead_fraction"]) == 3
        assert row["dead_layers"] == sum(f > 0 for f in row["dead_fraction"])
    dead = pd.read_csv(os.path.join(result.folder, "dead_units.csv"))
    assert len(dead) == 2 * 3 and dead["dead_fraction"].between(0, 1).all()
    assert list(dead["layer"][:3]) == [1, 2, 3]
    # Stem 7x7 (1 -> 2), two 3x3 convs, Dense from 4x4 maps; linked layers double the inputs.
    params = summary.set_index("label")["params"]
    assert params["ReLU√2"] == 49 * 2 + 2 + 2 * (9 * 2 * 2 + 2) + 16 * 2 * 10 + 10
    assert params["LK-ReLU"] == 49 * 2 + 2 + 2 * (9 * 4 * 2 + 2) + 16 * 4 * 10 + 10


def test_params_kinds(tmp_path, digits):
    result = runner.run("params", dataset=digits, variants=["relu"], kinds=["single", "linked"],
                        epochs=1, seeds=(0,), image_size=10, max_train_samples=64,
                        output_dir=str(tmp_path), verbose=0)
    summary = _summary(result.folder, ["ReLU", "LK-ReLU"])
    assert list(summary["kind"]) == ["single", "linked"]
    assert list(summary["activation"]) == ["ReLU", "ReLU"]
    assert summary["params"][1] > summary["params"][0]


@pytest.mark.slow  # in .ci/run's slow step: keeps the README test command under 5 minutes
def test_shift_inputs_and_smoke(tmp_path, digits):
    normalized = transform(digits, "normalized")
    assert float(np.mean(normalized.x_train)) == pytest.approx(0, abs=1e-4)
    assert float(np.std(normalized.x_train)) == pytest.approx(1, abs=1e-4)
    shifted = transform(digits, "shifted", shift=8.0, scale=4.0)
    assert float(np.mean(shifted.x_train)) == pytest.approx(8, abs=1e-3)
    assert float(np.std(shifted.x_train)) == pytest.approx(4, abs=1e-3)
    np.testing.assert_allclose(transform(digits, "raw").x_test, digits.x_test * 255.0, rtol=1e-6)
    assert transform(digits, "unit").x_val is digits.x_val
    with pytest.raises(ValueError, match="transform: unknown `condition` 'nope'"):
        transform(digits, "nope")
    result = runner.run("shift", dataset=digits, variants=["relu", "lkrelu_bn"],
                        conditions=["shifted", "raw"], depth=2, width=2, epochs=1, seeds=(0,),
                        output_dir=str(tmp_path), verbose=0)
    summary = _summary(result.folder, ["ReLU [shifted]", "LK-ReLU+BN [shifted]", "ReLU [raw]",
                                       "LK-ReLU+BN [raw]"])
    assert list(summary["condition"]) == ["shifted", "shifted", "raw", "raw"]
    assert summary["dead_fraction"].between(0, 1).all()


@pytest.mark.slow  # in .ci/run's slow step: keeps the README test command under 5 minutes
def test_speed_ratios_to_the_reference_of_the_same_seed(tmp_path, digits):
    # The reference is trained first whatever the order given.
    result = runner.run("speed", dataset=digits, variants=["relu_bn", "lkrelu"], depth=2, width=2,
                        epochs=2, seeds=(0, 1), target=0.01, image_size=8,
                        output_dir=str(tmp_path), verbose=0)
    runs = result.runs
    assert list(runs["variant"]) == ["lkrelu", "relu_bn", "lkrelu", "relu_bn"]
    for _, group in runs.groupby("seed"):
        ref, other = group.iloc[0], group.iloc[1]
        assert ref["step_ratio"] == ref["epoch_ratio"] == ref["target_ratio"] == 1.0
        assert other["epoch_ratio"] == pytest.approx(other["seconds_per_epoch"]
                                                     / ref["seconds_per_epoch"])
        assert other["step_ratio"] == pytest.approx(other["step_ms"] / ref["step_ms"])
    assert (0 < runs["step_ms"]).all() and (runs["step_ms"] < 1e3 * runs["seconds_per_epoch"]).all()
    assert (runs["epochs_to_target"] == 1).all()  # 1 % validation accuracy: the first epoch
    summary = result.summary.set_index("variant")
    assert summary["paper_ratio"]["lkrelu"] == 1.0 and math.isnan(summary["paper_ratio"]["relu_bn"])
    assert "Machine:" in open(os.path.join(result.folder, "summary.md")).read()


@pytest.mark.parametrize("argv,flag", [
    (["depth", "--depth", "0"], "--depth"),
    (["depth", "--epsilon", "-1"], "--epsilon"),
    (["depth", "--kernel-initializer", "nope"], "--kernel-initializer"),
    (["depth", "--runs", "3"], "unrecognized arguments: --runs"),
    (["width", "--widths", "0"], "--widths"),
    (["width", "--seeds", "-1"], "--seeds"),
    (["params", "--kinds", "single", "wide"], "--kinds"),
    (["params", "--activations", "relu"], "unrecognized arguments: --activations"),
    (["shift", "--conditions", "upside_down"], "--conditions"),
    (["shift", "--scale", "0"], "--scale"),
    (["speed", "--network", "vgg"], "--network"),
    (["speed", "--target", "1.5"], "--target"),
    (["speed", "--image-size", "x"], "--image-size"),
])
def test_bad_flags_name_the_flag(argv, flag, capsys):
    with pytest.raises(SystemExit) as error:
        cli.main(argv)
    assert error.value.code == 2
    assert flag in capsys.readouterr().err


@pytest.mark.parametrize("argv,message", [
    (["params", "--variants", "mish"], "params: unknown variant 'mish'; valid: relu, prelu"),
    (["speed", "--variants", "relu_bn"], "must include the reference 'lkrelu'"),
    (["depth", "--variants", "relu", "nope"], "nope"),
    (["width", "--widths", "3", "3"], "`widths` must be distinct"),
])
def test_bad_values_stop_before_training(argv, message, tmp_path, capsys):
    assert cli.main([*argv, "--output-dir", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / argv[0]).exists()  # stopped before the run folder


def test_every_paper_study_has_help_and_the_shared_flags(capsys):
    for name in PAPER:
        with pytest.raises(SystemExit) as error:
            cli.main([name, "--help"])
        assert error.value.code == 0
        out = capsys.readouterr().out
        for flag in ("--seeds", "--variants", "--shuffle", "--kernel-initializer", "--resume"):
            assert flag in out, (name, flag)
        assert "--runs" not in out and "--seed " not in out


@pytest.mark.parametrize("name", PAPER)
def test_study_help_imports_no_backend(name):
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "linked_neurons.experiments",
                          name, "--help"], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert out.returncode == 0, out.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in out.stderr.splitlines()
                if line.startswith("import time:")}
    assert "linked_neurons.experiments.classify" in imported
    assert not imported & {"keras", "tensorflow", "jax", "torch", "numpy"}
    assert "--seeds" in out.stdout
