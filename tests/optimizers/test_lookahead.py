"""Lookahead against a NumPy reference, and as a Keras optimizer wrapper."""

import copy
import doctest
import importlib.util
import os
import re

import keras
import numpy as np
import pytest
from conftest import BACKEND, run_python
from optimizer_reference import (
    AdamRef,
    LookaheadRef,
    RAdamRef,
    Runner,
    SGDRef,
    random_problem,
    reference_trajectory,
    relative_error,
)

from linked_neurons.optimizers import Lookahead, RAdam

SHAPES = [(6,), (3, 4), ()]
INNERS = {
    "sgd": (lambda: keras.optimizers.SGD(0.05), lambda: SGDRef(0.05)),
    "adam": (lambda: keras.optimizers.Adam(0.01), lambda: AdamRef(0.01)),
    "radam": (lambda: RAdam(0.01, weight_decay=0.01), lambda: RAdamRef(0.01, weight_decay=0.01)),
}


def _values(variables):
    return [keras.ops.convert_to_numpy(v).astype(np.float64) for v in variables]


# ----------------------------------------------------------------------------- reference
@pytest.mark.parametrize("inner", sorted(INNERS))
@pytest.mark.parametrize("k, alpha", [(1, 0.5), (3, 0.5), (5, 0.5), (3, 1.0)])
def test_matches_numpy_reference(inner, k, alpha):
    make, make_ref = INNERS[inner]
    steps = 23  # not a multiple of k: the run ends inside a period
    params, grads = random_problem(SHAPES, steps, seed=k)
    record = tuple(range(1, steps + 1))
    opt = Lookahead(make(), sync_period=k, slow_step_size=alpha)
    result = Runner(opt, params, compiled=False).run(grads, record=record)
    ref = reference_trajectory(LookaheadRef(make_ref(), k, alpha), params, grads)
    for step in record:
        err = relative_error(result[step], ref[step - 1])
        assert err <= 1e-5, f"step {step}: relative error {err:.2e}"
    if alpha == 1.0:  # Lookahead with alpha = 1 is the inner optimizer alone
        alone = Runner(make(), params, compiled=False).run(grads)[steps]
        for a, b in zip(result[steps], alone):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_slow_weights_are_optimizer_variables_that_track_the_reference():
    params, grads = random_problem([(4,)], 7, seed=11)
    opt = Lookahead(keras.optimizers.SGD(0.1), sync_period=3, slow_step_size=0.5)
    runner = Runner(opt, params)
    runner.run(grads)
    runner.sync()
    ref = LookaheadRef(SGDRef(0.1), 3, 0.5)
    reference_trajectory(ref, params, grads)
    slow = [v for v in opt.variables if "slow" in v.name]
    assert len(slow) == 1
    np.testing.assert_allclose(_values(slow)[0], ref.slow[0], rtol=1e-6)
    # Slow weights first, in the same order as the weights, then the inner state.
    assert opt.variables[-len(opt.inner_optimizer.variables) :] == opt.inner_optimizer.variables
    assert int(keras.ops.convert_to_numpy(opt.iterations)) == 7


def test_jit_compiled_steps_match_the_reference():
    if BACKEND == "torch":
        pytest.skip("jit_compile is a TensorFlow option; JAX always compiles")
    params, grads = random_problem(SHAPES, 12, seed=12)
    opt = Lookahead(RAdam(0.01), sync_period=4, slow_step_size=0.6)
    result = Runner(opt, params, jit_compile=True).run(grads)[12]
    ref = reference_trajectory(LookaheadRef(RAdamRef(0.01), 4, 0.6), params, grads)
    assert relative_error(result, ref[-1]) <= 1e-5


