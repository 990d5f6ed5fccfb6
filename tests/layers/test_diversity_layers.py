"""Diverse learnable activations: NeuralActivation, InterpolatedActivation (SPEC §4)."""

import doctest
import importlib
import json
import os

import keras
import numpy as np
import pytest
from conftest import LayerCase, layer_contract, random_input, value_and_grads
from keras import ops

from linked_neurons.layers.diversity import (
    InterpolatedActivation,
    NeuralActivation,
    block_assignment,
    curve_diversity,
)


# ----------------------------------------------------------------------------- references
def np_blocks(channels, k):
    return np.array([c // (channels // k) for c in range(channels)])


def np_neural(x, weights, axis, k=3, base=np.sin, scale=0.2, assignment=None):
    """g_{a(c)}(x) = base(x) + scale * (sum_h w2 tanh(w1 x + b1) + b2), float64 loops."""
    w1, b1, w2, b2 = weights
    x = np.moveaxis(x, axis, -1)
    channels = x.shape[-1]
    assignment = np_blocks(channels, k) if assignment is None else assignment
    out = np.empty_like(x)
    for c in range(channels):
        j = assignment[c]
        xc = x[..., c]
        mlp = np.tanh(xc[..., None] * w1[j] + b1[j]) @ w2[j] + b2[j]
        out[..., c] = base(xc) + scale * mlp
    return np.moveaxis(out, -1, axis)


def np_interp_layer(x, weights, axis, k=3, knots=None):
    (y,) = weights
    x = np.moveaxis(x, axis, -1)
    knots = np.linspace(-5, 5, y.shape[1]) if knots is None else knots
    assignment = np_blocks(x.shape[-1], k)
    out = np.empty_like(x)
    for c in range(x.shape[-1]):
        yc = y[assignment[c]]
        xc = x[..., c]
        inside = np.interp(xc, knots, yc)
        left = yc[0] + (yc[1] - yc[0]) / (knots[1] - knots[0]) * (xc - knots[0])
        right = yc[-1] + (yc[-1] - yc[-2]) / (knots[-1] - knots[-2]) * (xc - knots[-1])
        out[..., c] = np.where(xc < knots[0], left, np.where(xc > knots[-1], right, inside))
    return np.moveaxis(out, -1, axis)


def _torch_like_init(rng, shape, name):
    bound = 1.0 if name in ("w1", "b1") else 1.0 / np.sqrt(8)
    return rng.uniform(-bound, bound, size=shape)


Y9 = np.random.default_rng(11).normal(size=(3, 9))

CASES = [
    LayerCase(NeuralActivation, np_neural,
              kwargs={"n_activations": 3, "hidden_units": 8}, weight_init=_torch_like_init,
              id="NeuralActivation-K3"),
    LayerCase(NeuralActivation,
              lambda x, w, a: np_neural(x, w, a, k=1, base=np.tanh),
              kwargs={"n_activations": 1, "hidden_units": 8, "base": "tanh"},
              input_shape=(4, 6), weight_init=_torch_like_init, id="NeuralActivation-tanh-dense"),
    LayerCase(InterpolatedActivation, np_interp_layer, kwargs={"y_values": Y9, "trainable": True},
              id="InterpolatedActivation-trainable"),
]


class TestContract(layer_contract(CASES)):
    @pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
    def test_channels_first(self, checker, case):
        """``axis=1`` on NCHW equals ``axis=-1`` on NHWC: the weights are per activation,
        not per channel, so they are copied unchanged."""
        last_shape = case.input_shape
        first_shape = (last_shape[0], last_shape[-1]) + tuple(last_shape[1:-1])
        perm = (0, len(last_shape) - 1) + tuple(range(1, len(last_shape) - 1))
        x = random_input(last_shape, 5).astype("float32")
        last = checker.built(case, shape=last_shape)
        first = case.make(axis=1)
        first.build(first_shape)
        first.set_weights(last.get_weights())
        y_last = ops.convert_to_numpy(last(x))
        y_first = ops.convert_to_numpy(first(np.transpose(x, perm)))
        np.testing.assert_allclose(np.transpose(y_last, perm), y_first, rtol=1e-6, atol=1e-6)
        assert first.compute_output_shape(first_shape) == y_first.shape


# ----------------------------------------------------------------------------- NeuralActivation
@pytest.mark.parametrize("base,fn", [("sin", np.sin), ("tanh", np.tanh),
                                     ("elu", lambda z: np.where(z > 0, z, np.expm1(z)))])
def test_zeroed_mlp_equals_base(base, fn):
    layer = NeuralActivation(1, base=base, dtype="float64")
    layer.build((None, 5))
    layer.set_weights([np.zeros(w.shape) for w in layer.weights])
    x = random_input((3, 5))
    np.testing.assert_allclose(ops.convert_to_numpy(layer(x)), fn(x), rtol=1e-14, atol=1e-15)


def test_registry_base_names_work():
    layer = NeuralActivation(1, base="mish", dtype="float64")
    layer.build((None, 4))
    layer.set_weights([np.zeros(w.shape) for w in layer.weights])
    x = random_input((2, 4))
    np.testing.assert_allclose(ops.convert_to_numpy(layer(x)),
                               x * np.tanh(np.logaddexp(0, x)), rtol=1e-12)


def test_blocks_assignment():
    for channels, k in [(6, 3), (12, 4), (5, 1), (200, 4)]:
        expected = np.array([c // (channels // k) for c in range(channels)])
        np.testing.assert_array_equal(block_assignment(channels, k), expected)
    layer = NeuralActivation(4, hidden_units=5)
    layer.build((None, 12))
    np.testing.assert_array_equal(layer.channel_assignment, np.repeat(np.arange(4), 3))
    # channel c really uses curve assignment[c]
    x = np.linspace(-3, 3, 7).astype("float32")
    curves = ops.convert_to_numpy(layer.sample(x))
    y = ops.convert_to_numpy(layer(np.repeat(x[:, None], 12, axis=1)))
    for c in range(12):
        np.testing.assert_allclose(y[:, c], curves[c // 3], rtol=1e-6, atol=1e-6)


def test_explicit_assignment():
    assignment = [2, 0, 1, 0, 2]
    layer = NeuralActivation(3, hidden_units=6, assignment=assignment, dtype="float64")
    layer.build((None, 5))
    weights = [np.random.default_rng(1).normal(size=w.shape) for w in layer.weights]
    layer.set_weights(weights)
    x = random_input((4, 5))
    expected = np_neural(x, weights, -1, k=3, assignment=assignment)
    np.testing.assert_allclose(ops.convert_to_numpy(layer(x)), expected, rtol=1e-12)
    assert layer.get_config()["assignment"] == assignment
    with pytest.raises(ValueError, match="NeuralActivation.*5 entries.*4 channels"):
        NeuralActivation(3, assignment=assignment)(np.ones((2, 4), "float32"))
    with pytest.raises(ValueError, match="NeuralActivation.*indices in \\[0, 2\\]"):
        NeuralActivation(3, assignment=[0, 3])


def test_pytorch_style_init_ranges():
    layer = NeuralActivation(4, hidden_units=50, seed=3)
    layer.build((None, 8))
    w1, b1, w2, b2 = (ops.convert_to_numpy(w) for w in layer.weights)
    bound = 1 / np.sqrt(50)
    for w, b in ((w1, 1.0), (b1, 1.0), (w2, bound), (b2, bound)):
        assert np.all(np.abs(w) <= b)
        if w.size > 100:  # spread over the whole range
            assert np.max(np.abs(w)) > 0.9 * b and np.min(np.abs(w)) < 0.1 * b
    assert layer.count_params() == 4 * 151
    # seeded: the same seed gives the same weights, sub-networks differ from each other
    other = NeuralActivation(4, hidden_units=50, seed=3)
    other.build((None, 8))
    np.testing.assert_array_equal(ops.convert_to_numpy(other.w1), w1)
    assert not np.allclose(w1[0], w1[1])


def test_noise_only_in_training():
    layer = NeuralActivation(2, hidden_units=8, noise=0.1, seed=0)
    x = random_input((4, 6)).astype("float32")
    a = ops.convert_to_numpy(layer(x))
    b = ops.convert_to_numpy(layer(x, training=False))
    np.testing.assert_array_equal(a, b)
    t1 = ops.convert_to_numpy(layer(x, training=True))
    t2 = ops.convert_to_numpy(layer(x, training=True))
    assert not np.allclose(t1, a) and not np.allclose(t1, t2)
    # bounded: |delta| <= scale * noise * sum_h |w2|
    bound = 0.2 * 0.1 * np.abs(ops.convert_to_numpy(layer.w2)).sum(axis=1).max()
    assert np.max(np.abs(t1 - a)) <= bound + 1e-6


def test_sample_diversity_and_to_interpolated():
    layer = NeuralActivation(3, hidden_units=10, seed=4)
    layer.build((None, 6))
    grid = np.linspace(-5, 5, 201)
    curves = ops.convert_to_numpy(layer.sample(grid)).astype("float64")
    expected = curve_diversity(curves)
    manual = np.mean([np.sqrt(np.mean((curves[i] - curves[j]) ** 2))
                      for i in range(3) for j in range(i + 1, 3)])
    assert expected == pytest.approx(manual, rel=1e-12)
    assert layer.diversity() == pytest.approx(manual, rel=1e-6)
    assert layer.diversity() > 0
    single = NeuralActivation(1, hidden_units=4)
    single.build((None, 3))
    assert single.diversity() == 0.0
    interp = layer.to_interpolated(num_points=401)
    x = random_input((5, 6), scale=1.5).astype("float32")
    # the sub-networks are smooth: 401 knots on [-5, 5] reproduce them closely
    np.testing.assert_allclose(ops.convert_to_numpy(interp(x)), ops.convert_to_numpy(layer(x)),
                               atol=2e-3)


# ----------------------------------------------------------------------------- interpolation
def test_interpolation_matches_numpy_interp_and_extrapolates_linearly():
    rng = np.random.default_rng(0)
    knots = np.sort(rng.uniform(-4, 4, 12))
    y = rng.normal(size=(2, 12))
    layer = InterpolatedActivation(y, x_values=knots, dtype="float64")
    x = rng.uniform(-6, 6, size=(50, 4))
    out = ops.convert_to_numpy(layer(x))
    for c in range(4):
        k = c // 2
        inside = (x[:, c] >= knots[0]) & (x[:, c] <= knots[-1])
        np.testing.assert_allclose(out[inside, c], np.interp(x[inside, c], knots, y[k]),
                                   rtol=1e-12, atol=1e-12)
        lo = x[:, c] < knots[0]
        slope0 = (y[k, 1] - y[k, 0]) / (knots[1] - knots[0])
        np.testing.assert_allclose(out[lo, c], y[k, 0] + slope0 * (x[lo, c] - knots[0]),
                                   rtol=1e-12)
        hi = x[:, c] > knots[-1]
        slope1 = (y[k, -1] - y[k, -2]) / (knots[-1] - knots[-2])
        np.testing.assert_allclose(out[hi, c], y[k, -1] + slope1 * (x[hi, c] - knots[-1]),
                                   rtol=1e-12)
    const = InterpolatedActivation(y, x_values=knots, extrapolation="constant", dtype="float64")
    far = np.array([[-10.0, 10.0, -10.0, 10.0]])
    np.testing.assert_allclose(ops.convert_to_numpy(const(far))[0],
                               [y[0, 0], y[0, -1], y[1, 0], y[1, -1]])


def test_interpolation_gradient_is_segment_slope():
    knots = np.array([-2.0, -0.5, 1.0, 3.0])
    y = np.array([[1.0, -1.0, 0.5, 2.5]])
    layer = InterpolatedActivation(y, x_values=knots, dtype="float64")
    x = np.array([[-3.0, -1.0, 0.2, 2.0, 4.0]])
    _, (dx,) = value_and_grads(lambda x: ops.sum(layer(x)), [x])
    slopes = np.diff(y[0]) / np.diff(knots)
    np.testing.assert_allclose(dx[0], [slopes[0], slopes[0], slopes[1], slopes[2], slopes[2]],
                               rtol=1e-12)


def test_select_rows():
    y = np.arange(12.0).reshape(3, 4)
    layer = InterpolatedActivation(y, select=1)
    np.testing.assert_array_equal(layer.initial_y_values, y[1:2])
    both = InterpolatedActivation(y, select=[2, 0])
    np.testing.assert_array_equal(both.initial_y_values, y[[2, 0]])
    with pytest.raises(ValueError, match="InterpolatedActivation.*select"):
        InterpolatedActivation(y, select=5)


def test_file_round_trips(tmp_path):
    rng = np.random.default_rng(5)
    y = rng.normal(size=(3, 11))
    # DiversityNN text format: one row per activation, N columns, knots linspace(-5, 5, N)
    text = os.path.join(str(tmp_path), "activations.txt")
    np.savetxt(text, y)
    layer = InterpolatedActivation.from_file(text)
    np.testing.assert_allclose(layer.initial_y_values, y, rtol=1e-15)
    np.testing.assert_allclose(layer.x_values, np.linspace(-5, 5, 11))
    x = random_input((4, 6)).astype("float32")
    ref = ops.convert_to_numpy(layer(x))
    for ext in ("npz", "json"):
        path = os.path.join(str(tmp_path), f"curves.{ext}")
        layer.save(path, metadata={"base": "sin", "outer_steps": 3})
        again = InterpolatedActivation.from_file(path)
        np.testing.assert_array_equal(again.x_values, layer.x_values)
        np.testing.assert_array_equal(ops.convert_to_numpy(again(x)), ref)
    with open(os.path.join(str(tmp_path), "curves.json")) as f:
        assert json.load(f)["metadata"]["outer_steps"] == 3
    single = InterpolatedActivation.from_file(text, select=2)
    assert single.n_activations == 1


def test_neural_to_interpolated_file_round_trip(tmp_path):
    layer = NeuralActivation(2, hidden_units=6, seed=1)
    layer.build((None, 4))
    interp = layer.to_interpolated(num_points=51)
    path = os.path.join(str(tmp_path), "learned.npz")
    interp.save(path)
    again = InterpolatedActivation.from_file(path)
    x = random_input((3, 4)).astype("float32")
    np.testing.assert_array_equal(ops.convert_to_numpy(again(x)), ops.convert_to_numpy(interp(x)))


# ----------------------------------------------------------------------------- errors
def test_errors_name_the_layer():
    with pytest.raises(ValueError, match="NeuralActivation.*7 channels.*divisible by K = 3"):
        NeuralActivation(3)(np.ones((2, 7), "float32"))
    with pytest.raises(ValueError, match="InterpolatedActivation.*5 channels.*divisible by K = 2"):
        InterpolatedActivation(np.zeros((2, 4)))(np.ones((2, 5), "float32"))
    with pytest.raises(ValueError, match="NeuralActivation.*unknown base activation 'sine'"):
        NeuralActivation(base="sine")
    with pytest.raises(ValueError, match="NeuralActivation.*base activation 'lkrelu'"):
        NeuralActivation(base="lkrelu")
    with pytest.raises(ValueError, match="NeuralActivation.*hidden_activation"):
        NeuralActivation(hidden_activation="softsign")
    with pytest.raises(ValueError, match=r"NeuralActivation.*hidden_activation.*\['tanh'\]"):
        NeuralActivation(hidden_activation=["tanh"])  # unhashable: was a bare TypeError
    with pytest.raises(ValueError, match=r"NeuralActivation.*n_activations.*\[1, inf\).*0"):
        NeuralActivation(0)
    with pytest.raises(ValueError, match="NeuralActivation.*noise"):
        NeuralActivation(noise=-1.0)
    with pytest.raises(ValueError, match="InterpolatedActivation.*shape \\(K, N\\).*\\(2, 3, 4\\)"):
        InterpolatedActivation(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="InterpolatedActivation.*N >= 2.*\\(3, 1\\)"):
        InterpolatedActivation(np.zeros((3, 1)))
    with pytest.raises(ValueError, match="InterpolatedActivation.*strictly increasing"):
        InterpolatedActivation(np.zeros((1, 3)), x_values=[0.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="InterpolatedActivation.*x_values.*shape \\(3,\\)"):
        InterpolatedActivation(np.zeros((1, 3)), x_values=[0.0, 1.0])
    with pytest.raises(ValueError, match="InterpolatedActivation.*extrapolation"):
        InterpolatedActivation(np.zeros((1, 3)), extrapolation="cubic")
    with pytest.raises(TypeError, match="InterpolatedActivation.*floating-point.*int32"):
        InterpolatedActivation(np.zeros((1, 3)))(np.ones((2, 3), "int32"))
    with pytest.raises(TypeError, match="NeuralActivation.*floating-point.*int64"):
        NeuralActivation(1)(np.ones((2, 3), "int64"))


def test_registry_names():
    from linked_neurons import activations

    layer = activations.get("neural", n_activations=2, axis=1)
    assert isinstance(layer, NeuralActivation) and layer.axis == 1
    interp = activations.get("interpolated", y_values=[[0.0, 1.0]])
    assert isinstance(interp, InterpolatedActivation)


def test_mixed_precision_keeps_float32_variables():
    keras.config.set_dtype_policy("mixed_bfloat16")
    layer = NeuralActivation(2, hidden_units=4)
    y = layer(np.ones((2, 4), "float32"))
    assert keras.backend.standardize_dtype(y.dtype) == "bfloat16"
    assert all(keras.backend.standardize_dtype(w.dtype) == "float32" for w in layer.weights)


def test_docstrings():
    attempted = 0
    for name in ("common", "neural", "interpolated", "files"):
        module = importlib.import_module(f"linked_neurons.layers.diversity.{name}")
        result = doctest.testmod(
            module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0, name
        attempted += result.attempted
    assert attempted >= 6


# ----------------------------------------------------------------------------- bad values
@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"base": "prelu"}, ValueError, ["NeuralActivation", "'prelu'", "weight-free"]),
        ({"residual_scale": float("nan")}, ValueError, ["residual_scale", "nan"]),
        ({"residual_scale": float("inf")}, ValueError, ["residual_scale", "inf"]),
        ({"noise": float("nan")}, ValueError, ["`noise`", "nan"]),
        ({"noise": float("inf")}, ValueError, ["`noise`", "inf"]),
        ({"seed": "abc"}, TypeError, ["`seed`", "'abc'"]),
        ({"seed": -1}, ValueError, ["`seed`", "-1"]),
        ({"hidden_units": 2.5}, ValueError, ["`hidden_units`", "2.5"]),
        ({"n_activations": "2"}, TypeError, ["`n_activations`", "'2'"]),
    ],
)
def test_neural_activation_bad_values_name_the_argument(kwargs, error, words):
    with pytest.raises(error) as info:
        NeuralActivation(**kwargs)
    for word in ["NeuralActivation", *words]:
        assert word in str(info.value), (word, str(info.value))


def test_noise_generator_state_survives_save_and_load(tmp_path):
    x = random_input((16, 4), seed=3).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = keras.Sequential([
        keras.Input((4,)), keras.layers.Dense(4),
        NeuralActivation(2, hidden_units=3, noise=0.3, seed=1), keras.layers.Dense(1),
    ])
    model.compile("sgd", "mse")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, shuffle=False)
    path = os.path.join(str(tmp_path), "noisy.keras")
    model.save(path)
    again = keras.models.load_model(path)
    for m in (model, again):
        m.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)


def _write(path, content, mode="w"):
    with open(path, mode) as f:
        f.write(content)
    return path


def test_file_loaders_name_the_file(tmp_path):
    d = str(tmp_path)
    good = os.path.join(d, "good.npz")
    InterpolatedActivation(np.zeros((2, 5))).save(good)
    with open(good, "rb") as f:
        truncated = _write(os.path.join(d, "truncated.npz"), f.read()[:60], "wb")
    bad_meta = os.path.join(d, "bad_meta.npz")
    np.savez(bad_meta, y_values=np.zeros((1, 3)), x_values=np.arange(3.0),
             metadata=np.asarray("{not json"))
    cases = [
        _write(os.path.join(d, "malformed.json"), '{"y_values": [[1, 2, 3]'),
        _write(os.path.join(d, "strings.json"), json.dumps({"y_values": [["a", "b"]]})),
        _write(os.path.join(d, "ragged.json"), json.dumps({"y_values": [[1, 2, 3], [1, 2]]})),
        _write(os.path.join(d, "meta_list.json"),
               json.dumps({"y_values": [[1, 2, 3]], "metadata": [1, 2]})),
        truncated,
        bad_meta,
    ]
    for path in cases:
        with pytest.raises(ValueError) as info:
            InterpolatedActivation.from_file(path)
        assert "InterpolatedActivation" in str(info.value) and path in str(info.value), (
            path, str(info.value))
    text = os.path.join(d, "curves.txt")
    np.savetxt(text, np.zeros((1, 4)))
    with pytest.raises(TypeError, match=r"from_file.*`x_range`.*'ab'"):
        InterpolatedActivation.from_file(text, x_range="ab")
    with pytest.raises(ValueError, match=r"from_file.*`x_range`.*nan"):
        InterpolatedActivation.from_file(text, x_range=(0.0, float("nan")))
    with pytest.raises(ValueError, match=r"strictly increasing.*curves\.txt"):
        InterpolatedActivation.from_file(text, x_range=(1.0, -1.0))
