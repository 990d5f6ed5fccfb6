"""EfficientNetBuilder (SPEC §7): saving, channels_first, inputs and bad arguments."""

import os

import keras
import numpy as np
import pytest
from builder_support import TINY_BLOCKS, numpy, tiny

from linked_neurons.efficientmixnet import EfficientNetBuilder
from linked_neurons.layers.convolutional import ChannelsFirstConv2D


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
    # In float64: both layouts compute the same sums in different orders, and a
    # deep random network amplifies float32 round-off differently per CPU (1.7e-5
    # on one machine, 4e-7 on another); in float64 they agree to about 1e-14 on
    # TensorFlow and PyTorch. JAX runs some ops in float32 unless jax_enable_x64
    # is set (3e-6 relative here), so it keeps float32 tolerances.
    tol = ({"rtol": 1e-4, "atol": 1e-5} if keras.backend.backend() == "jax"
           else {"rtol": 1e-9, "atol": 1e-12})
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
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
    x = rng.normal(size=(3, 32, 32, 5))
    xt = np.transpose(x, (0, 3, 1, 2))
    for training in (False, True):
        y_last, y_first = numpy(last(x, training=training)), numpy(first(xt, training=training))
        assert y_last.dtype == y_first.dtype == np.float64
        np.testing.assert_allclose(y_last, y_first, **tol)
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
    np.testing.assert_allclose(np.transpose(y_last, (0, 3, 1, 2)), y_first, **tol)


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
