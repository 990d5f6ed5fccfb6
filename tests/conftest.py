"""Shared test configuration and the reusable layer checker.

A layer's test file describes the layer once with a :class:`LayerCase` (how
to build it, an independent float64 NumPy reference of its formula, the
input shape) and runs the generic checks of :class:`LayerChecker` on it:
reference values, finite-difference gradients, fused vs plain, config round
trip, ``.keras`` save/load, Sequential and functional use, a ``jit_compile``
training step, mixed precision, channels_first and bad inputs. Only what is
special about a layer goes into its own test file.
"""

import dataclasses
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras import ops  # noqa: E402

BACKEND = keras.backend.backend()

if BACKEND == "jax":  # the float64 references need 64-bit JAX arrays
    import jax

    jax.config.update("jax_enable_x64", True)


# ----------------------------------------------------------------------------- options
def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run slow tests")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _restore_dtype_policy():
    """Every test starts and ends with the float32 policy and floatx."""
    keras.config.set_floatx("float32")
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_floatx("float32")
    keras.config.set_dtype_policy("float32")


# ----------------------------------------------------------------------------- gradients
def value_and_grads(fn, args):
    """Value of scalar ``fn(*args)`` and its gradients w.r.t. every argument.

    Works on the TensorFlow, JAX and PyTorch backends; returns NumPy arrays.
    """
    if BACKEND == "tensorflow":
        import tensorflow as tf

        args = [tf.convert_to_tensor(a) for a in args]
        with tf.GradientTape() as tape:
            for a in args:
                tape.watch(a)
            out = fn(*args)
        grads = tape.gradient(out, args)
    elif BACKEND == "jax":
        import jax

        out, grads = jax.value_and_grad(fn, argnums=tuple(range(len(args))))(*args)
    elif BACKEND == "torch":
        import torch

        args = [torch.tensor(np.asarray(a), requires_grad=True) for a in args]
        out = fn(*args)
        out.backward()
        out = out.detach()
        grads = [a.grad for a in args]
    else:  # pragma: no cover
        raise NotImplementedError(BACKEND)
    return ops.convert_to_numpy(out), [ops.convert_to_numpy(g) for g in grads]


