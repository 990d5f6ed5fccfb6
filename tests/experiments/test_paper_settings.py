"""The original's training settings in the paper studies: options, presets, diagnostics."""

import dataclasses
import doctest
import math
import os

import keras
import numpy as np
import pandas as pd
import pytest

from linked_neurons import datasets
from linked_neurons.experiments import cli, depth, presets, runner, speed
from linked_neurons.paper_models import depth_net

DOCS = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "reproduction", "index.rst")
PAPER = ("depth", "width", "params", "shift", "speed")


@pytest.fixture(scope="module")
def digits():
    pytest.importorskip("sklearn")
    data = datasets.load_digits(seed=0)
    return dataclasses.replace(data, x_train=data.x_train[:200], y_train=data.y_train[:200])


@pytest.fixture
def fit_calls(monkeypatch):
    """Records the ``shuffle`` of every ``Model.fit``, its optimizer, epsilon and initializer."""
    calls = []
    original = keras.Model.fit

    def spy(self, *args, **kwargs):
        conv = next(layer for layer in self.layers if isinstance(layer, keras.layers.Conv2D))
        calls.append({"shuffle": kwargs.get("shuffle"), "optimizer": type(self.optimizer).__name__,
                      "epsilon": getattr(self.optimizer, "epsilon", None),
                      "initializer": type(conv.kernel_initializer).__name__})
        return original(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", spy)
    return calls


def test_epsilon_shuffle_and_initializer_reach_the_optimizer_and_fit(fit_calls, tmp_path,
                                                                      digits):
    tiny = ["--epochs", "1", "--seeds", "0", "--max-train-samples", "64", "--quiet",
            "--output-dir", str(tmp_path)]
    net = ["--depth", "2", "--width", "2", "--image-size", "8"]
    assert cli.main(["depth", *net, "--variants", "lkrelu", *tiny]) == 0
    assert fit_calls[-1] == {"shuffle": False, "optimizer": "Adam", "epsilon": 1e-8,
                             "initializer": "GlorotUniform"}
    assert cli.main(["depth", *net, "--variants", "relu", "--shuffle", "--epsilon", "3e-6",
                     "--kernel-initializer", "he_uniform", *tiny]) == 0
    assert fit_calls[-1] == {"shuffle": True, "optimizer": "Adam",
                             "epsilon": pytest.approx(3e-6), "initializer": "HeUniform"}
    assert cli.main(["width", "--widths", "2", "--variants", "relu", *tiny]) == 0
    assert fit_calls[-1]["shuffle"] is False and fit_calls[-1]["optimizer"] == "SGD"
    assert cli.main(["params", "--variants", "relu", "--kinds", "single", "--image-size", "10",
                     *tiny]) == 0
    assert fit_calls[-1] == {"shuffle": False, "optimizer": "RMSprop", "epsilon": 1e-8,
                             "initializer": "GlorotNormal"}
    assert cli.main(["shift", *net, "--variants", "relu", "--conditions", "raw", "--epsilon",
                     "1e-6", "--no-shuffle", *tiny]) == 0
    assert fit_calls[-1]["epsilon"] == pytest.approx(1e-6) and fit_calls[-1]["shuffle"] is False
    assert len(fit_calls) == 5


def test_presets_are_the_one_table_in_the_code_and_the_docs():
    text = open(DOCS, encoding="utf-8").read()
    assert "\n".join(presets.rst_table()) in text
    for name in PAPER:
        study = runner.load_study(name)
        for key, value in presets.PRESETS[name]["default"].items():
            assert study.defaults[key] == value, (name, key)
        assert study.presets["cifar10"] == presets.PRESETS[name]["cifar10"]
        # Three seeds for the accuracy studies; the timing study keeps one.
        assert study.defaults["seeds"] == (0, 1, 2)
        cifar = runner.resolve_options(study, {"dataset": "cifar10"})
        assert all(cifar[k] == v for k, v in presets.PRESETS[name]["cifar10"].items())
    assert presets.PRESETS["depth"]["cifar10"]["epochs"] == 200
    assert runner.resolve_options(depth.STUDY, {"epochs": 3})["image_size"] == 32
    assert runner.resolve_options(depth.STUDY, {"dataset": "cifar10"})["image_size"] is None


def test_expected_time_scales_with_the_work(tmp_path, capsys, digits):
    one = presets.expected_seconds("depth", 1, 10, 100, 100)
    assert presets.expected_seconds("depth", 3, 10, 100, 100) == pytest.approx(3 * one)
    setup, epoch = presets.COST["depth"]
    assert presets.expected_seconds("depth", 2, 4, 200, 100) == pytest.approx(
        2 * (setup + 4 * epoch * 2))
    # The default: the digits training split at the study's preset size (depth: 32x32).
    assert presets.expected_seconds("depth", 1, 1, 1079 * 32 * 32) == pytest.approx(setup + epoch)
    options = runner.resolve_options(depth.STUDY, {"epochs": 5})
    assert depth.STUDY.expected_seconds(options, digits, 4) == pytest.approx(
        presets.expected_seconds("depth", 4, 5, digits.x_train.size))


def test_diagnose_matches_a_numpy_recomputation(digits):
    options = runner.resolve_options(depth.STUDY, dict(variants=["relu", "lkrelu"], depth=4,
                                                       width=2, seeds=[0]))
    summary, layers = depth.diagnose(options, digits)
    assert list(summary["label"]) == ["ReLU", "LK-ReLU"] and len(layers) == 2 * 4
    # Second moments recomputed in float64 from the same untrained network.
    keras.utils.set_random_seed(0)
    model = depth_net(digits.input_shape, 10, "lkrelu", depth=4, width=2)
    names = [f"act_{i}" for i in range(1, 5)]
    probe = keras.Model(model.inputs, [model.get_layer(n).output for n in names])
    outputs = probe.predict(digits.x_train[:32], verbose=0)
    expected = [float(np.mean(np.asarray(o, "float64") ** 2)) for o in outputs]
    lk = layers[layers["label"] == "LK-ReLU"]
    np.testing.assert_allclose(lk["second_moment"], expected, rtol=1e-5)
    # The pooled RMS of the (equal-size) kernels after the stem lies between their RMS.
    row = summary.set_index("label").loc["LK-ReLU"]
    deep = list(lk["kernel_grad_rms"])[1:]
    assert min(deep) * (1 - 1e-9) <= row["grad_rms_deep"] <= max(deep) * (1 + 1e-9)
    assert row["deep_over_eps"] == pytest.approx(row["grad_rms_deep"] / 1e-8)
    assert all(math.isfinite(g) and g >= 0 for g in layers["kernel_grad_rms"])


def test_diagnose_from_the_command_line_trains_nothing(tmp_path, capsys, digits, fit_calls):
    code = cli.main(["depth", "--diagnose", "--depth", "3", "--width", "2", "--image-size", "8",
                     "--seeds", "0", "--variants", "relu", "lkrelu", "--output-dir",
                     str(tmp_path), "--name", "init"])
    assert code == 0 and fit_calls == []
    out = capsys.readouterr().out
    assert "| LK-ReLU " in out and "grad_rms_deep" in out
    folder = tmp_path / "depth" / "init"
    assert sorted(p.name for p in folder.iterdir()) == [
        "diagnose.csv", "diagnose.md", "diagnose_layers.csv"]
    layers = pd.read_csv(folder / "diagnose_layers.csv")
    assert len(layers) == 2 * 3 and set(layers["layer"]) == {1, 2, 3}  # 2 variants x 3 layers
    assert not (folder / "config.json").exists()  # no training run was started


def test_speed_options_for_the_gpu_regime():
    options = runner.resolve_options(speed.STUDY, {"dataset": "cifar10", "batch_size": 128,
                                                   "width_multiplier": 0.25})
    assert (options["network"], options["width_multiplier"], options["batch_size"]) == (
        "resnet50", 0.25, 128)
    options = runner.resolve_options(speed.STUDY, {})
    assert (options["network"], options["width_multiplier"], options["epsilon"],
            options["seeds"]) == ("stack", 0.125, 1e-8, (0, 1, 2))
    parser = cli.build_parser("speed")
    args = vars(parser.parse_args(["speed", "--network", "RESNET50", "--target", "0.5"]))
    assert (args["network"], args["target"]) == ("resnet50", 0.5)


def test_presets_docstring_examples():
    result = doctest.testmod(presets, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0 and result.failed == 0
