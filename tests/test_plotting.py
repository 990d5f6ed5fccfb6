"""Tests of ``linked_neurons.plotting`` (files written to a temporary folder)."""

import doctest
import struct
import sys

import keras
import numpy as np
import pytest
from conftest import np_mish, np_relu, np_selu

from linked_neurons import LKPReLU, plotting
from linked_neurons.plotting import (
    activation_curve,
    plot_activation_curves,
    plot_histogram_comparison,
    plot_histograms,
    plot_learning_curves,
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


def test_docstring_examples():
    result = doctest.testmod(plotting, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
