"""Learnable activations LEAF and AHAF (SPEC §3)."""

import doctest
import importlib

import keras
import numpy as np
import pytest
from conftest import (
    LayerCase,
    LayerChecker,
    layer_contract,
    np_sigmoid,
    random_input,
    value_and_grads,
)
from keras import ops

from linked_neurons import activations
from linked_neurons.layers.learnable import AHAF, LEAF
from linked_neurons.ops import learnable as learnable_ops


# ----------------------------------------------------------------------------- references
def np_leaf(x, p1, p2, p3, p4):
    return (p1 * x + p2) * np_sigmoid(p3 * x) + p4


def np_ahaf(x, beta, gamma):
    return beta * x * np_sigmoid(gamma * x)


def _leaf_ref(x, weights, axis):
    return np_leaf(x, *weights)


def _ahaf_ref(x, weights, axis):
    return np_ahaf(x, *weights)


def _leaf_weights(rng, shape, name):
    """Values around a trained LEAF: p1, p3 near 1, p2, p4 near 0."""
    center = {"p1": 1.0, "p2": 0.0, "p3": 1.0, "p4": 0.0, "beta": 1.0, "gamma": 1.0}[name]
    return center + 0.3 * rng.normal(size=shape)


# Explicit inits whose parameters all receive gradient in the training-step check
# (the "relu" init's p3 = 2**16 moves by less than its float32 spacing).
_LEAF_INIT = (1.0, 0.1, 1.5, -0.1)

PER_NEURON = [
    LayerCase(LEAF, _leaf_ref, kwargs={"init": _LEAF_INIT}, weight_init=_leaf_weights,
              id="LEAF-per-neuron"),
    LayerCase(AHAF, _ahaf_ref, kwargs={"init": "silu"}, input_shape=(4, 7),
              weight_init=_leaf_weights, id="AHAF-per-neuron-dense"),
]
SHARED = [
    LayerCase(LEAF, _leaf_ref, kwargs={"init": _LEAF_INIT, "shared_axes": "spatial"},
              weight_init=_leaf_weights, id="LEAF-per-channel"),
    LayerCase(LEAF, _leaf_ref, kwargs={"init": "tanh", "shared_axes": "all"},
              weight_init=_leaf_weights, id="LEAF-scalar"),
    LayerCase(AHAF, _ahaf_ref, kwargs={"init": (1.0, 2.0), "shared_axes": [1]},
              input_shape=(3, 4, 6), weight_init=_leaf_weights, id="AHAF-shared-axis-1"),
]


TestContractShared = layer_contract(SHARED)


class TestContractPerNeuron(layer_contract(PER_NEURON)):
    @pytest.mark.parametrize("case", PER_NEURON, ids=[c.id for c in PER_NEURON])
    def test_unknown_sizes(self, checker, case):
        """Per-neuron parameters need known sizes: a clear error names the axis."""
        if len(case.input_shape) == 2:
            inputs = keras.Input((None,))
            axis = 1
        else:
            inputs = keras.Input((None, None, case.input_shape[-1]))
            axis = 1
        with pytest.raises(ValueError, match=f"{case.cls.__name__}.*axis {axis}.*unknown"):
            case.make()(inputs)


# ----------------------------------------------------------------------------- init identities
X_GRID = np.concatenate([-np.logspace(-4, 2, 50)[::-1], [0.0], np.logspace(-4, 2, 50)])


def _eval(layer, x, dtype="float32"):
    return ops.convert_to_numpy(layer(np.asarray(x, dtype=dtype)[None, :]))[0]


def test_leaf_silu_init_is_exactly_silu():
    x = random_input((64,), seed=3).astype("float32")
    y = _eval(LEAF(init="silu"), x)
    expected = ops.convert_to_numpy(ops.multiply(x, ops.sigmoid(x)))
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_allclose(_eval(LEAF(init="silu", dtype="float64"), x, "float64"),
                               x * np_sigmoid(x.astype("float64")), rtol=1e-14, atol=1e-15)


