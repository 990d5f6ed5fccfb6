"""Tests of the paper experiments: depth, width, params, shift and speed (embedded data only)."""

import csv
import dataclasses
import doctest
import math
import os

import keras
import numpy as np
import pytest

from linked_neurons import datasets, monitoring
from linked_neurons.experiments import paper
from linked_neurons.experiments.__main__ import main
from linked_neurons.experiments.depth import run_depth
from linked_neurons.experiments.params import run_params
from linked_neurons.experiments.shift import run_shift, transform
from linked_neurons.experiments.speed import run_speed


def _read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _check_files(folder, stem, suffixes):
    for suffix in suffixes:
        path = os.path.join(folder, stem + suffix)
        assert os.path.getsize(path) > 0, path
        if suffix.endswith(".png"):
            with open(path, "rb") as handle:
                assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


def _check_markdown(path, labels):
    lines = open(path).read().splitlines()
    table = [line for line in lines if line.startswith("|")]
    widths = {line.count("|") for line in table}
    assert len(widths) == 1, "rows of the Markdown table differ in their number of cells"
    for label in labels:
        assert any(f"| {label} " in line for line in table), label


@pytest.fixture(scope="module")
def digits():
    pytest.importorskip("sklearn")
    data = datasets.load_digits(seed=0)
    # A smaller training split keeps the smoke runs to a few seconds.
    return dataclasses.replace(data, x_train=data.x_train[:300], y_train=data.y_train[:300])


# ------------------------------------------------------------------- networks
def _depth_params(channels, size, classes, depth, filters, inputs_per_filter):
    """Parameters of depth_net by formula: stem 7x7, (depth-1) 3x3 convs, Dense."""
    stem = 7 * 7 * channels * filters + filters
    body = (depth - 1) * (3 * 3 * inputs_per_filter * filters + filters)
    spatial = math.ceil(size / 2) ** 2
    head = spatial * inputs_per_filter * classes + classes
    return stem + body + head


@pytest.mark.parametrize("width", [4, 7])
def test_sqrt2_widening_matches_the_parameter_formula(width):
    wide = int(math.sqrt(2) * width)
    assert paper.widen(width) == wide
    plain = paper.depth_net((32, 32, 3), 10, "relu", depth=51, width=width)
    sqrt2 = paper.depth_net((32, 32, 3), 10, "relu_sqrt2", depth=51, width=width)
    linked = paper.depth_net((32, 32, 3), 10, "lkrelu", depth=51, width=width)
    assert plain.count_params() == _depth_params(3, 32, 10, 51, width, width)
    assert sqrt2.count_params() == _depth_params(3, 32, 10, 51, wide, wide)
    assert linked.count_params() == _depth_params(3, 32, 10, 51, width, 2 * width)
    # The widened baseline sits between the plain and the linked net (int() rounds down).
    assert plain.count_params() < sqrt2.count_params() < linked.count_params()


