"""EfficientNetBuilder (SPEC §7): training, XLA, mixed precision and drop-connect."""


import keras
import numpy as np
import param_formula
import pytest
from builder_support import numpy, split_counts, tiny
from conftest import BACKEND

from linked_neurons import activations, normalizations
from linked_neurons.efficientmixnet import DropConnect, EfficientNetBuilder

# ----------------------------------------------------------------------------- training
FIT_CASES = [
    ("bn", "leaf"),
    pytest.param("an", "lkrelu", marks=pytest.mark.slow),  # AN and IEBN: tiny models below
    pytest.param("iebn", "mish", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("norm,act", FIT_CASES, ids=["bn-leaf", "an-lkrelu", "iebn-mish"])
def test_b0_fit_step_at_64(norm, act):
    """One fit step of B0 on random 64x64 data, each typeBN, lkrelu, mish and leaf.

    The step runs eagerly: the XLA form of the same layers is checked on the
    tiny model below, since compiling all of B0 takes minutes on a CPU.
    """
    assert norm in normalizations.names() and act in activations.names()
    keras.utils.set_random_seed(0)
    model = EfficientNetBuilder(
        input_shape=(64, 64, 3), classes=5, typeBN=norm, activation=act
    ).default_model("B0")
    assert split_counts(model) == param_formula.count("B0", activation=act, norm=norm,
                                                      classes=5)
    model.compile(keras.optimizers.SGD(0.05), "sparse_categorical_crossentropy",
                  run_eagerly=True)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 64, 64, 3)).astype("float32")
    y = rng.integers(0, 5, size=(4,))
    before = [numpy(w).copy() for w in model.weights]
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    moved = [not np.array_equal(a, numpy(w)) for a, w in zip(before, model.weights)]
    names = [w.path for w in model.weights]
    # LEAF's relu init holds p3 = 2**16, where one small step is below float32
    # resolution: only those may stay put
    stuck = [n for n, m in zip(names, moved) if not m and not n.endswith("/p3")]
    assert not stuck, stuck
    assert all(m for n, m in zip(names, moved) if "moving_mean" in n)
    assert np.all(np.isfinite(numpy(model(x, training=False))))


# Small enough to compile with XLA in seconds: a mixed depthwise conv, SE, a
# drop-connect slot (block1b), IEBN and a linked activation in block2a.
JIT_BLOCKS = ["r2_k[3,5]_s11_e1_i16_o16_se0.25", "r1_k3_s22_e2_i16_o24_se0.25_biebn_alkrelu"]


def _xla_versus_graph(data_format, norm="bn", activation="swish"):
    if BACKEND == "torch":
        pytest.skip("jit_compile is for TensorFlow and JAX")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 32, 32, 3)).astype("float32")
    if data_format == "channels_first":
        x = np.transpose(x, (0, 3, 1, 2))
    y = rng.integers(0, 7, size=(4,))
    results = []
    for jit in (False, True):
        keras.utils.set_random_seed(2)
        builder = EfficientNetBuilder(input_shape=x.shape[1:], data_format=data_format,
                                      classes=7, typeBN=norm, activation=activation,
                                      drop_connect_rate=0.0)
        model = builder.custom_model(JIT_BLOCKS, 0.5, 1.0, dropout_rate=0.0)
        model.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy",
                      jit_compile=jit)
        before = [numpy(w).copy() for w in model.weights]
        loss = float(model.train_on_batch(x, y))
        updates = [numpy(w) - b for w, b in zip(model.weights, before)]
        trainable = {id(w) for w in model.trainable_weights}
        moved = [np.any(u != 0) for u, w in zip(updates, model.weights) if id(w) in trainable]
        assert np.mean(moved) > 0.8  # a few may sit behind a unit that is dead at init
        results.append((loss, updates, numpy(model(x, training=False))))
    (l1, u1, p1), (l2, u2, p2) = results
    assert l1 == pytest.approx(l2, rel=1e-5)
    for a, b in zip(u1, u2):  # the same update, to float32 rounding of the gradients
        assert np.max(np.abs(a - b)) <= 1e-2 * np.max(np.abs(a)) + 1e-6
    np.testing.assert_allclose(p1, p2, rtol=1e-4, atol=1e-5)


@pytest.mark.slow  # a B0-sized XLA compile; the tiny AN/LEAF model below checks XLA fast
def test_xla_train_step_equals_graph_step():
    """jit_compile=True: same loss, updates and predictions as without XLA.

    Compared without drop-connect: XLA and TensorFlow's kernels draw
    different random numbers from the same seed (drop-connect under XLA is
    checked above). The model holds a mixed depthwise conv, SE, IEBN and a
    linked activation; AN and LEAF (slower to compile) follow in the slow
    variants.
    """
    _xla_versus_graph("channels_last")


