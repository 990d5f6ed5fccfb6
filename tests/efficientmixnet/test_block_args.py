"""BlockArgs, the block-string grammar, the B0..B7 table and the rounding rules (SPEC §7)."""

import dataclasses
import itertools

import pytest

from linked_neurons.efficientmixnet import (
    BLOCK_STRINGS,
    VARIANTS,
    BlockArgs,
    decode_block_list,
    encode_block_list,
    get_block_list,
    get_variant,
    round_filters,
    round_repeats,
)


# ----------------------------------------------------------------------------- decoding
def test_decode_b0_stage():
    block = BlockArgs.from_string("r2_k5_s22_e6_i24_o40_se0.25")
    assert block == BlockArgs(
        24, 40, kernel_size=5, strides=(2, 2), num_repeat=2, se_ratio=0.25, expand_ratio=6
    )
    assert block.identity_skip and block.activation is None and block.typeBN is None
    assert block.n_mixture is None and not block.mixed


def test_decode_every_token():
    block = BlockArgs.from_string("r3_k[3, 5, 7]_s21_e0.5_i16_o24_se0.125_alk-relu_bAN_n4_noskip")
    assert block.num_repeat == 3
    assert block.kernel_size == (3, 5, 7) and block.mixed
    assert block.strides == (2, 1)
    assert block.expand_ratio == 0.5
    assert (block.input_filters, block.output_filters) == (16, 24)
    assert block.se_ratio == 0.125
    assert block.activation == "lk_relu"  # '-' stands for '_' in names
    assert block.typeBN == "AN"
    assert block.n_mixture == 4
    assert block.identity_skip is False


def test_original_encoder_strings_decode():
    """Strings of the original encoder: nNone, spaces in lists, optional tokens."""
    block = BlockArgs.from_string("r1_k[3, 5, 7]_s22_e1_i16_o24_se0.25_aswish_bbn_nNone")
    assert block.kernel_size == (3, 5, 7)
    assert block.n_mixture is None
    assert block.activation == "swish" and block.typeBN == "bn"


def test_original_method_name():
    assert BlockArgs.from_block_string(BLOCK_STRINGS[1]) == BlockArgs.from_string(BLOCK_STRINGS[1])


def test_token_order_is_free():
    assert BlockArgs.from_string("o16_i32_se0.25_k3_r1_s11_e1") == BlockArgs.from_string(
        BLOCK_STRINGS[0]
    )


# ----------------------------------------------------------------------------- round trips
ROUND_TRIP_BLOCKS = [
    BlockArgs(32, 16),
    BlockArgs(32, 16, se_ratio=0.25, identity_skip=False),
    BlockArgs(16, 24, kernel_size=[3, 5, 7, 9], strides=2, num_repeat=4, expand_ratio=6),
    BlockArgs(16, 24, kernel_size=(5,), expand_ratio=0.25, se_ratio=1e-5),
    BlockArgs(8, 8, expand_ratio=3.0, se_ratio=0, activation="mish", typeBN="iebn"),
    BlockArgs(8, 8, activation="lkprelu", typeBN="an", n_mixture=7),
    BlockArgs(8, 8, activation="hard_sigmoid", typeBN="batch_norm"),
    BlockArgs(8, 16, strides=(1, 2), n_mixture=3, identity_skip=False),
]


@pytest.mark.parametrize("block", ROUND_TRIP_BLOCKS, ids=str)
def test_encoder_output_decodes_to_an_equal_block(block):
    string = block.to_string()
    decoded = BlockArgs.from_string(string)
    assert decoded == block
    assert decoded.to_string() == string
    assert str(block) == string


def test_exhaustive_round_trip_over_optional_tokens():
    options = itertools.product(
        [3, (3, 5), (3, 5, 7, 9)],
        [None, 0.0, 0.25, 1.0],
        [None, "swish", "lkrelu", "leaky_relu"],
        [None, "bn", "an", "iebn"],
        [None, 1, 5],
        [True, False],
        [1, 6, 2.5],
    )
    count = 0
    for kernel, se, act, norm, n, skip, e in options:
        block = BlockArgs(24, 40, kernel, 2, 3, se, e, skip, act, norm, n)
        assert BlockArgs.from_string(block.to_string()) == block
        count += 1
    assert count == 3 * 4 * 4 * 4 * 3 * 2 * 3


def test_b0_strings_round_trip_verbatim():
    blocks = decode_block_list(BLOCK_STRINGS)
    assert encode_block_list(blocks) == list(BLOCK_STRINGS)


