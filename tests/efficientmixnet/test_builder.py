"""EfficientNetBuilder (SPEC §7): parameter counts, keras.applications parity, training,
saving, XLA, drop-connect, channels_first, inputs and bad arguments."""

import os

import keras
import numpy as np
import param_formula
import pytest
from conftest import BACKEND
from keras import ops

from linked_neurons import activations, normalizations
from linked_neurons.efficientmixnet import (
    BlockArgs,
    DropConnect,
    EfficientNetBuilder,
    MixedDepthwiseConv2D,
)
from linked_neurons.layers.convolutional import ChannelsFirstConv2D

SPEC_COUNTS = {
    "B0": 5_330_564, "B1": 7_856_232, "B2": 9_177_562, "B3": 12_320_528,
    "B4": 19_466_816, "B5": 30_562_520, "B6": 43_265_136, "B7": 66_658_680,
}
B0_NO_TOP = 4_049_564

# A small model holding every kind of layer the builder makes: plain and mixed
# depthwise convs, SE, drop-connect, a linked activation, LEAF, AN and IEBN.
TINY_BLOCKS = [
    "r1_k3_s11_e1_i16_o16_se0.25",
    "r2_k[3,5,7]_s22_e3_i16_o24_se0.25_biebn",
    "r2_k[3,5]_s11_e2_i24_o24_se0.25_alkrelu_n3",
]


def tiny(data_format="channels_last", channels=3, size=32, **kwargs):
    settings = {"classes": 7, "typeBN": "an", "activation": "leaf", "drop_connect_rate": 0.0}
    settings.update(kwargs)
    shape = (size, size, channels) if data_format == "channels_last" else (channels, size, size)
    builder = EfficientNetBuilder(input_shape=shape, data_format=data_format, **settings)
    return builder.custom_model(TINY_BLOCKS, 0.5, 1.0, dropout_rate=0.0)


def numpy(x):
    return ops.convert_to_numpy(x)


def split_counts(model):
    def total(weights):
        return int(sum(np.prod(w.shape) for w in weights))

    return total(model.trainable_weights), total(model.non_trainable_weights)


@pytest.fixture(scope="module")
def b0():
    """Plain B0 at its default resolution."""
    return EfficientNetBuilder().default_model("B0")


# ----------------------------------------------------------------------------- counts
def test_b0_counts_of_spec(b0):
    assert b0.input_shape == (None, 224, 224, 3)
    assert b0.count_params() == SPEC_COUNTS["B0"]
    assert split_counts(b0) == param_formula.count("B0")
    no_top = EfficientNetBuilder(include_top=False).default_model("B0")
    assert no_top.count_params() == B0_NO_TOP
    assert no_top.output_shape == (None, 1280)
    assert sum(param_formula.count("B0", include_top=False)) == B0_NO_TOP


# B0 and B1 in the default run; the larger variants take seconds each to build.
VARIANTS = ["B1"] + [pytest.param(f"B{i}", marks=pytest.mark.slow) for i in range(2, 8)]


@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_counts_of_spec(variant):
    if BACKEND == "jax" and variant in ("B5", "B6", "B7"):
        # Counts do not depend on the backend; JAX compiles an initializer for
        # every new weight shape, which makes these builds take minutes there.
        pytest.skip("checked on the TensorFlow and PyTorch backends")
    # Counts do not depend on the resolution: build at 32x32 to stay fast.
    model = EfficientNetBuilder(input_shape=(32, 32, 3)).default_model(variant)
    assert model.count_params() == SPEC_COUNTS[variant]
    assert split_counts(model) == param_formula.count(variant)
    assert model.name == f"efficientmixnet_{variant.lower()}"


@pytest.mark.parametrize(
    "kwargs,formula",
    [
        ({"mixed": True}, {"mixed": True}),
        ({"mixed": True, "typeBN": "AN", "n_mixture": 3, "activation": "lkprelu"},
         {"mixed": True, "norm": "an", "k": 3, "activation": "lkprelu"}),
        ({"typeBN": "instance", "activation": "ahaf", "classes": 1, "input_shape": (48, 40, 5)},
         {"norm": "iebn", "activation": "ahaf", "classes": 1, "in_channels": 5}),
    ],
    ids=["mixed", "mixed-an3-lkprelu", "iebn-ahaf-5-channels-1-class"],
)
def test_counts_match_the_independent_formula(kwargs, formula):
    kwargs = {"input_shape": (32, 32, 3), **kwargs}
    model = EfficientNetBuilder(**kwargs).default_model("B0")
    assert split_counts(model) == param_formula.count("B0", **formula)
    assert model.output_shape == (None, formula.get("classes", 1000))


