"""Training procedures: activation_parameters, GroupedOptimizer, P24Sl and DSPT (SPEC §3)."""

import doctest
import os
import re

import keras
import numpy as np
import pytest
from conftest import BACKEND, run_python, value_and_grads
from keras import ops

from linked_neurons import training
from linked_neurons.layers.activations import Swish
from linked_neurons.layers.learnable import AHAF, LEAF
from linked_neurons.layers.linked import LKPReLU
from linked_neurons.training import (
    DSPTModel,
    DSPTSequential,
    GroupedOptimizer,
    activation_parameters,
    p24sl_optimizer,
    with_dspt,
)

JIT = BACKEND != "torch"  # XLA where the backend has it (used once: compiling is slow)


def numpy(v):
    return np.asarray(ops.convert_to_numpy(v), dtype="float64")


def data(n=8, features=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, features)).astype("float32"), rng.normal(size=(n, 1)).astype(
        "float32"
    )


def leaf_net(cls=keras.Sequential, leaf_init=(1.0, 0.2, 1.5, -0.1)):
    keras.utils.set_random_seed(1)
    return cls(
        [
            keras.Input((4,)),
            keras.layers.Dense(3, name="d1"),
            LEAF(init=leaf_init, name="leaf"),
            keras.layers.Dense(2, name="d2"),
            AHAF(init="silu", name="ahaf"),
            keras.layers.Dense(1, name="out"),
        ]
    )


def loss_and_grads(model, trainable_values, x, y):
    """MSE of ``model`` at ``trainable_values`` and its gradients (float64 NumPy)."""
    non_trainable = [ops.convert_to_numpy(v) for v in model.non_trainable_variables]

    def loss(*values):
        pred, _ = model.stateless_call(list(values), non_trainable, x)
        return ops.mean(ops.square(pred - ops.convert_to_tensor(y)))

    _, grads = value_and_grads(loss, [np.asarray(v, "float32") for v in trainable_values])
    return [g.astype("float64") for g in grads]


# ============================================================================ parameters
def test_activation_parameters_finds_every_activation_layer_nested():
    inner = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(3), LKPReLU(), keras.layers.PReLU()], name="inner"
    )
    inputs = keras.Input((4,))
    h = keras.layers.Dense(3)(inputs)
    h = LEAF(init="silu")(h)
    h = inner(keras.layers.Dense(3)(h))
    h = Swish(trainable_beta=True)(h)
    h = keras.layers.BatchNormalization()(h)
    frozen = AHAF()
    frozen.trainable = False
    outputs = keras.layers.Dense(1)(frozen(h))
    model = keras.Model(inputs, outputs)
    names = [v.name for v in activation_parameters(model)]
    assert names == ["p1", "p2", "p3", "p4", "alpha_pos", "alpha_neg", "alpha", "beta"]
    # BatchNormalization's beta and the frozen AHAF are not activation parameters
    assert [v.name for v in activation_parameters(model, names=("p2", "p4"))] == ["p2", "p4"]
    assert [v.name for v in activation_parameters(model, "beta")] == ["beta"]
    only_leaf = activation_parameters(model, layer_types=(LEAF,))
    assert [v.name for v in only_leaf] == ["p1", "p2", "p3", "p4"]
    order = [id(v) for v in model.trainable_variables]
    found = [order.index(id(v)) for v in activation_parameters(model)]
    assert found == sorted(found)
    with pytest.raises(TypeError, match="activation_parameters: expected a Keras model"):
        activation_parameters([1, 2])


# ============================================================================ GroupedOptimizer
def test_grouped_optimizer_routes_and_applies_subsets():
    model = leaf_net()
    variables = model.trainable_variables
    by_var = [v for v in variables if v.name == "kernel"][:1]
    optimizer = GroupedOptimizer(
        keras.optimizers.SGD(0.1),
        [
            (keras.optimizers.SGD(0.2), r"(^|/)p[24]$"),
            (keras.optimizers.SGD(0.3), by_var),
            (keras.optimizers.SGD(0.4), lambda: activation_parameters(model, "gamma")),
        ],
    )
    optimizer.build(variables)
    groups = {v.path.split("/", 1)[-1]: optimizer.group_of(v) for v in variables}
    assert groups == {
        "d1/kernel": 1, "d1/bias": 3, "leaf/p1": 3, "leaf/p2": 0, "leaf/p3": 3, "leaf/p4": 0,
        "d2/kernel": 3, "d2/bias": 3, "ahaf/beta": 3, "ahaf/gamma": 2, "out/kernel": 3,
        "out/bias": 3,
    }
    assert optimizer.assignment(variables) == list(groups.values())
    before = [numpy(v) for v in variables]
    subset = [v for v in variables if v.name in ("p2", "kernel")]
    grads = [ops.ones(v.shape) for v in subset]
    optimizer.apply(grads, subset)
    rates = {0: 0.2, 1: 0.3, 2: 0.4, 3: 0.1}
    for v, b in zip(variables, before):
        moved = v.name in ("p2", "kernel")
        expected = b - rates[optimizer.group_of(v)] * moved
        np.testing.assert_allclose(numpy(v), expected, rtol=1e-6, atol=1e-6)
    # only the optimizers that received gradients took a step
    assert [int(o.iterations) for o in optimizer.optimizers] == [1, 1, 0, 1]
    assert int(optimizer.iterations) == 1
    assert float(optimizer.learning_rate) == pytest.approx(0.1)
    optimizer.learning_rate = 0.05
    assert float(optimizer.default_optimizer.learning_rate) == pytest.approx(0.05)