def test_xla_compiled_tensorflow_functions_use_the_select_form():
    if BACKEND != "tensorflow":
        pytest.skip("the choice between cond and select is made on TensorFlow")
    import tensorflow as tf

    from linked_neurons.optimizers.lookahead import _select_is_cheaper

    seen = {}
    for jit in (False, True):

        @tf.function(jit_compile=jit)
        def probe(jit=jit):
            seen[jit] = _select_is_cheaper()
            return tf.constant(0)

        probe()
    assert seen == {False: False, True: True}
    assert not _select_is_cheaper()  # eager


def test_stateful_apply_on_jax_matches_stateless_apply():
    if BACKEND != "jax":
        pytest.skip("the stateful and stateless paths differ only on JAX")
    params, grads = random_problem(SHAPES, 9, seed=13)
    stateless = Runner(Lookahead(keras.optimizers.Adam(0.01), 2), params).run(grads)[9]
    stateful = Runner(Lookahead(keras.optimizers.Adam(0.01), 2), params, stateful=True)
    for a, b in zip(stateful.run(grads)[9], stateless):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_gradient_accumulation_in_the_inner_optimizer_counts_real_steps():
    steps = 12
    params, grads = random_problem([(5,)], steps, seed=14)
    opt = Lookahead(keras.optimizers.SGD(0.1, gradient_accumulation_steps=2), sync_period=2)
    result = Runner(opt, params).run(grads)[steps]
    averaged = [[(a + b) / 2 for a, b in zip(grads[i], grads[i + 1])] for i in range(0, steps, 2)]
    ref = reference_trajectory(LookaheadRef(SGDRef(0.1), 2, 0.5), params, averaged)
    assert relative_error(result, ref[-1]) <= 1e-6


def test_reset_slow_weights_adopts_weights_replaced_by_hand():
    g = [np.array([1.0, -1.0, 2.0])]
    new = np.array([5.0, 6.0, 7.0])
    results = {}
    for reset in (False, True):
        opt = Lookahead(keras.optimizers.SGD(0.1), sync_period=2, slow_step_size=0.5)
        runner = Runner(opt, [np.zeros(3)])
        runner.run([g, g, g])  # one period and one step of the next
        runner.sync()
        runner.variables[0].assign(new.astype("float32"))  # e.g. model.set_weights
        if reset:
            opt.reset_slow_weights()
        runner.reload()
        results[reset] = runner.run([g, g])[runner.steps][0]
    # Without a reset the slow weights are those of the old run: -0.1 * g since the
    # sync after step 2. The sync after step 4 pulls the new weights half-way back
    # to them, and step 5 is an SGD step from there.
    phi = -0.1 * g[0]
    phi = phi + 0.5 * (new - 0.1 * g[0] - phi)
    np.testing.assert_allclose(results[False], phi - 0.1 * g[0], rtol=1e-6)
    # After a reset a new period starts from the new weights: phi = new, two SGD
    # steps, half-way back.
    np.testing.assert_allclose(results[True], new - 0.5 * 0.1 * 2 * g[0], rtol=1e-6)


def test_periods_are_counted_from_wrapping_an_optimizer_that_already_stepped():
    params, grads = random_problem([(4,), (2,)], 7, seed=16)
    variables = [keras.Variable(p.astype("float32")) for p in params]
    sgd = keras.optimizers.SGD(0.1)
    for g in grads[:3]:
        sgd.apply([keras.ops.convert_to_tensor(x.astype("float32")) for x in g], variables)
    start = _values(variables)
    opt = Lookahead(sgd, sync_period=2)
    for g in grads[3:]:
        opt.apply([keras.ops.convert_to_tensor(x.astype("float32")) for x in g], variables)
    ref = reference_trajectory(LookaheadRef(SGDRef(0.1), 2, 0.5), start, grads[3:])
    assert relative_error(_values(variables), ref[-1]) <= 1e-6
    assert int(keras.ops.convert_to_numpy(opt.iterations)) == 7  # the inner count
    own_count = [v for v in opt.variables if v.name == "iteration"][0]
    assert int(keras.ops.convert_to_numpy(own_count)) == 4  # steps taken through Lookahead


