"""``python -m linked_neurons.experiments leaf`` and ``examples/leaf.py`` (SPEC §3)."""

import csv
import doctest
import math
import os
import pathlib
import re

import keras
import numpy as np
import pytest
from conftest import run_python

from linked_neurons.experiments import EXPERIMENTS, leaf
from linked_neurons.experiments.__main__ import main
from linked_neurons.layers.learnable import AHAF, LEAF
from linked_neurons.training import DSPTModel, GroupedOptimizer

pytest.importorskip("sklearn")  # the embedded digits

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def _read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_variants_of_the_paper():
    assert "leaf" in EXPERIMENTS
    assert leaf.variants_for("relu") == leaf.variants_for("silu") == (
        "base", "ahaf", "ahaf_dspt", "leaf_p24sl", "leaf_dspt_p24sl")
    assert leaf.variants_for("sigmoid") == ("base", "leaf_p24sl", "leaf_dspt_p24sl")
    assert leaf.variant_label("tanh", "base") == "tanh"
    with pytest.raises(ValueError, match="unknown init 'elu'"):
        leaf.variants_for("elu")


def test_build_variant_sets_up_each_procedure():
    shape = (16, 16, 1)
    base = leaf.build_variant("lenet5", "sigmoid", "base", shape, 10)
    assert base.layers[1].activation is keras.activations.sigmoid
    ahaf = leaf.build_variant("kerasnet", "silu", "ahaf", shape, 10)
    assert [layer.init for layer in ahaf.layers if isinstance(layer, AHAF)] == ["silu"] * 5
    assert isinstance(ahaf.optimizer, keras.optimizers.Adam)
    p24 = leaf.build_variant("lenet5", "relu", "leaf_p24sl", shape, 10)
    assert isinstance(p24.optimizer, GroupedOptimizer)
    assert [float(o.learning_rate) for o in p24.optimizer.optimizers] == pytest.approx(
        [1e-6, 1e-3])
    dspt = leaf.build_variant("lenet5", "tanh", "leaf_dspt_p24sl", shape, 10,
                              optimizer="rmsprop")
    assert isinstance(dspt, DSPTModel)
    rates = [float(o.learning_rate) for o in dspt.optimizer.optimizers]
    assert rates == pytest.approx([1e-5, 1e-4, 1e-4])  # p2/p4, p1/p3, the other weights
    assert [layer.init for layer in dspt.layers if isinstance(layer, LEAF)] == ["tanh"] * 3
    with pytest.raises(ValueError, match="variant 'ahaf' is not trained for init 'tanh'"):
        leaf.build_variant("lenet5", "tanh", "ahaf", shape, 10)
    with pytest.raises(ValueError, match="unknown network 'vgg'"):
        leaf.build_variant("vgg", "relu", "base", shape, 10)


def test_augmented_batches_shuffle_flip_and_shift():
    x = np.arange(2 * 10 * 10, dtype="float32").reshape(2, 10, 10, 1) + 1.0
    y = np.array([0, 1])
    plain = leaf.AugmentedBatches(x, y, batch_size=2, seed=0)
    xb, yb = plain[0]
    np.testing.assert_array_equal(xb, x[plain.order])
    np.testing.assert_array_equal(yb, y[plain.order])
    seen = set()
    for _ in range(20):
        plain.on_epoch_end()
        seen.add(tuple(plain.order))
    assert len(seen) == 2  # reshuffled
    flipped = leaf.AugmentedBatches(x, y, batch_size=2, flip=True, seed=1)
    outs = [flipped[0][0] for _ in range(10)]
    originals = x[flipped.order]
    for out in outs:
        for image, original in zip(out, originals):
            assert np.array_equal(image, original) or np.array_equal(image, original[:, ::-1])
    shifted = leaf.AugmentedBatches(x, y, batch_size=2, shift=0.1, seed=2)
    assert shifted.max_shift == (1, 1)
    image, original = shifted[0][0][0], x[shifted.order][0]
    matches = [
        (dy, dx)
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
        if np.array_equal(
            image, np.pad(original, ((1, 1), (1, 1), (0, 0)))[1 + dy : 11 + dy, 1 + dx : 11 + dx]
        )
    ]
    assert len(matches) == 1
    assert len(leaf.AugmentedBatches(np.zeros((5, 4, 4, 1)), np.zeros(5), 2)) == 3


def test_learned_shapes_follow_the_layer_formulas():
    x = np.linspace(-10, 4, 15)
    layer = LEAF(init="tanh")
    layer.build((None, 3, 4))
    indices, curves = leaf.activation_curves(layer, x)
    assert list(indices) == [0, 3, 6, 8, 11] and curves.shape == (15, 5)
    np.testing.assert_allclose(curves, np.tanh(x)[:, None] * np.ones(5), atol=1e-12)
    ahaf = AHAF(init=(2.0, 1.0))
    ahaf.build((None, 2))
    _, curves = leaf.activation_curves(ahaf, x)
    y = keras.ops.convert_to_numpy(ahaf(x[:, None].repeat(2, axis=1).astype("float32")))
    np.testing.assert_allclose(curves, y, rtol=1e-5, atol=1e-5)