def _extended_params(size, channels, widths, classes, linked):
    m = 2 if linked else 1
    c1, c2, c3, c4, d = widths
    count = 9 * channels * c1 + c1
    count += 9 * m * c1 * c2 + c2
    count += 9 * m * c2 * c3 + c3
    count += 9 * m * c3 * c4 + c4
    side = ((size - 2) // 2 - 2) // 2
    count += side * side * m * c4 * d + d
    return count + m * d * classes + classes


def test_extended_net_parameter_counts():
    widths = (32, 32, 64, 64, 512)
    wide = tuple(int(math.sqrt(2) * w) for w in widths)
    assert wide == (45, 45, 90, 90, 724)
    for variant, ws, linked in (("relu", widths, False), ("relu_sqrt2", wide, False),
                                ("lkrelu", widths, True)):
        model = paper.extended_net((32, 32, 3), 10, variant)
        assert model.count_params() == _extended_params(32, 3, ws, 10, linked), variant
    with pytest.raises(ValueError, match="at least 10x10"):
        paper.extended_net((8, 8, 1), 10, "relu")


def test_parse_variant_and_errors():
    v = paper.parse_variant("LK-SELU_bn")
    assert (v.key, v.activation, v.batch_norm, v.sqrt2, v.label) == (
        "lkselu_bn", "lkselu", True, False, "LK-SELU+BN")
    assert paper.parse_variant("prelu_sqrt2_bn").label == "PReLU√2+BN"
    with pytest.raises(ValueError, match="unknown activation"):
        paper.parse_variant("nope_sqrt2")
    with pytest.raises(ValueError, match="depth_net"):
        paper.depth_net((8, 8, 1), 10, depth=0)


def test_channels_first_depth_net():
    model = paper.depth_net((1, 8, 8), 10, "lkrelu_bn", depth=3, width=2,
                            data_format="channels_first")
    assert model.output_shape == (None, 10)
    assert model.get_layer("act_2").axis == 1
    assert model.layers[1].axis == 1  # BatchNormalization on the channel axis
    if keras.backend.backend() != "tensorflow":  # TF's CPU kernels need NHWC
        out = model(np.random.default_rng(0).random((2, 1, 8, 8), dtype=np.float32))
        assert out.shape == (2, 10)


# ------------------------------------------------------------------ dead units
def _positive_kernels(model, rng):
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel, bias = layer.get_weights()
            layer.set_weights([rng.uniform(0.1, 1.0, kernel.shape).astype("float32"),
                               np.zeros_like(bias)])


def test_dead_units_of_a_constructed_depth_net():
    """Known answers: a ReLU layer whose kernel is negative on non-negative inputs is dead,
    and every later ReLU layer (zero input, zero bias) is dead too; the linked net never
    has more than the half that sees a constant sign."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0.1, 1.0, (16, 8, 8, 1)).astype("float32")
    for activation, half_case, full_case in (
        ("relu", [0, 0, 0.5, 0, 0], [0, 0, 1, 1, 1]),
        # Positive kernels on positive inputs: the relu(-x) half is dead at every layer.
        ("lkrelu", [0.5, 0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5, 0.5]),
    ):
        model = paper.depth_net((8, 8, 1), 10, activation, depth=5, width=4)
        names = paper.activation_layer_names(model)
        assert names == [f"act_{i}" for i in range(1, 6)]
        _positive_kernels(model, rng)
        third = model.layers[4]  # conv of the third block
        kernel, bias = third.get_weights()
        kernel[..., :2] *= -1
        third.set_weights([kernel, bias])
        result = monitoring.dead_units(model, x, layers=names)
        assert [r.fraction for r in result] == pytest.approx(half_case), activation
        kernel[...] = -np.abs(kernel)
        third.set_weights([kernel, bias])
        result = monitoring.dead_units(model, x, layers=names)
        assert [r.fraction for r in result] == pytest.approx(full_case), activation


def test_dead_units_at_init_match_a_numpy_count():
    """Keras' default initialisation on random data, width 1: ReLU nets die from some layer
    on (every later layer dead too); the metric equals an independent NumPy count, and a
    linked layer never has more than half of its channels dead."""
    x = np.random.default_rng(1).normal(size=(32, 8, 8, 1)).astype("float32")
    deaths = 0
    for seed in range(40):  # until some net has died (about one seed in three)
        if deaths and seed >= 4:
            break
        keras.utils.set_random_seed(seed)
        model = paper.depth_net((8, 8, 1), 10, "relu", depth=24, width=1)
        names = paper.activation_layer_names(model)
        probe = keras.Model(model.inputs, [model.get_layer(n).output for n in names])
        outputs = [np.asarray(o) for o in probe.predict(x, verbose=0)]
        expected = [float(np.mean(o.max(axis=(0, 1, 2)) <= 0)) for o in outputs]
        result = [r.fraction for r in monitoring.dead_units(model, x, layers=names)]
        assert result == pytest.approx(expected)
        if 1.0 in result:
            first = result.index(1.0)
            assert result[first:] == [1.0] * (len(result) - first)
            deaths += 1
        keras.utils.set_random_seed(seed)
        linked = paper.depth_net((8, 8, 1), 10, "lkrelu", depth=24, width=1)
        names = paper.activation_layer_names(linked)
        fractions = [r.fraction for r in monitoring.dead_units(linked, x, layers=names)]
        assert len(fractions) == 24 and max(fractions) <= 0.5
    assert deaths > 0


# ------------------------------------------------------------------ experiments
@pytest.mark.slow  # whole-command smoke run (5-8 s); .ci/run's slow step runs it
def test_depth_smoke(tmp_path, digits):
    pytest.importorskip("matplotlib")
    summary, runs, dead = run_depth(
        dataset=digits, variants=["lkrelu", "relu_sqrt2"], depth=3, width=2,
        epochs=1, runs=2, image_size=None, output_dir=str(tmp_path), verbose=0,
    )
    _check_files(tmp_path, "depth_digits", (".csv", ".md", "_runs.csv", "_dead.csv",
                                            "_dead.png", "_accuracy.png", "_curves.png"))
    labels = ["LK-ReLU", "ReLU√2"]
    assert [r["label"] for r in summary] == labels
    _check_markdown(tmp_path / "depth_digits.md", labels)
    rows = _read_csv(tmp_path / "depth_digits.csv")
    for row in rows:
        assert int(row["runs"]) == 2
        lo, mid, hi = (float(row[k]) for k in ("test_accuracy_min", "test_accuracy",
                                                "test_accuracy_max"))
        assert 0 <= lo <= mid <= hi <= 1
        assert 0 <= float(row["dead_layers"]) <= 3
    assert len(runs) == 4 and {r["run"] for r in runs} == {1, 2}
    assert len(dead) == 2 * 3 and all(0 <= r["dead_fraction"] <= 1 for r in dead)
    params = {r["label"]: int(r["params"]) for r in rows}
    assert params["ReLU√2"] == _depth_params(1, 8, 10, 3, 2, 2)  # int(sqrt(2)*2) = 2
    assert params["LK-ReLU"] == _depth_params(1, 8, 10, 3, 2, 4)


def test_width_smoke_through_the_command_line(tmp_path, capsys, digits):
    pytest.importorskip("matplotlib")
    code = main(["width", "--epochs", "1", "--runs", "1", "--widths", "3", "--variants",
                 "relu", "lkrelu", "--output-dir", str(tmp_path), "--quiet"])
    assert code == 0
    out = capsys.readouterr().out
    assert "width [2/2]" in out and "Hardware:" in out
    _check_files(tmp_path, "width_digits", (".csv", ".md", "_runs.csv", ".png"))
    rows = _read_csv(tmp_path / "width_digits.csv")
    assert [(int(r["width"]), r["label"]) for r in rows] == [(3, "ReLU"), (3, "LK-ReLU")]
    # Conv2D(W, 3x3) on 8x8x1 -> 6x6xW (x2 when linked) -> Dense(10).
    for row in rows:
        w, m = int(row["width"]), 2 if row["label"].startswith("LK") else 1
        assert int(row["params"]) == 9 * w + w + 36 * m * w * 10 + 10
    _check_markdown(tmp_path / "width_digits.md", ["ReLU", "LK-ReLU"])


@pytest.mark.slow  # whole-command smoke run (5-8 s); .ci/run's slow step runs it
def test_params_smoke(tmp_path, digits):
    pytest.importorskip("matplotlib")
    widths = (32, 32, 64, 64, 512)
    summary, _ = run_params(dataset=digits, activations=["relu"], epochs=1, runs=1,
                            image_size=10, output_dir=str(tmp_path), verbose=0)
    _check_files(tmp_path, "params_digits", (".csv", ".md", "_runs.csv", ".png"))
    rows = _read_csv(tmp_path / "params_digits.csv")
    assert [r["kind"] for r in rows] == ["single", "sqrt2", "linked"]
    wide = tuple(int(math.sqrt(2) * w) for w in widths)
    expected = [_extended_params(10, 1, widths, 10, False),
                _extended_params(10, 1, wide, 10, False),
                _extended_params(10, 1, widths, 10, True)]
    assert [int(r["params"]) for r in rows] == expected
    _check_markdown(tmp_path / "params_digits.md", ["ReLU", "ReLU√2", "LK-ReLU"])


def test_shift_inputs_and_smoke(tmp_path, digits):
    pytest.importorskip("matplotlib")
    normalized = transform(digits, "normalized")
    assert float(np.mean(normalized.x_train)) == pytest.approx(0, abs=1e-4)
    assert float(np.std(normalized.x_train)) == pytest.approx(1, abs=1e-4)
    shifted = transform(digits, "shifted", shift=8.0, scale=4.0)
    assert float(np.mean(shifted.x_train)) == pytest.approx(8, abs=1e-3)
    assert float(np.std(shifted.x_train)) == pytest.approx(4, abs=1e-3)
    raw = transform(digits, "raw")
    np.testing.assert_allclose(raw.x_test, digits.x_test * 255.0, rtol=1e-6)
    assert transform(digits, "unit").x_val is digits.x_val
    summary, _ = run_shift(dataset=digits, variants=["relu", "lkrelu_bn"],
                           conditions=["shifted"], depth=2, width=2, epochs=1, runs=1,
                           image_size=None, output_dir=str(tmp_path), verbose=0)
    _check_files(tmp_path, "shift_digits", (".csv", ".md", "_runs.csv", ".png"))
    rows = _read_csv(tmp_path / "shift_digits.csv")
    assert [(r["condition"], r["label"]) for r in rows] == [
        ("shifted", "ReLU"), ("shifted", "LK-ReLU+BN")]
    assert all(0 <= float(r["dead_fraction"]) <= 1 for r in rows)


def test_speed_smoke(tmp_path, capsys, digits):
    pytest.importorskip("matplotlib")
    summary, runs = run_speed(dataset=digits, variants=["lkrelu", "relu_bn"], depth=2, width=2,
                              epochs=2, target=0.01, image_size=None,
                              output_dir=str(tmp_path), verbose=1)
    out = capsys.readouterr().out
    assert "hardware:" in out and "cores" in out and "backend" in out
    _check_files(tmp_path, "speed_digits", (".csv", ".md", "_runs.csv", ".png"))
    by_label = {r["label"]: r for r in summary}
    assert by_label["LK-ReLU"]["epoch_ratio"] == pytest.approx(1.0)
    assert by_label["LK-ReLU"]["step_ratio"] == pytest.approx(1.0)
    assert all(0 < r["step_ms"] < 1e3 * r["seconds_per_epoch"] for r in runs)
    assert "median step" in out
    assert by_label["LK-ReLU"]["target_ratio"] == pytest.approx(1.0)
    assert by_label["LK-ReLU"]["paper_ratio"] == 1.0
    assert math.isnan(by_label["ReLU+BN"]["paper_ratio"])  # not in the paper's table
    assert all(r["epochs_to_target"] == 1 for r in runs)  # 1 % validation accuracy: epoch 1
    rb = by_label["ReLU+BN"]
    assert rb["epoch_ratio"] == pytest.approx(
        rb["seconds_per_epoch"] / by_label["LK-ReLU"]["seconds_per_epoch"])
    assert "Hardware:" in open(tmp_path / "speed_digits.md").read()


# --------------------------------------------------------------------- errors
def test_bad_names_list_the_valid_ones(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["nope"])
    err = capsys.readouterr().err
    for name in ("depth", "width", "params", "shift", "speed"):
        assert name in err
    assert main(["params", "--kinds", "single", "wide", "--output-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown kinds ['wide']" in err and "single, sqrt2, linked" in err
    assert main(["shift", "--conditions", "upside_down", "--output-dir", str(tmp_path)]) == 2
    assert "normalized, unit, raw, shifted" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["speed", "--network", "vgg"])
    assert "invalid choice" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown activations \\['mish'\\]; valid: relu"):
        run_params(activations=["mish"], output_dir=str(tmp_path), verbose=0)
    with pytest.raises(ValueError, match="reference 'lkrelu'"):
        run_speed(variants=["relu_bn"], output_dir=str(tmp_path), verbose=0)
    with pytest.raises(ValueError, match="depth: .*unknown activation"):
        run_depth(variants=["relu", "nope"], output_dir=str(tmp_path), verbose=0)
    with pytest.raises(ValueError, match="1-D"):
        paper.prepare_data("mnist1d")
    with pytest.raises(SystemExit):
        main(["depth", "--runs", "0"])
    assert "positive integer" in capsys.readouterr().err


def test_paper_docstring_examples():
    result = doctest.testmod(paper, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0 and result.failed == 0