def run_python(*args, timeout=300):
    """Runs ``python *args`` in a subprocess, asserts it exits 0, returns the result.

    TensorFlow's C++ logging is silenced; on failure the assertion shows the
    ends of stdout and stderr.
    """
    result = subprocess.run(
        [sys.executable, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def random_input(shape, seed=0, scale=2.0, min_abs=0.02):
    """Normal float64 values, none closer than ``min_abs`` to zero (kinks)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape) * scale
    small = np.abs(x) < min_abs
    x[small] = np.where(x[small] >= 0, min_abs, -min_abs)
    return x


# ----------------------------------------------------------------------------- cases
@dataclasses.dataclass
class LayerCase:
    """Describes a layer for the generic checks.

    Attributes:
        cls: The layer class.
        reference: ``reference(x, weights, axis)``: independent float64 NumPy
            formula; ``weights`` are the layer's weights as float64 arrays.
        kwargs: Constructor arguments.
        input_shape: Shape of the random test input (batch first).
        channel_multiplier: Output channels / input channels.
        has_axis: Whether the layer takes ``axis``.
        weight_init: ``weight_init(rng, shape, name)`` for non-trivial weights.
        id: Test id.
    """

    cls: type
    reference: object
    kwargs: dict = dataclasses.field(default_factory=dict)
    input_shape: tuple = (3, 4, 5, 6)
    channel_multiplier: int = 1
    has_axis: bool = True
    weight_init: object = None
    id: str = ""

    def __post_init__(self):
        self.id = self.id or self.cls.__name__

    def make(self, **overrides):
        return self.cls(**{**self.kwargs, **overrides})

    def __repr__(self):
        return self.id


class LayerChecker:
    """Generic checks every public layer must pass (see the module docstring)."""

    # ---- helpers
    @staticmethod
    def built(case, shape=None, dtype="float32", **overrides):
        layer = case.make(dtype=dtype, **overrides)
        layer.build(shape or case.input_shape)
        LayerChecker.randomize(case, layer)
        return layer

    @staticmethod
    def randomize(case, layer, seed=7):
        """Sets non-trivial weights so that weight bugs cannot hide."""
        rng = np.random.default_rng(seed)
        values = []
        for w in layer.weights:
            if case.weight_init is not None:
                values.append(case.weight_init(rng, tuple(w.shape), w.name))
            else:
                values.append(rng.normal(size=tuple(w.shape)) * 0.3)
        if values:
            layer.set_weights([np.asarray(v, dtype=layer.weights[0].dtype) for v in values])

    @staticmethod
    def weights64(layer):
        return [np.asarray(ops.convert_to_numpy(w), dtype="float64") for w in layer.weights]

    # ---- numerics
    def check_reference(self, case, dtype="float64", seed=0):
        layer = self.built(case, dtype=dtype)
        x = random_input(case.input_shape, seed)
        y = ops.convert_to_numpy(layer(x.astype(dtype)))
        expected = case.reference(x, self.weights64(layer), layer_axis(layer))
        assert y.dtype == np.dtype(dtype)
        assert y.shape == expected.shape
        rtol, atol = (1e-12, 1e-12) if dtype == "float64" else (2e-6, 2e-6)
        np.testing.assert_allclose(y, expected, rtol=rtol, atol=atol)

    def check_finite_difference(self, case, seed=1, eps=1e-6, n_dirs=3):
        """Input and weight gradients against central differences (float64)."""
        shape = (2,) + tuple(case.input_shape[1:])
        layer = self.built(case, shape=shape, dtype="float64")
        x = random_input(shape, seed, min_abs=0.05)
        out_shape = layer.compute_output_shape(shape)
        g = np.random.default_rng(seed + 1).normal(size=out_shape)
        weights = [ops.convert_to_numpy(w) for w in layer.trainable_weights]
        nontrain = [ops.convert_to_numpy(w) for w in layer.non_trainable_weights]

        def loss(x, *w):
            y, _ = layer.stateless_call(list(w), nontrain, x)
            return ops.sum(y * ops.convert_to_tensor(g))

        def loss_np(x, *w):
            return float(ops.convert_to_numpy(loss(x, *w)))

        _, grads = value_and_grads(loss, [x, *weights])
        args = [x, *weights]
        rng = np.random.default_rng(seed + 2)
        for i, (arg, grad) in enumerate(zip(args, grads)):
            assert grad.shape == arg.shape
            for _ in range(n_dirs):
                v = rng.normal(size=arg.shape)
                plus = [a + eps * v if j == i else a for j, a in enumerate(args)]
                minus = [a - eps * v if j == i else a for j, a in enumerate(args)]
                fd = (loss_np(*plus) - loss_np(*minus)) / (2 * eps)
                np.testing.assert_allclose(np.sum(grad * v), fd, rtol=1e-6, atol=1e-6)

    def check_fused_vs_plain(self, case, seed=2):
        """Fused and plain forms: same values and gradients to float32 rounding."""
        x = random_input(case.input_shape, seed, scale=3.0).astype("float32")
        out_shape = case.make().compute_output_shape(case.input_shape)
        g = np.random.default_rng(seed).normal(size=out_shape).astype("float32")
        results = []
        for fused in (True, False):
            layer = self.built(case, fused=fused)
            weights = [ops.convert_to_numpy(w) for w in layer.trainable_weights]

            def loss(x, *w, layer=layer):
                y, _ = layer.stateless_call(list(w), [], x)
                return ops.sum(y * ops.convert_to_tensor(g))

            y = ops.convert_to_numpy(layer(x))
            _, grads = value_and_grads(loss, [x, *weights])
            results.append((y, grads))
        (y1, g1), (y2, g2) = results
        np.testing.assert_allclose(y1, y2, rtol=1e-6, atol=1e-6)
        for a, b in zip(g1, g2):
            scale = max(1.0, float(np.max(np.abs(b))))
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * scale)

    # ---- Keras integration
    def check_config(self, case):
        layer = self.built(case)
        config = layer.get_config()
        clone = case.cls.from_config(config)
        assert clone.get_config() == config
        clone.build(case.input_shape)
        clone.set_weights(layer.get_weights())
        x = random_input(case.input_shape).astype("float32")
        np.testing.assert_array_equal(
            ops.convert_to_numpy(layer(x)), ops.convert_to_numpy(clone(x))
        )
        # Registered as serializable: the generic Keras path finds the class.
        rebuilt = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
        assert type(rebuilt) is case.cls

    def check_saving(self, case, tmp_path):
        inputs = keras.Input(case.input_shape[1:])
        layer = case.make()
        model = keras.Model(inputs, layer(inputs))
        self.randomize(case, layer)
        x = random_input(case.input_shape).astype("float32")
        path = os.path.join(str(tmp_path), "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        assert type(loaded.layers[-1]) is case.cls
        np.testing.assert_array_equal(
            ops.convert_to_numpy(model(x)), ops.convert_to_numpy(loaded(x))
        )

    def check_sequential_and_functional(self, case):
        shape = case.input_shape
        x = random_input(shape).astype("float32")
        seq_layer = case.make()
        seq = keras.Sequential([keras.Input(shape[1:]), seq_layer])
        self.randomize(case, seq_layer)
        inputs = keras.Input(shape[1:])
        fn_layer = case.make()
        fn = keras.Model(inputs, fn_layer(inputs))
        fn_layer.set_weights(seq_layer.get_weights())
        expected = tuple(seq_layer.compute_output_shape((None,) + tuple(shape[1:])))
        assert tuple(seq.output_shape) == expected
        assert tuple(fn.output_shape) == expected
        y_seq = ops.convert_to_numpy(seq(x))
        np.testing.assert_array_equal(y_seq, ops.convert_to_numpy(fn(x)))
        assert y_seq.shape == seq_layer.compute_output_shape(shape)

    def check_training_step(self, case, seed=3, policy=None):
        """One compiled (XLA on TF/JAX) training step changes weights, stays finite.

        With ``policy`` (e.g. ``"mixed_float16"``, where ``compile`` wraps the
        optimizer in a ``LossScaleOptimizer``) the step runs under that policy.
        """
        if policy is not None:
            keras.config.set_dtype_policy(policy)
        keras.utils.set_random_seed(seed)
        shape = case.input_shape
        model = keras.Sequential(
            [
                keras.Input(shape[1:]),
                keras.layers.Dense(shape[-1]),
                case.make(),
                keras.layers.Flatten(),
                keras.layers.Dense(1),
            ]
        )
        jit = BACKEND != "torch"
        optimizer = keras.optimizers.SGD(0.01)
        if policy == "mixed_float16":
            # compile() would wrap it with initial scale 2**15, whose first steps
            # overflow and are skipped by design; start lower so that 3 steps train.
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer, initial_scale=2.0**8)
        model.compile(optimizer=optimizer, loss="mse", jit_compile=jit)
        x = random_input((8,) + tuple(shape[1:]), seed).astype("float32")
        y = np.random.default_rng(seed).normal(size=(8, 1)).astype("float32")
        before = [ops.convert_to_numpy(w).copy() for w in model.trainable_weights]
        losses = [float(model.train_on_batch(x, y)) for _ in range(3)]
        assert np.all(np.isfinite(losses))
        after = [ops.convert_to_numpy(w) for w in model.trainable_weights]
        changed = [not np.array_equal(a, b) for a, b in zip(before, after)]
        assert all(changed), "every trainable weight, the layer's included, must train"

    def check_mixed_precision(self, case, policy, seed=4):
        keras.config.set_dtype_policy(policy)
        layer = case.make()
        layer.build(case.input_shape)
        self.randomize(case, layer)
        for w in layer.weights:
            assert keras.backend.standardize_dtype(w.dtype) == "float32"
        x = random_input(case.input_shape, seed)
        y = layer(x.astype("float32"))
        compute = policy.split("_")[1]
        assert keras.backend.standardize_dtype(y.dtype) == compute
        y = ops.convert_to_numpy(ops.cast(y, "float32")).astype("float64")
        x_c = ops.convert_to_numpy(ops.cast(ops.cast(x, compute), "float32")).astype("float64")
        w_c = [
            ops.convert_to_numpy(ops.cast(ops.cast(w, compute), "float32")).astype("float64")
            for w in layer.weights
        ]
        expected = case.reference(x_c, w_c, layer_axis(layer))
        assert np.all(np.isfinite(y))
        tol = 1e-2 if compute == "float16" else 4e-2
        np.testing.assert_allclose(y, expected, rtol=tol, atol=tol)

    def check_channels_first(self, case, seed=5):
        """``axis=1`` on NCHW equals ``axis=-1`` on NHWC (transposed)."""
        last_shape = case.input_shape
        first_shape = (last_shape[0], last_shape[-1]) + tuple(last_shape[1:-1])
        perm = (0, len(last_shape) - 1) + tuple(range(1, len(last_shape) - 1))
        x = random_input(last_shape, seed).astype("float32")
        last = self.built(case, shape=last_shape)
        extra = {}
        # the same axes, renumbered (keywords such as "spatial" follow `axis` by themselves)
        if isinstance(case.kwargs.get("shared_axes"), (list, tuple)):
            extra["shared_axes"] = [perm.index(a % len(perm)) for a in case.kwargs["shared_axes"]]
        first = self.built(case, shape=first_shape, axis=1, **extra) if case.has_axis else last
        if case.has_axis:
            # same weights, laid out for the other axis order
            moved = [np.moveaxis(w, -1, 0) if w.ndim > 1 else w for w in last.get_weights()]
            first.set_weights(moved)
        y_last = ops.convert_to_numpy(last(x))
        y_first = ops.convert_to_numpy(first(np.transpose(x, perm)))
        np.testing.assert_allclose(np.transpose(y_last, perm), y_first, rtol=1e-6, atol=1e-6)
        if case.has_axis:
            assert first.compute_output_shape(first_shape) == y_first.shape

    def check_unknown_sizes(self, case):
        """Unknown batch and spatial sizes work (symbolic shapes)."""
        shape = (None,) * (len(case.input_shape) - 2) + (case.input_shape[-1],)
        inputs = keras.Input(shape)
        out = case.make()(inputs)
        channels = case.input_shape[-1] * case.channel_multiplier
        assert tuple(out.shape) == (None,) + shape[:-1] + (channels,)
        # The compiled model runs on batches of other batch and spatial sizes.
        model = keras.Model(inputs, out)
        model.compile(loss="mse", jit_compile=BACKEND != "torch")
        for i, n in enumerate((2, 3)):
            size = tuple(d + i for d in case.input_shape[1:-1])
            x = random_input((n,) + size + (case.input_shape[-1],), seed=i).astype("float32")
            y = model.predict(x, batch_size=n, verbose=0)
            assert y.shape == (n,) + size + (channels,)
            np.testing.assert_allclose(y, ops.convert_to_numpy(model(x)), rtol=1e-6, atol=1e-6)

    def check_bad_inputs(self, case):
        name = case.cls.__name__
        x_int = np.ones((2, 3), dtype="int32")
        with pytest.raises(TypeError, match=f"{name}.*floating-point.*int32"):
            case.make()(x_int)
        with pytest.raises(ValueError, match=f"{name}.*rank >= 2.*rank 1"):
            case.make()(np.ones((3,), dtype="float32"))
        with pytest.raises(TypeError, match=f"{name}.*fused"):
            case.make(fused="yes")
        if case.has_axis:
            with pytest.raises(ValueError, match=f"{name}.*batch axis"):
                case.make(axis=0)
            with pytest.raises(TypeError, match=f"{name}.*axis.*integer"):
                case.make(axis="channels")
            with pytest.raises(ValueError, match=f"{name}.*invalid `axis`=3.*rank 3"):
                case.make(axis=3)(np.ones((2, 3, 4), dtype="float32"))


def layer_axis(layer):
    return getattr(layer, "axis", -1)


@pytest.fixture
def checker():
    return LayerChecker()


# ----------------------------------------------------------------------------- references
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def np_sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def np_relu(x):
    return np.maximum(x, 0.0)


def np_selu(x):
    return np.where(x > 0, SELU_SCALE * x, SELU_SCALE * SELU_ALPHA * np.expm1(np.minimum(x, 0)))


def np_swish(x, beta=1.0):
    return x * np_sigmoid(beta * x)


def np_mish(x):
    return x * np.tanh(np.logaddexp(0.0, x))


def np_prelu(x, a):
    return np.where(x > 0, x, a * x)


def np_linked(fn, x, axis=-1):
    return np.concatenate([fn(x), fn(-x)], axis=axis)


def layer_contract(cases):
    """Returns a test class running every generic check on every case.

    Use in a layer's test file as ``TestContract = layer_contract(CASES)``.
    """
    cases = list(cases)
    each = pytest.mark.parametrize("case", cases, ids=[c.id for c in cases])

    class Contract:
        @each
        def test_reference_float64(self, checker, case):
            checker.check_reference(case, "float64")

        @each
        def test_reference_float32(self, checker, case):
            checker.check_reference(case, "float32")

        @each
        def test_finite_difference_gradients(self, checker, case):
            checker.check_finite_difference(case)

        @each
        def test_fused_matches_plain(self, checker, case):
            checker.check_fused_vs_plain(case)

        @each
        def test_config_round_trip(self, checker, case):
            checker.check_config(case)

        @each
        def test_keras_file_round_trip(self, checker, case, tmp_path):
            checker.check_saving(case, tmp_path)

        @each
        def test_sequential_and_functional(self, checker, case):
            checker.check_sequential_and_functional(case)

        @each
        def test_compiled_training_step(self, checker, case):
            checker.check_training_step(case)

        @each
        @pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
        def test_mixed_precision(self, checker, case, policy):
            checker.check_mixed_precision(case, policy)

        @each
        def test_compiled_training_step_mixed_float16(self, checker, case):
            checker.check_training_step(case, policy="mixed_float16")

        @each
        def test_channels_first(self, checker, case):
            checker.check_channels_first(case)

        @each
        def test_unknown_sizes(self, checker, case):
            checker.check_unknown_sizes(case)

        @each
        def test_bad_inputs(self, checker, case):
            checker.check_bad_inputs(case)

    return Contract
