"""MixedDepthwiseConv2D (SPEC §7): channel split, reference values, Keras integration."""

import math

import keras
import numpy as np
import pytest
from conftest import BACKEND, LayerCase, random_input
from keras import ops

from linked_neurons.layers.convolutional import (
    MixedDepthwiseConv2D,
    _cpu_only_tensorflow,
    split_channels,
)


# ----------------------------------------------------------------------------- reference
def _np_depthwise(x, kernel, strides, padding, dilation):
    """float64 NHWC depthwise conv; kernel (kh, kw, C, M) -> C*M channels (c-major)."""
    n, h, w, c = x.shape
    kh, kw, _, m = kernel.shape
    out_sizes, pads = [], []
    for size, k, s, d in ((h, kh, strides[0], dilation[0]), (w, kw, strides[1], dilation[1])):
        span = d * (k - 1) + 1
        if padding == "same":
            out = math.ceil(size / s)
            total = max((out - 1) * s + span - size, 0)
            pads.append((total // 2, total - total // 2))
        else:
            out = (size - span) // s + 1
            pads.append((0, 0))
        out_sizes.append(out)
    xp = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    y = np.zeros((n, out_sizes[0], out_sizes[1], c, m))
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * dilation[0], j * dilation[1]
            patch = xp[
                :,
                r0 : r0 + strides[0] * (out_sizes[0] - 1) + 1 : strides[0],
                c0 : c0 + strides[1] * (out_sizes[1] - 1) + 1 : strides[1],
                :,
            ]
            y += patch[..., None] * kernel[i, j][None, None, None]
    return y.reshape(n, out_sizes[0], out_sizes[1], c * m)


def mixed_reference(kernel_sizes, strides=1, padding="same", dilation=1, multiplier=1,
                    use_bias=False):
    """Independent float64 formula of SPEC §7: split, one depthwise conv per group, concat."""
    strides = (strides, strides) if isinstance(strides, int) else tuple(strides)
    dilation = (dilation, dilation) if isinstance(dilation, int) else tuple(dilation)

    def reference(x, weights, axis):
        channels = x.shape[-1]
        groups = len(kernel_sizes)
        base = channels // groups
        sizes = [channels - base * (groups - 1)] + [base] * (groups - 1)
        outs, start = [], 0
        for g, size in enumerate(sizes):
            kernel = weights[g]
            k = kernel_sizes[g]
            assert kernel.shape == (k, k, size, multiplier)
            outs.append(
                _np_depthwise(x[..., start : start + size], kernel, strides, padding, dilation)
            )
            start += size
        y = np.concatenate(outs, axis=-1)
        if use_bias:
            y = y + weights[groups]
        return y

    return reference


CASES = [
    LayerCase(MixedDepthwiseConv2D, mixed_reference([3, 5, 7]),
              kwargs={"kernel_size": [3, 5, 7]}, input_shape=(2, 9, 8, 16), has_axis=False,
              id="k357"),
    LayerCase(MixedDepthwiseConv2D, mixed_reference([3, 5], strides=2, multiplier=2,
                                                    use_bias=True),
              kwargs={"kernel_size": [3, 5], "strides": 2, "depth_multiplier": 2,
                      "use_bias": True},
              input_shape=(2, 9, 10, 7), has_axis=False, id="k35-s2-m2-bias"),
    LayerCase(MixedDepthwiseConv2D, mixed_reference([3, 3], padding="valid", dilation=2),
              kwargs={"kernel_size": [3, 3], "padding": "valid", "dilation_rate": 2},
              input_shape=(2, 9, 9, 5), has_axis=False, id="k33-valid-d2"),
    LayerCase(MixedDepthwiseConv2D, mixed_reference([3, 5, 7, 9]),
              kwargs={"kernel_size": [3, 5, 7, 9]}, input_shape=(2, 10, 10, 11),
              has_axis=False, id="k3579"),
    # A forced implementation: the same formula, and the argument saved and reloaded.
    LayerCase(MixedDepthwiseConv2D, mixed_reference([3, 5, 7, 9]),
              kwargs={"kernel_size": [3, 5, 7, 9], "implementation": "shifts"},
              input_shape=(2, 10, 10, 11), has_axis=False, id="k3579-shifts"),
]
each = pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])


