"""The default form of the activation ops (``fused=None``): chosen per setting, at trace time."""

import importlib

import keras
import numpy as np
import pytest
from conftest import BACKEND, random_input, value_and_grads
from keras import ops

from linked_neurons import LKReLU, Mish
from linked_neurons import ops as ln_ops
from linked_neurons.ops import _policy

linked_module = importlib.import_module("linked_neurons.ops.linked")

DEVICE = "cpu"


def _setting_under_compilation(x):
    """The setting seen by an op traced the way Keras' trainer traces it (XLA, jit)."""
    seen = []

    def probe(x):
        seen.append(_policy.setting(x))
        return x * 2

    if BACKEND == "tensorflow":
        import tensorflow as tf

        tf.function(probe, jit_compile=True)(x)
        tf.function(probe, jit_compile=False)(x)
    elif BACKEND == "jax":
        import jax

        jax.jit(probe)(x)
    else:
        probe(ops.convert_to_tensor(x))
    return seen


def test_setting_names_backend_mode_and_device():
    x = random_input((2, 3)).astype("float32")
    eager = _policy.setting(ops.convert_to_tensor(x))
    assert eager == (BACKEND, "eager", DEVICE)
    compiled = _setting_under_compilation(x)
    expected = {
        "tensorflow": [("tensorflow", "xla", DEVICE), ("tensorflow", "graph", DEVICE)],
        "jax": [("jax", "jit", DEVICE)],
        "torch": [("torch", "eager", DEVICE)],
    }[BACKEND]
    assert compiled == expected


@pytest.mark.skipif(BACKEND != "jax", reason="JAX's tracing modes")
def test_jax_autodiff_without_jit_is_eager_and_with_jit_is_jit():
    import jax

    seen = []

    def loss(x):
        seen.append(_policy.setting(x)[1])
        return ops.sum(x * x)

    x = ops.convert_to_tensor(random_input((2, 3)).astype("float32"))
    jax.grad(loss)(x)
    jax.vmap(loss)(x)
    jax.jit(jax.grad(loss))(x)
    jax.grad(jax.checkpoint(loss))(x)
    jax.jit(jax.vmap(loss))(x)
    assert seen == ["eager", "eager", "jit", "jit", "jit"]