# ----------------------------------------------------------------------------- loss scaling
def test_wrapping_a_loss_scale_optimizer():
    params, grads = random_problem([(4,), (2, 2)], 8, seed=15)
    scale = 1024.0
    inner = keras.optimizers.LossScaleOptimizer(
        keras.optimizers.Adam(0.01), initial_scale=scale, dynamic_growth_steps=1000
    )
    opt = Lookahead(inner, sync_period=3)
    loss = keras.ops.convert_to_tensor(2.0)
    assert float(keras.ops.convert_to_numpy(opt.scale_loss(loss))) == pytest.approx(2 * scale)
    scaled = [[g * scale for g in gs] for gs in grads]
    # A non-finite step in the middle is skipped and does not count towards k.
    bad = [np.full(s, np.inf) for s in [(4,), (2, 2)]]
    runner = Runner(opt, params)
    runner.run(scaled[:4])
    runner.apply(bad)
    result = runner.run([[g * scale / 2 for g in gs] for gs in grads[4:]])[9]
    ref = reference_trajectory(LookaheadRef(AdamRef(0.01), 3, 0.5), params, grads)
    assert relative_error(result, ref[-1]) <= 1e-5


# ----------------------------------------------------------------------------- training
def _regression(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype("float32")
    w = rng.normal(size=(8, 1)).astype("float32")
    y = (np.tanh(x @ w) + 0.5 * x[:, :1]).astype("float32")
    return x, y


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(1)]
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: Lookahead(keras.optimizers.Adam(0.01)),
        lambda: Lookahead(RAdam(0.02), sync_period=6),
    ],
    ids=["adam", "radam"],
)
def test_fit_reduces_the_loss_at_least_twofold(make):
    x, y = _regression()
    model = _model()
    model.compile(optimizer=make(), loss="mse")
    history = model.fit(x, y, batch_size=32, epochs=8, shuffle=False, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] * 2 <= losses[0], losses


def test_mixed_float16_fit_is_wrapped_in_a_loss_scale_optimizer_and_stays_finite():
    keras.config.set_dtype_policy("mixed_float16")
    x, y = _regression(128)
    model = _model()
    model.compile(optimizer=Lookahead(RAdam(0.01), sync_period=3), loss="mse")
    history = model.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0)
    losses = history.history["loss"]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0], losses
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(model.optimizer.inner_optimizer, Lookahead)
    lookahead = model.optimizer.inner_optimizer
    assert int(keras.ops.convert_to_numpy(lookahead.iterations)) == 12
    assert all(v.dtype == "float32" for v in lookahead.variables if "slow" in v.name)


def test_jit_compiled_fit_synchronises_inside_xla():
    if BACKEND != "tensorflow":
        pytest.skip("jit_compile=True is a TensorFlow choice (JAX always compiles)")
    x, y = _regression(64)
    model = _model()
    opt = Lookahead(RAdam(0.01, total_steps=10), sync_period=4)
    model.compile(optimizer=opt, loss="mse", jit_compile=True)
    history = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert int(keras.ops.convert_to_numpy(opt.iterations)) == 8
    # 8 steps = 2 periods: the weights were just reset to the slow weights.
    slow = [v for v in opt.variables if "slow" in v.name]
    for w, s in zip(model.trainable_variables, slow):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(w), keras.ops.convert_to_numpy(s))