def test_grouped_optimizer_config_round_trip_and_checks():
    model = leaf_net()
    optimizer = GroupedOptimizer(
        "adam", [(keras.optimizers.SGD(0.5), lambda: activation_parameters(model))]
    )
    with pytest.raises(ValueError, match="positions in the variable list.*Build it first"):
        optimizer.get_config()
    optimizer.build(model.trainable_variables)
    config = optimizer.get_config()
    assert config["groups"][0]["indices"] == [2, 3, 4, 5, 8, 9]
    assert config["groups"][0]["names"] == ["p1", "p2", "p3", "p4", "beta", "gamma"]
    clone = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(clone) is GroupedOptimizer
    clone.build(model.trainable_variables)
    assert clone.assignment(model.trainable_variables) == optimizer.assignment(
        model.trainable_variables
    )
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(7), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="expects variable 'p1' at position 2, found 'kernel'"):
        GroupedOptimizer.from_config(config).build(other.trainable_variables)


def test_grouped_optimizer_bad_arguments():
    sgd = keras.optimizers.SGD()
    with pytest.raises(ValueError, match="each group needs its own optimizer instance"):
        GroupedOptimizer(sgd, [(sgd, "x")])
    with pytest.raises(ValueError, match="cannot be nested"):
        GroupedOptimizer("sgd", [(GroupedOptimizer("sgd"), "x")])
    with pytest.raises(ValueError, match="LossScaleOptimizer cannot be a sub-optimizer"):
        GroupedOptimizer(keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD()))
    with pytest.raises(ValueError, match=r"invalid regular expression '\('"):
        GroupedOptimizer("sgd", [("adam", "(")])
    with pytest.raises(TypeError, match="selection of group 0 must be"):
        GroupedOptimizer("sgd", [("adam", [1, 2])])
    with pytest.raises(TypeError, match=r"group 0 must be an \(optimizer, selection\) pair"):
        GroupedOptimizer("sgd", ["adam"])
    with pytest.raises(ValueError, match="could not interpret 'nope'"):
        GroupedOptimizer("nope")
    with pytest.raises(ValueError, match="does not support `clipnorm`"):
        GroupedOptimizer("sgd", clipnorm=1.0)