# ----------------------------------------------------------------------------- split
def test_split_of_spec_and_weight_count():
    assert split_channels(16, 3) == [6, 5, 5]
    layer = MixedDepthwiseConv2D([3, 5, 7])
    layer.build((None, 8, 8, 16))
    assert layer.group_channels == [6, 5, 5]
    assert [tuple(k.shape) for k in layer.kernels] == [(3, 3, 6, 1), (5, 5, 5, 1), (7, 7, 5, 1)]
    assert layer.count_params() == 424 == 6 * 9 + 5 * 25 + 5 * 49


@pytest.mark.parametrize("channels,groups", [(3, 3), (4, 3), (17, 4), (100, 4), (9, 1)])
def test_split_rule(channels, groups):
    sizes = split_channels(channels, groups)
    assert sum(sizes) == channels and len(sizes) == groups
    assert sizes[1:] == [channels // groups] * (groups - 1)


# ----------------------------------------------------------------------------- numerics
@each
def test_reference_float64(checker, case):
    checker.check_reference(case, "float64")


@each
def test_reference_float32(checker, case):
    checker.check_reference(case, "float32")


@each
def test_finite_difference_gradients(checker, case):
    checker.check_finite_difference(case)


def test_equals_depthwise_conv_for_equal_kernels():
    x = random_input((2, 8, 8, 6)).astype("float32")
    mixed = MixedDepthwiseConv2D([3, 3])
    mixed.build(x.shape)
    rng = np.random.default_rng(0)
    mixed.set_weights([rng.normal(size=tuple(k.shape)).astype("float32") for k in mixed.kernels])
    plain = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False)
    plain.build(x.shape)
    plain.set_weights([np.concatenate(mixed.get_weights(), axis=2)])
    np.testing.assert_allclose(
        ops.convert_to_numpy(mixed(x)), ops.convert_to_numpy(plain(x)), rtol=1e-5, atol=1e-5
    )


def test_single_kernel_size_is_a_depthwise_conv():
    layer = MixedDepthwiseConv2D(5)
    y = layer(np.ones((1, 6, 6, 4), "float32"))
    assert layer.group_channels == [4] and layer.count_params() == 100
    assert tuple(y.shape) == (1, 6, 6, 4)


# ----------------------------------------------------------------------------- Keras
@each
def test_config_round_trip(checker, case):
    checker.check_config(case)


@each
def test_keras_file_round_trip(checker, case, tmp_path):
    checker.check_saving(case, tmp_path)


@each
def test_sequential_and_functional(checker, case):
    checker.check_sequential_and_functional(case)