# ----------------------------------------------------------------------------- keras.applications
def _keras_parity(variant, size):
    ref = getattr(keras.applications, f"EfficientNet{variant}")(
        weights=None, input_shape=(size, size, 3)
    )
    ours = EfficientNetBuilder(input_shape=(size, size, 3)).default_model(variant)
    # the counts: all but the 7 weights of keras' input Normalization layer
    norm = [w for layer in ref.layers if isinstance(layer, keras.layers.Normalization)
            for w in layer.weights]
    assert sum(int(np.prod(w.shape)) for w in norm) == 7
    assert ours.count_params() == ref.count_params() - 7
    ref_train, ref_frozen = split_counts(ref)
    assert split_counts(ours) == (ref_train, ref_frozen - 7)
    # per-stage output shapes, by the layer names the two share
    ref_layers = {layer.name: layer for layer in ref.layers}
    own = []
    for layer in ours.layers:
        if layer.name in ref_layers and not layer.name.endswith("se_squeeze"):
            assert layer.output.shape == ref_layers[layer.name].output.shape, layer.name
        else:
            own.append(layer)
    # ours only adds the input, a separate SE activation layer and keeps the SE
    # squeeze 4-D (keras reshapes it); everything else has keras' name and shape
    assert all(
        isinstance(layer, keras.layers.InputLayer)
        or layer.name.endswith(("se_activation", "se_squeeze"))
        for layer in own
    ), [layer.name for layer in own]
    stage_ends = [layer.name for layer in ours.layers if layer.name.endswith("project_bn")]
    assert stage_ends == [n for n in ref_layers if n.endswith("project_bn")]
    # the same function: given keras' weights, ours computes keras' outputs on x / 255
    ours.set_weights([numpy(w) for layer in ref.layers
                      if not isinstance(layer, keras.layers.Normalization)
                      for w in layer.weights])
    x = np.random.default_rng(0).uniform(0, 255, size=(2, size, size, 3)).astype("float32")
    np.testing.assert_allclose(
        numpy(ours(x / 255.0, training=False)), numpy(ref(x, training=False)),
        rtol=1e-5, atol=1e-6,
    )


def test_b0_equals_keras_applications():
    _keras_parity("B0", 64)


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["B1", "B2", "B3", "B4", "B5", "B6", "B7"])
def test_variants_equal_keras_applications(variant):
    _keras_parity(variant, 64)


def test_initializers_of_spec(b0):
    stem = numpy(b0.get_layer("stem_conv").kernel)  # 3x3x3x32: fan_out = 9 * 32
    assert abs(stem.std() - np.sqrt(2.0 / (9 * 32))) < 0.1 * np.sqrt(2.0 / (9 * 32))
    assert np.abs(stem).max() > 2.5 * np.sqrt(2.0 / (9 * 32))  # not truncated at 2 sigma
    top = numpy(b0.get_layer("top_conv").kernel)  # 1x1x320x1280: fan_out = 1280
    assert abs(top.std() - np.sqrt(2.0 / 1280)) < 0.02 * np.sqrt(2.0 / 1280)
    dense = numpy(b0.get_layer("predictions").kernel)
    limit = 1.0 / np.sqrt(1000)
    assert np.abs(dense).max() <= limit and np.abs(dense).max() > 0.99 * limit
    assert abs(dense.std() - limit / np.sqrt(3)) < 0.01 * limit
    assert not np.any(numpy(b0.get_layer("predictions").bias))


# ----------------------------------------------------------------------------- structure
def test_linked_activations_keep_the_published_widths():
    model = EfficientNetBuilder(input_shape=(32, 32, 3), activation="lkrelu").default_model("B0")
    assert model.get_layer("stem_conv").filters == 16
    assert model.get_layer("stem_activation").output.shape[-1] == 32
    assert model.get_layer("block2a_expand_conv").filters == 48  # 16 * 6 / 2
    assert model.get_layer("block2a_expand_activation").output.shape[-1] == 96
    # a depthwise conv has one filter per channel: the linked activation doubles it
    assert model.get_layer("block2a_activation").output.shape[-1] == 192
    assert model.get_layer("block2a_se_reduce").filters == 2  # max(1, int(16 * 0.25)) / 2
    assert model.get_layer("block2a_se_activation").output.shape[-1] == 4
    assert model.get_layer("block2a_project_conv").output.shape[-1] == 24
    assert model.get_layer("top_conv").filters == 640
    assert model.get_layer("top_activation").output.shape[-1] == 1280
    assert split_counts(model) == param_formula.count("B0", activation="lkrelu")