def test_leaf_sigmoid_init_is_exactly_sigmoid():
    x = random_input((64,), seed=4).astype("float32")
    y = _eval(LEAF(init="sigmoid"), x)
    np.testing.assert_array_equal(y, ops.convert_to_numpy(ops.sigmoid(x)))


def test_leaf_tanh_init_is_tanh():
    x = X_GRID.astype("float32")
    np.testing.assert_allclose(_eval(LEAF(init="tanh"), x), np.tanh(X_GRID), atol=2e-7)
    y64 = _eval(LEAF(init="tanh", dtype="float64"), X_GRID, "float64")
    np.testing.assert_allclose(y64, np.tanh(X_GRID), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("cls", [LEAF, AHAF])
def test_relu_init_is_relu(cls):
    """Within 1e-4 away from 0 (the largest deviation is 0.28 / 2**16 ~ 4.3e-6)."""
    y = _eval(cls(init="relu"), X_GRID)
    np.testing.assert_allclose(y, np.maximum(X_GRID, 0), rtol=0, atol=1e-4)
    np.testing.assert_allclose(y, np.maximum(X_GRID, 0), rtol=0, atol=5e-6)
    away = np.abs(X_GRID) >= 1e-3
    np.testing.assert_allclose(y[away], np.maximum(X_GRID, 0)[away], rtol=1e-6, atol=1e-30)


def test_ahaf_silu_init_is_exactly_silu():
    x = random_input((64,), seed=5).astype("float32")
    y = _eval(AHAF(init="silu"), x)
    np.testing.assert_array_equal(y, ops.convert_to_numpy(ops.multiply(x, ops.sigmoid(x))))


def test_init_values_and_names():
    layer = LEAF()
    layer.build((None, 3))
    assert [w.name for w in layer.weights] == ["p1", "p2", "p3", "p4"]
    values = [ops.convert_to_numpy(w)[0] for w in layer.weights]
    assert values == [1.0, 0.0, 65536.0, 0.0]
    ahaf = AHAF(init="relu")
    ahaf.build((None, 3))
    assert [w.name for w in ahaf.weights] == ["beta", "gamma"]
    assert [ops.convert_to_numpy(w)[0] for w in ahaf.weights] == [1.0, 65536.0]
    assert layer.p2 is layer.weights[1] and ahaf.gamma is ahaf.weights[1]


# ----------------------------------------------------------------------------- float16 hazard
BIG = np.array([-1e4, -300.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 300.0, 1e4])


@pytest.mark.parametrize("policy", ["float32", "mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("cls", [LEAF, AHAF])
@pytest.mark.parametrize("fused", [True, False])
def test_relu_init_finite_and_correct_under_every_policy(policy, cls, fused):
    keras.config.set_dtype_policy(policy)
    layer = cls(init="relu", fused=fused)
    layer.build((None, BIG.size))
    assert all(keras.backend.standardize_dtype(w.dtype) == "float32" for w in layer.weights)
    x = BIG[None, :].astype("float32")
    compute = layer.compute_dtype

    def loss(x, *weights):
        y, _ = layer.stateless_call(list(weights), [], ops.cast(x, compute))
        return ops.sum(ops.cast(y, "float32"))

    weights = [ops.convert_to_numpy(w) for w in layer.trainable_weights]
    y = ops.convert_to_numpy(ops.cast(layer(x), "float32"))[0]
    assert np.all(np.isfinite(y)), y
    x_c = ops.convert_to_numpy(ops.cast(ops.cast(x, compute), "float32"))[0].astype("float64")
    np.testing.assert_allclose(y, np.maximum(x_c, 0), rtol=1e-2, atol=1e-5)
    _, grads = value_and_grads(loss, [x, *weights])
    for g in grads:
        assert np.all(np.isfinite(g)), g
    # relu'(x) = 1[x > 0] (0.5 at 0: sigma(0))
    dx = grads[0][0]
    np.testing.assert_allclose(dx, np.where(x_c > 0, 1.0, np.where(x_c < 0, 0.0, 0.5)), atol=1e-3)


def test_float16_policy_keeps_float32_variables():
    layer = LEAF(dtype="float16")
    layer.build((None, 4))
    assert all(keras.backend.standardize_dtype(w.dtype) == "float32" for w in layer.weights)
    y = ops.convert_to_numpy(layer(np.array([[0.0, 1.0, -1.0, 1e4]], "float16")))
    assert y.dtype == np.float16 and np.all(np.isfinite(y))
    np.testing.assert_array_equal(y, [[0.0, 1.0, 0.0, 1e4]])


# ----------------------------------------------------------------------------- gradients
def _spec_grads(kind, x, weights, g, shape):
    """SPEC §3 gradients in float64, summed to the parameter shape."""
    lead = x.ndim - len(shape)

    def reduce(t):
        axes = tuple(range(lead)) + tuple(
            lead + i for i, d in enumerate(shape) if d == 1 and t.shape[lead + i] != 1
        )
        return np.sum(t, axis=axes).reshape(shape) if axes else t.reshape(shape)

    if kind == "LEAF":
        p1, p2, p3, _ = weights
        s = np_sigmoid(p3 * x)
        ds = s * (1 - s)
        dx = g * (p1 * s + (p1 * x + p2) * ds * p3)
        return dx, [reduce(g * x * s), reduce(g * s), reduce(g * (p1 * x + p2) * ds * x),
                    reduce(g)]
    beta, gamma = weights
    s = np_sigmoid(gamma * x)
    ds = s * (1 - s)
    return g * beta * (s + x * ds * gamma), [reduce(g * x * s), reduce(g * beta * x * x * ds)]


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("case", PER_NEURON + SHARED, ids=[c.id for c in PER_NEURON + SHARED])
def test_gradients_of_every_parameter_match_spec(case, fused):
    layer = LayerChecker.built(case, dtype="float64", fused=fused)
    x = random_input(case.input_shape, seed=11)
    g = np.random.default_rng(12).normal(size=case.input_shape)
    weights = LayerChecker.weights64(layer)

    def loss(x, *w):
        y, _ = layer.stateless_call(list(w), [], x)
        return ops.sum(y * ops.convert_to_tensor(g))

    _, grads = value_and_grads(loss, [x, *weights])
    shape = tuple(weights[0].shape)
    dx, dparams = _spec_grads(case.cls.__name__, x, weights, g, shape)
    np.testing.assert_allclose(grads[0], dx, rtol=1e-10, atol=1e-12)
    assert len(dparams) == len(case.cls.PARAMS)
    for name, got, want in zip(case.cls.PARAMS, grads[1:], dparams):
        assert got.shape == want.shape, name
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10, err_msg=name)


def test_ops_accept_numbers_and_broadcast_parameters():
    x = random_input((2, 3, 4), seed=2)
    p = [np.full((4,), v) for v in (0.5, 0.2, 1.5, -0.3)]
    y = ops.convert_to_numpy(learnable_ops.leaf(x, *p))
    np.testing.assert_allclose(y, np_leaf(x, *p), rtol=1e-12)
    y = ops.convert_to_numpy(learnable_ops.ahaf(x, 2.0, 0.5, fused=False))
    np.testing.assert_allclose(y, np_ahaf(x, 2.0, 0.5), rtol=1e-12)
    with pytest.raises(TypeError, match="floating point"):
        learnable_ops.leaf(x, np.array([1], "int32"), 0.0, 1.0, 0.0)


# ----------------------------------------------------------------------------- shapes & config
def test_parameter_shapes():
    shapes = [
        (None, (7, 5, 3)),
        ("spatial", (1, 1, 3)),
        ("all", ()),
        (1, (1, 5, 3)),
        ([1, 2], (1, 1, 3)),
        ([-1], (7, 5, 1)),
    ]
    for shared, shape in shapes:
        layer = LEAF(shared_axes=shared)
        layer.build((None, 7, 5, 3))
        assert all(tuple(w.shape) == shape for w in layer.weights), (shared, layer.weights)
    first = AHAF(shared_axes="spatial", axis=1)
    first.build((None, 3, 7, 5))
    assert tuple(first.beta.shape) == (3, 1, 1)
    assert LEAF(shared_axes="all").param_shape((None, 2, 2)) == ()


def test_count_params():
    layer = LEAF()
    layer.build((None, 24, 24, 20))
    assert layer.count_params() == 4 * 24 * 24 * 20
    ahaf = AHAF(shared_axes="spatial")
    ahaf.build((None, 24, 24, 20))
    assert ahaf.count_params() == 40


def test_input_spec_rejects_other_sizes():
    model = keras.Sequential([keras.Input((4, 3)), LEAF()])
    with pytest.raises(ValueError, match="leaf|LEAF|incompatible|expected"):
        model(np.ones((2, 5, 3), "float32"))


def test_config_with_initializers_and_regularizers():
    layer = LEAF(
        init=(1.0, keras.initializers.RandomNormal(stddev=0.1, seed=1), 2, "zeros"),
        p2_regularizer="l2",
        p4_regularizer=keras.regularizers.L1(0.1),
        p3_constraint="non_neg",
        shared_axes="spatial",
        axis=1,
        name="act",
    )
    config = layer.get_config()
    assert config["init"][0] == 1.0 and config["init"][2] == 2.0
    assert config["p1_regularizer"] is None and config["p2_regularizer"] is not None
    clone = LEAF.from_config(config)
    assert clone.get_config() == config
    clone.build((None, 3, 4, 4))
    assert tuple(clone.p1.shape) == (3, 1, 1)
    _ = clone(np.ones((1, 3, 4, 4), "float32"))
    assert len(clone.losses) == 2  # p2 and p4
    assert clone.p3.constraint is not None and clone.p1.constraint is None
    np.testing.assert_array_equal(ops.convert_to_numpy(clone.p4), 0.0)


def test_constraint_applies_per_parameter_in_training():
    keras.utils.set_random_seed(0)
    layer = AHAF(init="silu", gamma_constraint=keras.constraints.MaxNorm(0.0, axis=[]))
    model = keras.Sequential([keras.Input((3,)), layer, keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.train_on_batch(np.ones((4, 3), "float32"), np.ones((4, 1), "float32"))
    np.testing.assert_array_equal(ops.convert_to_numpy(layer.gamma), 0.0)
    assert not np.allclose(ops.convert_to_numpy(layer.beta), 1.0)


def test_registry_names_and_axis():
    layer = activations.get("leaf", axis=1, init="tanh", shared_axes="spatial")
    assert isinstance(layer, LEAF) and layer.axis == 1 and layer.init == "tanh"
    assert isinstance(activations.get("AHAF"), AHAF)
    assert activations.channel_multiplier("leaf") == 1
    # the model builder's call in a convolutional block with known spatial sizes
    out = activations.get("leaf", axis=-1)(keras.Input((8, 8, 4)))
    assert tuple(out.shape) == (None, 8, 8, 4)


# ----------------------------------------------------------------------------- bad inputs
def test_bad_init_names_and_values():
    with pytest.raises(ValueError, match=r"LEAF layer .*unknown `init` 'elu'.*'relu', 'silu'"):
        LEAF(init="elu")
    with pytest.raises(ValueError, match=r"AHAF layer .*unknown `init` 'tanh'"):
        AHAF(init="tanh")
    with pytest.raises(ValueError, match=r"LEAF layer .*needs 4 values \(p1, p2, p3, p4\).*got 3"):
        LEAF(init=(1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match=r"AHAF layer .*needs 2 values \(beta, gamma\).*got 4"):
        AHAF(init=[1, 2, 3, 4])
    with pytest.raises(TypeError, match=r"LEAF layer .*`init` must be"):
        LEAF(init=3.0)
    with pytest.raises(TypeError, match=r"LEAF layer .*initial value of `p2`.*number or a Keras"):
        LEAF(init=(1.0, "no_such_initializer", 1.0, 0.0))
    with pytest.raises(TypeError, match=r"AHAF layer .*initial value of `beta`"):
        AHAF(init=(True, 1.0))
    nan, inf = float("nan"), float("inf")
    with pytest.raises(ValueError, match=r"LEAF layer .*`init \(p1\)`.*finite.*nan"):
        LEAF(init=(nan,) * 4)
    with pytest.raises(ValueError, match=r"AHAF layer .*`init \(beta\)`.*finite.*nan"):
        AHAF(init=(nan,) * 2)
    with pytest.raises(ValueError, match=r"LEAF layer .*`init \(p3\)`.*finite.*inf"):
        LEAF(init=(1.0, 0.0, inf, 0.0))


def test_bad_shared_axes():
    with pytest.raises(ValueError, match=r"LEAF layer .*invalid shared axis 4.*rank 4"):
        LEAF(shared_axes=[4])(keras.Input((3, 3, 2)))
    with pytest.raises(ValueError, match=r"AHAF layer .*invalid shared axis 0"):
        AHAF(shared_axes=0)(keras.Input((3, 2)))
    with pytest.raises(ValueError, match=r"LEAF layer .*invalid shared axis -4"):
        LEAF(shared_axes=-4)(keras.Input((3, 2)))
    with pytest.raises(ValueError, match=r"LEAF layer .*unknown `shared_axes` 'channels'"):
        LEAF(shared_axes="channels")
    with pytest.raises(TypeError, match=r"AHAF layer .*`shared_axes` must be"):
        AHAF(shared_axes=[1.5])


def test_unknown_non_shared_dimension():
    with pytest.raises(ValueError, match=r"LEAF layer .*axis 2.*\(None, 5, None, 3\).*unknown"):
        LEAF(shared_axes=[1])(keras.Input((5, None, 3)))
    with pytest.raises(ValueError, match=r"AHAF layer .*axis 3.*unknown"):
        AHAF(shared_axes="spatial")(keras.Input((5, 5, None)))
    # shared along the unknown axes: fine
    out = LEAF(shared_axes=[1, 2])(keras.Input((None, None, 3)))
    assert tuple(out.shape) == (None, None, None, 3)


@pytest.mark.parametrize("cls", [LEAF, AHAF])
def test_integer_tensors_are_rejected(cls):
    with pytest.raises(TypeError, match=f"{cls.__name__} layer .*floating-point.*int32"):
        cls()(np.ones((2, 3), "int32"))


# ----------------------------------------------------------------------------- docstrings
@pytest.mark.parametrize(
    "name", ["linked_neurons.layers.learnable", "linked_neurons.ops.learnable"]
)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize("cls", [LEAF, AHAF])
def test_docstrings_have_keras_sections(cls):
    for section in ("Args:", "Input shape:", "Output shape:", "Example:", "Reference:"):
        assert section in cls.__doc__



@pytest.mark.parametrize("cls, p3_index", [(LEAF, 2), (AHAF, 1)])
def test_relu_smooth_init_is_relu_to_its_stated_precision(cls, p3_index):
    layer = cls(init="relu_smooth", shared_axes="all")
    x = np.linspace(-3.0, 3.0, 60001)[None, :]
    layer.build(x.shape)
    assert float(ops.convert_to_numpy(layer.shape_parameters[p3_index])) == 2.0**8
    y = ops.convert_to_numpy(layer(x.astype("float32"))).astype("float64")
    err = np.abs(y - np.maximum(x, 0.0))
    assert 1.0e-3 < err.max() < 1.1e-3  # 0.2785 / 2**8
    again = cls.from_config(layer.get_config())
    assert again.init == "relu_smooth"


@pytest.mark.parametrize("cls, fused_name", [(LEAF, "_leaf_fused"), (AHAF, "_ahaf_fused")])
def test_default_form_is_plain_where_measured_and_fused_true_forces_the_fused_op(
        monkeypatch, cls, fused_name):
    # The fused forms lost time or memory in every measured setting
    # (benchmarks/results_defaults_cpu.md, "LEAF and AHAF"), so no setting of
    # the policy lists them; fused=None reaches the policy, fused=True forces.
    from linked_neurons.ops import _policy

    op = cls.__name__.lower()
    assert op in _policy.OPS
    assert not any(op in names for names in _policy.FUSED_BY_DEFAULT.values())
    calls = []
    real = getattr(learnable_ops, fused_name)

    def spy(*args):
        calls.append(len(args))
        return real(*args)

    monkeypatch.setattr(learnable_ops, fused_name, spy)
    x = random_input((2, 5, 3), seed=4).astype("float32")
    default = cls(init="silu")
    assert default.fused is None and default.get_config()["fused"] is None
    y_default = ops.convert_to_numpy(default(x))
    assert calls == []
    forced = cls(init="silu", fused=True)
    y_fused = ops.convert_to_numpy(forced(x))
    assert calls == [1 + len(cls.PARAMS)]
    np.testing.assert_allclose(y_default, y_fused, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("fused, bound", [(True, 1e-5), (False, 3e-4)])
@pytest.mark.parametrize("op", ["leaf", "ahaf"])
@pytest.mark.parametrize("init", ["relu", "relu_smooth"])
def test_float32_gradients_of_both_forms_match_float64_with_the_relu_inits(init, op, fused, bound):
    # Where s = sigmoid(z) rounds towards 1, the plain backward's s * (1 - s)
    # loses sigma'(z) and the fused one's s * sigmoid(-z) does not: on unit-scale
    # inputs the plain p3 (gamma) gradient was off by up to 8.9e-5 of its largest
    # term on the three backends, the fused one by up to 1.5e-6; every other
    # gradient agreed to within 4.1e-6 (float32 summation) in both forms
    # (benchmarks/learnable_precision.py prints them per backend and mode).
    rng = np.random.default_rng(21)  # unit normal: random_input keeps |x| >= 0.02,
    x = rng.normal(size=20000).astype("float32")  # where sigma'(2**16 x) is 0
    g = rng.normal(size=20000).astype("float32")
    if op == "leaf":
        p1, p2, p3, p4 = learnable_ops.LEAF_INITS[init]
        params = [np.float32(v) for v in (p1, p2 + 0.01, p3, p4)]  # p2 moved as by training
    else:
        params = [np.float32(v) for v in learnable_ops.AHAF_INITS[init]]
    fn = getattr(learnable_ops, op)

    def loss(x, *p):
        return ops.sum(fn(x, *p, fused=fused) * ops.convert_to_tensor(g))

    _, grads = value_and_grads(loss, [x, *params])
    x64, g64 = x.astype("float64"), g.astype("float64")
    q = [np.float64(v) for v in params]
    if op == "leaf":
        q1, q2, q3, _ = q
        s = np_sigmoid(q3 * x64)
        ds = s * np_sigmoid(-q3 * x64)
        lin = q1 * x64 + q2
        terms = [g64 * (q1 * s + lin * ds * q3), g64 * x64 * s, g64 * s, g64 * lin * ds * x64, g64]
    else:
        beta, gamma = q
        s = np_sigmoid(gamma * x64)
        ds = s * np_sigmoid(-gamma * x64)
        terms = [g64 * beta * (s + x64 * ds * gamma), g64 * x64 * s, g64 * beta * x64 * x64 * ds]
    assert len(grads) == len(terms)
    for i, (got, term) in enumerate(zip(grads, terms)):
        want = term if i == 0 else term.sum()
        err = np.max(np.abs(np.asarray(got, "float64") - want)) / np.max(np.abs(term))
        assert err < bound, (i, err)
