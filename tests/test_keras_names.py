"""The library's names through Keras' own string APIs (``activation="..."``)."""

import keras
import numpy as np
import pytest
from conftest import random_input

import linked_neurons as ln
from linked_neurons import activations

DOUBLING = ["lkrelu", "crelu", "lkprelu", "lkselu", "lkswish", "lksilu", "LKReLU", "LKSELU"]
LEARNABLE = ["leaf", "ahaf", "neural", "interpolated", "LEAF", "AHAF"]
FUNCTIONS = {
    "linked_neurons>selu": (ln.ops.selu, keras.activations.selu),
    "linked_neurons>mish": (ln.ops.mish, keras.activations.mish),
    "linked_neurons>swish": (ln.ops.swish, keras.activations.silu),
}


def _x(shape=(4, 3)):
    return random_input(shape, seed=3).astype("float32")


def test_keras_names_are_listed_and_keras_own_names_are_kept():
    names = activations.keras_names()
    assert set(DOUBLING) | set(LEARNABLE) | set(FUNCTIONS) <= set(names)
    for name in ("selu", "mish", "swish", "silu", "relu", "tanh"):
        assert name not in names
    assert keras.activations.get("selu") is keras.activations.selu
    assert keras.activations.get("mish") is keras.activations.mish


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_fused_functions_work_by_name_everywhere_and_match_keras(name, tmp_path):
    ours, keras_fn = FUNCTIONS[name]
    assert keras.activations.get(name) is ours
    x = _x()
    y = keras.ops.convert_to_numpy(keras.layers.Activation(name)(x))
    np.testing.assert_allclose(y, keras.ops.convert_to_numpy(keras_fn(x)), rtol=1e-6, atol=1e-7)
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(5, activation=name), keras.layers.Activation(name)]
    )
    assert model.layers[0].activation is ours
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.layers[0].activation is ours and loaded.layers[1].activation is ours
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x))
    )


def _run(layer, shape=(3,)):
    model = keras.Sequential([keras.Input(shape), layer])
    return model(random_input((2, *shape), seed=1).astype("float32"))


@pytest.mark.parametrize("name", DOUBLING)
@pytest.mark.parametrize("kind", ["Dense", "Activation", "Conv1D"])
def test_doubling_names_fail_at_construction_with_what_to_do(name, kind):
    make = {
        "Dense": lambda: keras.layers.Dense(4, activation=name),
        "Activation": lambda: keras.layers.Activation(name),
        "Conv1D": lambda: keras.layers.Conv1D(4, 1, activation=name),
    }[kind]
    with pytest.raises(ValueError, match=r"doubles the channel axis.*Dense\(4\) followed by"):
        make()


@pytest.mark.parametrize("name", ["lkrelu", "leaf"])
def test_public_get_returns_an_object_that_raises_when_called(name):
    fn = keras.activations.get(name)
    with pytest.raises(ValueError, match=name):
        fn(_x())


_OWNERS = {
    "Dense": lambda act: keras.layers.Dense(4, activation=act),
    "Activation": lambda act: keras.layers.Activation(act),
    "Conv2D": lambda act: keras.layers.Conv2D(4, 1, activation=act),
    "SimpleRNN": lambda act: keras.layers.SimpleRNN(4, activation=act),
    "LSTM": lambda act: keras.layers.LSTM(4, recurrent_activation=act),
}


@pytest.mark.parametrize(
    "make", [ln.LKReLU, ln.LKPReLU, ln.LKSELU, ln.LKSwish, lambda: ln.Linked("tanh")],
    ids=["LKReLU", "LKPReLU", "LKSELU", "LKSwish", "Linked"],
)
@pytest.mark.parametrize("kind", sorted(_OWNERS))
def test_doubling_instances_as_activation_fail_at_construction(make, kind):
    """Before any input: a Sequential model would otherwise declare 4 channels for 8."""
    attr = "recurrent_activation" if kind == "LSTM" else "activation"
    owner = {"LSTM": "LSTMCell", "SimpleRNN": "SimpleRNNCell"}.get(kind, kind)
    with pytest.raises(
        ValueError, match=rf"cannot be the `{attr}` of {owner} layer .*put the .* layer after it"
    ):
        _OWNERS[kind](make())