@each
def test_compiled_training_step(checker, case):
    checker.check_training_step(case)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(checker, policy):
    """float32 variables, outputs in the compute dtype, within rounding of the reference.

    A convolution sums up to 49 products, so the rounding error scales with the
    sum of their magnitudes (the reference applied to |x| and |w|), not with
    the output itself.
    """
    case = CASES[0]
    keras.config.set_dtype_policy(policy)
    layer = case.make()
    layer.build(case.input_shape)
    checker.randomize(case, layer)
    assert all(keras.backend.standardize_dtype(w.dtype) == "float32" for w in layer.weights)
    x = random_input(case.input_shape, seed=4)
    compute = policy.split("_")[1]
    y = layer(x.astype("float32"))
    assert keras.backend.standardize_dtype(y.dtype) == compute
    y = ops.convert_to_numpy(ops.cast(y, "float32")).astype("float64")

    def rounded(a):
        return ops.convert_to_numpy(ops.cast(ops.cast(a, compute), "float32")).astype("float64")

    x_c = rounded(x)
    w_c = [rounded(w) for w in layer.weights]
    expected = case.reference(x_c, w_c, -1)
    magnitude = case.reference(np.abs(x_c), [np.abs(w) for w in w_c], -1)
    unit = 2.0**-10 if compute == "float16" else 2.0**-7
    assert np.all(np.isfinite(y))
    assert np.all(np.abs(y - expected) <= 4 * unit * magnitude + 1e-6)
    # and it is not a float32 computation rounded at the end only by accident
    assert np.max(np.abs(y - expected)) > 0


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("implementation", ["shifts", "blocks"])
def test_mixed_precision_sums_in_float32(policy, implementation):
    """The shifted slices and the tiles are summed in float32 and rounded once.

    Shifted slices: the output is the float64 result of the rounded input and
    weights, rounded once (at most half a unit in the last place, ``u * |y|``).
    Summed in 16 bits, a 9x9 kernel's 81 partial sums are each rounded: up to
    4.4 ``u * magnitude`` was measured. Tiles: each tile's convolution is
    rounded once, then the float32 sum once more.
    """
    if implementation == "blocks" and policy == "mixed_float16" and _cpu_only_tensorflow():
        pytest.skip("TensorFlow's CPU depthwise convolution (keras.layers.DepthwiseConv2D's "
                    "too) sums float16 in float16, so a tile is not rounded once")
    keras.config.set_dtype_policy(policy)
    compute = policy.split("_")[1]
    u = 2.0**-11 if compute == "float16" else 2.0**-8  # unit roundoff
    layer = MixedDepthwiseConv2D([3, 5, 7, 9], implementation=implementation)
    shape = (2, 14, 14, 32)
    layer.build(shape)
    rng = np.random.default_rng(7)
    layer.set_weights([rng.normal(size=w.shape).astype("float32") * 0.1 for w in layer.weights])
    x = random_input(shape, seed=8).astype("float32")
    y = layer(x)
    assert keras.backend.standardize_dtype(y.dtype) == compute
    y = ops.convert_to_numpy(ops.cast(y, "float32")).astype("float64")

    def rounded(a):
        return ops.convert_to_numpy(ops.cast(ops.cast(a, compute), "float32")).astype("float64")

    x_c, w_c = rounded(x), [rounded(w) for w in layer.weights]
    reference = mixed_reference([3, 5, 7, 9])
    expected = reference(x_c, w_c, -1)
    magnitude = reference(np.abs(x_c), [np.abs(w) for w in w_c], -1)
    error = np.abs(y - expected)
    if implementation == "shifts":
        assert np.all(error <= u * np.abs(expected) + 2.0**-20 * magnitude)
    else:
        assert np.all(error <= u * (np.abs(expected) + magnitude) + 2.0**-20 * magnitude)
    assert np.max(error) > 0  # rounded to the compute dtype, not computed in float32 throughout


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_compiled_training_step_under_a_mixed_policy(checker, policy):
    # Compiled with XLA (TensorFlow, JAX), "auto" picks the shifted slices with
    # their float32 sums; every weight trains and the losses stay finite.
    checker.check_training_step(CASES[3], policy=policy)


def test_unknown_sizes(checker):
    checker.check_unknown_sizes(CASES[0])


@each
def test_compute_output_shape_matches_call(case):
    layer = case.make()
    y = layer(random_input(case.input_shape).astype("float32"))
    assert layer.compute_output_shape(case.input_shape) == tuple(y.shape)
    assert layer.compute_output_shape((None, None, None, case.input_shape[-1]))[1:3] == (
        None,
        None,
    )


