"""Tests of the study runner and the command line on a toy study."""

import json
import os
import statistics
import subprocess
import sys

import keras
import numpy as np
import pandas as pd
import pytest

from linked_neurons.experiments import cli, runner

NAMES = ("alpha", "beta", "gamma")


def _parse(name):
    if name not in NAMES:
        raise ValueError(f"unknown variant {name!r}; valid: {', '.join(NAMES)}")
    return runner.Variant(name, name.capitalize())


def _score(variant, seed):
    """A deterministic result per variant and seed, known in closed form."""
    return 0.1 * NAMES.index(variant) + 0.01 * seed ** 2


def _toy_train(calls, fail_at=None):
    def train(task):
        calls.append((task.variant.key, task.seed))
        if fail_at == (task.variant.key, task.seed):
            raise KeyboardInterrupt
        history = {"val_accuracy": [], "val_loss": []}
        for epoch in range(task.options["epochs"]):
            value = _score(task.variant.key, task.seed) * (epoch + 1) / task.options["epochs"]
            history["val_accuracy"].append(value)
            history["val_loss"].append(1 - value)
            task.epoch_end(epoch, {"val_accuracy": value})
        return {"score": _score(task.variant.key, task.seed), "epochs": task.options["epochs"],
                "width": task.options["width"]}, history
    return train


def _study(calls, fail_at=None, **changes):
    fields = dict(
        name="toy", summary="a toy study", description="A toy study for the tests.",
        defaults=dict(epochs=2, seeds=(0, 1, 2), variants=("alpha", "beta"), width=3),
        presets={"cifar10": {"epochs": 5}}, parse_variant=_parse,
        load_data=lambda options: "data", train=_toy_train(calls, fail_at),
        values=("score", "epochs"), columns=(("label", "variant"), ("score", "score"),
                                             ("score_min", "min"), ("score_max", "max")),
        primary="score",
        arguments=lambda group: group.add_argument("--width", type=cli.positive_int),
    )
    fields.update(changes)
    return runner.Study(**fields)


def _read(path):
    with open(path) as handle:
        return json.load(handle)


def test_seeds_and_summary_match_hand_computed_values(tmp_path):
    calls = []
    result = runner.run(_study(calls), output_dir=str(tmp_path), name="run", verbose=0)
    # Interleaved: every variant with seed 0, then seed 1, ...
    assert calls == [(v, s) for s in (0, 1, 2) for v in ("alpha", "beta")]
    assert result.status == "complete"
    assert result.folder == os.path.join(str(tmp_path), "toy", "run")
    summary = result.summary.set_index("variant")
    for variant in ("alpha", "beta"):
        scores = [_score(variant, s) for s in (0, 1, 2)]
        assert summary.loc[variant, "score"] == pytest.approx(statistics.median(scores))
        assert summary.loc[variant, "score_min"] == pytest.approx(min(scores))
        assert summary.loc[variant, "score_max"] == pytest.approx(max(scores))
        assert summary.loc[variant, "runs"] == 3
        assert summary.loc[variant, "epochs"] == 2  # counts stay integers
        assert summary.loc[variant, "width"] == 3  # shared constants are carried over
    assert list(result.summary["label"]) == ["Alpha", "Beta"]
    runs = pd.read_csv(os.path.join(result.folder, "runs.csv"))
    assert len(runs) == 6 and set(runs["seed"]) == {0, 1, 2}
    markdown = open(os.path.join(result.folder, "summary.md")).read()
    assert "| Alpha " in markdown and f"{statistics.median([0.0, 0.01, 0.04]):.4f}" in markdown
    assert "linked-neurons toy" in markdown  # the command that reproduces the run
    status = _read(os.path.join(result.folder, "status.json"))
    assert status["status"] == "complete" and status["finished"] == status["total"] == 6
    config = _read(os.path.join(result.folder, "config.json"))
    assert config["options"]["seeds"] == [0, 1, 2] and config["options"]["width"] == 3
    for key in ("python", "linked_neurons", "keras", "backend", "hardware"):
        assert config["versions"][key]
    record = _read(os.path.join(result.folder, "models", "beta__seed2.json"))
    assert record["row"]["score"] == pytest.approx(_score("beta", 2))
    assert record["history"]["val_accuracy"][-1] == pytest.approx(_score("beta", 2))