def test_save_after_7_steps_and_resume_matches_15_uninterrupted_steps(tmp_path):
    rng = np.random.default_rng(1)
    batches = [
        (rng.normal(size=(16, 8)).astype("float32"), rng.normal(size=(16, 1)).astype("float32"))
        for _ in range(15)
    ]

    def compiled():
        model = _model(seed=4)
        opt = Lookahead(RAdam(0.01, total_steps=12, weight_decay=0.01), sync_period=5)
        model.compile(optimizer=opt, loss="mse")
        return model

    straight = compiled()
    for x, y in batches[:7]:
        straight.train_on_batch(x, y)
    path = tmp_path / "lookahead.keras"
    straight.save(path)
    saved_state = _values(straight.optimizer.variables)
    for x, y in batches[7:]:  # the uninterrupted run goes on
        straight.train_on_batch(x, y)

    resumed = keras.saving.load_model(path)
    opt = resumed.optimizer
    assert isinstance(opt, Lookahead) and isinstance(opt.inner_optimizer, RAdam)
    assert int(keras.ops.convert_to_numpy(opt.iterations)) == 7
    # The slow weights (mid-period: different from the weights) were restored.
    for a, b in zip(_values(opt.variables), saved_state):
        np.testing.assert_array_equal(a, b)
    slow = [v for v in opt.variables if "slow" in v.name]
    assert slow and not np.allclose(_values(slow)[0], resumed.get_weights()[0])
    for x, y in batches[7:]:
        resumed.train_on_batch(x, y)
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(a, b)  # the same trajectory, to the last bit


# ----------------------------------------------------------------------------- config
def test_config_round_trip_and_keras_serialization():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.01, 100, 0.5)
    opt = Lookahead(RAdam(schedule, total_steps=50), sync_period=4, slow_step_size=0.3, name="la")
    config = opt.get_config()
    assert config["sync_period"] == 4 and config["slow_step_size"] == 0.3
    assert config["optimizer"]["registered_name"] == "linked_neurons>RAdam"
    clone = Lookahead.from_config(copy.deepcopy(config))
    assert clone.get_config() == config
    assert isinstance(clone.inner_optimizer, RAdam)

    serialized = keras.optimizers.serialize(opt)
    assert serialized["registered_name"] == "linked_neurons>Lookahead"
    restored = keras.optimizers.deserialize(copy.deepcopy(serialized))
    assert isinstance(restored, Lookahead) and restored.get_config() == config
    assert keras.optimizers.get(copy.deepcopy(serialized)).get_config() == config


def test_names_and_configs_are_accepted_as_the_wrapped_optimizer():
    default = keras.optimizers.get("lookahead")
    assert isinstance(default, Lookahead)
    assert isinstance(default.inner_optimizer, keras.optimizers.Adam)
    assert isinstance(Lookahead("radam").inner_optimizer, RAdam)
    sgd = Lookahead({"class_name": "SGD", "config": {"learning_rate": 0.3}}).inner_optimizer
    assert isinstance(sgd, keras.optimizers.SGD)
    assert float(keras.ops.convert_to_numpy(sgd.learning_rate)) == pytest.approx(0.3)
    model = _model()
    model.compile(optimizer="lookahead", loss="mse")
    assert isinstance(model.optimizer, Lookahead)


def test_learning_rate_and_iterations_are_the_inner_optimizers():
    opt = Lookahead(keras.optimizers.Adam(0.01))
    opt.learning_rate = 0.002
    assert float(keras.ops.convert_to_numpy(opt.inner_optimizer.learning_rate)) == pytest.approx(
        0.002
    )
    assert float(keras.ops.convert_to_numpy(opt.learning_rate)) == pytest.approx(0.002)
    opt.build([keras.Variable(np.zeros(2, "float32"))])
    assert opt.iterations is opt.inner_optimizer.iterations


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"sync_period": 0}, ValueError, ["Lookahead", "sync_period", "0"]),
        ({"sync_period": 2.5}, ValueError, ["Lookahead", "sync_period", "2.5"]),
        ({"sync_period": True}, TypeError, ["Lookahead", "sync_period", "True"]),
        ({"sync_period": float("inf")}, ValueError, ["Lookahead", "sync_period", "inf"]),
        ({"sync_period": float("nan")}, ValueError, ["Lookahead", "sync_period", "nan"]),
        ({"sync_period": "5"}, TypeError, ["Lookahead", "sync_period", "'5'"]),
        ({"slow_step_size": float("nan")}, ValueError, ["Lookahead", "slow_step_size", "nan"]),
        ({"slow_step_size": 0.0}, ValueError, ["Lookahead", "slow_step_size", "(0, 1]"]),
        ({"slow_step_size": 1.5}, ValueError, ["Lookahead", "slow_step_size", "1.5"]),
        ({"slow_step_size": -0.5}, ValueError, ["Lookahead", "slow_step_size", "-0.5"]),
        ({"optimizer": object()}, TypeError, ["Lookahead", "optimizer", "object"]),
        ({"optimizer": keras.layers.Dense(2)}, TypeError, ["Lookahead", "optimizer", "Dense"]),
        ({"optimizer": "no_such_optimizer"}, ValueError, ["Lookahead", "no_such_optimizer"]),
        ({"weight_decay": 0.1}, ValueError, ["Lookahead", "weight_decay", "wrapped"]),
        ({"learning_rate": 0.1}, ValueError, ["Lookahead", "learning_rate", "wrapped"]),
        ({"bogus": 1}, ValueError, ["Lookahead", "bogus"]),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, error, words):
    kwargs = {"optimizer": keras.optimizers.SGD(), **kwargs}
    with pytest.raises(error) as info:
        Lookahead(**kwargs)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_docstring_examples():
    module = __import__("linked_neurons.optimizers.lookahead", fromlist=["Lookahead"])
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0