@pytest.mark.parametrize("kwargs", [{}, {"strides": 2, "depth_multiplier": 2, "use_bias": True}])
def test_channels_first_equals_channels_last(kwargs):
    x = random_input((2, 9, 10, 7), seed=3).astype("float32")
    last = MixedDepthwiseConv2D([3, 5, 7], data_format="channels_last", **kwargs)
    last.build(x.shape)
    rng = np.random.default_rng(1)
    weights = [rng.normal(size=tuple(w.shape)).astype("float32") for w in last.weights]
    last.set_weights(weights)
    first = MixedDepthwiseConv2D([3, 5, 7], data_format="channels_first", **kwargs)
    x_first = np.transpose(x, (0, 3, 1, 2))
    first.build(x_first.shape)
    first.set_weights(weights)  # kernels are (kh, kw, C, M) in both layouts
    y_last = ops.convert_to_numpy(last(x))
    y_first = ops.convert_to_numpy(first(x_first))
    np.testing.assert_allclose(np.transpose(y_last, (0, 3, 1, 2)), y_first, rtol=1e-5, atol=1e-5)
    assert first.compute_output_shape(x_first.shape) == y_first.shape
    # Compiled (XLA on TensorFlow and JAX) as well.
    model = keras.Sequential([keras.Input(x_first.shape[1:]), first])
    model.compile(loss="mse", jit_compile=BACKEND != "torch")
    np.testing.assert_allclose(
        model.predict(x_first, verbose=0), y_first, rtol=1e-5, atol=1e-5
    )


def test_gradient_flows_to_every_group_kernel():
    layer = MixedDepthwiseConv2D([3, 5, 7], strides=2)
    x = random_input((2, 8, 8, 16)).astype("float32")
    layer.build(x.shape)
    weights = [ops.convert_to_numpy(w) for w in layer.trainable_weights]

    def loss(*w):
        y, _ = layer.stateless_call(list(w), [], x)
        return ops.sum(ops.square(y))

    from conftest import value_and_grads

    _, grads = value_and_grads(loss, weights)
    assert all(np.all(np.isfinite(g)) and np.any(g != 0) for g in grads)


# ----------------------------------------------------------------------------- bad input
def test_bad_arguments():
    name = "MixedDepthwiseConv2D"
    with pytest.raises(TypeError, match=f"{name}.*kernel_size"):
        MixedDepthwiseConv2D("3")
    with pytest.raises(TypeError, match=f"{name}.*kernel_size"):
        MixedDepthwiseConv2D([])
    with pytest.raises(ValueError, match=f"{name}.*kernel_size.*positive"):
        MixedDepthwiseConv2D([3, 0])
    with pytest.raises(ValueError, match=f"{name}.*padding"):
        MixedDepthwiseConv2D([3, 5], padding="causal")
    with pytest.raises(ValueError, match=f"{name}.*'valid' needs equal kernel sizes"):
        MixedDepthwiseConv2D([3, 5], padding="valid")
    with pytest.raises(ValueError, match=f"{name}.*data_format"):
        MixedDepthwiseConv2D([3], data_format="NHWC")
    with pytest.raises(ValueError, match=f"{name}.*depth_multiplier"):
        MixedDepthwiseConv2D([3], depth_multiplier=0)
    with pytest.raises(ValueError, match=f"{name}.*strides.*positive"):
        MixedDepthwiseConv2D([3], strides=0)
    with pytest.raises(TypeError, match=f"{name}.*use_bias"):
        MixedDepthwiseConv2D([3], use_bias="no")
    with pytest.raises(ValueError, match=f"{name}.*`implementation` must be one of 'auto', "
                                         f"'groups', 'shifts', 'blocks', 'padded', got 'fft'"):
        MixedDepthwiseConv2D([3, 5], implementation="fft")


