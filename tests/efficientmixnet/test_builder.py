"""EfficientNetBuilder (SPEC §7): parameter counts, keras.applications parity,
initializers and the structure of the models."""


import keras
import numpy as np
import param_formula
import pytest
from builder_support import TINY_BLOCKS, numpy, split_counts, tiny
from conftest import BACKEND

from linked_neurons.efficientmixnet import (
    BlockArgs,
    DropConnect,
    EfficientNetBuilder,
    MixedDepthwiseConv2D,
)

SPEC_COUNTS = {
    "B0": 5_330_564, "B1": 7_856_232, "B2": 9_177_562, "B3": 12_320_528,
    "B4": 19_466_816, "B5": 30_562_520, "B6": 43_265_136, "B7": 66_658_680,
}
B0_NO_TOP = 4_049_564


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