# ----------------------------------------------------------------------------- immutability
def test_block_args_are_immutable_and_normalized():
    kernels = [3, 5, 7]
    block = BlockArgs(16, 24, kernel_size=kernels, strides=[2, 2], se_ratio=1, expand_ratio=6.0)
    kernels.append(9)  # the caller's list is not shared
    assert block.kernel_size == (3, 5, 7)
    assert block.strides == (2, 2) and block.se_ratio == 1.0 and block.expand_ratio == 6
    assert isinstance(block.expand_ratio, int)
    with pytest.raises(dataclasses.FrozenInstanceError):
        block.num_repeat = 2
    changed = block.replace(num_repeat=2, activation="mish")
    assert (changed.num_repeat, changed.activation) == (2, "mish")
    assert (block.num_repeat, block.activation) == (1, None)
    assert hash(block) == hash(BlockArgs.from_string(block.to_string()))


def test_numpy_integers_are_accepted():
    np = pytest.importorskip("numpy")
    block = BlockArgs(np.int64(16), np.int32(24), kernel_size=[np.int64(3)], n_mixture=np.int8(2))
    assert block.to_string() == "r1_k[3]_s11_e1_i16_o24_n2"


# ----------------------------------------------------------------------------- block lists
def test_get_block_list_plain_and_mixed():
    plain = get_block_list()
    assert [b.to_string() for b in plain] == list(BLOCK_STRINGS)
    mixed = get_block_list(mixed=True, activation="mish", typeBN="an", n_mixture=5)
    assert [b.kernel_size for b in mixed] == [
        3, (3, 5, 7), (5, 7, 9), (3, 5, 7), (3, 5, 7, 9), (3, 5, 7, 9), 3
    ]
    assert all(b.activation == "mish" and b.typeBN == "an" and b.n_mixture == 5 for b in mixed)
    # everything else is B0
    assert [b.replace(kernel_size=p.kernel_size, activation=None, typeBN=None, n_mixture=None)
            for b, p in zip(mixed, plain)] == plain
    assert get_block_list() is not get_block_list()  # a new list every call


def test_encode_and_decode_lists_reject_wrong_types():
    with pytest.raises(TypeError, match="single string"):
        decode_block_list("r1_k3_s11_e1_i32_o16")
    with pytest.raises(TypeError, match="expected BlockArgs, got str"):
        encode_block_list(["r1_k3_s11_e1_i32_o16"])
    with pytest.raises(TypeError, match="mixed"):
        get_block_list(mixed="yes")


# ----------------------------------------------------------------------------- bad strings
@pytest.mark.parametrize(
    "string,token",
    [
        ("r1_k3_s11_e1_i32_o16_x5", "x5"),
        ("r1_k3_s1_e1_i32_o16", "s1"),
        ("r1_k3_s123_e1_i32_o16", "s123"),
        ("r1_kx_s11_e1_i32_o16", "kx"),
        ("r1_k[3,5_s11_e1_i32_o16", "k[3,5"),
        ("r1_k[]_s11_e1_i32_o16", "k[]"),
        ("rr_k3_s11_e1_i32_o16", "rr"),
        ("r1_k3_s11_e1_i32_o16_se", "se"),
        ("r1_k3_s11_e1_i32_o16_se0.2.5", "se0.2.5"),
        ("r1_k3_s11_e1_i32_o16_n1.5", "n1.5"),
        ("r1_k3_s11_e1_i32_o16_a", "a"),
        ("r1_k3_s11_e1_i32_o16_a3relu", "a3relu"),
        ("r1_k3_s11_e1_i32__o16", ""),
        ("r1_k3_s11_e1_i32_o16_noskips", "noskips"),
        ("r1_k3_r2_s11_e1_i32_o16", "r2"),
        ("r1_k3_s11_e1_i32_o16_ei", "ei"),
        ("r1_k3_s11_e1_i-32_o16", "i-32"),
    ],
)
def test_bad_block_strings_name_the_token(string, token):
    with pytest.raises(ValueError, match="bad token|repeats") as info:
        BlockArgs.from_string(string)
    assert repr(token) in str(info.value)


@pytest.mark.parametrize(
    "string,message",
    [
        ("r1_k3_s11_e1_o16", "no 'i' token"),
        ("r1_k3_s11_e1_i32", "no 'o' token"),
        ("r0_k3_s11_e1_i32_o16", "num_repeat"),
        ("r1_k0_s11_e1_i32_o16", "kernel_size"),
        ("r1_k3_s01_e1_i32_o16", "strides"),
        ("r1_k3_s11_e0_i32_o16", "expand_ratio"),
        ("r1_k3_s11_e1_i0_o16", "input_filters"),
        ("r1_k3_s11_e1_i32_o16_se1.5", "se_ratio"),
        ("r1_k3_s11_e1_i32_o16_n0", "n_mixture"),
        ("r1_k3_s11_e1_i32_o16_anosuchact", "unknown `activation` 'nosuchact'"),
        ("r1_k3_s11_e1_i32_o16_bnosuchnorm", "unknown `typeBN` 'nosuchnorm'"),
    ],
)
def test_bad_block_string_values(string, message):
    with pytest.raises(ValueError, match="BlockArgs") as info:
        BlockArgs.from_string(string)
    assert message in str(info.value)