def test_bad_inputs():
    name = "MixedDepthwiseConv2D"
    with pytest.raises(ValueError, match=f"{name}.*3 kernel sizes need at least 3 channels, got 2"):
        MixedDepthwiseConv2D([3, 5, 7])(np.ones((1, 8, 8, 2), "float32"))
    with pytest.raises(ValueError, match=f"{name}.*4D input"):
        MixedDepthwiseConv2D([3, 5])(np.ones((1, 8, 4), "float32"))
    with pytest.raises(ValueError, match=f"{name}.*known number of channels"):
        MixedDepthwiseConv2D([3, 5])(keras.Input((8, 8, None)))
    with pytest.raises(TypeError, match=f"{name}.*floating-point.*int32"):
        MixedDepthwiseConv2D([3, 5])(np.ones((1, 8, 8, 4), "int32"))
    layer = MixedDepthwiseConv2D([3, 5])
    layer(np.ones((1, 8, 8, 4), "float32"))
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 4"):
        layer(np.ones((1, 8, 8, 5), "float32"))


def test_docstring_examples():
    import doctest

    import linked_neurons.layers.convolutional as module

    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


# ----------------------------------------------------------------------------- implementations
EXACT_PADDED = [
    {"kernel_size": [3, 5, 7, 9]},
    {"kernel_size": [3, 5, 7], "strides": 2, "depth_multiplier": 2, "use_bias": True},
    {"kernel_size": [2, 4], "strides": 2},
    {"kernel_size": [(3, 5), (5, 7)], "dilation_rate": 2},
    {"kernel_size": [3, 5, 7], "strides": 3},
]


def _pair_of_layers(kwargs, shape, data_format="channels_last", other="padded"):
    layers = []
    for impl in ("groups", other):
        layer = MixedDepthwiseConv2D(data_format=data_format, implementation=impl, **kwargs)
        layer.build(shape)
        layers.append(layer)
    rng = np.random.default_rng(7)
    weights = [rng.normal(size=tuple(w.shape)) for w in layers[0].weights]
    for layer in layers:
        layer.set_weights(weights)
    return layers


@pytest.mark.parametrize("impl", ["padded", "shifts", "blocks"])
@pytest.mark.parametrize("kwargs", EXACT_PADDED)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_other_implementations_equal_groups(kwargs, data_format, impl):
    """A zero-padded kernel, shifted slices, 3x3 tiles and G grouped convs: same values
    and grads."""
    shape = (2, 11, 10, 13) if data_format == "channels_last" else (2, 13, 11, 10)
    groups, padded = _pair_of_layers(kwargs, shape, data_format, impl)
    assert padded.padding_is_exact()
    assert padded._implementation_for(random_input(shape), data_format) == impl
    x = random_input(shape, seed=5)
    if data_format == "channels_first" and BACKEND == "tensorflow":
        x = x.astype("float32")  # TensorFlow's CPU convolutions: the layer transposes
    y_groups = ops.convert_to_numpy(groups(x))
    y_padded = ops.convert_to_numpy(padded(x))
    assert y_groups.shape == y_padded.shape == groups.compute_output_shape(shape)
    tol = 1e-12 if y_groups.dtype == np.float64 else 1e-5
    np.testing.assert_allclose(y_padded, y_groups, rtol=tol, atol=tol)

    from conftest import value_and_grads

    upstream = ops.convert_to_tensor(random_input(y_groups.shape, seed=6).astype(y_groups.dtype))
    grads = []
    for layer in (groups, padded):
        def loss(*w, layer=layer):
            y, _ = layer.stateless_call(list(w), [], x)
            return ops.sum(y * ops.cast(upstream, y.dtype))

        grads.append(value_and_grads(loss, layer.get_weights())[1])
    for a, b in zip(*grads):
        # Kernel gradients are float32 sums over the batch and the rows and
        # columns, summed in another order: compare to their scale.
        a, b = np.asarray(a), np.asarray(b)
        np.testing.assert_allclose(b, a, rtol=tol, atol=tol * max(1.0, np.max(np.abs(a))))