# ----------------------------------------------------------------------------- example
EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "optimizers.py")


@pytest.mark.slow  # trains with every optimizer; the README optimizer block runs fast
def test_example_script_trains_with_every_optimizer(tmp_path, capsys):
    pytest.importorskip("sklearn")  # the digits data
    pytest.importorskip("matplotlib")
    if BACKEND != "tensorflow":
        pytest.skip("backend-independent script: run once, in the TensorFlow run")
    # In this process (the backend is already loaded): a quarter of a subprocess' time.
    spec = importlib.util.spec_from_file_location("optimizers_example", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    png = tmp_path / "loss.png"
    example.main(["--epochs", "2", "--plot", str(png)])
    rows = {}
    for line in capsys.readouterr().out.splitlines():
        cells = line.split()
        if len(cells) == 7 and re.fullmatch(r"[\d.]+", cells[1]):
            # optimizer, first loss, final loss, val loss, val acc, test acc, seconds
            rows[cells[0]] = [float(cells[1]), float(cells[2]), float(cells[5])]
    assert sorted(rows) == sorted(["Adam", "RAdam", "Lookahead(Adam)", "Lookahead(RAdam)"])
    for name, (first, final, test_accuracy) in rows.items():
        assert final < first, name  # the training loss fell
        assert 0.0 <= test_accuracy <= 1.0, name
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- distribution
WORKER = os.path.join(os.path.dirname(__file__), "optimizer_distribution_worker.py")


@pytest.mark.slow  # trains in a subprocess with two devices
@pytest.mark.parametrize("mode", ["mirrored", "data_parallel"])
def test_distributed_training_matches_single_device(mode):
    if mode == "mirrored" and BACKEND != "tensorflow":
        pytest.skip("tf.distribute runs in the TensorFlow backend run")
    if mode == "data_parallel":
        if BACKEND != "jax":
            pytest.skip("keras.distribution.DataParallel runs in the JAX backend run")
        pytest.importorskip("jax")
    proc = run_python(WORKER, mode, timeout=600)
    found = re.findall(r"(\S+): max_abs_diff=(\S+) max_weight_change=(\S+)", proc.stdout)
    assert [name for name, _, _ in found] == ["radam", "lookahead_radam"], proc.stdout
    for name, diff, moved in found:
        assert float(moved) > 1e-3, name
        assert float(diff) < 1e-5, name


@pytest.mark.parametrize("name", ["lookahead", "Lookahead", "LOOKAHEAD"])
def test_lookahead_name_is_case_insensitive(name):
    opt = keras.optimizers.get(name)
    assert type(opt) is Lookahead and opt.sync_period == 5
    assert type(Lookahead("RAdam").inner_optimizer).__name__ == "RAdam"
