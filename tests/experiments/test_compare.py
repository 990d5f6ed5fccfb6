"""Tests of ``python -m linked_neurons.experiments compare`` (embedded data only)."""

import csv
import math
import os
import sys

import keras
import numpy as np
import pytest
from conftest import run_python

from linked_neurons import datasets
from linked_neurons.experiments import common, compare, run_compare
from linked_neurons.experiments.__main__ import main

EXPECTED_COLUMNS = {
    "variant",
    "activation",
    "final_val_accuracy",
    "final_val_loss",
    "best_val_accuracy",
    "best_epoch",
    "test_accuracy",
    "test_loss",
    "epochs",
    "seconds_per_epoch",
    "params",
}
FLOAT_COLUMNS = (
    "final_val_accuracy",
    "final_val_loss",
    "best_val_accuracy",
    "test_accuracy",
    "test_loss",
    "seconds_per_epoch",
)
ACCURACY_COLUMNS = ("final_val_accuracy", "best_val_accuracy", "test_accuracy")


def _read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _check_outputs(folder, dataset, labels, epochs):
    stem = os.path.join(folder, f"compare_{dataset}")
    for suffix in (".csv", ".md", "_history.csv", ".png"):
        assert os.path.getsize(stem + suffix) > 0, suffix
    rows = _read_csv(stem + ".csv")
    assert [row["activation"] for row in rows] == labels
    for row in rows:
        assert EXPECTED_COLUMNS <= set(row)
        for key in FLOAT_COLUMNS:
            assert math.isfinite(float(row[key])), key
        for key in ACCURACY_COLUMNS:
            assert 0.0 <= float(row[key]) <= 1.0, key
        assert int(row["epochs"]) == epochs
        assert 1 <= int(row["best_epoch"]) <= epochs
        assert int(row["params"]) > 0
    markdown = open(stem + ".md").read()
    for label in labels:
        assert f"| {label} " in markdown
    history = _read_csv(stem + "_history.csv")
    assert len(history) == len(labels) * epochs
    return rows


@pytest.fixture(scope="module")
def digits():
    pytest.importorskip("sklearn")
    return datasets.load_digits()


def test_run_compare_writes_tables_and_plot(tmp_path, digits):
    pytest.importorskip("matplotlib")
    rows = run_compare(
        dataset=digits,
        activations=["relu", "lkrelu"],
        epochs=2,
        output_dir=str(tmp_path),
        verbose=False,
    )
    assert [row["variant"] for row in rows] == ["relu", "lkrelu"]
    csv_rows = _check_outputs(tmp_path, "digits", ["ReLU", "LK-ReLU"], epochs=2)
    for row, csv_row in zip(rows, csv_rows):
        assert row["params"] == int(csv_row["params"])
        assert row["test_accuracy"] == pytest.approx(float(csv_row["test_accuracy"]))
    # Same filters: LK-ReLU doubles the channels reaching the next layers.
    assert rows[1]["params"] > rows[0]["params"]
    assert {row["kernel_initializer"] for row in rows} == {"glorot_uniform"}


