"""Tests of ``linked_neurons.monitoring``: activation statistics and dead units."""

import doctest
import pathlib

import keras
import numpy as np
import pytest
from conftest import BACKEND, run_python

from linked_neurons import LKReLU, Mish, monitoring
from linked_neurons.monitoring import (
    STATISTICS,
    ActivationProbe,
    RunningStatistics,
    activation_statistics,
    dead_units,
    format_table,
    is_activation_layer,
    iterate_batches,
    layer_outputs,
)

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


# ------------------------------------------------------------------ references
def np_statistics(values, channel_axis=-1):
    """Float64 NumPy statistics of a batch of outputs."""
    values = np.asarray(values, dtype=np.float64)
    other = tuple(i for i in range(values.ndim) if i != channel_axis % values.ndim)
    dead = np.all(values == 0, axis=other)
    return {
        "mean": values.mean(),
        "std": values.std(),
        "min": values.min(),
        "max": values.max(),
        "zero_fraction": np.mean(values == 0),
        "negative_fraction": np.mean(values < 0),
        "dead_fraction": np.mean(dead),
        "dead_units": int(dead.sum()),
        "units": dead.size,
    }


def dense_relu_model(weights, bias):
    """Dense with the given weights, then ReLU (and a Mish head to ignore)."""
    model = keras.Sequential(
        [
            keras.Input((weights.shape[0],)),
            keras.layers.Dense(weights.shape[1], name="dense"),
            keras.layers.ReLU(name="relu"),
            keras.layers.Dense(3, name="head"),
            Mish(name="mish"),
        ]
    )
    model.get_layer("dense").set_weights([weights.astype("float32"), bias.astype("float32")])
    return model


@pytest.fixture(scope="module")
def known():
    """A Dense -> ReLU model with chosen weights on non-negative inputs.

    Unit 0 has positive weights (alive), unit 1 negative weights and bias
    (dead), unit 2 zero weights and bias -1 (dead), unit 3 fires only when
    the first input is larger than the second (alive on some samples only).
    """
    weights = np.array(
        [[1.0, -1.0, 0.0, 1.0], [0.5, -2.0, 0.0, -1.0], [0.25, -0.5, 0.0, 0.0]]
    )
    bias = np.array([0.1, -0.1, -1.0, 0.0])
    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 1.0, size=(23, 3)).astype("float32")
    model = dense_relu_model(weights, bias)
    pre = x.astype(np.float64) @ weights + bias
    return model, x, np.maximum(pre, 0.0)


