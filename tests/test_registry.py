"""The name registry ``linked_neurons.activations``."""

import keras
import numpy as np
import pytest
from conftest import random_input
from keras import ops

from linked_neurons import LKSELU, SELU, LKPReLU, LKReLU, LKSwish, Mish, Swish, activations


@pytest.mark.parametrize(
    "name,cls,multiplier",
    [
        ("lkrelu", LKReLU, 2),
        ("LK-ReLU", LKReLU, 2),
        ("lk_prelu", LKPReLU, 2),
        ("lkselu", LKSELU, 2),
        ("lkswish", LKSwish, 2),
        ("selu", SELU, 1),
        ("mish", Mish, 1),
        ("swish", Swish, 1),
        ("silu", Swish, 1),
        ("relu", keras.layers.ReLU, 1),
        ("prelu", keras.layers.PReLU, 1),
        ("leaky_relu", keras.layers.LeakyReLU, 1),
        ("tanh", keras.layers.Activation, 1),
        ("gelu", keras.layers.Activation, 1),
    ],
)
def test_get_returns_new_layers_and_knows_channel_multiplier(name, cls, multiplier):
    a, b = activations.get(name), activations.get(name)
    assert type(a) is cls and a is not b
    assert activations.channel_multiplier(name) == multiplier
    assert activations.is_linked(name) == (multiplier == 2)
    x = random_input((2, 3, 4)).astype("float32")
    y = a(x)
    assert y.shape[-1] == 4 * multiplier


def test_axis_reaches_layers_with_a_channel_axis_only():
    assert activations.get("lkrelu", axis=1).axis == 1
    assert activations.get("swish", axis=1).axis == 1
    assert isinstance(activations.get("mish", axis=1), Mish)  # elementwise: ignored
    assert isinstance(activations.get("tanh", axis=1), keras.layers.Activation)


def test_get_passes_constructor_arguments_and_leaky_relu_default():
    layer = activations.get("lkprelu", alpha_initializer="ones")
    assert isinstance(layer.alpha_initializer, keras.initializers.Ones)
    leaky = activations.get("leakyrelu")
    np.testing.assert_allclose(ops.convert_to_numpy(leaky(np.array([[-1.0]]))), [[-0.2]])


def test_get_other_identifiers():
    layer = LKSwish(axis=1)
    assert activations.get(layer) is layer
    assert isinstance(activations.get(None), keras.layers.Activation)
    wrapped = activations.get(ops.tanh)
    assert isinstance(wrapped, keras.layers.Activation)
    assert activations.channel_multiplier(layer) == 2
    config = activations.serialize(LKPReLU(shared_axes=[1, 2], name="act"))
    clone = activations.deserialize(config)
    assert type(clone) is LKPReLU and clone.shared_axes == [1, 2] and clone.name == "act"
    assert activations.channel_multiplier(config) == 2
    assert type(activations.get(config)) is LKPReLU
    assert type(activations.deserialize("lkselu")) is LKSELU


def test_unknown_and_bad_identifiers():
    with pytest.raises(ValueError, match="unknown activation 'lkfoo'.*lkrelu"):
        activations.get("lkfoo")
    with pytest.raises(ValueError, match="unknown activation 'lkfoo'"):
        activations.channel_multiplier("lkfoo")
    with pytest.raises(TypeError, match="expected a name"):
        activations.get(3)
    with pytest.raises(TypeError, match="expected a layer"):
        activations.serialize("relu")


def test_register_new_activation():
    name = "test-only-cube"
    assert "testonlycube" not in activations.names()
    activations.register(name, lambda **kw: keras.layers.Activation(lambda x: x**3, **kw))
    try:
        assert "testonlycube" in activations.names()
        y = activations.get("TEST_ONLY_CUBE")(np.array([[2.0]]))
        np.testing.assert_allclose(ops.convert_to_numpy(y), [[8.0]])
        with pytest.raises(ValueError, match="already registered"):
            activations.register(name, Mish)
        with pytest.raises(ValueError, match="channel_multiplier"):
            activations.register("other", Mish, channel_multiplier=0)
    finally:
        activations._REGISTRY.pop("testonlycube")


def test_every_registered_library_layer_is_exported():
    import linked_neurons

    for name in ["LKReLU", "LKPReLU", "LKSELU", "LKSwish", "Linked", "SELU", "Mish", "Swish"]:
        assert hasattr(linked_neurons, name)
    assert linked_neurons.__version__ == "0.2.0"