def test_padded_kernel_layout():
    layer = MixedDepthwiseConv2D([3, 5, 7], depth_multiplier=2)
    layer.build((None, 8, 8, 16))
    rng = np.random.default_rng(0)
    layer.set_weights([rng.normal(size=tuple(w.shape)) for w in layer.weights])
    big = ops.convert_to_numpy(layer.padded_kernel())
    assert big.shape == (7, 7, 16, 2)
    start = 0
    for w, c in zip(layer.get_weights(), layer.group_channels):
        k = w.shape[0]
        lo = (7 - k) // 2
        block = big[:, :, start : start + c]
        np.testing.assert_array_equal(block[lo : lo + k, lo : lo + k], w)
        mask = np.ones((7, 7), bool)
        mask[lo : lo + k, lo : lo + k] = False
        assert not np.any(block[mask])
        start += c


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kernel_size": [3, 4]},  # mixed parity: centring is off by half a pixel
        {"kernel_size": [1, 3], "strides": 2},  # 1 < stride: "same" padding clipped at 0
        {"kernel_size": [3, 3], "padding": "valid"},
    ],
)
def test_inexact_padding_keeps_groups(kwargs):
    """Where a padded kernel would differ, the layer computes the groups whatever is asked;
    shifted slices and 3x3 tiles are exact there too."""
    shape = (2, 10, 9, 6)
    groups, padded = _pair_of_layers(kwargs, shape)
    assert not padded.padding_is_exact()
    x = random_input(shape, seed=2).astype("float32")
    y = ops.convert_to_numpy(groups(x))
    np.testing.assert_array_equal(ops.convert_to_numpy(padded(x)), y)
    for other in ("shifts", "blocks"):
        _, layer = _pair_of_layers(kwargs, shape, other=other)
        np.testing.assert_allclose(ops.convert_to_numpy(layer(x)), y, rtol=1e-5, atol=1e-5)


def test_shifted_depthwise_conv_matches_float64_reference():
    from linked_neurons.ops.depthwise import shifted_depthwise_conv

    x = random_input((2, 9, 8, 3), seed=8)
    kernel = np.random.default_rng(9).normal(size=(3, 5, 3, 2))
    for strides, padding, dilation in (((1, 1), "same", (1, 1)), ((2, 3), "valid", (1, 1)),
                                       ((1, 2), "same", (2, 1))):
        y = shifted_depthwise_conv(ops.convert_to_tensor(x), ops.convert_to_tensor(kernel),
                                   strides, padding, "channels_last", dilation)
        expected = _np_depthwise(x, kernel, strides, padding, dilation)
        np.testing.assert_allclose(ops.convert_to_numpy(y), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "kernel_shape, strides, padding, dilation",
    [
        ((9, 9), (1, 1), "same", (1, 1)),
        ((5, 7), (2, 2), "same", (1, 1)),
        ((7, 4), (2, 2), "valid", (1, 1)),
        ((5, 3), (1, 1), "same", (2, 1)),
        ((2, 8), (3, 3), "same", (1, 1)),
        ((3, 3), (1, 1), "same", (1, 1)),
    ],
)
def test_blocked_depthwise_conv_matches_float64_reference(kernel_shape, strides, padding,
                                                          dilation):
    from linked_neurons.ops.depthwise import blocked_depthwise_conv

    x = random_input((2, 13, 12, 3), seed=8)
    kernel = np.random.default_rng(9).normal(size=kernel_shape + (3, 2))
    y = blocked_depthwise_conv(ops.convert_to_tensor(x), ops.convert_to_tensor(kernel),
                               strides, padding, "channels_last", dilation)
    expected = _np_depthwise(x, kernel, strides, padding, dilation)
    np.testing.assert_allclose(ops.convert_to_numpy(y), expected, rtol=1e-12, atol=1e-12)