# ------------------------------------------------------------------ detection
@pytest.mark.parametrize(
    "layer, expected",
    [
        (keras.layers.Dense(4, activation="relu"), True),
        (keras.layers.Dense(4), False),
        (keras.layers.Dense(4, activation="linear"), False),
        (keras.layers.Conv2D(4, 3, activation="tanh"), True),
        (keras.layers.Conv2D(4, 3), False),
        (keras.layers.Activation("relu"), True),
        (keras.layers.Activation("linear"), False),
        (keras.layers.ReLU(), True),
        (keras.layers.LeakyReLU(), True),
        (keras.layers.PReLU(), True),
        (keras.layers.ELU(), True),
        (keras.layers.Softmax(), True),
        (LKReLU(), True),
        (Mish(), True),
        (keras.layers.BatchNormalization(), False),
        (keras.layers.Dropout(0.5), False),
        (keras.layers.Flatten(), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, keras.layers.Layer) else str(v),
)
def test_is_activation_layer(layer, expected):
    assert is_activation_layer(layer) is expected


def test_models_are_not_activation_layers():
    inner = keras.Sequential([keras.Input((2,)), keras.layers.ReLU()])
    assert not is_activation_layer(inner)


def test_default_layers_are_the_activations_in_model_order(known):
    model = known[0]
    assert [layer.name for layer in monitoring.activation_layers(model)] == ["relu", "mish"]
    probe = ActivationProbe(model)
    assert probe.names == ["relu", "mish"]


# ----------------------------------------------------------------- statistics
@pytest.mark.parametrize("batch_size", [23, 5, 1])
def test_statistics_equal_numpy(known, batch_size):
    model, x, relu = known
    (row,) = activation_statistics(model, x, layers=["relu"], batch_size=batch_size)
    expected = np_statistics(relu)
    assert row.layer == "relu"
    assert row.shape == (4,)
    assert row.samples == len(x) and row.count == relu.size
    for key in ("mean", "std", "min", "max"):
        np.testing.assert_allclose(getattr(row, key), expected[key], rtol=1e-6, atol=1e-7)
    for key in ("zero_fraction", "negative_fraction", "dead_fraction"):
        assert getattr(row, key) == pytest.approx(expected[key], abs=1e-12)
    assert (row.dead_units, row.units) == (2, 4)


def test_statistics_of_a_signed_activation_equal_numpy(known):
    """Mish after a Dense: negative values, no zeros; both layers at once."""
    model, x, relu = known
    w, b = model.get_layer("head").get_weights()
    pre = relu @ w.astype(np.float64) + b
    mish = pre * np.tanh(np.logaddexp(0.0, pre))
    rows = activation_statistics(model, x, batch_size=7)
    assert [r.layer for r in rows] == ["relu", "mish"]
    expected = np_statistics(mish)
    for key in ("mean", "std", "min", "max"):
        np.testing.assert_allclose(getattr(rows[1], key), expected[key], rtol=2e-5, atol=2e-6)
    assert rows[1].negative_fraction == pytest.approx(expected["negative_fraction"])


def test_streaming_merge_is_exact():
    rng = np.random.default_rng(1)
    values = rng.normal(3.0, 2.0, size=(50, 6, 5)) * (rng.random((50, 6, 5)) > 0.3)
    running = RunningStatistics(channel_axis=-1)
    for start, stop in ((0, 1), (1, 17), (17, 18), (18, 50)):
        running.update(values[start:stop])
    result = running.result()
    expected = np_statistics(values)
    for key in ("mean", "std", "min", "max", "zero_fraction", "negative_fraction"):
        np.testing.assert_allclose(result[key], expected[key], rtol=1e-12, atol=1e-12)
    assert result["count"] == values.size and result["samples"] == 50


def test_sources_of_data_give_the_same_statistics(known):
    model, x, _ = known
    reference = activation_statistics(model, x, batch_size=4)

    def generator():
        for start in range(0, len(x), 6):
            yield x[start : start + 6], np.zeros(len(x[start : start + 6]))

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 3

        def __getitem__(self, index):
            return x[index * 8 : (index + 1) * 8]

    sources = [(x, np.zeros(len(x))), generator(), Batches(), [x]]
    if BACKEND == "tensorflow":
        import tensorflow as tf

        sources.append(tf.data.Dataset.from_tensor_slices((x, np.zeros(len(x)))).batch(5))
    for source in sources:
        rows = activation_statistics(model, source, batch_size=4)
        for got, want in zip(rows, reference):
            assert got.count == want.count
            # float32 sums in another batch grouping: round-off relative to the spread,
            # not to a mean that may sit near 0
            np.testing.assert_allclose(got.mean, want.mean, rtol=1e-6, atol=1e-5 * want.std)
            np.testing.assert_allclose(got.std, want.std, rtol=1e-6)
            assert got.dead_units == want.dead_units


def test_multi_input_model():
    a, b = keras.Input((2,), name="a"), keras.Input((3,), name="b")
    merged = keras.layers.Concatenate()([a, b])
    model = keras.Model([a, b], keras.layers.ReLU(name="relu")(merged))
    xa = np.array([[1.0, -1.0], [2.0, -3.0]], "float32")
    xb = np.array([[0.0, 5.0, -1.0], [0.0, -5.0, 2.0]], "float32")
    result = dead_units(model, [xa, xb], batch_size=1)[0]
    assert result.mask.tolist() == [False, True, True, False, False]
    outputs = layer_outputs(model, ([xa, xb], np.zeros(2)))
    np.testing.assert_array_equal(outputs["relu"], np.maximum(np.concatenate([xa, xb], 1), 0))


# ----------------------------------------------------------------- dead units
def test_dead_units_are_exact_on_a_dense_model(known):
    model, x, relu = known
    (result,) = dead_units(model, x, layers="relu", batch_size=6)
    assert result.mask.tolist() == [False, True, True, False]
    assert (result.dead, result.units, result.fraction) == (2, 4, 0.5)
    assert result.indices.tolist() == [1, 2]
    assert result.samples == len(x)
    # Unit 3 is zero on most samples but not all: alive.
    assert 0 < np.mean(relu[:, 3] == 0) < 1


def conv_relu_model(channels_first=False):
    """Conv2D with chosen 3x3 kernels then ReLU, 4 output channels.

    Channel 0 copies the input (alive through a single pixel), channel 1 its
    negation (dead on non-negative inputs), channel 2 has bias -0.5 (dead),
    channel 3 bias 0.1 (alive everywhere).
    """
    kernel = np.zeros((3, 3, 1, 4), "float32")
    kernel[1, 1, 0, 0] = 1.0
    kernel[1, 1, 0, 1] = -1.0
    bias = np.array([0.0, 0.0, -0.5, 0.1], "float32")
    layers = [
        keras.Input((6, 6, 1)),
        keras.layers.Conv2D(4, 3, padding="same", name="conv"),
        keras.layers.ReLU(name="relu"),
    ]
    if channels_first:
        layers += [keras.layers.Permute((3, 1, 2)), keras.layers.Activation("relu", name="act")]
    model = keras.Sequential(layers)
    model.get_layer("conv").set_weights([kernel, bias])
    return model


def test_dead_units_of_a_conv_layer_are_per_channel():
    model = conv_relu_model()
    x = np.zeros((5, 6, 6, 1), "float32")
    x[3, 2, 4, 0] = 1.0  # one pixel of one sample
    (result,) = dead_units(model, x, batch_size=2)
    assert result.channel_axis == 3
    assert result.mask.tolist() == [False, True, True, False]
    # Without that pixel channel 0 is dead too.
    (result,) = dead_units(model, np.delete(x, 3, axis=0))
    assert result.mask.tolist() == [True, True, True, False]
    (row,) = activation_statistics(model, x)
    assert (row.dead_units, row.units, row.dead_fraction) == (2, 4, 0.5)


def test_channel_axis_argument_and_inference():
    model = conv_relu_model(channels_first=True)
    x = np.zeros((2, 6, 6, 1), "float32")
    x[0, 0, 0, 0] = 2.0
    by_default = {r.layer: r for r in dead_units(model, x)}
    # "act" sees (N, C, H, W) but nothing tells its channel axis: the default is the last.
    assert by_default["relu"].units == 4 and by_default["act"].units == 6
    results = dead_units(model, x, channel_axis={"act": 1})
    assert results[1].channel_axis == 1
    assert results[1].mask.tolist() == [False, True, True, False]
    # A layer's own axis and a data_format upstream are used.
    lk = keras.Sequential([keras.Input((2, 3)), LKReLU(axis=1, name="lk")])
    (result,) = dead_units(lk, np.array([[[1.0, 2.0, 3.0], [-1.0, -2.0, 0.0]]], "float32"))
    assert result.channel_axis == 1 and result.mask.tolist() == [False, True, True, False]
    cf = keras.Sequential(
        [
            keras.Input((3, 4, 4)),
            keras.layers.ZeroPadding2D(1, data_format="channels_first"),
            keras.layers.ReLU(name="relu"),
        ]
    )
    x = np.random.default_rng(0).uniform(0.1, 1.0, (2, 3, 4, 4)).astype("float32")
    x[:, 1] *= -1
    (result,) = dead_units(cf, x)
    assert result.channel_axis == 1 and result.mask.tolist() == [False, True, False]


def test_threshold_counts_small_values_as_zero(known):
    model, x, relu = known
    (row,) = activation_statistics(model, x, layers=["relu"], threshold=10.0)
    assert row.dead_fraction == 1.0 and row.zero_fraction == 1.0
    threshold = float(relu[:, 3].max()) * (1 + 1e-5)
    (result,) = dead_units(model, x, layers=["relu"], threshold=threshold)
    assert result.mask.tolist() == [False, True, True, True]


# --------------------------------------------------------------------- errors
def test_unknown_layer_name_is_a_clear_error(known):
    model = known[0]
    with pytest.raises(ValueError, match="no layer named 'relu_9'.*'dense'"):
        activation_statistics(model, known[1], layers=["relu_9"])


def test_layer_of_another_model_is_a_clear_error(known):
    model, x, _ = known
    other = keras.layers.ReLU(name="relu")
    with pytest.raises(ValueError, match="'relu'.*not a top-level layer of model"):
        dead_units(model, x, layers=[other])


def test_nested_layer_is_a_clear_error():
    inner = keras.Sequential([keras.Input((2,)), keras.layers.ReLU(name="inner_relu")])
    inputs = keras.Input((2,))
    model = keras.Model(inputs, inner(inputs))
    with pytest.raises(ValueError, match="'inner_relu' is inside the nested model"):
        dead_units(model, np.ones((1, 2)), layers="inner_relu")


def test_other_argument_errors(known):
    model, x, _ = known
    with pytest.raises(ValueError, match="listed twice"):
        activation_statistics(model, x, layers=["relu", "relu"])
    with pytest.raises(ValueError, match="`layers` is empty"):
        activation_statistics(model, x, layers=[])
    with pytest.raises(TypeError, match="layer name or a layer, got 3"):
        activation_statistics(model, x, layers=[3])
    with pytest.raises(ValueError, match=r"`threshold` must be a finite real number in \[0, inf\)"):
        dead_units(model, x, threshold=-1.0)
    with pytest.raises(ValueError, match="`batch_size` must be a positive int"):
        dead_units(model, x, batch_size=0)
    with pytest.raises(ValueError, match="no samples"):
        dead_units(model, x[:0])
    with pytest.raises(TypeError, match="`data` must be"):
        dead_units(model, 3.5)
    with pytest.raises(ValueError, match="not monitored: \\['nope'\\]"):
        dead_units(model, x, channel_axis={"nope": 1})
    with pytest.raises(ValueError, match="cannot be 0, the batch axis"):
        dead_units(model, x, channel_axis=0)
    with pytest.raises(TypeError, match="expected a keras.Model"):
        dead_units(keras.layers.ReLU(), x)
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="no activation-like layer"):
        dead_units(plain, x)