def _fit_save_resume(model, tmp_path, x, y, **fit):
    model.fit(x, y, epochs=2, verbose=0, shuffle=False, **fit)
    path = os.path.join(str(tmp_path), "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model)
    assert type(loaded.optimizer) is type(model.optimizer)
    saved = [numpy(v) for v in model.optimizer.variables]
    restored = [numpy(v) for v in loaded.optimizer.variables]
    assert len(saved) == len(restored)
    for a, b in zip(saved, restored):
        np.testing.assert_array_equal(a, b)
    model.fit(x, y, epochs=1, verbose=0, shuffle=False, **fit)
    loaded.fit(x, y, epochs=1, verbose=0, shuffle=False, **fit)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_allclose(numpy(a), numpy(b), rtol=1e-6, atol=1e-7)
    return loaded


def test_p24sl_model_saves_and_resumes(tmp_path):
    model = leaf_net()
    model.compile(optimizer=p24sl_optimizer(model, "adam"), loss="mse", jit_compile=False)
    x, y = data(16)
    loaded = _fit_save_resume(model, tmp_path, x, y, batch_size=8)
    assert [float(o.learning_rate) for o in loaded.optimizer.optimizers] == pytest.approx(
        [1e-6, 1e-3]
    )
    assert [int(o.iterations) for o in loaded.optimizer.optimizers] == [6, 6]


# ============================================================================ P24Sl
def test_p24sl_one_sgd_step_matches_hand_computation():
    model = leaf_net()
    x, y = data()
    optimizer = p24sl_optimizer(model, keras.optimizers.SGD(0.1), slow_learning_rate=1e-3)
    model.compile(optimizer=optimizer, loss="mse", jit_compile=JIT)
    variables = model.trainable_variables
    before = [numpy(v) for v in variables]
    grads = loss_and_grads(model, before, x, y)
    model.train_on_batch(x, y)
    for v, b, g in zip(variables, before, grads):
        rate = 1e-3 if v.name in ("p2", "p4") else 0.1
        np.testing.assert_allclose(numpy(v), b - rate * g, rtol=1e-5, atol=1e-7, err_msg=v.path)


def test_p24sl_one_adam_step_uses_base_over_1000():
    model = leaf_net()
    x, y = data()
    model.compile(optimizer=p24sl_optimizer(model, "adam", learning_rate=1e-2), loss="mse",
                  jit_compile=False)
    variables = model.trainable_variables
    before = [numpy(v) for v in variables]
    grads = loss_and_grads(model, before, x, y)
    model.train_on_batch(x, y)
    for v, b, g in zip(variables, before, grads):
        rate = 1e-5 if v.name in ("p2", "p4") else 1e-2
        # Keras Adam, first step: m = 0.1 g, v = 0.001 g^2, lr_t = lr sqrt(0.001) / 0.1
        step = rate * np.sqrt(1e-3) / 0.1 * (0.1 * g) / (np.sqrt(1e-3 * g * g) + 1e-7)
        np.testing.assert_allclose(numpy(v), b - step, rtol=1e-4, atol=1e-9, err_msg=v.path)
        assert v.name not in ("p2", "p4") or np.max(np.abs(numpy(v) - b)) <= 1.01e-5


def test_p24sl_defaults_and_errors():
    model = leaf_net()
    rms = p24sl_optimizer(model, "rmsprop", learning_rate=1e-4)
    assert [float(o.learning_rate) for o in rms.optimizers] == pytest.approx([1e-5, 1e-4])
    assert rms.optimizers[0].get_config()["rho"] == rms.optimizers[1].get_config()["rho"]
    with pytest.raises(ValueError, match="no default slow learning rate for SGD"):
        p24sl_optimizer(model, "sgd")
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, 10, 0.9)
    with pytest.raises(ValueError, match="base learning rate is a schedule"):
        p24sl_optimizer(model, keras.optimizers.Adam(schedule))
    with pytest.raises(ValueError, match="`learning_rate` is only for an optimizer given by"):
        p24sl_optimizer(model, keras.optimizers.Adam(), learning_rate=0.1)
    no_leaf = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), AHAF()])
    with pytest.raises(ValueError, match="p24sl_optimizer: the model has no LEAF layer"):
        p24sl_optimizer(no_leaf)


# ============================================================================ DSPT
def _dspt_reference(model, x, y, lr_act, lr_main):
    """Two hand-made stages: activation parameters, then the other weights."""
    variables = model.trainable_variables
    act = {id(v) for v in activation_parameters(model)}
    values = [numpy(v) for v in variables]
    grads = loss_and_grads(model, values, x, y)
    stage1 = [v - lr_act * g if id(var) in act else v
              for var, v, g in zip(variables, values, grads)]
    grads = loss_and_grads(model, stage1, x, y)
    return [v if id(var) in act else v - lr_main * g
            for var, v, g in zip(variables, stage1, grads)]


def test_dspt_step_matches_two_stage_hand_reference():
    model = leaf_net(DSPTSequential)
    x, y = data()
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  activation_optimizer=keras.optimizers.SGD(0.05), loss="mse", jit_compile=JIT)
    expected = _dspt_reference(model, x, y, lr_act=0.05, lr_main=0.1)
    before = [numpy(v) for v in model.trainable_variables]
    loss = float(model.train_on_batch(x, y))
    for v, b, e in zip(model.trainable_variables, before, expected):
        np.testing.assert_allclose(numpy(v), e, rtol=1e-5, atol=1e-7, err_msg=v.path)
        assert not np.array_equal(numpy(v), b), v.path
    # the reported loss is the second pass's (after the activation update)
    pred = model.predict(x, verbose=0)
    assert np.isfinite(loss) and loss > float(np.mean((pred - y) ** 2))
    assert [int(o.iterations) for o in model.optimizer.optimizers] == [1, 1]
    # a plain one-stage step differs: DSPT really is two stages
    plain = leaf_net()
    plain.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    plain.train_on_batch(x, y)
    differences = [
        np.max(np.abs(numpy(a) - numpy(b))) for a, b in zip(plain.weights, model.weights)
    ]
    assert max(differences) > 1e-3


