"""Tests of the ``compare`` study and the shared classification pieces (embedded data only)."""

import json
import os
import sys

import keras
import numpy as np
import pandas as pd
import pytest

from linked_neurons import datasets
from linked_neurons.experiments import classify, cli, compare, run
from linked_neurons.experiments.compare import run_compare

ACCURACIES = ("final_val_accuracy", "best_val_accuracy", "test_accuracy")


@pytest.fixture(scope="module")
def digits():
    pytest.importorskip("sklearn")
    return datasets.load_digits()


def _check_folder(folder, labels, seeds, epochs):
    status = json.load(open(os.path.join(folder, "status.json")))
    assert status["status"] == "complete" and status["finished"] == len(labels) * len(seeds)
    runs = pd.read_csv(os.path.join(folder, "runs.csv"))
    summary = pd.read_csv(os.path.join(folder, "summary.csv"))
    assert list(summary["label"]) == labels
    assert len(runs) == len(labels) * len(seeds) and set(runs["seed"]) == set(seeds)
    for column in ACCURACIES:
        assert runs[column].between(0, 1).all(), column
    assert (runs["epochs"] == epochs).all() and runs["best_epoch"].between(1, epochs).all()
    for label, group in runs.groupby("label", sort=False):
        row = summary.set_index("label").loc[label]
        assert row["test_accuracy"] == pytest.approx(group["test_accuracy"].median())
        assert row["test_accuracy_min"] == pytest.approx(group["test_accuracy"].min())
    for name in os.listdir(os.path.join(folder, "models")):
        if name.endswith(".csv"):  # CSVLogger: one line per epoch
            assert len(pd.read_csv(os.path.join(folder, "models", name))) == epochs
    markdown = open(os.path.join(folder, "summary.md")).read()
    assert all(f"| {label} " in markdown for label in labels)
    return runs, summary


def test_compare_through_the_command_line(tmp_path, capsys, digits):
    pytest.importorskip("matplotlib")
    code = cli.main(["compare", "--epochs", "2", "--variants", "relu", "lkrelu", "--seeds", "0",
                     "1", "--output-dir", str(tmp_path), "--name", "t", "--batch-size", "128"])
    assert code == 0
    out = capsys.readouterr().out
    assert "| LK-ReLU " in out and "epoch 2/2" in out and "left]" in out
    folder = tmp_path / "compare" / "t"
    runs, summary = _check_folder(str(folder), ["ReLU", "LK-ReLU"], [0, 1], 2)
    # Same filters: LK-ReLU doubles the channels reaching the next layers.
    params = summary.set_index("label")["params"]
    assert params["LK-ReLU"] > params["ReLU"]
    assert set(runs["kernel_initializer"]) == {"glorot_uniform"}
    assert (folder / "curves.png").stat().st_size > 0
    assert (folder / "test_accuracy.png").stat().st_size > 0


@pytest.mark.slow  # in .ci/run's slow step: keeps the README test command under 5 minutes
def test_same_seed_same_numbers(tmp_path, digits):
    first = run_compare(dataset=digits, variants=["lkrelu"], epochs=1, batch_size=256,
                        output_dir=str(tmp_path), name="a", verbose=0)
    second = run("compare", dataset=digits, variants=["lkrelu"], epochs=1, batch_size=256,
                 output_dir=str(tmp_path), name="b", verbose=0)
    assert first.runs["test_accuracy"][0] == second.runs["test_accuracy"][0]
    assert first.runs["final_val_loss"][0] == second.runs["final_val_loss"][0]


def test_mnist1d_without_matplotlib(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    data = datasets.load_mnist1d(n_samples=300, sequence=True)
    result = run_compare(dataset=data, variants=["selu_bn"], epochs=1, output_dir=str(tmp_path),
                         verbose=1)
    out = capsys.readouterr().out
    assert "| SELU+BN " in out and "matplotlib is not installed" in out
    assert result.runs["kernel_initializer"][0] == "lecun_normal"
    assert not any(name.endswith(".png") for name in os.listdir(result.folder))


def test_terminal_progress_bars(tmp_path, capsys, monkeypatch, digits):
    pytest.importorskip("tqdm")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    run_compare(dataset=digits, variants=["relu"], epochs=2, batch_size=256,
                output_dir=str(tmp_path), verbose=2)
    err = capsys.readouterr().err
    assert "compare" in err and "2/2" in err and "ReLU seed 0" in err


def test_bad_arguments_fail_before_any_folder(tmp_path, capsys):
    with pytest.raises(ValueError, match="Unknown activation|unknown activation"):
        run_compare(variants=["relu", "nope"], output_dir=str(tmp_path), verbose=0)
    with pytest.raises(ValueError, match="distinct variants"):
        run_compare(variants=["relu", "ReLU"], output_dir=str(tmp_path), verbose=0)
    assert not list(tmp_path.iterdir())
    assert cli.main(["compare", "--variants", "nope", "--output-dir", str(tmp_path)]) == 2
    assert "nope" in capsys.readouterr().err
    for flag, value in (("--filters", "0"), ("--epochs", "0"), ("--learning-rate", "nan")):
        with pytest.raises(SystemExit):
            cli.main(["compare", flag, value, value])
        assert f"argument {flag}" in capsys.readouterr().err


def test_help_lists_the_shared_flags(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["compare", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--dataset", "--variants", "--seeds", "--epochs", "--batch-size",
                 "--learning-rate", "--max-train-samples", "--output-dir", "--name",
                 "--resume", "--quiet", "--filters"):
        assert flag in out


@pytest.mark.parametrize("name, expected", [
    ("relu", ("relu", "ReLU", "relu", False, False)),
    ("relu_bn", ("relu_bn", "ReLU+BN", "relu", True, False)),
    ("ReLU+BN", ("relu_bn", "ReLU+BN", "relu", True, False)),
    ("LK-ReLU", ("lkrelu", "LK-ReLU", "lkrelu", False, False)),
    ("lk_swish", ("lkswish", "LK-Swish", "lkswish", False, False)),
    ("prelu_sqrt2_bn", ("prelu_sqrt2_bn", "PReLU√2+BN", "prelu", True, True)),
    ("tanh", ("tanh", "tanh", "tanh", False, False)),
])
def test_parse_variant(name, expected):
    assert tuple(classify.parse_variant(name)) == expected


@pytest.mark.parametrize("input_shape", [(8, 8, 1), (40, 1)])
@pytest.mark.parametrize("variant", compare.STUDY.defaults["variants"])
def test_build_model_for_every_default_variant(variant, input_shape):
    parsed = classify.parse_variant(variant)
    model = compare.build_model(input_shape, 10, parsed.activation, parsed.batch_norm, (4, 6))
    assert model.output_shape == (None, 10)
    names = [type(layer).__name__ for layer in model.layers]
    assert ("BatchNormalization" in names) == parsed.batch_norm
    x = np.random.default_rng(0).random((3, *input_shape), dtype=np.float32)
    probabilities = keras.ops.convert_to_numpy(model(x, training=False))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_build_model_rejects_bad_rank():
    with pytest.raises(ValueError, match="rank 2 or 3"):
        compare.build_model((2, 8, 8, 1), 10)


@pytest.mark.slow
def test_default_compare_is_well_above_chance(tmp_path):
    pytest.importorskip("sklearn")
    result = run_compare(output_dir=str(tmp_path), verbose=0)
    assert list(result.summary["variant"]) == list(compare.STUDY.defaults["variants"])
    assert (result.runs["test_accuracy"] > 0.9).all()
    assert (result.runs["best_val_accuracy"] > 0.9).all()