def test_subclassed_model_is_a_clear_error():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2, activation="relu")

        def call(self, x):
            return self.dense(x)

    net = Net()
    net(np.ones((1, 3), "float32"))
    with pytest.raises(ValueError, match="no symbolic inputs.*subclassed"):
        activation_statistics(net, np.ones((2, 3), "float32"))


def test_iterate_batches_cuts_arrays_and_reads_tuples():
    x = np.arange(10.0).reshape(5, 2)
    batches = list(iterate_batches((x, np.zeros(5)), batch_size=2))
    assert [b.shape for b in batches] == [(2, 2), (2, 2), (1, 2)]
    np.testing.assert_array_equal(np.concatenate(batches), x)
    dicts = list(iterate_batches({"a": x, "b": x[:, :1]}, batch_size=4))
    assert dicts[1]["b"].shape == (1, 1)


# --------------------------------------------------------------------- tables
def test_format_table_and_rows_as_dicts(known):
    model, x, _ = known
    rows = activation_statistics(model, x)
    table = format_table(rows, ("layer", "dead_units", "dead_fraction"))
    lines = table.splitlines()
    assert lines[0].split("|")[1].strip() == "layer"
    assert lines[2].split("|")[1:4] == [" relu  ", " 2          ", " 0.5000        "]
    assert set(STATISTICS) <= set(rows[0].as_dict())
    dead = dead_units(model, x)
    assert "mask" not in dead[0].as_dict()
    assert format_table([]) == ""