def test_presets_and_given_options(tmp_path):
    study = _study([])
    assert runner.resolve_options(study, {"dataset": "cifar10"})["epochs"] == 5
    assert runner.resolve_options(study, {"dataset": "cifar10", "epochs": 1})["epochs"] == 1
    assert runner.resolve_options(study, {})["epochs"] == 2
    with pytest.raises(ValueError, match="unknown option"):
        runner.resolve_options(study, {"depth": 3})
    with pytest.raises(ValueError, match="distinct"):
        runner.resolve_options(study, {"seeds": (1, 1)})
    with pytest.raises(ValueError, match="unknown variant 'delta'"):
        runner.resolve_options(study, {"variants": ("alpha", "delta")})


def test_interrupt_then_resume_gives_the_uninterrupted_tables(tmp_path):
    calls = []
    with pytest.raises(KeyboardInterrupt):
        runner.run(_study(calls, fail_at=("alpha", 1)), output_dir=str(tmp_path), name="cut",
                   verbose=0)
    folder = os.path.join(str(tmp_path), "toy", "cut")
    status = _read(os.path.join(folder, "status.json"))
    assert status["status"] == "interrupted" and status["reason"] == "KeyboardInterrupt"
    assert status["finished"] == 2
    assert sorted(os.listdir(os.path.join(folder, "models"))) == [
        "alpha__seed0.json", "beta__seed0.json"]
    assert len(pd.read_csv(os.path.join(folder, "runs.csv"))) == 2  # coherent partial tables
    assert "Incomplete run" in open(os.path.join(folder, "summary.md")).read()

    resumed_calls = []
    resumed = runner.run(_study(resumed_calls), resume=folder, verbose=0)
    assert resumed_calls == [("alpha", 1), ("beta", 1), ("alpha", 2), ("beta", 2)]
    assert resumed.status == "complete"
    whole = runner.run(_study([]), output_dir=str(tmp_path), name="whole", verbose=0)
    pd.testing.assert_frame_equal(resumed.summary, whole.summary)
    assert _read(os.path.join(folder, "status.json"))["status"] == "complete"


def test_resume_keeps_the_runs_options(tmp_path):
    runner.run(_study([]), output_dir=str(tmp_path), name="a", verbose=0, width=5)
    folder = os.path.join(str(tmp_path), "toy", "a")
    with pytest.raises(ValueError, match="its own options"):
        runner.run(_study([]), resume=folder, verbose=0, width=6)
    calls = []  # given alone, or with the run's own values, resume continues with width 5
    result = runner.run(_study(calls), resume=folder, verbose=0)
    assert calls == [] and result.options["width"] == 5 and result.status == "complete"
    assert runner.run(_study([]), resume=folder, verbose=0, width=5, seeds=[0, 1, 2]).options[
        "seeds"] == (0, 1, 2)
    with pytest.raises(ValueError, match="no config.json"):
        runner.run(_study([]), resume=str(tmp_path), verbose=0)
    with pytest.raises(ValueError, match="exists; continue it with --resume"):
        runner.run(_study([]), output_dir=str(tmp_path), name="a", verbose=0)


def test_unwritable_output_folder_fails_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    calls, loaded = [], []
    study = _study(calls, load_data=lambda options: loaded.append(1))
    with pytest.raises(ValueError, match="cannot write the run folder"):
        runner.run(study, output_dir=str(blocker), verbose=0)
    assert calls == [] and loaded == []


