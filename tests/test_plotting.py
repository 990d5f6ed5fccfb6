"""Tests of ``linked_neurons.plotting`` (files written to a temporary folder)."""

import doctest
import importlib
import struct
import sys

import keras
import numpy as np
import pytest
from conftest import np_mish, np_relu, np_selu

from linked_neurons import LEAF, LKPReLU, plotting
from linked_neurons.plotting import (
    activation_curve,
    plot_activation_curves,
    plot_bars,
    plot_histogram_comparison,
    plot_histograms,
    plot_learned_activations,
    plot_learning_curves,
    plot_meta_activations,
    plot_meta_learning,
    plot_statistics,
    save_figure,
)

pytest.importorskip("matplotlib")

X = np.linspace(-4.0, 3.0, 29)


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def check_file(path, size=None):
    assert path.stat().st_size > 0
    if path.suffix == ".png":
        width, height = png_size(path)
        if size is not None:
            assert (width, height) == size
    elif path.suffix == ".svg":
        assert b"<svg" in path.read_bytes()[:2000]


def random_outputs(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "conv1_act": np.maximum(rng.normal(size=(8, 4, 4, 3)), 0),
        "fc1_act": rng.normal(size=(8, 16)),
        "fc2_act": rng.normal(size=(8, 5)) * 3,
    }


# -------------------------------------------------------------------- curves
@pytest.mark.parametrize(
    "name, reference",
    [("relu", np_relu), ("selu", np_selu), ("mish", np_mish), ("tanh", np.tanh)],
)
def test_activation_curve_matches_the_formula(name, reference):
    curve = activation_curve(name, X)
    assert curve.shape == (X.size, 1)
    np.testing.assert_allclose(curve[:, 0], reference(X), rtol=1e-5, atol=1e-6)


def test_linked_curves_are_the_two_halves():
    curves = activation_curve("lkselu", X)
    np.testing.assert_allclose(curves, np.stack([np_selu(X), np_selu(-X)], 1), rtol=1e-5,
                               atol=1e-6)


