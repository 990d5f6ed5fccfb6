"""Tests of ``python -m linked_neurons.experiments selu`` (embedded data only)."""

import csv
import dataclasses
import doctest
import glob
import math
import os
import time

import keras
import numpy as np
import pytest

from linked_neurons import LKReLU, datasets
from linked_neurons.experiments import EXPERIMENTS, selu
from linked_neurons.experiments.__main__ import main

pytest.importorskip("sklearn")  # the digits


def _read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def small_digits():
    """A small, class-balanced slice of the digits: fast runs."""
    data = datasets.load_digits(seed=0)
    return dataclasses.replace(
        data,
        x_train=data.x_train[:192],
        y_train=data.y_train[:192],
        x_val=data.x_val[:64],
        y_val=data.y_val[:64],
        x_test=data.x_test[:64],
        y_test=data.y_test[:64],
    )


def _conv_params(k, c_in, c_out):
    return k * k * c_in * c_out + c_out


@pytest.mark.parametrize("activation, batch_norm", [("relu", True), ("selu", False),
                                                    ("lkrelu", False)])
def test_build_model_follows_the_reference_cnn(activation, batch_norm):
    model = selu.build_model((16, 16, 1), 10, activation, batch_norm)
    names = [layer.name for layer in model.layers]
    assert [n for n in names if n.endswith("_act")] == list(selu.LAYER_NAMES)
    assert ("bn1" in names) is batch_norm
    assert names.count("dropout1") == 1
    convs = [model.get_layer(f"conv{i}") for i in (1, 2, 3)]
    assert [c.filters for c in convs] == [32, 64, 128]
    assert all(c.strides == (2, 2) and c.kernel_size == (5, 5) and c.padding == "same"
               for c in convs)
    assert convs[0].kernel_initializer.stddev == 0.02
    assert model.output_shape == (None, 10)
    assert model.get_layer("logits").activation.__name__ == "linear"
    # Parameter count from the layer sizes (a linked activation doubles channels).
    m = 2 if activation == "lkrelu" else 1
    expected = (
        _conv_params(5, 1, 32)
        + _conv_params(5, 32 * m, 64)
        + _conv_params(5, 64 * m, 128)
        + (2 * 2 * 128 * m) * 160 + 160
        + 160 * m * 40 + 40
        + 40 * m * 10 + 10
    )
    if batch_norm:
        expected += 4 * (32 + 64 + 128)
    assert model.count_params() == expected


def test_colour_images_and_sequences():
    model = selu.build_model((32, 32, 3), 10, "selu")
    assert [model.get_layer(f"conv{i}").filters for i in (1, 2, 3)] == [64, 128, 256]
    model = selu.build_model((40, 1), 10, "relu")
    assert isinstance(model.get_layer("conv1"), keras.layers.Conv1D)
    with pytest.raises(ValueError, match="expected \\(H, W, C\\) images"):
        selu.build_model((64,), 10)


def test_activation_layers_are_the_library_layers():
    model = selu.build_model((16, 16, 1), 10, "lkrelu")
    assert all(isinstance(model.get_layer(n), LKReLU) for n in selu.LAYER_NAMES)
    model = selu.build_model((16, 16, 1), 10, "leakyrelu")
    assert model.get_layer("fc1_act").negative_slope == pytest.approx(0.2)


def test_prepare_dataset_enlarges_the_digits(small_digits):
    data = selu.prepare_dataset(small_digits)
    assert data.input_shape == (16, 16, 1)
    assert data.x_train.dtype == np.float32 and len(data.x_train) == 192
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0 + 1e-6
    # Bilinear enlargement keeps the mean intensity close.
    np.testing.assert_allclose(data.x_train.mean(), small_digits.x_train.mean(), rtol=0.05)
    assert selu.prepare_dataset(small_digits, image_size=24).input_shape == (24, 24, 1)
    with pytest.raises(ValueError, match="`image_size` must be an int >= 8"):
        selu.prepare_dataset(small_digits, image_size=4)