def test_activation_and_norm_apply_to_every_block_unless_overridden():
    model = tiny()
    layers = {layer.name: layer for layer in model.layers}
    assert type(layers["stem_activation"]).__name__ == "LEAF"
    assert type(layers["block1a_activation"]).__name__ == "LEAF"
    assert type(layers["block3b_activation"]).__name__ == "LKReLU"
    assert type(layers["block1a_bn"]).__name__ == "AttentiveNormalization"
    assert type(layers["block2b_bn"]).__name__ == "IEBN"
    assert layers["block1a_bn"].n_mixture == 5 and layers["block3a_bn"].n_mixture == 3
    assert type(layers["top_bn"]).__name__ == "AttentiveNormalization"
    assert isinstance(layers["block2a_dwconv"], MixedDepthwiseConv2D)
    assert layers["block2a_dwconv"].kernel_size == (3, 5, 7)
    assert type(layers["block1a_dwconv"]) is keras.layers.DepthwiseConv2D
    # learnable activations: one parameter set per channel, shared over space
    assert [tuple(w.shape) for w in layers["stem_activation"].weights] == [(1, 1, 8)] * 4


def test_drop_connect_schedule(b0):
    # rate_b = 0.2 * b / 16 over the running block index b; blocks with a skip only
    names = [layer.name for layer in b0.layers if layer.name.endswith("_project_bn")]
    assert len(names) == 16
    rates = {}
    for b, name in enumerate(names):
        prefix = name[: -len("project_bn")]
        if prefix + "drop" in [layer.name for layer in b0.layers]:
            layer = b0.get_layer(prefix + "drop")
            assert isinstance(layer, DropConnect)
            rates[b] = layer.rate
    assert sorted(rates) == [2, 4, 6, 7, 9, 10, 12, 13, 14]
    for b, rate in rates.items():
        assert rate == pytest.approx(0.2 * b / 16)
    assert b0.get_layer("top_dropout").rate == 0.2


def test_block_args_are_not_modified():
    blocks = [BlockArgs.from_string(s) for s in TINY_BLOCKS]
    copies = [BlockArgs.from_string(b.to_string()) for b in blocks]
    EfficientNetBuilder(input_shape=(32, 32, 3), activation="mish").custom_model(blocks, 2.0, 2.0)
    assert blocks == copies


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