def test_from_string_rejects_non_strings():
    with pytest.raises(TypeError, match="expected a block string"):
        BlockArgs.from_string(["r1"])


@pytest.mark.parametrize(
    "kwargs,error,message",
    [
        ({"input_filters": 0}, ValueError, "input_filters"),
        ({"output_filters": 2.0}, ValueError, "output_filters"),
        ({"kernel_size": "3"}, TypeError, "kernel_size"),
        ({"kernel_size": []}, TypeError, "kernel_size"),
        ({"kernel_size": [3, -5]}, ValueError, "positive"),
        ({"strides": (1, 2, 3)}, TypeError, "strides"),
        ({"strides": 10}, ValueError, "between 1 and 9"),
        ({"se_ratio": -0.1}, ValueError, "se_ratio"),
        ({"expand_ratio": float("inf")}, ValueError, "expand_ratio"),
        ({"identity_skip": 1}, TypeError, "identity_skip"),
        ({"activation": 3}, TypeError, "activation"),
        ({"activation": "lk relu"}, ValueError, "activation"),
        ({"typeBN": "no_such_norm"}, ValueError, "unknown `typeBN`"),
        ({"n_mixture": True}, ValueError, "n_mixture"),
    ],
)
def test_bad_constructor_arguments(kwargs, error, message):
    args = {"input_filters": 8, "output_filters": 8, **kwargs}
    with pytest.raises(error, match=f"BlockArgs.*{message}"):
        BlockArgs(**args)


# ----------------------------------------------------------------------------- scaling
def test_variant_table():
    assert list(VARIANTS) == [f"B{i}" for i in range(8)]
    expected = [
        (1.0, 1.0, 224, 0.2), (1.0, 1.1, 240, 0.2), (1.1, 1.2, 260, 0.3), (1.2, 1.4, 300, 0.3),
        (1.4, 1.8, 380, 0.4), (1.6, 2.2, 456, 0.4), (1.8, 2.6, 528, 0.5), (2.0, 3.1, 600, 0.5),
    ]
    assert [dataclasses.astuple(v) for v in VARIANTS.values()] == expected
    assert get_variant("b3") is VARIANTS["B3"]
    with pytest.raises(ValueError, match="unknown variant 'B8'.*B0, B1"):
        get_variant("B8")
    with pytest.raises(TypeError, match=r"`variant`.*\['B0'\].*list"):
        get_variant(["B0"])
    with pytest.raises(TypeError, match=r"`variant`.*None"):
        get_variant(None)


def test_round_filters_rule():
    # x = f * w; n = max(min_depth or 8, int(x + 4) // 8 * 8); n += 8 if n < 0.9 x
    assert round_filters(1280, 2.0) == 2560  # not 2559 (the original's divisor bug)
    assert round_filters(32, 1.0) == 32
    assert round_filters(16, 1.1) == 16  # 17.6 -> 16 (>= 0.9 * 17.6)
    assert round_filters(24, 1.1) == 24  # 26.4 -> 24 (>= 23.76)
    assert round_filters(40, 1.1) == 48  # 44 -> 48
    assert round_filters(112, 1.8) == 200  # 201.6 -> 200
    assert round_filters(320, 1.8) == 576
    assert round_filters(1, 1.0) == 8  # at least the divisor
    assert round_filters(1, 1.0, min_depth=16) == 16
    assert round_filters(18, 1.0, depth_divisor=16) == 16 + 16 * (16 < 0.9 * 18)
    assert round_filters(100, 1.0, depth_divisor=32) == 96


def test_round_repeats_rule():
    assert [round_repeats(r, 3.1) for r in (1, 2, 3, 4)] == [4, 7, 10, 13]
    assert [round_repeats(r, 1.0) for r in (1, 2, 3, 4)] == [1, 2, 3, 4]
    assert round_repeats(3, 1.1) == 4


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_builder_rejects_non_finite_numbers(bad):
    from linked_neurons.efficientmixnet import EfficientNetBuilder

    for kwargs in ({"batch_norm_epsilon": bad}, {"drop_connect_rate": bad},
                   {"batch_norm_momentum": bad}):
        (name,) = kwargs
        with pytest.raises(ValueError, match=rf"EfficientNetBuilder.*`{name}`.*{bad}"):
            EfficientNetBuilder(**kwargs)
    with pytest.raises(ValueError, match=rf"custom_model.*`width_coefficient`.*{bad}"):
        EfficientNetBuilder().custom_model(["r1_k3_s11_e1_i32_o16"], width_coefficient=bad)