@pytest.mark.slow  # whole-command smoke run (5-8 s); .ci/run's slow step runs it
def test_tiny_run_from_the_command_line(tmp_path, small_digits, monkeypatch, capsys):
    """Two activations, two epochs: tables, figures and TensorBoard logs."""
    pytest.importorskip("matplotlib")
    assert "selu" in EXPERIMENTS
    monkeypatch.setattr(selu.common, "load_dataset",
                        lambda name, seed=0, shape="conv": small_digits)
    code = main(["selu", "--activations", "relu_bn", "selu", "--epochs", "2", "--quiet",
                 "--output-dir", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    assert "| ReLU+BN " in out and "| SELU " in out and "wrote" in out
    stem = tmp_path / "selu_digits"
    for suffix in (".csv", ".md", "_layers.csv", "_layers.md", "_history.csv",
                   "_histograms.png", "_curves.png"):
        assert os.path.getsize(f"{stem}{suffix}") > 0, suffix
    table = _read_csv(f"{stem}.csv")
    assert [row["activation"] for row in table] == ["ReLU+BN", "SELU"]
    for row in table:
        assert 0.0 <= float(row["test_accuracy"]) <= 1.0
        assert 0.0 <= float(row["dead_fraction"]) <= 1.0
        assert int(row["epochs"]) == 2
        for layer in ("conv1", "conv2", "conv3", "fc1", "fc2"):
            assert math.isfinite(float(row[f"{layer}_mean"]))
            assert float(row[f"{layer}_std"]) >= 0
            assert " ± " in row[layer]
    layers = _read_csv(f"{stem}_layers.csv")
    assert len(layers) == 2 * 5
    assert {r["layer"] for r in layers} == {"conv1", "conv2", "conv3", "fc1", "fc2"}
    relu_conv1 = next(r for r in layers if r["variant"] == "relu_bn" and r["layer"] == "conv1")
    assert float(relu_conv1["min"]) == 0.0 and int(relu_conv1["units"]) == 32
    selu_fc2 = next(r for r in layers if r["variant"] == "selu" and r["layer"] == "fc2")
    assert float(selu_fc2["negative_fraction"]) > 0 and int(selu_fc2["dead_units"]) == 0
    markdown = open(f"{stem}.md").read()
    assert "| ReLU+BN " in markdown and "conv1 mean ± std" in markdown
    # TensorBoard logs, one run per activation.
    for key in ("relu_bn", "selu"):
        files = glob.glob(str(tmp_path / "logs" / key / "activations" / "events.out.*"))
        assert len(files) == 1
    # Errors are reported on stderr with exit code 2.
    assert main(["selu", "--activations", "nope", "--output-dir", str(tmp_path)]) == 2
    assert "unknown activation 'nope'" in capsys.readouterr().err


def test_argument_errors(small_digits):
    with pytest.raises(ValueError, match="duplicated activations"):
        selu.run_selu(small_digits, activations=["selu", "SELU"], verbose=False)
    with pytest.raises(ValueError, match="`epochs` must be a positive int"):
        selu.run_selu(small_digits, activations=["selu"], epochs=0, verbose=False)


def test_docstring_examples():
    result = doctest.testmod(selu, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.slow
def test_default_run(tmp_path):
    """The default command: every activation trains and the run stays short."""
    pytest.importorskip("matplotlib")
    start = time.perf_counter()
    rows = selu.run_selu(output_dir=str(tmp_path), verbose=1)
    minutes = (time.perf_counter() - start) / 60
    print(f"default selu run: {minutes:.2f} min")
    assert [r["variant"] for r in rows] == list(selu.DEFAULT_ACTIVATIONS)
    for row in rows:
        assert row["test_accuracy"] > 0.8, row["activation"]
        assert row["epochs"] == selu.DEFAULT_EPOCHS
    assert minutes < 10  # < 5 min on an idle 2-core CPU; margin for a shared machine