def test_mixed_precision_outputs(known):
    _, x, _ = known
    keras.config.set_dtype_policy("mixed_float16")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu")])
    (row,) = activation_statistics(model, x)
    w, b = (v.astype(np.float64) for v in model.layers[0].get_weights())
    expected = np_statistics(np.maximum(x @ w + b, 0))
    np.testing.assert_allclose(row.mean, expected["mean"], rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(row.std, expected["std"], rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("module", [monitoring, monitoring.statistics], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.slow  # the example script in a subprocess; the README monitoring block runs fast
def test_monitoring_example_runs(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    result = run_python(EXAMPLES / "monitoring.py", "--output-dir", tmp_path, "--epochs", "2")
    out = result.stdout
    assert "| layer" in out and "dead units" in out
    accuracy = float(out.split("test accuracy:")[1].split()[0])
    assert 0.3 < accuracy <= 1.0
    assert (tmp_path / "histograms.png").stat().st_size > 0
    assert list((tmp_path / "logs" / "activations").glob("events.out.tfevents.*"))


def test_running_statistics_keep_the_rest_of_a_batch_with_nan():
    nan = float("nan")
    s = RunningStatistics()
    s.update([[0.5, 1.0, -2.0]])
    s.update([[nan, 3.0, -4.0]])
    r = s.result()
    assert (r["min"], r["max"], r["count"], r["nan_count"], r["samples"]) == (-4.0, 3.0, 5, 1, 2)
    values = np.array([0.5, 1.0, -2.0, 3.0, -4.0])
    np.testing.assert_allclose([r["mean"], r["std"]], [values.mean(), values.std()], rtol=1e-14)
    np.testing.assert_allclose(r["negative_fraction"], 2 / 5)
    assert r["dead_units"] == 0  # the NaN unit is not dead

    first = RunningStatistics()
    first.update([[nan, 2.0], [1.0, -0.5]])
    r = first.result()
    assert (r["min"], r["max"], r["nan_count"]) == (-0.5, 2.0, 1)

    only = RunningStatistics()
    only.update([[nan, nan]])
    r = only.result()
    assert r["nan_count"] == 2 and r["count"] == 0
    assert all(np.isnan(r[k]) for k in ("mean", "std", "min", "max"))


def test_running_statistics_bad_arguments():
    with pytest.raises(TypeError, match="RunningStatistics.*channel_axis.*'a'"):
        RunningStatistics(channel_axis="a")
    with pytest.raises(ValueError, match="RunningStatistics.*threshold.*nan"):
        RunningStatistics(threshold=float("nan"))
    with pytest.raises(ValueError, match="RunningStatistics.*no values"):
        RunningStatistics().result()
    stats = RunningStatistics()
    with pytest.raises(ValueError, match=r"RunningStatistics.update.*batch axis.*\(3,\)"):
        stats.update([1.0, 2.0, 3.0])
    stats.update([[1.0, 2.0]])
    with pytest.raises(ValueError, match=r"RunningStatistics.update.*\(2,\) to \(3,\)"):
        stats.update([[1.0, 2.0, 3.0]])