def test_blocked_depthwise_conv_keeps_inf_where_the_convolution_does():
    """The tiles add no zero taps: an Inf input stays Inf (0 * Inf would be NaN)."""
    from linked_neurons.ops.depthwise import blocked_depthwise_conv

    x = np.zeros((1, 9, 9, 1))
    x[0, 4, 4, 0] = np.inf
    kernel = np.ones((5, 5, 1, 1))
    y = ops.convert_to_numpy(blocked_depthwise_conv(
        ops.convert_to_tensor(x), ops.convert_to_tensor(kernel), 1, "same"))
    expected = ops.convert_to_numpy(ops.depthwise_conv(
        ops.convert_to_tensor(x), ops.convert_to_tensor(kernel), 1, "same"))
    np.testing.assert_array_equal(np.isnan(y), np.isnan(expected))
    np.testing.assert_array_equal(np.isinf(y), np.isinf(expected))
    assert np.isinf(y).sum() == 25


def _picks_by_mode(layer, x):
    """``{mode: implementation "auto" picks}`` in each way this backend runs a call."""
    picks = {}

    def pick(mode):
        def fn(t):
            picks[mode] = layer._implementation_for(t, "channels_last")
            return t

        return fn

    pick("eager")(x)
    if BACKEND == "jax":
        import jax

        jax.jit(pick("jit"))(x)
        jax.grad(lambda t: ops.sum(pick("grad without jit")(t)))(x)
    elif BACKEND == "tensorflow":
        import tensorflow as tf

        tf.function(pick("graph"))(x)
        tf.function(pick("xla"), jit_compile=True)(x)
        unknown = tf.TensorSpec((None, None, None, 4), x.dtype)
        tf.function(pick("xla, unknown sizes"), jit_compile=True, input_signature=[unknown])(x)
    return picks


def test_automatic_choice_on_this_machine():
    """Shifted slices under XLA on a CPU (JAX's jit, TensorFlow's jit_compile=True) and
    JAX's jit on a GPU; grouped convolutions op by op. Shifted slices need static sizes."""
    layer = MixedDepthwiseConv2D([3, 5])
    layer.build((None, 8, 8, 4))
    x = ops.convert_to_tensor(random_input((2, 8, 8, 4)).astype("float32"))
    picks = _picks_by_mode(layer, x)
    if BACKEND == "jax":
        import jax

        jit = "shifts" if jax.default_backend() in ("cpu", "gpu") else "groups"
        assert picks == {"eager": "groups", "jit": jit, "grad without jit": "groups"}
    elif BACKEND == "tensorflow":
        import tensorflow as tf

        xla = "groups" if tf.config.list_logical_devices("GPU") else "shifts"
        assert picks == {"eager": "groups", "graph": "groups", "xla": xla,
                         "xla, unknown sizes": "groups"}
    else:
        assert picks == {"eager": "groups"}
    for impl in ("shifts", "blocks"):
        layer.implementation = impl
        assert layer._implementation_for(x, "channels_last") == impl


def test_implementation_argument_is_saved_and_used(tmp_path):
    """A forced implementation survives get_config and a .keras file, and is the one run."""
    inputs = keras.Input((8, 8, 4))
    layer = MixedDepthwiseConv2D([3, 5], implementation="blocks")
    model = keras.Model(inputs, layer(inputs))
    assert layer.get_config()["implementation"] == "blocks"
    assert MixedDepthwiseConv2D.from_config(layer.get_config()).implementation == "blocks"
    path = str(tmp_path / "blocks.keras")
    model.save(path)
    loaded = keras.saving.load_model(path).layers[-1]
    assert loaded.implementation == "blocks"
    x = random_input((2, 8, 8, 4)).astype("float32")
    assert loaded._implementation_for(ops.convert_to_tensor(x), "channels_last") == "blocks"
    np.testing.assert_array_equal(ops.convert_to_numpy(loaded(x)),
                                  ops.convert_to_numpy(model(x)))
    # Configs written before the argument existed load with the default.
    config = layer.get_config()
    del config["implementation"]
    assert MixedDepthwiseConv2D.from_config(config).implementation == "auto"