def test_a_doubling_activation_set_by_hand_still_fails_when_built():
    """A layer that bypasses Keras' activation lookup is caught on its first call."""
    layer = keras.layers.Dense(4)
    layer.activation = ln.LKReLU()
    with pytest.raises(ValueError, match=r"cannot be the `activation` of Dense layer"):
        layer(_x())


@pytest.mark.parametrize("name", LEARNABLE)
def test_learnable_names_fail_at_construction_with_what_to_do(name):
    with pytest.raises(ValueError, match=r"learns weights.*Pass an instance"):
        keras.layers.Dense(4, activation=name)


@pytest.mark.parametrize("make", [ln.Mish, ln.SELU, ln.Swish, ln.LEAF, ln.AHAF])
def test_shape_keeping_instances_stay_accepted(make):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation=make()),
                              keras.layers.Activation(make())])
    assert model.output_shape == (None, 4)
    assert tuple(model(_x()).shape) == (4, 4)


def test_keras_lookup_is_wrapped_once_and_public_get_is_keras_own():
    from keras.src import activations as keras_activations

    activations._install_keras_names()  # a second import-time install wraps nothing more
    wrapped = keras_activations.get
    assert wrapped.__wrapped__ is keras.activations.get
    assert not hasattr(wrapped.__wrapped__, "__wrapped__")
    assert wrapped("relu") is keras.activations.relu
    lk = ln.LKReLU()
    assert keras.activations.get(lk) is lk


def test_learnable_instance_as_activation_trains_saves_and_loads(tmp_path):
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4, activation=ln.LEAF()), keras.layers.Dense(2)]
    )
    x = _x((8, 3))
    model.compile("adam", "mse")
    model.fit(x, np.ones((8, 2), "float32"), epochs=1, verbose=0)
    assert any("leaf" in w.path for w in model.weights)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x))
    )


class _Block(keras.layers.Layer):
    """A layer that calls a linked layer inside its own call (allowed)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(3)
        self.act = ln.LKReLU()

    def call(self, x):
        return self.act(self.dense(x))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 6)


def test_linked_layers_still_work_as_layers_and_inside_other_layers():
    y = _run(ln.LKReLU())
    assert tuple(y.shape) == (2, 6)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), ln.LKSELU(), _Block()])
    assert model.output_shape == (None, 6)
    assert tuple(model(_x()).shape) == (4, 6)


def _edge_inputs(dtype):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(scale=s, size=4000) for s in (0.01, 1.0, 5.0, 30.0)])
    edges = [0.0, -0.0, 1e-30, -1e-30, 88.0, -88.0, 1e4, -1e4, np.inf, -np.inf]
    return keras.ops.cast(np.concatenate([x, edges]).astype("float32")[:, None], dtype)


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize(
    "layer,keras_fn",
    [(ln.Mish, keras.activations.mish), (ln.SELU, keras.activations.selu),
     (ln.Swish, keras.activations.silu)],
    ids=["Mish", "SELU", "Swish"],
)
def test_mish_selu_swish_equal_keras_builtins_bit_for_bit(layer, keras_fn, dtype):
    """What docs/which_activation.rst states (Swish: both are keras.ops.silu)."""
    x = _edge_inputs(dtype)
    ours = keras.ops.convert_to_numpy(keras.ops.cast(layer(dtype=dtype)(x), "float32"))
    theirs = keras.ops.convert_to_numpy(keras.ops.cast(keras_fn(x), "float32"))
    np.testing.assert_array_equal(ours, theirs)


def test_library_code_does_not_take_the_placeholders_for_functions():
    with pytest.raises(ValueError, match="unknown activation 'lkrelu'"):
        ln.Linked("lkrelu")
    with pytest.raises(ValueError, match="base activation 'lkrelu'"):
        ln.NeuralActivation(base="lkrelu")
    assert activations.channel_multiplier("tanh") == 1
