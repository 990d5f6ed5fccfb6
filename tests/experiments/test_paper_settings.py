"""The original's training settings in the paper studies: options, presets, diagnostics."""

import dataclasses
import math
import os

import keras
import numpy as np
import pytest

from linked_neurons import datasets
from linked_neurons.experiments import depth, paper, presets
from linked_neurons.experiments.__main__ import main

DOCS = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "reproduction", "index.rst")


@pytest.fixture(scope="module")
def digits():
    pytest.importorskip("sklearn")
    data = datasets.load_digits(seed=0)
    return dataclasses.replace(data, x_train=data.x_train[:200], y_train=data.y_train[:200])


@pytest.fixture
def fit_calls(monkeypatch):
    """Records the keyword arguments of every ``Model.fit``, the optimizer and initializer."""
    calls = []
    original = keras.Model.fit

    def spy(self, *args, **kwargs):
        conv = next(layer for layer in self.layers if isinstance(layer, keras.layers.Conv2D))
        calls.append({
            "shuffle": kwargs.get("shuffle"),
            "optimizer": type(self.optimizer).__name__,
            "epsilon": getattr(self.optimizer, "epsilon", None),
            "initializer": type(conv.kernel_initializer).__name__,
        })
        return original(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", spy)
    return calls


def _tiny_net(data):
    return paper.depth_net(data.input_shape, data.num_classes, "lkrelu", depth=2, width=2)


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop"])
def test_epsilon_and_shuffle_reach_the_optimizer_and_fit(fit_calls, digits, optimizer):
    for epsilon, shuffle in ((1e-8, False), (3e-6, True)):
        paper.train_variant(_tiny_net(digits), digits, label="t", epochs=1,
                            optimizer=optimizer, epsilon=epsilon, shuffle=shuffle)
        call = fit_calls[-1]
        assert call["shuffle"] is shuffle
        assert call["epsilon"] == pytest.approx(epsilon, rel=1e-12)
    paper.train_variant(_tiny_net(digits), digits, label="t", epochs=1, optimizer=optimizer)
    assert fit_calls[-1]["epsilon"] == pytest.approx(1e-7)  # Keras 3's default
    with pytest.raises(ValueError, match="train_variant: `epsilon` must be > 0, got -1"):
        paper.train_variant(_tiny_net(digits), digits, label="t", epochs=1,
                            optimizer=optimizer, epsilon=-1.0)


@pytest.mark.slow  # whole-command smoke run (5-8 s); .ci/run's slow step runs it
def test_command_line_defaults_are_the_originals(fit_calls, tmp_path, capsys):
    pytest.importorskip("sklearn")
    common = ["--epochs", "1", "--runs", "1", "--image-size", "8", "--quiet",
              "--output-dir", str(tmp_path)]
    assert main(["depth", "--depth", "2", "--width", "2", "--variants", "lkrelu", *common]) == 0
    out = capsys.readouterr().out
    assert "expected time about" in out and "epsilon 1e-08" in out
    assert fit_calls[-1] == {"shuffle": False, "optimizer": "Adam", "epsilon": 1e-8,
                             "initializer": "GlorotUniform"}
    assert main(["depth", "--depth", "2", "--width", "2", "--variants", "relu", "--shuffle",
                 "--epsilon", "1e-7", "--kernel-initializer", "he_uniform", *common]) == 0
    assert fit_calls[-1] == {"shuffle": True, "optimizer": "Adam",
                             "epsilon": pytest.approx(1e-7), "initializer": "HeUniform"}
    assert main(["width", "--widths", "2", "--variants", "relu", *common]) == 0
    assert fit_calls[-1]["shuffle"] is False and fit_calls[-1]["optimizer"] == "SGD"
    assert main(["params", "--activations", "relu", "--kinds", "single", "--epochs", "1",
                 "--runs", "1", "--image-size", "10", "--quiet", "--output-dir",
                 str(tmp_path)]) == 0
    assert fit_calls[-1] == {"shuffle": False, "optimizer": "RMSprop", "epsilon": 1e-8,
                             "initializer": "GlorotNormal"}


def test_presets_table_in_the_docs_is_the_code_table():
    text = open(DOCS, encoding="utf-8").read()
    assert "\n".join(presets.rst_table()) in text
    # Every paper study takes its presets from the one table.
    assert depth.PRESETS is presets.PRESETS["depth"]
    for study in presets.PRESETS.values():
        for preset in study.values():
            assert preset["runs"] >= (1 if preset.get("network") else 3)
    assert presets.PRESETS["depth"]["cifar10"]["epochs"] == 200
    assert presets.PRESETS["depth"]["default"]["image_size"] == 32


def test_expected_time_scales_with_the_work():
    one = presets.expected_seconds("depth", 1, 10, 100, 100)
    assert presets.expected_seconds("depth", 3, 10, 100, 100) == pytest.approx(3 * one)
    setup, epoch = presets.COST["depth"]
    assert presets.expected_seconds("depth", 2, 4, 200, 100) == pytest.approx(
        2 * (setup + 4 * epoch * 2))
    assert presets.format_seconds(59) == "59 s"
    assert presets.format_seconds(125) == "2 min 5 s"
    assert presets.format_seconds(7260) == "2 h 1 min"


def test_diagnose_matches_a_numpy_recomputation(tmp_path, digits):
    summary, layers = depth.diagnose(dataset=digits, variants=["relu", "lkrelu"], depth=4,
                                     width=2, runs=1, image_size=None,
                                     output_dir=str(tmp_path), verbose=0)
    for suffix in ("_diagnose.csv", "_diagnose_summary.md"):
        assert os.path.getsize(tmp_path / f"depth_digits_8{suffix}") > 0
    assert [r["label"] for r in summary] == ["ReLU", "LK-ReLU"]
    assert len(layers) == 2 * 4
    # Second moments recomputed in float64 from the same untrained network.
    keras.utils.set_random_seed(0)
    model = paper.depth_net(digits.input_shape, 10, "lkrelu", depth=4, width=2)
    names = paper.activation_layer_names(model)
    probe = keras.Model(model.inputs, [model.get_layer(n).output for n in names])
    outputs = probe.predict(digits.x_train[:32], verbose=0)
    expected = [float(np.mean(np.asarray(o, "float64") ** 2)) for o in outputs]
    got = [r["second_moment"] for r in layers if r["label"] == "LK-ReLU"]
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    # The pooled RMS of the kernels after the stem lies between their per-layer RMS.
    lk = next(r for r in summary if r["label"] == "LK-ReLU")
    deep = [r["kernel_grad_rms"] for r in layers if r["label"] == "LK-ReLU"][1:]
    assert min(deep) * (1 - 1e-9) <= lk["grad_rms_deep"] <= max(deep) * (1 + 1e-9)
    assert lk["deep_over_eps"] == pytest.approx(lk["grad_rms_deep"] / 1e-8)
    assert all(math.isfinite(r["kernel_grad_rms"]) and r["kernel_grad_rms"] >= 0
               for r in layers)


def test_speed_options_for_the_gpu_regime(monkeypatch):
    from linked_neurons.experiments import speed
    from linked_neurons.experiments.__main__ import build_parser

    args = build_parser().parse_args(["speed", "--dataset", "cifar10", "--width-multiplier",
                                      "0.25", "--batch-size", "128"])
    seen = {}
    monkeypatch.setattr(speed, "run_speed", lambda **kwargs: seen.update(kwargs))
    assert speed.run(args) == 0
    assert (seen["width_multiplier"], seen["batch_size"], seen["network"]) == (
        0.25, 128, "resnet50")
    args = build_parser().parse_args(["speed"])
    speed.run(args)
    assert (seen["width_multiplier"], seen["network"], seen["epsilon"]) == (
        0.125, "stack", 1e-8)


def test_presets_docstring_examples():
    import doctest

    result = doctest.testmod(presets, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0 and result.failed == 0