@pytest.mark.slow  # whole-command smoke run (~10 s); .ci/run's slow step runs it
def test_small_run_writes_tables_and_plots(tmp_path):
    """A tiny configuration through the command line: base and LEAF+DSPT+P24Sl, two seeds."""
    out = str(tmp_path / "leaf")
    code = main([
        "leaf", "--networks", "lenet5", "--inits", "relu", "--variants", "base",
        "leaf_dspt_p24sl", "--epochs", "2", "--seeds", "3", "4", "--quiet", "--output-dir", out,
    ])
    assert code == 0
    stem = os.path.join(out, "leaf_digits16")
    for suffix in (".csv", ".md", "_runs.csv", "_history.csv", "_lenet5_relu_curves.png",
                   "_lenet5_relu_leaf_dspt_p24sl_shapes.png"):
        assert os.path.getsize(stem + suffix) > 0, suffix
    assert not os.path.exists(stem + "_lenet5_relu_base_shapes.png")
    image = pytest.importorskip("matplotlib.image")
    assert image.imread(stem + "_lenet5_relu_leaf_dspt_p24sl_shapes.png").shape[0] >= 400
    table = _read_csv(stem + ".csv")
    assert [row["label"] for row in table] == ["ReLU", "LEAF+DSPT+P24Sl"]
    for row in table:
        assert int(row["seeds"]) == 2
        for key in ("best_val_accuracy", "test_accuracy", "final_val_accuracy"):
            assert 0.1 < float(row[key]) <= 1.0, key  # above chance after two epochs
        assert 1.0 <= float(row["best_epoch"]) <= 2.0
        assert math.isfinite(float(row["seconds_per_epoch"]))
    neurons = 12 * 12 * 20 + 2 * 2 * 50 + 500  # LeNet-5's activations on 16x16 inputs
    assert [int(row["activation_params"]) for row in table] == [0, 4 * neurons]
    runs = _read_csv(stem + "_runs.csv")
    assert sorted({int(r["seed"]) for r in runs}) == [3, 4] and len(runs) == 4
    markdown = open(stem + ".md").read()
    assert "| lenet5" in markdown and "LEAF+DSPT+P24Sl" in markdown and "±" in markdown
    assert re.search(r"seeds 3, 4", markdown)
    history = _read_csv(stem + "_history.csv")
    assert len(history) == 4 * 2
    # the variant minus the base, paired by seed, for both metrics
    paired = _read_csv(stem + "_paired.csv")
    assert [(r["comparison"], r["metric"]) for r in paired] == [
        ("LEAF+DSPT+P24Sl - ReLU", "test_accuracy"),
        ("LEAF+DSPT+P24Sl - ReLU", "best_val_accuracy")]
    by_seed = {(r["label"], int(r["seed"])): float(r["test_accuracy"]) for r in runs}
    diffs = [by_seed["LEAF+DSPT+P24Sl", k] - by_seed["ReLU", k] for k in (3, 4)]
    assert float(paired[0]["mean_difference"]) == pytest.approx(np.mean(diffs), abs=1e-6)
    assert float(paired[0]["ci_low"]) <= np.mean(diffs) <= float(paired[0]["ci_high"])
    assert "95% CI" in open(stem + "_paired.md").read()


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown networks"):
        leaf.run_leaf(networks=("vgg",))
    with pytest.raises(ValueError, match="unknown augment"):
        leaf.run_leaf(augment="mixup")
    with pytest.raises(ValueError, match="need images; 'mnist1d'"):
        leaf.run_leaf(dataset="mnist1d", networks=("lenet5",), inits=("relu",))
    assert main(["leaf", "--dataset", "nope", "--quiet"]) == 2


def test_docstring_examples():
    result = doctest.testmod(leaf, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0


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


@pytest.mark.slow
def test_default_run(tmp_path):
    """The full default configuration (documented to take about 20 minutes on 2 cores)."""
    out = str(tmp_path / "leaf")
    result = run_python("-m", "linked_neurons.experiments", "leaf", "--quiet",
                        "--output-dir", out, timeout=1800)
    table = _read_csv(os.path.join(out, "leaf_digits16.csv"))
    assert len(table) == 3 + 2  # lenet5: relu (base, AHAF, LEAF+P24Sl), tanh (base, LEAF+P24Sl)
    for row in table:
        assert float(row["test_accuracy"]) > 0.3, row
        assert int(row["seeds"]) == 5
    paired = _read_csv(os.path.join(out, "leaf_digits16_paired.csv"))
    assert len(paired) == 2 * 3  # (AHAF, LEAF - ReLU; LEAF - tanh) x (test, best val)
    pngs = [name for name in os.listdir(out) if name.endswith(".png")]
    assert len(pngs) == 2 + 3  # curves per init, and shapes of the learnable variants
    assert "wrote" in result.stdout