@pytest.mark.slow
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_xla_train_step_equals_graph_step_an_leaf(data_format):
    _xla_versus_graph(data_format, norm="an", activation="leaf")


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(policy):
    keras.config.set_dtype_policy(policy)
    builder = EfficientNetBuilder(input_shape=(32, 32, 3), classes=7, activation="swish")
    model = builder.custom_model(JIT_BLOCKS, 0.5, 1.0)
    assert all(keras.backend.standardize_dtype(w.dtype) == "float32" for w in model.weights)
    assert model.get_layer("block1a_dwconv").compute_dtype == policy.split("_")[1]
    assert model.get_layer("predictions").compute_dtype == "float32"
    optimizer = keras.optimizers.SGD(0.05)
    if policy == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer, initial_scale=2.0**8)
    # eagerly: tracing the loss-scaling step costs more than the step itself
    model.compile(optimizer, "sparse_categorical_crossentropy", run_eagerly=True)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 32, 32, 3)).astype("float32")
    before = [numpy(w).copy() for w in model.trainable_weights]
    for _ in range(2):
        loss = model.train_on_batch(x, rng.integers(0, 7, size=(4,)))
    assert np.isfinite(float(loss))
    moved = [not np.array_equal(a, numpy(w)) for a, w in zip(before, model.trainable_weights)]
    assert np.mean(moved) > 0.8
    y = numpy(model(x, training=False))
    assert y.dtype == np.float32 and np.allclose(y.sum(axis=1), 1, atol=1e-5)


# ----------------------------------------------------------------------------- drop-connect
def test_drop_connect_layer_in_training_and_inference():
    layer = DropConnect(0.3, seed=3)
    x = np.ones((4000, 2, 2, 3), "float32")
    np.testing.assert_array_equal(numpy(layer(x)), x)
    np.testing.assert_array_equal(numpy(layer(x, training=False)), x)
    y = numpy(layer(x, training=True))
    per_sample = y.reshape(len(y), -1)
    assert np.all(per_sample == per_sample[:, :1])  # one decision per sample
    values = np.unique(per_sample)
    assert len(values) == 2 and values[0] == 0 and np.isclose(values[1], 1 / 0.7)
    dropped = np.mean(per_sample[:, 0] == 0)
    assert abs(dropped - 0.3) < 0.03  # 4000 Bernoulli(0.3) draws: sd 0.007
    assert not np.array_equal(y, numpy(layer(x, training=True)))  # fresh draws
    assert numpy(DropConnect(0.0)(x, training=True)).tolist() == x.tolist()


def test_drop_connect_layer_compiled():
    layer = DropConnect(0.5, seed=1)
    x = np.ones((64, 2, 2, 1), "float32")
    if BACKEND == "tensorflow":
        import tensorflow as tf

        step = tf.function(lambda v: layer(v, training=True), jit_compile=True)
    elif BACKEND == "jax":
        import jax

        layer.build(x.shape)
        state = [v.value for v in layer.non_trainable_variables]  # the seed generator's

        @jax.jit
        def jitted(v, state):
            y, _ = layer.stateless_call([], state, v, training=True)
            return y

        def step(v):
            return jitted(v, state)
    else:
        pytest.skip("XLA compilation is for TensorFlow and JAX")
    y = numpy(step(x)).reshape(64, -1)
    assert np.all(y == y[:, :1]) and set(np.unique(y).tolist()) == {0.0, 2.0}


def test_drop_connect_layer_config_and_errors():
    layer = DropConnect(0.25, seed=5, name="dc")
    clone = DropConnect.from_config(layer.get_config())
    assert (clone.rate, clone.seed, clone.name) == (0.25, 5, "dc")
    rebuilt = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(rebuilt) is DropConnect
    assert layer.compute_output_shape((None, 3, 3, 2)) == (None, 3, 3, 2)
    for rate in (-0.1, 1.0, "0.5", True):
        with pytest.raises(ValueError, match="DropConnect.*rate.*\\[0, 1\\)"):
            DropConnect(rate)
    with pytest.raises(TypeError, match="DropConnect.*seed"):
        DropConnect(0.5, seed=1.5)


def test_drop_connect_in_a_model():
    x = np.random.default_rng(0).normal(size=(8, 32, 32, 3)).astype("float32")
    model = tiny(drop_connect_rate=0.6)
    assert [layer.rate for layer in model.layers if isinstance(layer, DropConnect)] == [
        pytest.approx(0.6 * b / 5) for b in (2, 3, 4)
    ]
    # inference: deterministic; training: the residual branches are dropped at random
    np.testing.assert_array_equal(numpy(model(x)), numpy(model(x, training=False)))
    outs = [numpy(model(x, training=True)) for _ in range(3)]
    assert not all(np.array_equal(outs[0], o) for o in outs[1:])
    still = tiny(drop_connect_rate=0.0)
    assert not any(isinstance(layer, DropConnect) for layer in still.layers)
    np.testing.assert_array_equal(numpy(still(x, training=True)), numpy(still(x, training=True)))