def test_run_compare_on_mnist1d_without_matplotlib(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    data = datasets.load_mnist1d(n_samples=300, sequence=True)
    rows = run_compare(
        dataset=data, activations=["selu_bn"], epochs=1, output_dir=str(tmp_path), verbose=True
    )
    out = capsys.readouterr().out
    assert "[SELU+BN] epoch 1/1" in out and "| SELU+BN " in out
    assert rows[0]["kernel_initializer"] == "lecun_normal"
    assert "matplotlib is not installed" in out
    assert os.path.exists(tmp_path / "compare_mnist1d.csv")
    assert not os.path.exists(tmp_path / "compare_mnist1d.png")


def test_plot_curves_without_matplotlib(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert common.plot_curves({"a": {"val_loss": [1.0, 0.5]}}, str(tmp_path / "x.png")) is None
    assert not (tmp_path / "x.png").exists()


def test_run_compare_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown activation"):
        run_compare(activations=["relu", "nope"], output_dir=str(tmp_path), verbose=False)
    with pytest.raises(ValueError, match="duplicated"):
        run_compare(activations=["relu", "ReLU"], output_dir=str(tmp_path), verbose=False)
    with pytest.raises(ValueError, match="epochs"):
        run_compare(activations=["relu"], epochs=0, output_dir=str(tmp_path), verbose=False)
    with pytest.raises(ValueError, match="Unknown dataset"):
        run_compare(dataset="nope", activations=["relu"], output_dir=str(tmp_path), verbose=False)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "name, expected",
    [
        ("relu", ("relu", "relu", False, "ReLU")),
        ("relu_bn", ("relu_bn", "relu", True, "ReLU+BN")),
        ("ReLU+BN", ("relu_bn", "relu", True, "ReLU+BN")),
        ("LK-ReLU", ("lkrelu", "lkrelu", False, "LK-ReLU")),
        ("lk_swish", ("lkswish", "lkswish", False, "LK-Swish")),
        ("tanh", ("tanh", "tanh", False, "tanh")),
    ],
)
def test_parse_variant(name, expected):
    assert compare.parse_variant(name) == expected


@pytest.mark.parametrize("input_shape", [(8, 8, 1), (40, 1), (64,)])
@pytest.mark.parametrize("variant", compare.DEFAULT_ACTIVATIONS)
def test_build_model_for_every_default_variant(variant, input_shape):
    _, activation, batch_norm, _ = compare.parse_variant(variant)
    model = compare.build_model(input_shape, 10, activation, batch_norm, filters=(4, 6))
    assert model.output_shape == (None, 10)
    names = [type(layer).__name__ for layer in model.layers]
    assert ("BatchNormalization" in names) == batch_norm
    x = np.random.default_rng(0).random((3, *input_shape), dtype=np.float32)
    probabilities = keras.ops.convert_to_numpy(model(x, training=False))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_build_model_rejects_bad_rank():
    with pytest.raises(ValueError, match="rank 1, 2 or 3"):
        compare.build_model((2, 8, 8, 1), 10)


def test_markdown_table_aligns_columns():
    table = common.markdown_table(
        [{"a": "x", "b": 0.123456, "c": 12345}], [("a", "name"), ("b", "B"), ("c", "C")]
    )
    lines = table.splitlines()
    assert lines[0] == "| name | B      | C      |"
    assert lines[2] == "| x    | 0.1235 | 12,345 |"
    assert len({len(line) for line in lines}) == 1


# ---------------------------------------------------------------------- command line
def test_help_lists_compare_and_its_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "compare" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in (
        "--epochs",
        "--seed",
        "--output-dir",
        "--dataset",
        "--activations",
        "--batch-size",
        "--quiet",
    ):
        assert option in out


def test_cli_errors_are_reported(capsys):
    assert main(["compare", "--activations", "nope"]) == 2
    assert "unknown activation" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--epochs", "0"])
    assert exit_info.value.code == 2


@pytest.mark.slow  # a full comparison run through the command line
def test_cli_compare_runs(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    out_dir = tmp_path / "tmp"
    result = run_python(
        "-m",
        "linked_neurons.experiments",
        "compare",
        "--epochs",
        "1",
        "--activations",
        "relu",
        "lkrelu",
        "--output-dir",
        out_dir,
    )
    assert "| LK-ReLU " in result.stdout
    _check_outputs(out_dir, "digits", ["ReLU", "LK-ReLU"], epochs=1)


@pytest.mark.slow
def test_default_compare_is_well_above_chance(tmp_path):
    pytest.importorskip("sklearn")
    rows = run_compare(output_dir=str(tmp_path), verbose=False)
    assert [row["variant"] for row in rows] == list(compare.DEFAULT_ACTIVATIONS)
    for row in rows:
        assert row["test_accuracy"] > 0.9, row
        assert row["best_val_accuracy"] > 0.9, row


@pytest.mark.parametrize("terminal", [False, True])
def test_epoch_progress_times_epochs_and_reports(terminal, capsys, monkeypatch):
    if terminal:
        pytest.importorskip("tqdm")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: terminal)
    progress = common.EpochProgress("LK-ReLU", epochs=2)
    progress.on_train_begin()
    for epoch in range(2):
        progress.on_epoch_begin(epoch)
        progress.on_epoch_end(epoch, {"loss": 0.5, "val_accuracy": 0.75})
    progress.on_train_end()
    assert len(progress.durations) == 2
    assert progress.seconds_per_epoch == pytest.approx(progress.durations[1])
    captured = capsys.readouterr()
    if terminal:
        assert "LK-ReLU" in captured.err and "2/2" in captured.err and not captured.out
    else:
        assert "[LK-ReLU] epoch 2/2 loss 0.5000 val_accuracy 0.7500" in captured.out
