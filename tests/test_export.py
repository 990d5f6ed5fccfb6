"""Deployment: every layer through ``model.export`` (TF SavedModel, ONNX, LiteRT).

Each exported model is run by its own runtime (``tf.saved_model.load``,
``onnxruntime``, the TFLite interpreter) and must give Keras' outputs back
within float32 rounding. The weights are random, not the initial ones, so
that slopes, mixtures and moving statistics all take part.
"""

import os

import keras
import numpy as np
import pytest
from conftest import BACKEND

import linked_neurons as ln
from linked_neurons.efficientmixnet import EfficientNetBuilder

pytestmark = pytest.mark.skipif(
    BACKEND != "tensorflow", reason="model.export to SavedModel/ONNX/LiteRT runs on TensorFlow"
)

#: name -> (layer factory, input shape without the batch axis)
LAYERS = {
    "LKReLU": (ln.LKReLU, (6,)),
    "LKPReLU": (ln.LKPReLU, (6,)),
    "LKSELU": (ln.LKSELU, (6,)),
    "LKSwish": (ln.LKSwish, (6,)),
    "Linked": (lambda: ln.Linked("tanh"), (6,)),
    "SELU": (ln.SELU, (6,)),
    "Mish": (ln.Mish, (6,)),
    "Swish": (lambda: ln.Swish(trainable_beta=True), (6,)),
    "LEAF": (ln.LEAF, (6,)),
    "AHAF": (ln.AHAF, (6,)),
    "NeuralActivation": (ln.NeuralActivation, (6,)),
    "InterpolatedActivation": (
        lambda: ln.InterpolatedActivation([[0.0, 0.0, 1.0], [1.0, -0.5, 2.0]]),
        (6,),
    ),
    "AttentiveNormalization": (ln.AttentiveNormalization, (4, 4, 6)),
    "IEBN": (ln.IEBN, (4, 4, 6)),
    "MixedDepthwiseConv2D": (ln.MixedDepthwiseConv2D, (8, 8, 6)),
}

# Both sides compute in float32; the runtimes may fuse or reorder operations.
RTOL, ATOL = 2e-6, 2e-6


def _randomize(model, seed=0):
    """Moves every weight off its initial value (variances stay positive)."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        value = keras.ops.convert_to_numpy(w)
        w.assign(value + rng.uniform(0.05, 0.5, size=value.shape).astype(value.dtype))


def _model(name):
    factory, shape = LAYERS[name]
    inputs = keras.Input(shape)
    model = keras.Model(inputs, factory()(inputs))
    _randomize(model)
    x = np.random.default_rng(1).normal(scale=2.0, size=(3, *shape)).astype("float32")
    return model, x


def _saved_model_outputs(model, x, path):
    import tensorflow as tf

    model.export(path, format="tf_saved_model", verbose=False)
    loaded = tf.saved_model.load(path)  # keep it alive while its function runs
    return loaded.serve(x).numpy()


def _onnx_outputs(model, x, path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("tf2onnx")
    model.export(path, format="onnx", verbose=False)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def test_every_public_layer_is_covered():
    layers = {
        n for n in ln.__all__ if isinstance(getattr(ln, n), type) and issubclass(
            getattr(ln, n), keras.layers.Layer)
    }
    assert layers == set(LAYERS)


# LKSELU (the layer whose exp-minus-one needed an exportable form) runs by
# default; the others take 1 to 6 s each and run with --runslow.
@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=() if n == "LKSELU" else pytest.mark.slow) for n in sorted(LAYERS)],
)
def test_layer_exports_to_saved_model_and_onnx(name, tmp_path):
    model, x = _model(name)
    expected = keras.ops.convert_to_numpy(model(x, training=False))
    got = _saved_model_outputs(model, x, os.fspath(tmp_path / "saved"))
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)
    got = _onnx_outputs(model, x, os.fspath(tmp_path / "model.onnx"))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)


@pytest.mark.slow
def test_efficientnet_builder_model_exports(tmp_path):
    """Two B0 stages, mixed depthwise kernels, LKReLU and IEBN on a 32x32 input."""
    import dataclasses

    from linked_neurons.efficientmixnet.config import get_block_list

    blocks = [dataclasses.replace(b, num_repeat=1) for b in get_block_list(mixed=True)[:2]]
    builder = EfficientNetBuilder(
        input_shape=(32, 32, 3), classes=5, activation="lkrelu", typeBN="iebn"
    )
    model = builder.custom_model(blocks, width_coefficient=0.5)
    _randomize(model, seed=3)
    x = np.random.default_rng(2).uniform(0, 1, size=(2, 32, 32, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(model(x, training=False))
    got = _saved_model_outputs(model, x, os.fspath(tmp_path / "saved"))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
    got = _onnx_outputs(model, x, os.fspath(tmp_path / "model.onnx"))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


def _litert_outputs(model, x, path):
    import tensorflow as tf

    model.export(path, format="litert", verbose=False)
    interpreter = tf.lite.Interpreter(model_path=path)
    inp = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(inp["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_exports_to_litert(name, tmp_path):
    model, x = _model(name)
    expected = keras.ops.convert_to_numpy(model(x, training=False))
    got = _litert_outputs(model, x, os.fspath(tmp_path / "model.tflite"))
    # TFLite kernels (e.g. its mean and rsqrt) round differently from TensorFlow's.
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