def test_learned_layer_gives_one_curve_per_distinct_unit():
    layer = LKPReLU()
    layer.build((None, 3))
    alpha_pos = np.array([[0.1, 0.2, 0.3]], "float32")
    alpha_neg = np.array([[0.5, 0.6, 0.7]], "float32")
    layer.set_weights([alpha_pos[0], alpha_neg[0]])
    curves = activation_curve(layer, X)
    assert curves.shape == (X.size, 6)
    for c in range(3):
        np.testing.assert_allclose(curves[:, c], np.where(X > 0, X, alpha_pos[0, c] * X),
                                   rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(curves[:, 3 + c], np.where(-X > 0, -X, alpha_neg[0, c] * -X),
                                   rtol=1e-6, atol=1e-6)
    assert activation_curve(layer, X, units=2).shape == (X.size, 2)


def test_per_element_weights_of_a_layer_in_a_model():
    """A PReLU with one slope per element of (2, 2) inside a model: 4 curves."""
    model = keras.Sequential([keras.Input((2, 2)), keras.layers.PReLU(name="p")])
    slopes = np.array([[0.1, 0.2], [0.3, 0.4]], "float32")
    model.get_layer("p").set_weights([slopes])
    curves = activation_curve(model.get_layer("p"), X)
    assert curves.shape == (X.size, 4)
    np.testing.assert_allclose(curves[:, 3], np.where(X > 0, X, 0.4 * X), rtol=1e-6, atol=1e-6)


def test_learnable_library_activations_plot_when_available(tmp_path):
    learnable = pytest.importorskip("linked_neurons.layers.learnable")
    for name in ("LEAF", "AHAF"):
        cls = getattr(learnable, name, None)
        if cls is None:
            continue
        layer = cls()
        curves = activation_curve(layer, X, input_shape=(3,))
        assert curves.shape[0] == X.size and np.all(np.isfinite(curves))
        plot_activation_curves({name: layer}, base="relu", x=X, path=tmp_path / f"{name}.png")
        check_file(tmp_path / f"{name}.png")


def test_plot_activation_curves_png_and_svg(tmp_path):
    layer = LKPReLU()
    layer.build((None, 2))
    layer.set_weights([np.array([0.1, 0.3], "float32"), np.array([0.2, 0.4], "float32")])
    figure = plot_activation_curves(
        {"SELU": "selu", "LK-PReLU": layer, "cube": lambda x: x**3 / 10},
        base="relu",
        x=X,
        path=tmp_path / "curves.png",
        title="curves",
    )
    check_file(tmp_path / "curves.png", size=(720, 480))  # 6 x 4 inches at 120 dpi
    labels = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert labels == ["relu (base)", "SELU", "LK-PReLU", "cube"]
    plotted = [line for line in figure.axes[0].lines if line.get_label() == "SELU"]
    np.testing.assert_allclose(plotted[0].get_ydata(), np_selu(X), rtol=1e-5, atol=1e-6)
    save_figure(figure, tmp_path / "nested" / "curves.svg")
    check_file(tmp_path / "nested" / "curves.svg")


def test_unknown_activation_and_bad_grid_are_errors():
    with pytest.raises(ValueError, match="unknown activation 'nope'"):
        activation_curve("nope", X)
    with pytest.raises(TypeError, match="expected an activation name"):
        activation_curve(3, X)
    with pytest.raises(ValueError, match="`x` must be a non-empty 1-D array"):
        activation_curve("relu", X.reshape(-1, 1))
    with pytest.raises(ValueError, match="`units` must be None or an int >= 1"):
        activation_curve("relu", X, units=0)


def test_plot_learned_activations_one_panel_per_learned_layer(tmp_path):
    inner = keras.Sequential([keras.Input((3,)), LEAF(init="tanh", name="inner_leaf")])
    model = keras.Sequential([keras.Input((3,)), LEAF(init="relu", name="outer_leaf"),
                              keras.layers.Dense(3), inner, keras.layers.Dense(2)])
    layer = model.get_layer("outer_leaf")
    layer.set_weights([w + 0.1 * np.arange(w.size).reshape(w.shape)
                       for w in layer.get_weights()])
    grid = np.linspace(-2.0, 2.0, 9)
    figure = plot_learned_activations(model, base="relu", units=2, x=grid,
                                      path=tmp_path / "shapes.png", title="shapes")
    check_file(tmp_path / "shapes.png", size=(864, 540))  # 7.2 x 4.5 inches at 120 dpi
    assert [ax.get_title() for ax in figure.axes] == ["activation layer 1",
                                                      "activation layer 2"]
    first, second = ([line for line in ax.lines if len(line.get_xdata()) == grid.size]
                     for ax in figure.axes)
    assert [line.get_label() for line in first][:2] == ["relu (base)", "outer_leaf"]
    np.testing.assert_allclose(first[1].get_ydata(), activation_curve(layer, grid)[:, 0])
    np.testing.assert_allclose(first[0].get_ydata(), np.maximum(grid, 0))
    assert second[1].get_label() == "inner_leaf"
    np.testing.assert_allclose(second[1].get_ydata(), np.tanh(grid), rtol=1e-5, atol=1e-6)
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="relu")])
    with pytest.raises(ValueError, match="plot_learned_activations: .* no LEAF or AHAF"):
        plot_learned_activations(plain)