# ----------------------------------------------------------------------------- saving
def test_keras_file_round_trip(tmp_path):
    model = tiny(drop_connect_rate=0.3, channels=5)
    rng = np.random.default_rng(0)
    # non-trivial weights, moving statistics included
    model.set_weights([w + 0.05 * rng.normal(size=w.shape).astype(w.dtype)
                       for w in model.get_weights()])
    path = os.path.join(str(tmp_path), "tiny.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = rng.normal(size=(3, 32, 32, 5)).astype("float32")
    np.testing.assert_array_equal(numpy(model(x)), numpy(loaded(x)))
    kinds = {type(layer).__name__ for layer in loaded.layers}
    assert {"MixedDepthwiseConv2D", "AttentiveNormalization", "IEBN", "DropConnect", "LEAF",
            "LKReLU"} <= kinds
    assert [w.path for w in loaded.weights] == [w.path for w in model.weights]


def test_weights_argument_loads_a_weights_file(tmp_path):
    model = tiny(typeBN="bn")
    rng = np.random.default_rng(1)
    model.set_weights([w + 0.1 * rng.normal(size=w.shape).astype(w.dtype)
                       for w in model.get_weights()])
    path = os.path.join(str(tmp_path), "tiny.weights.h5")
    model.save_weights(path)
    again = tiny(typeBN="bn", weights=path)
    x = rng.normal(size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(numpy(model(x)), numpy(again(x)))


# ----------------------------------------------------------------------------- layouts
def test_channels_first_equals_channels_last():
    last = tiny("channels_last", channels=5)
    first = tiny("channels_first", channels=5)
    assert first.input_shape == (None, 5, 32, 32)
    assert any(isinstance(layer, ChannelsFirstConv2D) for layer in first.layers)
    assert not any(isinstance(layer, ChannelsFirstConv2D) for layer in last.layers)
    rng = np.random.default_rng(0)
    weights = [w + 0.05 * rng.normal(size=w.shape).astype(w.dtype) for w in last.get_weights()]
    last.set_weights(weights)
    # per-channel parameters of size (1, 1, C) are stored as (C, 1, 1) for channels_first
    first.set_weights([w if w.shape == tuple(v.shape) else np.moveaxis(w, -1, 0)
                       for w, v in zip(weights, first.weights)])
    x = rng.normal(size=(3, 32, 32, 5)).astype("float32")
    xt = np.transpose(x, (0, 3, 1, 2))
    for training in (False, True):
        np.testing.assert_allclose(numpy(last(x, training=training)),
                                   numpy(first(xt, training=training)), rtol=1e-4, atol=1e-6)
    # the 4-D feature maps, transposed
    maps = [EfficientNetBuilder(input_shape=s, data_format=f, include_top=False, pooling=None,
                                activation="lkprelu").custom_model(TINY_BLOCKS[:2], 0.5, 1.0)
            for s, f in (((32, 32, 5), "channels_last"), ((5, 32, 32), "channels_first"))]
    weights = [w + 0.05 * rng.normal(size=w.shape).astype(w.dtype) for w in maps[0].get_weights()]
    maps[0].set_weights(weights)
    maps[1].set_weights([w if w.shape == tuple(v.shape) else np.moveaxis(w, -1, 0)
                         for w, v in zip(weights, maps[1].weights)])
    y_last, y_first = numpy(maps[0](x)), numpy(maps[1](xt))
    assert y_first.shape == (3, 640, 8, 8)
    np.testing.assert_allclose(np.transpose(y_last, (0, 3, 1, 2)), y_first, rtol=1e-4, atol=1e-5)


def test_channels_first_conv_layer():
    x = np.random.default_rng(0).normal(size=(2, 6, 9, 9)).astype("float32")
    for kwargs in ({"kernel_size": 1}, {"kernel_size": 3, "strides": 2, "use_bias": True},
                   {"kernel_size": 1, "strides": 2}):
        layer = ChannelsFirstConv2D(4, data_format="channels_first", **kwargs)
        plain = keras.layers.Conv2D(4, data_format="channels_last", **kwargs)
        y = numpy(layer(x))
        plain.build((None, 9, 9, 6))
        plain.set_weights(layer.get_weights())
        expected = np.transpose(numpy(plain(np.transpose(x, (0, 2, 3, 1)))), (0, 3, 1, 2))
        np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
        clone = ChannelsFirstConv2D.from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()


# ----------------------------------------------------------------------------- inputs
def test_inputs_of_any_channels_and_sizes():
    builder = EfficientNetBuilder(input_shape=(None, None, 5), classes=3, include_top=True)
    model = builder.custom_model(TINY_BLOCKS[:2], 0.5, 1.0)
    for size in ((32, 32), (45, 67)):
        x = np.zeros((2, *size, 5), "float32")
        assert numpy(model(x)).shape == (2, 3)
    default = EfficientNetBuilder(classes=3).custom_model(TINY_BLOCKS[:1], default_size=40)
    assert default.input_shape == (None, 40, 40, 3)
    first = EfficientNetBuilder(data_format="channels_first").custom_model(
        TINY_BLOCKS[:1], default_size=36
    )
    assert first.input_shape == (None, 3, 36, 36)


def test_input_tensor_and_poolings():
    inputs = keras.Input((32, 32, 3), name="image")
    features = EfficientNetBuilder(input_tensor=inputs, include_top=False, pooling=None)
    model = features.custom_model(TINY_BLOCKS, 0.5, 1.0)
    assert model.inputs[0] is inputs
    assert model.output_shape == (None, 8, 8, 640)
    maxed = EfficientNetBuilder(input_tensor=inputs, include_top=False, pooling="max")
    assert maxed.custom_model(TINY_BLOCKS, 0.5, 1.0).output_shape == (None, 640)
    assert "max_pool" in [layer.name for layer in maxed.custom_model(TINY_BLOCKS).layers]
    flat = EfficientNetBuilder(input_shape=(64, 64, 3), pooling=None, classes=4)
    model = flat.custom_model(TINY_BLOCKS, 0.5, 1.0)
    assert model.get_layer("predictions").kernel.shape == (16 * 16 * 640, 4)
    with pytest.raises(TypeError, match="EfficientNetBuilder.*input_tensor.*Keras tensor"):
        EfficientNetBuilder(input_tensor=np.ones((1, 32, 32, 3))).custom_model(TINY_BLOCKS)
    with pytest.raises(ValueError, match="input_tensor.*shape.*input_shape"):
        EfficientNetBuilder(input_tensor=inputs, input_shape=(64, 64, 3)).custom_model(
            TINY_BLOCKS
        )


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs,error,message",
    [
        ({"activation": "nosuchact"}, ValueError, "unknown activation 'nosuchact'"),
        ({"activation": len}, TypeError, "`activation` must be a name"),
        ({"typeBN": "gn"}, ValueError, "unknown typeBN 'gn'"),
        ({"typeBN": None}, TypeError, "typeBN"),
        ({"typeBN": "an", "n_mixture": None}, ValueError, "needs an integer `n_mixture`"),
        ({"typeBN": "an", "n_mixture": 2.5}, ValueError, "n_mixture"),
        ({"n_mixture": 0}, ValueError, "n_mixture"),
        ({"classes": 0}, ValueError, "`classes` must be an int >= 1, got 0"),
        ({"classes": 2.0}, ValueError, "classes"),
        ({"pooling": "mean"}, ValueError, "unknown `pooling` 'mean'"),
        ({"input_shape": (31, 64, 3)}, None, None),
        ({"input_shape": (64, 64)}, ValueError, "3 entries"),
        ({"input_shape": (64, 0, 3)}, ValueError, "positive ints"),
        ({"weights": "imagenet"}, ValueError, "no pretrained 'imagenet' weights"),
        ({"weights": "/no/such/file.weights.h5"}, ValueError, "does not exist"),
        ({"drop_connect_rate": 1.0}, ValueError, "drop_connect_rate"),
        ({"data_format": "NCHW"}, ValueError, "data_format"),
        ({"mixed": 1}, TypeError, "mixed"),
        ({"include_top": "yes"}, TypeError, "include_top"),
        ({"batch_norm_momentum": 1.5}, ValueError, "batch_norm_momentum"),
        ({"batch_norm_epsilon": 0}, ValueError, "batch_norm_epsilon"),
        ({"depth_divisor": 0}, ValueError, "depth_divisor"),
        ({"min_depth": -1}, ValueError, "min_depth"),
    ],
)
def test_bad_builder_arguments(kwargs, error, message):
    if error is None:
        return  # the input-size case is checked when a model is built, below
    with pytest.raises(error, match=f"EfficientNetBuilder.*{message}"):
        EfficientNetBuilder(**kwargs)


@pytest.mark.parametrize(
    "shape,data_format",
    [((31, 64, 3), "channels_last"), ((64, 16, 3), "channels_last"),
     ((3, 64, 31), "channels_first")],
)
def test_inputs_smaller_than_32_are_rejected(shape, data_format):
    builder = EfficientNetBuilder(input_shape=shape, data_format=data_format)
    with pytest.raises(ValueError, match=f"EfficientNetBuilder.*at least 32.*{shape[1]}"):
        builder.default_model("B0")


def test_bad_model_arguments():
    builder = EfficientNetBuilder(input_shape=(32, 32, 3))
    with pytest.raises(ValueError, match="unknown variant 'B9'"):
        builder.default_model("B9")
    with pytest.raises(ValueError, match="unknown variant 'efficientnet'"):
        builder.default_model("efficientnet")
    with pytest.raises(ValueError, match="bad token 'x9'"):
        builder.custom_model(["r1_k3_s11_e1_i32_o16_x9"])
    with pytest.raises(ValueError, match="`block_list` is empty"):
        builder.custom_model([])
    with pytest.raises(TypeError, match="block_list"):
        builder.custom_model("r1_k3_s11_e1_i32_o16")
    with pytest.raises(TypeError, match="block 1 must be a BlockArgs"):
        builder.custom_model([TINY_BLOCKS[0], {"r": 1}])
    with pytest.raises(ValueError, match="block 1 .* input_filters=24 but block 0 outputs 16"):
        builder.custom_model([TINY_BLOCKS[0], TINY_BLOCKS[2]])
    with pytest.raises(ValueError, match="width_coefficient"):
        builder.custom_model(TINY_BLOCKS, width_coefficient=0)
    with pytest.raises(ValueError, match="default_size"):
        builder.custom_model(TINY_BLOCKS, default_size=16)
    with pytest.raises(ValueError, match="dropout_rate"):
        builder.custom_model(TINY_BLOCKS, dropout_rate=1.0)
    # a block asking for attentive normalization without a mixture count
    no_mixture = EfficientNetBuilder(input_shape=(32, 32, 3), n_mixture=None)
    with pytest.raises(ValueError, match="block 0 .*'an'.*integer `n_mixture`.*None"):
        no_mixture.custom_model(["r1_k3_s11_e1_i32_o16_ban"])
    assert no_mixture.custom_model(["r1_k3_s11_e1_i32_o16_ban_n2"]).count_params() > 0