@pytest.mark.skipif(BACKEND != "jax", reason="JAX's tracing modes")
def test_jax_keras_trainer_is_jit_unless_run_eagerly():
    seen = []

    class Probe(keras.layers.Layer):
        def call(self, x):
            seen.append(_policy.setting(x)[1])
            return x

    x = random_input((4, 3)).astype("float32")
    y = random_input((4, 1)).astype("float32")
    for run_eagerly in (False, True):
        model = keras.Sequential([keras.Input((3,)), Probe(), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse", run_eagerly=run_eagerly)
        seen.clear()
        model.train_on_batch(x, y)
        # With run_eagerly, Keras may first trace the model abstractly (jax.eval_shape,
        # staged, so "jit"); the step that computes runs eagerly.
        assert seen[-1] == ("eager" if run_eagerly else "jit"), (run_eagerly, seen)
        if not run_eagerly:
            assert set(seen) == {"jit"}, seen


def test_every_op_of_the_table_exists():
    for key, names in _policy.FUSED_BY_DEFAULT.items():
        assert len(key) == 3 and set(names) <= set(_policy.OPS), key


def test_dtype_exceptions_name_fused_ops_of_a_listed_setting():
    floats = {"float16", "bfloat16", "float32", "float64"}
    for key, by_dtype in _policy.PLAIN_IN_DTYPE.items():
        assert key in _policy.FUSED_BY_DEFAULT, key
        for dtype, names in by_dtype.items():
            assert dtype in floats, (key, dtype)
            assert names and set(names) <= _policy.FUSED_BY_DEFAULT[key], (key, dtype)


@pytest.fixture
def fused_lk_relu_calls(monkeypatch):
    """The calls of the fused LKReLU, recorded (its axis each) while it still runs."""
    calls = []
    real = linked_module._fused_lk_relu

    def spy(x, axis):
        calls.append(axis)
        return real(x, axis)

    monkeypatch.setattr(linked_module, "_fused_lk_relu", spy)
    return calls


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_dtype_exception_makes_the_default_plain_for_that_dtype_only(
        monkeypatch, fused_lk_relu_calls, dtype):
    calls = fused_lk_relu_calls
    x = ops.convert_to_tensor(random_input((2, 3, 4)).astype("float32"), dtype=dtype)
    key = _policy.setting(x)
    monkeypatch.setattr(_policy, "FUSED_BY_DEFAULT", {key: frozenset({"lk_relu"})})
    monkeypatch.setattr(_policy, "PLAIN_IN_DTYPE",
                        {key: {"bfloat16": frozenset({"lk_relu"})}})
    ln_ops.lk_relu(x)
    assert len(calls) == (dtype == "float32")
    ln_ops.lk_relu(x, fused=True)  # forcing still wins
    assert len(calls) == (dtype == "float32") + 1
    # The backend's own dtype objects are understood, and no dtype means no exception.
    assert _policy.fused_by_default("lk_relu", key, x.dtype) is (dtype == "float32")
    assert _policy.fused_by_default("lk_relu", key) is True
    assert _policy.fused_by_default("mish", key, "float32") is False


@pytest.mark.parametrize("choice", [True, False])
def test_default_follows_the_table_and_true_false_force(monkeypatch, fused_lk_relu_calls, choice):
    calls = fused_lk_relu_calls
    table = {key: frozenset() for key in _policy.FUSED_BY_DEFAULT}
    x = ops.convert_to_tensor(random_input((2, 3, 4)).astype("float32"))
    key = _policy.setting(x)
    table[key] = frozenset({"lk_relu"}) if choice else frozenset()
    monkeypatch.setattr(_policy, "FUSED_BY_DEFAULT", table)
    ln_ops.lk_relu(x)
    assert len(calls) == int(choice)
    ln_ops.lk_relu(x, fused=True)
    assert len(calls) == int(choice) + 1
    ln_ops.lk_relu(x, fused=False)
    assert len(calls) == int(choice) + 1


def test_unlisted_setting_uses_the_plain_form(monkeypatch):
    monkeypatch.setattr(_policy, "FUSED_BY_DEFAULT", {})
    assert _policy.use_fused("mish", None) is False
    assert _policy.use_fused("mish", True) is True
    with pytest.raises(TypeError, match="mish.*fused.*'yes'"):
        _policy.use_fused("mish", "yes")


@pytest.mark.parametrize("layer_cls", [LKReLU, Mish])
def test_default_layer_trains_like_both_forced_forms(layer_cls):
    """A compiled train step gives the same loss and weights for None, True and False."""
    x = random_input((8, 6), seed=1).astype("float32")
    y = np.random.default_rng(2).normal(size=(8, 1)).astype("float32")
    results = []
    for fused in (None, True, False):
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [keras.Input((6,)), keras.layers.Dense(5), layer_cls(fused=fused),
             keras.layers.Dense(1)]
        )
        model.compile(optimizer="sgd", loss="mse", jit_compile=BACKEND != "torch")
        loss = model.train_on_batch(x, y)
        results.append((loss, [w.copy() for w in model.get_weights()]))
        assert layer_cls.from_config(model.layers[1].get_config()).fused is fused
    for loss, weights in results[1:]:
        np.testing.assert_allclose(loss, results[0][0], rtol=1e-5)
        for a, b in zip(weights, results[0][1]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_default_gradient_matches_forced_forms():
    x = random_input((3, 5), seed=4)
    g = ops.convert_to_tensor(np.random.default_rng(5).normal(size=(3, 10)))
    grads = [
        value_and_grads(lambda x, f=f: ops.sum(ln_ops.lk_selu(x, fused=f) * g), [x])[1][0]
        for f in (None, True, False)
    ]
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)
    np.testing.assert_allclose(grads[0], grads[2], rtol=1e-12)


@pytest.mark.skipif(BACKEND != "jax", reason="a decision of the JAX backend's table")
@pytest.mark.parametrize(
    "op, fused_name, fused_dtypes, plain_dtypes",
    [
        ("mish", "_mish_fused", ["float32"], ["bfloat16"]),
        ("selu", "_selu_fused", ["float32", "float64"], ["bfloat16", "float16"]),
    ],
)
def test_jax_jit_default_is_fused_or_plain_by_dtype_on_cpu(
        monkeypatch, op, fused_name, fused_dtypes, plain_dtypes):
    import jax

    if jax.default_backend() != "cpu":
        pytest.skip("the decision measured on a CPU")
    activations_module = importlib.import_module("linked_neurons.ops.activations")
    calls = []
    real = getattr(activations_module, fused_name)

    def spy(x):
        calls.append(str(x.dtype))
        return real(x)

    monkeypatch.setattr(activations_module, fused_name, spy)
    for dtype in fused_dtypes + plain_dtypes:
        x = jax.numpy.asarray(random_input((2, 3, 4)), dtype=dtype)
        assert str(x.dtype) == dtype  # float64 needs jax_enable_x64 (conftest)
        jax.jit(getattr(ln_ops, op))(x)
    assert calls == fused_dtypes


@pytest.mark.skipif(BACKEND != "tensorflow", reason="a decision of the TensorFlow backend's table")
def test_tensorflow_xla_lk_selu_is_fused_for_float32_and_plain_for_float16_on_cpu(
        monkeypatch):
    import tensorflow as tf

    if _policy._tensorflow_has_gpu():
        pytest.skip("the decision measured on a CPU")
    calls = []
    real = linked_module._fused_lk_selu

    def spy(x, axis):
        calls.append(x.dtype.name)
        return real(x, axis)

    monkeypatch.setattr(linked_module, "_fused_lk_selu", spy)
    for dtype in ("float32", "float16"):
        x = tf.constant(random_input((2, 3, 4)), dtype=dtype)
        tf.function(ln_ops.lk_selu, jit_compile=True)(x)
    assert calls == ["float32"]


@pytest.mark.skipif(BACKEND != "jax", reason="a decision of the JAX backend's table")
@pytest.mark.parametrize("op, module, fused_name, fused_dtypes", [
    ("lk_relu", "linked_neurons.ops.linked", "_fused_lk_relu",
     ["float32", "float64", "bfloat16", "float16"]),
    ("mish", "linked_neurons.ops.activations", "_mish_fused", ["float32", "float64"]),
])
def test_jax_without_jit_default_is_fused_lk_relu_in_every_dtype_and_mish_in_full_precision(
        monkeypatch, op, module, fused_name, fused_dtypes):
    # run_eagerly=True on JAX with a CPU: fused LKReLU in every dtype; fused
    # Mish in float32 and float64, plain in the half-precision dtypes, where
    # its fused form took 1.16x-1.35x the plain time alone.
    import jax

    if jax.default_backend() != "cpu":
        pytest.skip("the decision measured on a CPU")
    target = importlib.import_module(module)
    calls = []
    real = getattr(target, fused_name)

    def spy(x, *args):
        calls.append(str(x.dtype))
        return real(x, *args)

    monkeypatch.setattr(target, fused_name, spy)
    for dtype in ("float32", "float64", "bfloat16", "float16"):
        x = jax.numpy.asarray(random_input((2, 3, 4)), dtype=dtype)
        assert str(x.dtype) == dtype  # float64 needs jax_enable_x64 (conftest)
        assert _policy.setting(x) == ("jax", "eager", "cpu")
        getattr(ln_ops, op)(x)
    assert calls == fused_dtypes
    # under jit the other table decides: LKReLU plain, Mish fused (a new function,
    # so that no earlier jax.jit of the op answers from its cache without tracing)
    jax.jit(lambda x: getattr(ln_ops, op)(x))(
        jax.numpy.asarray(random_input((2, 3, 4)), dtype="float32"))
    assert calls == fused_dtypes + {"lk_relu": [], "mish": ["float32"]}[op]