# ---------------------------------------------------------------- histograms
def test_plot_histograms_grid(tmp_path):
    outputs = random_outputs()
    figure = plot_histograms(outputs, path=tmp_path / "h.png", bins=20, ncols=2)
    check_file(tmp_path / "h.png")
    visible = [ax for ax in figure.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == list(outputs)
    counts = sum(patch.get_height() for patch in visible[1].patches)
    assert counts == outputs["fc1_act"].size
    with pytest.raises(ValueError, match="non-empty dict"):
        plot_histograms({})
    with pytest.raises(ValueError, match="`bins` must be an int >= 1"):
        plot_histograms(outputs, bins=0)


def test_plot_histogram_comparison_by_name_and_by_position(tmp_path):
    runs = {"ReLU": random_outputs(0), "Leaky ReLU": random_outputs(1), "SELU": random_outputs(2)}
    figure = plot_histogram_comparison(runs, path=tmp_path / "cmp.png", bins=10)
    check_file(tmp_path / "cmp.png")
    axes = np.array(figure.axes).reshape(3, 3)
    assert [ax.get_title() for ax in axes[0]] == ["ReLU", "Leaky ReLU", "SELU"]
    assert [ax.get_ylabel() for ax in axes[:, 0]] == list(random_outputs())
    # shared value range per row
    assert axes[1, 0].get_xlim() == axes[1, 2].get_xlim()
    renamed = {"A": {"x": np.ones(3), "y": np.zeros(3)}, "B": {"p": np.ones(3)}}
    figure = plot_histogram_comparison(renamed, path=tmp_path / "cmp.svg")
    check_file(tmp_path / "cmp.svg")
    assert figure.axes[0].get_ylabel() == "layer 1"
    with pytest.raises(ValueError, match="2 row labels for 3 layers"):
        plot_histogram_comparison(runs, layers=["a", "b"])
    with pytest.raises(ValueError, match="non-empty dict"):
        plot_histogram_comparison({})


def test_plot_statistics_from_records(tmp_path):
    records = [
        {"step": step, "layer": layer, "mean": step * k, "std": 1.0, "dead_fraction": 0.0}
        for step in (0, 10, 20)
        for k, layer in enumerate(("a", "b"))
    ]
    figure = plot_statistics(records, path=tmp_path / "s.png")
    check_file(tmp_path / "s.png")
    lines = figure.axes[0].lines
    assert [line.get_label() for line in lines] == ["a", "b"]
    np.testing.assert_array_equal(lines[1].get_ydata(), [0, 10, 20])
    with pytest.raises(ValueError, match="have no \\['median'\\]"):
        plot_statistics(records, statistics=["median"])
    with pytest.raises(ValueError, match="no records"):
        plot_statistics([])


# ----------------------------------------------------------- learning curves
def test_plot_learning_curves_from_history_and_dicts(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse", metrics=["mae"])
    x = np.ones((8, 2), "float32")
    history = model.fit(x, x[:, :1], validation_data=(x, x[:, :1]), epochs=2, verbose=0)
    figure = plot_learning_curves(history, path=tmp_path / "one.png")
    check_file(tmp_path / "one.png")
    assert [ax.get_ylabel() for ax in figure.axes] == ["loss", "mae"]
    runs = {"relu": {"loss": [1.0, 0.5, 0.2]}, "selu": history}
    figure = plot_learning_curves(runs, metrics="loss", path=tmp_path / "runs.svg")
    check_file(tmp_path / "runs.svg")
    labels = [line.get_label() for line in figure.axes[0].lines]
    assert labels == ["relu (train)", "selu (train)", "selu (validation)"]
    with pytest.raises(ValueError, match="no values for metrics \\['accuracy'\\]"):
        plot_learning_curves(runs, metrics=["accuracy"])


def test_plot_learning_curves_labels_and_x_axis():
    runs = {"ReLU": {"dead_fraction": [0.0, 0.5, 0.25]}, "SELU": {"dead_fraction": [0, 0, 0]}}
    figure = plot_learning_curves(runs, "dead_fraction", xlabel="activation layer")
    ax = figure.axes[0]
    assert [line.get_label() for line in ax.lines] == ["ReLU", "SELU"]  # no validation lines
    assert ax.get_xlabel() == "activation layer"
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [0.0, 0.5, 0.25])
    runs = {"ReLU": {"val_accuracy": [0.5, 0.6]}, "SELU": {"val_accuracy": [0.4, 0.7]}}
    ax = plot_learning_curves(runs, ["val_accuracy"]).axes[0]
    assert [line.get_label() for line in ax.lines] == ["ReLU", "SELU"]


def summary_table():
    pd = pytest.importorskip("pandas")
    return pd.DataFrame({"activation": ["relu", "relu", "lkrelu", "lkrelu"],
                         "width": [8, 16, 8, 16], "acc": [0.8, 0.9, 0.85, 0.92],
                         "acc_min": [0.7, 0.88, 0.8, 0.9], "acc_max": [0.82, 0.93, 0.9, 0.95]})


def test_plot_bars_heights_positions_and_error_bars(tmp_path):
    figure = plot_bars(summary_table(), "activation", "acc", series="width", reference=0.1,
                       path=tmp_path / "bars.png", title="bars")
    check_file(tmp_path / "bars.png")
    ax = figure.axes[0]
    bars = sorted(ax.patches, key=lambda bar: bar.get_x())
    centers = [bar.get_x() + bar.get_width() / 2 for bar in bars]
    np.testing.assert_allclose(centers, [-0.2, 0.2, 0.8, 1.2])  # width 8 left of 16
    np.testing.assert_allclose([bar.get_height() for bar in bars], [0.8, 0.9, 0.85, 0.92])
    segments = [s for c in ax.collections for s in c.get_segments()]
    spans = sorted((round(s[0][0], 6), round(s[0][1], 6), round(s[1][1], 6)) for s in segments)
    assert spans == [(-0.2, 0.7, 0.82), (0.2, 0.88, 0.93), (0.8, 0.8, 0.9), (1.2, 0.9, 0.95)]
    assert [line.get_ydata()[0] for line in ax.lines if line.get_linestyle() == "--"] == [0.1]
    assert ax.get_title() == "bars" and ax.get_ylabel() == "acc (median, min-max)"
    without_range = summary_table().drop(columns=["acc_min", "acc_max"])
    ax = plot_bars(without_range, "activation", "acc").axes[0]
    assert len(ax.patches) == 4 and ax.get_legend() is None
    with pytest.raises(ValueError, match="plot_bars: `summary` has no column 'kind'"):
        plot_bars(summary_table(), "activation", "acc", series="kind")


# ---------------------------------------------------------------- meta-learning
def test_plot_meta_activations_draws_the_base_and_each_curve(tmp_path):
    grid = np.linspace(-3.0, 3.0, 31)
    curves = np.stack([np.tanh(grid), np.tanh(grid) + 0.1])
    figure = plot_meta_activations(grid, curves, base="tanh", path=tmp_path / "meta.png",
                                   title="learned")
    check_file(tmp_path / "meta.png")
    lines = figure.axes[0].lines
    assert [line.get_label() for line in lines] == ["base: tanh(x)", "learned activation 0",
                                                    "learned activation 1"]
    np.testing.assert_allclose(lines[0].get_ydata(), np.tanh(grid), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lines[2].get_ydata(), curves[1])
    lines = plot_meta_activations(grid, curves[0], base=np.sin).axes[0].lines
    assert [line.get_label() for line in lines] == ["base: sin(x)", "learned activation 0"]
    with pytest.raises(ValueError, match="unknown `base` 'cube'"):
        plot_meta_activations(grid, curves, base="cube")
    with pytest.raises(ValueError, match="must have shape \\(K, 31\\)"):
        plot_meta_activations(grid, curves[:, :-1])


def test_plot_meta_learning_panels_and_moving_mean(tmp_path):
    steps = 60
    history = {"outer_loss": list(np.linspace(2.0, 1.0, steps)),
               "test_accuracy": list(np.linspace(0.1, 0.6, steps)),
               "diversity": [0.1] * steps}
    figure = plot_meta_learning(history, path=tmp_path / "history.png")
    check_file(tmp_path / "history.png")
    assert [ax.get_ylabel() for ax in figure.axes] == [
        "outer loss (mean inner training loss)", "inner classifier test accuracy",
        "diversity (mean pairwise RMS)"]
    per_step, mean = figure.axes[0].lines
    assert mean.get_label() == "mean of 3 steps"  # a twentieth of the steps
    np.testing.assert_allclose(mean.get_ydata(), np.convolve(
        history["outer_loss"], np.ones(3) / 3, "valid"))
    np.testing.assert_array_equal(mean.get_xdata(), np.arange(3, steps + 1))
    short = plot_meta_learning({k: v[:5] for k, v in history.items()})
    assert [line.get_label() for line in short.axes[1].lines] == ["per step"]
    with pytest.raises(ValueError, match="plot_meta_learning: `history` needs"):
        plot_meta_learning({"outer_loss": [1.0]})


# -------------------------------------------------------------------- files
def test_unsupported_extension_is_an_error(tmp_path):
    figure = plot_histograms(random_outputs())
    with pytest.raises(ValueError, match="unsupported file extension '.jpeg'"):
        save_figure(figure, tmp_path / "h.jpeg")
    with pytest.raises(ValueError, match="unsupported file extension '\\(none\\)'"):
        save_figure(figure, tmp_path / "h")


def test_plots_need_no_pyplot_and_leave_the_backend_alone(tmp_path):
    pyplot_loaded = "matplotlib.pyplot" in sys.modules
    plot_histograms(random_outputs(), path=tmp_path / "h.png")
    assert ("matplotlib.pyplot" in sys.modules) == pyplot_loaded


def test_missing_matplotlib_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match="plotting needs matplotlib"):
        plot_histograms(random_outputs())
    # The curve itself needs only Keras.
    assert activation_curve("relu", X).shape == (X.size, 1)


@pytest.mark.parametrize("module", ["", ".curves", ".histograms", ".training", ".meta_learning",
                                    ".saving"])
def test_docstring_examples(module):
    module = importlib.import_module(f"linked_neurons.plotting{module}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_every_name_of_the_modules_is_at_the_package():
    for name in ("curves", "histograms", "training", "meta_learning", "saving"):
        module = importlib.import_module(f"linked_neurons.plotting.{name}")
        for attr in module.__all__:
            assert getattr(plotting, attr) is getattr(module, attr)
            assert attr in plotting.__all__