def test_raising_keras_callback_leaves_finished_models(tmp_path):
    """A real Keras fit interrupted by a callback in the second model."""
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")

    class Stop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    def train(task):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        extra = [Stop()] if task.variant.key == "beta" else []
        history = model.fit(x, y, epochs=task.options["epochs"], verbose=0,
                            validation_data=(x, y), callbacks=[*task.callbacks, *extra]).history
        return {"score": float(history["val_accuracy"][-1]), "epochs": 2}, history

    with pytest.raises(KeyboardInterrupt):
        runner.run(_study([], train=train), output_dir=str(tmp_path), name="k", verbose=0)
    folder = os.path.join(str(tmp_path), "toy", "k")
    assert _read(os.path.join(folder, "status.json"))["status"] == "interrupted"
    assert os.listdir(os.path.join(folder, "models")).count("alpha__seed0.json") == 1
    epochs = pd.read_csv(os.path.join(folder, "models", "alpha__seed0.csv"))  # CSVLogger
    assert list(epochs["epoch"]) == [0, 1] and "val_accuracy" in epochs


@pytest.fixture
def toy_cli(monkeypatch):
    monkeypatch.setattr(runner, "STUDIES", ("toy",))
    study = _study([])
    monkeypatch.setattr(runner, "load_study", lambda name: study)
    return study


@pytest.mark.parametrize("flag, value", [
    ("--epochs", "0"), ("--epochs", "two"), ("--batch-size", "-1"), ("--seeds", "-5"),
    ("--seeds", "x"), ("--learning-rate", "nan"), ("--learning-rate", "-1"),
    ("--learning-rate", "inf"), ("--max-train-samples", "0"), ("--width", "0"),
])
def test_bad_flag_values_name_the_flag(toy_cli, flag, value, capsys):
    study = _study([], defaults=dict(epochs=2, seeds=(0,), variants=("alpha",), width=3,
                                     batch_size=8, learning_rate=0.1, max_train_samples=None))
    runner.load_study = lambda name: study
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["toy", flag, value])
    assert exit_info.value.code == 2
    assert f"argument {flag}" in capsys.readouterr().err


def test_cli_runs_and_reports_bad_variants(toy_cli, tmp_path, capsys):
    assert cli.main(["toy", "--output-dir", str(tmp_path), "--name", "x", "--quiet",
                     "--seeds", "3", "--width", "7"]) == 0
    config = _read(os.path.join(str(tmp_path), "toy", "x", "config.json"))
    assert config["options"]["seeds"] == [3] and config["options"]["width"] == 7
    assert "--width 7" in config["command"]
    assert cli.main(["toy", "--output-dir", str(tmp_path), "--variants", "delta"]) == 2
    assert "unknown variant 'delta'" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["compare", "--help"]])
def test_help_and_version_import_no_backend(argv):
    """``-X importtime`` lists every module imported: no Keras and no backend."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "linked_neurons.experiments",
                          *argv], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert out.returncode == 0, out.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in out.stderr.splitlines()
                if line.startswith("import time:")}
    assert "linked_neurons.experiments.cli" in imported
    assert not imported & {"keras", "tensorflow", "jax", "torch"}
    assert ("linked_neurons 0." in out.stdout) if argv == ["--version"] else "usage:" in out.stdout


def test_a_data_error_marks_the_folder_interrupted(tmp_path):
    def broken(options):
        raise ValueError("no such data")

    with pytest.raises(ValueError, match="no such data"):
        runner.run(_study([], load_data=broken), output_dir=str(tmp_path), name="x", verbose=0)
    status = _read(os.path.join(str(tmp_path), "toy", "x", "status.json"))
    assert status["status"] == "interrupted" and "no such data" in status["reason"]


def test_save_plot_writes_the_figure_or_nothing_without_matplotlib(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from linked_neurons import plotting

    path = runner.save_plot(str(tmp_path / "loss.png"), plotting.plot_learning_curves,
                            {"loss": [1.0, 0.5]}, title="loss", dpi=50)
    assert path == str(tmp_path / "loss.png")
    with open(path, "rb") as handle:
        header = handle.read(24)
    assert header[:4] == b"\x89PNG" and header[16:24] == (230).to_bytes(4, "big") + (
        170).to_bytes(4, "big")  # 4.6 x 3.4 inches at 50 dpi
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert runner.save_plot(str(tmp_path / "none.png"), plotting.plot_learning_curves,
                            {"loss": [1.0]}) is None
    assert not (tmp_path / "none.png").exists()