def test_dspt_with_p24sl_three_optimizers_and_reload(tmp_path):
    model = with_dspt(leaf_net())
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  activation_optimizer=p24sl_optimizer(model, keras.optimizers.Adam(1e-2)),
                  loss="mse", jit_compile=False)
    x, y = data(16)
    loaded = _fit_save_resume(model, tmp_path, x, y, batch_size=8)
    grouped = loaded.optimizer
    assert type(loaded) is DSPTModel
    assert [float(o.learning_rate) for o in grouped.optimizers] == pytest.approx(
        [1e-5, 1e-2, 1e-2]
    )
    assert [int(o.iterations) for o in grouped.optimizers] == [6, 6, 6]
    names = [[v.name for v in loaded.trainable_variables if grouped.group_of(v) == k]
             for k in range(3)]
    assert names == [["p2", "p4"], ["p1", "p3", "beta", "gamma"],
                     ["kernel", "bias", "kernel", "bias", "kernel", "bias"]]


def test_dspt_mixed_float16_trains_finite():
    keras.config.set_dtype_policy("mixed_float16")
    model = leaf_net(DSPTSequential, leaf_init="relu")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", jit_compile=False)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)  # by compile
    x, y = data(16)
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    leaf = model.get_layer("leaf")
    assert keras.backend.standardize_dtype(leaf.p3.dtype) == "float32"
    assert all(np.all(np.isfinite(numpy(w))) for w in model.weights)
    # steps whose scaled gradients overflow float16 are skipped, by design
    steps = [int(o.iterations) for o in model.optimizer.inner_optimizer.optimizers]
    assert all(1 <= s <= 4 for s in steps), steps
    # a LossScaleOptimizer given to compile keeps its settings
    model.compile(optimizer=keras.optimizers.LossScaleOptimizer(
        keras.optimizers.Adam(1e-3), initial_scale=8.0), loss="mse", jit_compile=False)
    assert model.optimizer.initial_scale == 8.0
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    steps = [int(o.iterations) for o in model.optimizer.inner_optimizer.optimizers]
    assert steps == [4, 4]


def test_dspt_subclassed_model_and_errors():
    class Net(training.DSPTMixin, keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden = keras.layers.Dense(3)
            self.act = AHAF(init="silu")
            self.out = keras.layers.Dense(1)

        def call(self, x):
            return self.out(self.act(self.hidden(x)))

    net = Net()
    net.compile(keras.optimizers.SGD(0.1), "mse", jit_compile=False)  # Keras' positional order
    x, y = data()
    net.fit(x, y, epochs=1, verbose=0)
    assert [int(o.iterations) for o in net.optimizer.optimizers] == [1, 1]
    with pytest.raises(ValueError, match="with_dspt: Net 'net.*' must be a built Sequential"):
        with_dspt(Net())

    plain = DSPTSequential([keras.Input((4,)), keras.layers.Dense(1)])
    plain.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="DSPT needs activation parameters"):
        plain.train_on_batch(x, y)

    mixed = leaf_net(DSPTSequential)
    mixed.compile(optimizer=GroupedOptimizer(keras.optimizers.SGD(0.1)), loss="mse")
    with pytest.raises(ValueError, match="updates variables of both DSPT stages"):
        mixed.train_on_batch(x, y)
    with pytest.raises(ValueError, match="`optimizer` must be a plain optimizer"):
        mixed.compile(optimizer=GroupedOptimizer("sgd"), activation_optimizer="sgd")


# ============================================================================ distribution
def _distributed(mode):
    worker = os.path.join(os.path.dirname(__file__), "learnable_distribution_worker.py")
    proc = run_python(worker, mode, timeout=600)
    match = re.search(r"max_abs_diff=(\S+) max_weight_change=(\S+)", proc.stdout)
    assert match, proc.stdout
    return float(match.group(1)), float(match.group(2))


@pytest.mark.slow  # trains in a subprocess with two devices
@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.distribute runs on TensorFlow")
def test_dspt_mirrored_strategy_matches_single_device():
    diff, moved = _distributed("mirrored")
    assert moved > 1e-3  # training did change the weights
    assert diff < 1e-5


@pytest.mark.skipif(BACKEND != "jax", reason="runs in the JAX test session")
def test_dspt_jax_data_parallel_matches_single_device():
    diff, moved = _distributed("data_parallel")
    assert moved > 1e-3
    assert diff < 1e-5


# ============================================================================ docstrings
def test_docstring_examples():
    result = doctest.testmod(training, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize("arg", ["learning_rate", "slow_learning_rate"])
@pytest.mark.parametrize("bad, error", [(float("nan"), ValueError), (float("inf"), ValueError),
                                        (-1.0, ValueError), ("fast", TypeError)])
def test_p24sl_optimizer_rejects_bad_learning_rates(arg, bad, error):
    from linked_neurons import LEAF
    from linked_neurons.training import p24sl_optimizer

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), LEAF(),
                              keras.layers.Dense(1)])
    with pytest.raises(error, match=rf"p24sl_optimizer.*`{arg}`.*{bad}"):
        p24sl_optimizer(model, **{arg: bad})
