"""Tests of the ``selu`` study (``linked-neurons selu``; embedded digits only)."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from linked_neurons.experiments import cli, runner

pytest.importorskip("sklearn")  # the digits

LAYERS = ["conv1", "conv2", "conv3", "fc1", "fc2"]


@pytest.mark.slow  # the whole study from its command line (~6 s); .ci/run's slow step runs it
def test_tiny_run_from_the_command_line(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    code = cli.main(["selu", "--variants", "selu", "relu_bn", "--epochs", "2",
                     "--max-train-samples", "256", "--batch-size", "64", "--output-dir",
                     str(tmp_path), "--name", "t", "--quiet"])
    assert code == 0
    assert "| ReLU+BN " in capsys.readouterr().out
    folder = tmp_path / "selu" / "t"
    assert json.loads((folder / "status.json").read_text())["status"] == "complete"
    runs = pd.read_csv(folder / "runs.csv").set_index("label")
    assert list(runs.index) == ["SELU", "ReLU+BN"]
    assert runs["test_accuracy"].between(0, 1).all() and (runs["epochs"] == 2).all()
    assert runs["dead_fraction"].between(0, 1).all()
    # ReLU outputs are never negative; SELU's are bounded below by -lambda * alpha.
    assert (runs.loc["ReLU+BN", [f"{layer}_min" for layer in LAYERS]] >= 0).all()
    assert (runs.loc["ReLU+BN", "conv1_negative_fraction"]) == 0
    assert (runs.loc["SELU", [f"{layer}_min" for layer in LAYERS]] >= -1.7581).all()
    assert runs.loc["SELU", "conv1_negative_fraction"] > 0
    layers = pd.read_csv(folder / "layers.csv")
    assert list(layers["layer"]) == LAYERS * 2 and list(layers["activation"][:1]) == ["SELU"]
    assert layers.set_index(["activation", "layer"]).loc[("SELU", "fc1"), "mean"] == (
        pytest.approx(runs.loc["SELU", "fc1_mean"]))
    assert "| SELU " in (folder / "layers.md").read_text()
    outputs = np.load(folder / "models" / "selu__seed0_outputs.npz")
    assert sorted(outputs) == sorted(LAYERS) and len(outputs["conv1"]) == 256
    for name in ("histograms.png", "training.png", "summary.md"):
        assert (folder / name).stat().st_size > 0
    logs = folder / "logs" / "selu__seed0"
    assert any(name.startswith("events") for _, _, files in os.walk(logs) for name in files)


@pytest.mark.slow  # in .ci/run's slow step: keeps the README test command under 5 minutes
def test_same_seed_same_numbers_and_no_logs(tmp_path):
    options = dict(variants=["lkselu"], epochs=1, max_train_samples=128, batch_size=64,
                   no_logs=True, output_dir=str(tmp_path), verbose=0)
    first = runner.run("selu", name="a", **options)
    second = runner.run("selu", name="b", **options)
    assert first.runs["test_accuracy"][0] == second.runs["test_accuracy"][0]
    assert first.runs["conv2_std"][0] == second.runs["conv2_std"][0]
    assert not os.path.exists(os.path.join(first.folder, "logs"))
    assert first.data.input_shape == (16, 16, 1)  # the digits, enlarged


@pytest.mark.parametrize("flag, value", [("--epochs", "0"), ("--batch-size", "-1"),
                                         ("--freq", "0"), ("--image-size", "big"),
                                         ("--max-train-samples", "0"), ("--seeds", "-2"),
                                         ("--learning-rate", "nan")])
def test_bad_flag_values_name_the_flag(flag, value, capsys, tmp_path):
    with pytest.raises(SystemExit) as stop:
        cli.main(["selu", flag, value, "--output-dir", str(tmp_path)])
    assert stop.value.code == 2
    assert f"argument {flag}" in capsys.readouterr().err
    assert not os.listdir(tmp_path)


def test_unknown_variant_trains_nothing(tmp_path, capsys):
    assert cli.main(["selu", "--variants", "nope", "--output-dir", str(tmp_path)]) == 2
    assert "nope" in capsys.readouterr().err
    assert not os.listdir(tmp_path)
