"""Tests of the ``ActivationHistograms`` callback (event files read back)."""

import doctest
import glob
import os
import struct
import textwrap

import keras
import numpy as np
import pytest
from conftest import BACKEND, run_python

import linked_neurons.callbacks
from linked_neurons import LKReLU, monitoring
from linked_neurons.callbacks import ActivationHistograms, activation_grid, histogram_buckets
from linked_neurons.callbacks import histograms as histograms_module

JIT = BACKEND != "torch"
STATS = monitoring.STATISTICS


# -------------------------------------------------------------------- helpers
def small_model(seed=0, dropout=False, jit_compile=False):
    keras.utils.set_random_seed(seed)
    layers = [
        keras.Input((6, 6, 2)),
        keras.layers.Conv2D(3, 3, strides=1, name="conv"),
        keras.layers.ReLU(name="relu"),
    ]
    if dropout:
        layers += [keras.layers.BatchNormalization(name="bn"), keras.layers.Dropout(0.5)]
    layers += [
        keras.layers.Flatten(),
        keras.layers.Dense(6, name="dense"),
        LKReLU(name="lk"),
        keras.layers.Dense(1, name="out"),
    ]
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse", jit_compile=jit_compile)
    return model


def xy(n=32, seed=0):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(n, 6, 6, 2)).astype("float32"),
        rng.normal(size=(n, 1)).astype("float32"),
    )


def read_events(folder):
    """{tag: [(step, value proto), ...]} from every event file of ``folder``."""
    import tensorflow as tf

    events = {}
    paths = sorted(glob.glob(os.path.join(str(folder), "events.out.tfevents.*")))
    assert paths, f"no event file in {folder}"
    for path in paths:
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                events.setdefault(value.tag, []).append((event.step, value))
    return events


def tensor(value):
    import tensorflow as tf

    return tf.make_ndarray(value.tensor)


