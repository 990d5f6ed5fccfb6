"""Tests of the ``leaf`` study (``linked-neurons leaf``) and ``examples/leaf.py``."""

import os
import pathlib
import re

import numpy as np
import pandas as pd
import pytest
from conftest import run_python

from linked_neurons.experiments import cli, leaf, runner

pytest.importorskip("sklearn")  # the embedded digits

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def test_grid_of_networks_inits_and_variants():
    options = runner.resolve_options(leaf.STUDY, {"inits": ("relu", "tanh"),
                                                  "networks": ("lenet5", "kerasnet")})
    labels = [v.label for v in leaf.STUDY.grid(options)]
    assert labels == ["ReLU", "AHAF (ReLU)", "LEAF+P24Sl (ReLU)", "tanh", "LEAF+P24Sl (tanh)",
                      "KerasNet ReLU", "KerasNet AHAF (ReLU)", "KerasNet LEAF+P24Sl (ReLU)",
                      "KerasNet tanh", "KerasNet LEAF+P24Sl (tanh)"]  # no AHAF for tanh
    assert options["seeds"] == (42, 100, 128, 1999, 7823)  # the paper's


@pytest.mark.slow  # in .ci/run's slow step: keeps the README test command under 5 minutes
def test_tiny_run_from_the_command_line(tmp_path):
    pytest.importorskip("matplotlib")
    code = cli.main(["leaf", "--inits", "relu", "--variants", "base", "leaf_dspt_p24sl",
                     "--epochs", "1", "--seeds", "3", "4", "--max-train-samples", "256",
                     "--batch-size", "64", "--quiet", "--output-dir", str(tmp_path),
                     "--name", "t"])
    assert code == 0
    folder = tmp_path / "leaf" / "t"
    runs = pd.read_csv(folder / "runs.csv")
    assert list(runs["label"]) == ["ReLU", "LEAF+DSPT+P24Sl (ReLU)"] * 2
    assert list(runs["seed"]) == [3, 3, 4, 4]
    neurons = 12 * 12 * 20 + 2 * 2 * 50 + 500  # LeNet-5's activations on 16x16 inputs
    assert list(runs["activation_params"][:2]) == [0, 4 * neurons]
    assert runs["test_accuracy"].between(0, 1).all() and (runs["best_epoch"] == 1).all()
    paired = pd.read_csv(folder / "paired.csv")
    assert list(zip(paired["comparison"], paired["metric"])) == [
        ("LEAF+DSPT+P24Sl (ReLU) - ReLU", "test_accuracy"),
        ("LEAF+DSPT+P24Sl (ReLU) - ReLU", "best_val_accuracy")]
    by_seed = runs.set_index(["label", "seed"])["test_accuracy"]
    diffs = [by_seed["LEAF+DSPT+P24Sl (ReLU)", k] - by_seed["ReLU", k] for k in (3, 4)]
    assert paired["mean_difference"][0] == pytest.approx(np.mean(diffs), abs=1e-6)
    assert "95% Student-t" in (folder / "paired.md").read_text()
    shapes = sorted(name for name in os.listdir(folder) if name.endswith("_shapes.png"))
    assert shapes == ["lenet5_relu_leaf_dspt_p24sl_shapes.png"]  # the learnable one only
    image = pytest.importorskip("matplotlib.image")
    assert image.imread(folder / shapes[0]).shape[0] >= 400
    assert "augment shift" in (folder / "summary.md").read_text()  # no flips for digits


@pytest.mark.parametrize("flag, value", [
    ("--networks", "vgg"), ("--inits", "elu"), ("--augment", "mixup"), ("--optimizer", "sgd"),
    ("--max-train-samples", "0"), ("--epochs", "0"), ("--image-size", "-16"),
    ("--batch-size", "x")])
def test_bad_flag_values_name_the_flag(flag, value, capsys, tmp_path):
    with pytest.raises(SystemExit) as stop:
        cli.main(["leaf", flag, value, "--output-dir", str(tmp_path)])
    assert stop.value.code == 2 and f"argument {flag}" in capsys.readouterr().err
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("argv, message", [
    (["--variants", "leaf"], "unknown --variants ['leaf']"),
    (["--inits", "tanh", "--variants", "ahaf"], "are not trained for --inits tanh"),
    (["--image-size", "8"], "--image-size must be >= 16"),
    (["--dataset", "mnist1d"], "needs images")])
def test_bad_combinations_train_nothing(argv, message, capsys, tmp_path):
    assert cli.main(["leaf", *argv, "--output-dir", str(tmp_path), "--quiet"]) == 2
    assert message in capsys.readouterr().err
    assert not os.path.isdir(tmp_path / "leaf") or not any(
        (tmp_path / "leaf").glob("*/models/*.json"))


@pytest.mark.slow  # the example script in a subprocess
def test_example_script():
    result = run_python(EXAMPLES / "leaf.py")
    out = result.stdout
    accuracy = float(out.split("test accuracy:")[1].split()[0])
    assert 0.5 < accuracy <= 1.0
    changes = {k: float(v) for k, v in re.findall(r"largest change of (p\d): (\S+)", out)}
    assert set(changes) == {"p1", "p2", "p3", "p4"}
    # P24Sl: p2 and p4 move about 1000 times less than p1 and p3
    assert max(changes["p2"], changes["p4"]) < min(changes["p1"], changes["p3"]) / 100