def png_size(data):
    """(width, height) from a PNG's header; checks the signature."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def batch_run(tmp_path_factory):
    """Two epochs of 8 batches (XLA-compiled), logging every 4 batches, with images."""
    log_dir = tmp_path_factory.mktemp("logs")
    model = small_model(jit_compile=JIT)
    x, y = xy()
    fixed = x[:5]
    initial = monitoring.layer_outputs(model, fixed, layers=["relu", "lk"])
    callback = ActivationHistograms(
        log_dir, layers=["relu", "lk"], data=fixed, freq=4, images=True, buckets=12
    )
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[callback])
    final = monitoring.layer_outputs(model, fixed, layers=["relu", "lk"])
    return {
        "log_dir": log_dir,
        "model": model,
        "callback": callback,
        "events": read_events(log_dir / "activations"),
        "initial": initial,
        "final": final,
    }


# ---------------------------------------------------------------- event files
def test_tags_and_steps_per_batch(batch_run):
    events = batch_run["events"]
    expected_tags = {
        f"{layer}/{kind}"
        for layer in ("relu", "lk")
        for kind in ("activations", *STATS, "histogram", "activation_map")
    }
    assert set(events) == expected_tags
    for tag, items in events.items():
        assert [step for step, _ in items] == [0, 4, 8, 12, 16], tag
    plugins = {tag: items[0][1].metadata.plugin_data.plugin_name for tag, items in events.items()}
    assert plugins["relu/activations"] == "histograms"
    assert plugins["lk/mean"] == "scalars"
    assert plugins["lk/activation_map"] == "images"
    assert os.listdir(batch_run["log_dir"]) == ["activations"]


def test_histograms_and_scalars_hold_the_activations(batch_run):
    events, callback = batch_run["events"], batch_run["callback"]
    for layer in ("relu", "lk"):
        for outputs, index in ((batch_run["initial"], 0), (batch_run["final"], -1)):
            values = outputs[layer]
            buckets = tensor(events[f"{layer}/activations"][index][1])
            assert buckets.shape == (12, 3) and buckets.dtype == np.float64
            assert buckets[:, 2].sum() == values.size
            np.testing.assert_allclose(buckets, histogram_buckets(values, 12), rtol=1e-6,
                                       atol=1e-6)
            expected = {
                "mean": values.mean(),
                "std": values.std(),
                "min": values.min(),
                "max": values.max(),
                "zero_fraction": np.mean(values == 0),
                "negative_fraction": np.mean(values < 0),
            }
            for key, want in expected.items():
                got = float(tensor(events[f"{layer}/{key}"][index][1]))
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # The records hold the same numbers as the scalars.
    records = [r for r in callback.records if r["layer"] == "lk"]
    assert [r["step"] for r in records] == [0, 4, 8, 12, 16]
    for record, (step, value) in zip(records, events["lk/dead_fraction"]):
        assert record["step"] == step
        assert float(tensor(value)) == pytest.approx(record["dead_fraction"])
    values = batch_run["final"]["lk"]
    assert records[-1]["dead_fraction"] == pytest.approx(np.mean(np.all(values == 0, axis=0)))


def test_images_are_pngs_of_the_expected_size(batch_run):
    events = batch_run["events"]
    for layer, (width, height) in (("relu", (36, 36)), ("lk", (16, 12))):
        blob = tensor(events[f"{layer}/activation_map"][0][1])
        assert blob.shape == (3,)
        assert (int(blob[0]), int(blob[1])) == (width, height)
        assert png_size(blob[2]) == (width, height)
        blob = tensor(events[f"{layer}/histogram"][-1][1])
        assert (int(blob[0]), int(blob[1])) == (400, 300)
        assert png_size(blob[2]) == (400, 300)


def test_activation_map_pixels_follow_the_grid():
    """The map of relu on a (4, 4, 3) output: 2 x 2 tiles of 4 x 4, zoom 4."""
    values = np.arange(48, dtype=np.float64).reshape(1, 4, 4, 3)
    grid = activation_grid(values[0], channel_axis=-1)
    assert grid.shape == (9, 9)
    np.testing.assert_array_equal(grid[:4, :4], values[0, :, :, 0])
    np.testing.assert_array_equal(grid[5:, :4], values[0, :, :, 2])
    assert np.isnan(grid[4]).all() and np.isnan(grid[5:, 5:]).all()
    # channels_first gives the same tiles
    first = activation_grid(np.moveaxis(values[0], -1, 0), channel_axis=0)
    np.testing.assert_array_equal(np.nan_to_num(first, nan=-1), np.nan_to_num(grid, nan=-1))
    # vectors: a row-major grid; sequences: one row per channel
    assert activation_grid(np.arange(5.0)).shape == (2, 3)
    np.testing.assert_array_equal(activation_grid(np.arange(6.0).reshape(3, 2)),
                                  [[0, 2, 4], [1, 3, 5]])
    pixels = histograms_module._to_uint8(grid, zoom=4)
    assert pixels.shape == (36, 36) and pixels.dtype == np.uint8
    assert pixels.max() == 255 and pixels[0, 0] == 0


def test_histogram_buckets_match_numpy():
    rng = np.random.default_rng(3)
    values = rng.normal(size=(7, 9))
    buckets = histogram_buckets(values, 5)
    edges = np.linspace(values.min(), values.max(), 6)
    np.testing.assert_allclose(buckets[:, 0], edges[:-1])
    np.testing.assert_allclose(buckets[:, 1], edges[1:])
    index = np.minimum(((values - values.min()) / (edges[1] - edges[0])).astype(int), 4)
    np.testing.assert_array_equal(buckets[:, 2], np.bincount(index.ravel(), minlength=5))
    constant = histogram_buckets(np.full(4, 2.0), 3)
    assert constant[0, 0] == 1.5 and constant[-1, 1] == 2.5 and constant[:, 2].sum() == 4


def test_tensorboard_reads_the_logs_with_keras_tensorboard_in_the_same_dir(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing import plugin_event_multiplexer

    model = small_model()
    x, y = xy()
    monitor = ActivationHistograms(tmp_path, data=x[:4], freq=3)
    # update_freq=2 makes Keras' callback record only on even steps: the monitor
    # writes on its own schedule (3, 9, 15 are odd) all the same.
    board = keras.callbacks.TensorBoard(tmp_path, update_freq=2)
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, validation_data=(x[:8], y[:8]),
              callbacks=[board, monitor])
    assert {"activations", "train", "validation"} <= set(os.listdir(tmp_path))
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(tmp_path))
    multiplexer.Reload()
    histograms = multiplexer.PluginRunToTagToContent("histograms")["activations"]
    scalars = multiplexer.PluginRunToTagToContent("scalars")["activations"]
    assert set(histograms) == {"relu/activations", "lk/activations"}
    assert {f"relu/{s}" for s in STATS} | {f"lk/{s}" for s in STATS} == set(scalars)
    steps = [e.step for e in multiplexer.Tensors("activations", "lk/activations")]
    assert steps == [0, 3, 6, 9, 12, 15]
    assert [e.step for e in multiplexer.Tensors("activations", "relu/std")] == steps
    assert "epoch_loss" in multiplexer.PluginRunToTagToContent("scalars")["train"]


def test_epoch_frequency(tmp_path):
    model = small_model()
    x, y = xy(16)
    callback = ActivationHistograms(tmp_path, layers="lk", data=(x[:4], y[:4]), freq=2,
                                    freq_unit="epoch", statistics=["mean"], histograms=False)
    model.fit(x, y, batch_size=8, epochs=5, verbose=0, callbacks=[callback])
    events = read_events(tmp_path / "activations")
    assert set(events) == {"lk/mean"}
    assert [step for step, _ in events["lk/mean"]] == [0, 2, 4]
    # A second fit continues: epochs 5.. are logged from the epoch index Keras gives.
    callback.log_initial = False
    model.fit(x, y, batch_size=8, epochs=8, initial_epoch=5, verbose=0, callbacks=[callback])
    assert [r["step"] for r in callback.records] == [0, 2, 4, 6, 8]


def test_repeated_fits_continue_the_steps(tmp_path):
    model = small_model()
    x, y = xy(16)
    callback = ActivationHistograms(None, layers=["relu"], data=x[:2], freq=4)
    for _ in range(2):
        model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[callback])
    assert [r["step"] for r in callback.records] == [0, 4, 8, 12, 16]
    assert os.listdir(tmp_path) == []


def test_side_model_does_not_change_training(tmp_path):
    x, y = xy()
    weights = []
    monitor = ActivationHistograms(tmp_path, data=x[:8], freq=2, images=["activation_map"])
    for callbacks in ([], [monitor]):
        model = small_model(seed=5, dropout=True)
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=True, callbacks=callbacks)
        weights.append(model.get_weights())
    assert len(monitor.records) == 2 * 5 and len(weights[0]) == len(weights[1])
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


def test_default_layers_and_normal_probe_batch():
    model = small_model()
    x, y = xy(8)
    first, second = (ActivationHistograms(None, freq=1, batch_size=6, seed=3) for _ in range(2))
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[first])
    second.set_model(model)
    second.log(0)
    assert first._x.shape == (6, 6, 6, 2)
    np.testing.assert_array_equal(first._x, second._x)
    assert abs(first._x.mean()) < 0.3 and abs(first._x.std() - 1) < 0.3
    assert sorted({r["layer"] for r in first.records}) == ["lk", "relu"]
    assert set(first.records[0]) == {"step", "layer", *STATS}


def test_mixed_precision_training():
    keras.config.set_dtype_policy("mixed_bfloat16")
    model = small_model()
    x, y = xy(8)
    callback = ActivationHistograms(None, data=x, freq=1)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[callback])
    assert len(callback.records) == 6
    assert all(np.isfinite(r[s]) for r in callback.records for s in STATS)
    assert callback.last_outputs["lk"].dtype.name in ("bfloat16", "float32")


# --------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "freq, error",
    [(0, ValueError), (-2, ValueError), (1.5, ValueError), (float("inf"), ValueError),
     (True, TypeError), ("10", TypeError)],
)
def test_freq_below_one_is_an_error(freq, error):
    with pytest.raises(error, match=r"ActivationHistograms: `freq` must be an integer"):
        ActivationHistograms("logs", freq=freq)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"seed": "abc"}, TypeError, ["`seed`", "'abc'"]),
        ({"seed": -3}, ValueError, ["`seed`", "-3"]),
        ({"seed": 1.5}, ValueError, ["`seed`", "1.5"]),
        ({"threshold": float("inf")}, ValueError, ["`threshold`", "inf"]),
        ({"threshold": float("nan")}, ValueError, ["`threshold`", "nan"]),
        ({"histograms": "yes"}, TypeError, ["`histograms`", "'yes'"]),
        ({"channel_axis": 1.0 + 0.5}, ValueError, ["`channel_axis`", "1.5"]),
    ],
)
def test_bad_values_name_the_argument(kwargs, error, words):
    with pytest.raises(error) as info:
        ActivationHistograms(None, **kwargs)
    for word in ["ActivationHistograms", *words]:
        assert word in str(info.value), (word, str(info.value))


def test_argument_errors():
    with pytest.raises(ValueError, match="`freq_unit` must be 'batch' or 'epoch', got 'step'"):
        ActivationHistograms("logs", freq_unit="step")
    with pytest.raises(ValueError, match="unknown statistics \\['median'\\]"):
        ActivationHistograms("logs", statistics=["mean", "median"])
    with pytest.raises(ValueError, match="unknown images \\['heatmap'\\]"):
        ActivationHistograms("logs", images=["heatmap"])
    with pytest.raises(ValueError, match=r"`buckets` must be an integer in \[1, inf\)"):
        ActivationHistograms("logs", buckets=0)
    with pytest.raises(TypeError, match="`log_dir` must be a path or None"):
        ActivationHistograms(3)
    with pytest.raises(ValueError, match="`image_size` must be"):
        ActivationHistograms("logs", image_size=(10, 400))


def test_unknown_layer_name_fails_when_training_starts(tmp_path):
    model = small_model()
    x, y = xy(8)
    callback = ActivationHistograms(tmp_path, layers=["relu", "relu_7"], data=x)
    with pytest.raises(ValueError, match="ActivationHistograms: .*no layer named 'relu_7'"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[callback])


def test_layer_not_in_the_model_fails_when_training_starts(tmp_path):
    model = small_model()
    x, y = xy(8)
    stranger = keras.layers.ReLU(name="stranger")
    callback = ActivationHistograms(tmp_path, layers=[stranger], data=x)
    with pytest.raises(ValueError, match="'stranger'.*not a top-level layer"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[callback])


def test_normal_probe_needs_known_shapes():
    inputs = keras.Input((None, 2))
    model = keras.Model(inputs, keras.layers.ReLU(name="r")(inputs))
    callback = ActivationHistograms(None)
    callback.set_model(model)
    with pytest.raises(ValueError, match="cannot draw normal inputs.*pass `data`"):
        callback.log(0)


def test_config_round_trip():
    callback = ActivationHistograms("logs", layers=["a"], freq=5, freq_unit="epoch",
                                    images=["activation_map"], statistics=["mean", "std"])
    config = callback.get_config()
    clone = ActivationHistograms(**config)
    assert clone.get_config() == config
    assert clone.log_path == os.path.join("logs", "activations")


@pytest.mark.slow  # in .ci/run's slow step: keeps the README test command under 5 minutes
def test_works_without_tensorboard_installed(tmp_path):
    """tf.summary.write and the plugin metadata need no ``tensorboard`` package."""
    script = tmp_path / "no_tensorboard.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.modules["tensorboard"] = None  # make "import tensorboard" fail
            import numpy as np, keras
            from linked_neurons.callbacks import ActivationHistograms
            model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, name="d"),
                                      keras.layers.ReLU(name="r"), keras.layers.Dense(1)])
            model.compile("sgd", "mse")
            x = np.ones((8, 3), "float32")
            callback = ActivationHistograms({str(tmp_path)!r}, data=x, freq=2)
            model.fit(x, x[:, :1], batch_size=2, epochs=1, verbose=0, callbacks=[callback])
            import tensorflow as tf, glob
            path = glob.glob({str(tmp_path / "activations")!r} + "/events.out.*")[0]
            tags = sorted({{(v.tag, e.step) for e in tf.compat.v1.train.summary_iterator(path)
                           for v in e.summary.value if v.tag.endswith("activations")}})
            print(tags)
            """
        )
    )
    result = run_python(script)
    assert "[('r/activations', 0), ('r/activations', 2), ('r/activations', 4)]" in result.stdout


def test_docstring_examples():
    for module in (linked_neurons.callbacks, histograms_module):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0
    assert doctest.testmod(histograms_module).attempted > 0
