"""RAdam against an independent float64 NumPy reference, and as a Keras optimizer."""

import copy
import doctest
import importlib
import math

import keras
import numpy as np
import pytest
from conftest import BACKEND
from optimizer_reference import (
    RAdamRef,
    Runner,
    displacement_error,
    random_problem,
    reference_trajectory,
    relative_error,
    tfa_warmup,
)

from linked_neurons.optimizers import RAdam

SHAPES = [(7,), (3, 4), (2, 3, 5), ()]


# ----------------------------------------------------------------------------- reference
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"total_steps": 800, "warmup_proportion": 0.15, "min_lr": 1e-4, "weight_decay": 0.05},
    ],
    ids=["plain", "warmup+weight_decay"],
)
def test_matches_numpy_reference_for_1000_steps(options):
    steps = 1000
    params, grads = random_problem(SHAPES, steps, seed=1)
    lr = 3e-3
    record = (1, 2, 5, 6, 7, 20, 100, 500)
    runner = Runner(RAdam(learning_rate=lr, **options), params)
    result = runner.run(grads, record=record)
    ref = reference_trajectory(RAdamRef(lr=lr, **options), params, grads)
    for step in (*record, steps):
        err = relative_error(result[step], ref[step - 1])
        assert err <= 1e-5, f"step {step}: relative error {err:.2e}"
    # The updates themselves: limited by the float32 rounding of the weights.
    err = displacement_error(result[steps], ref[-1], params)
    assert err <= 1e-4, f"displacement error {err:.2e}"


def test_first_five_steps_are_momentum_sgd_and_step_six_is_rectified():
    _, grads = random_problem([(6,), (2, 3)], 7, seed=2)
    # Weights start at zero so that their float32 rounding stays far below the steps.
    params = [np.zeros((6,)), np.zeros((2, 3))]
    lr = 0.01
    runner = Runner(RAdam(learning_rate=lr), params)
    ref = RAdamRef(lr=lr)
    reference_trajectory(ref, params, grads)
    assert ref.rectified == [False] * 5 + [True, True]

    previous = [np.asarray(p, np.float64) for p in params]
    m = [np.zeros_like(p) for p in previous]
    v = [np.zeros_like(p) for p in previous]
    for t, g in enumerate(grads, start=1):
        runner.apply(g)
        current = runner.values()
        for i, (p0, p1) in enumerate(zip(previous, current)):
            m[i] = 0.9 * m[i] + 0.1 * g[i]
            v[i] = 0.999 * v[i] + 0.001 * g[i] ** 2
            m_hat = m[i] / (1 - 0.9**t)
            sgd_step = lr * m_hat
            adaptive = lr * m_hat * math.sqrt(1 - 0.999**t) / (np.sqrt(v[i]) + 1e-7)
            step = p0 - p1
            if t <= 5:
                np.testing.assert_allclose(step, sgd_step, rtol=2e-5, atol=1e-8)
            else:
                # The rectified step is r_t times the adaptive one; r_6 is small.
                rho_inf = 2 / 0.001 - 1
                rho = rho_inf - 2 * t * 0.999**t / (1 - 0.999**t)
                r_squared = (rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho)
                rectified = math.sqrt(r_squared) * adaptive
                np.testing.assert_allclose(step, rectified, rtol=2e-5, atol=1e-8)
                assert np.max(np.abs(step - sgd_step)) > 0.5 * np.max(np.abs(sgd_step))
        previous = current


def test_matches_torch_radam():
    if BACKEND != "torch":
        pytest.skip("compared in the PyTorch backend run, where torch is loaded anyway")
    import torch

    steps = 200
    params, grads = random_problem([(5,), (3, 2)], steps, seed=3)
    tparams = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params]
    topt = torch.optim.RAdam(
        tparams, lr=0.01, betas=(0.9, 0.999), eps=1e-7, weight_decay=0.1,
        decoupled_weight_decay=True,
    )
    for g in grads:
        for p, gi in zip(tparams, g):
            p.grad = torch.tensor(gi, dtype=torch.float64)
        topt.step()
    expected = [p.detach().numpy() for p in tparams]
    result = Runner(RAdam(learning_rate=0.01, weight_decay=0.1), params).run(grads)[steps]
    assert relative_error(result, expected) <= 1e-5


def test_learning_rate_follows_the_tfa_warmup_schedule():
    opt = RAdam(learning_rate=0.02, total_steps=95, warmup_proportion=0.15, min_lr=0.001)
    opt.build([keras.Variable(np.zeros(2, "float32"))])
    for step in [1, 2, 7, 14, 15, 16, 50, 94, 95, 96, 300]:
        opt.iterations.assign(step - 1)
        got = float(keras.ops.convert_to_numpy(opt.learning_rate))
        expected = tfa_warmup(0.02, step, 95, 0.15, 0.001)
        assert got == pytest.approx(expected, rel=1e-6, abs=1e-9), step
    # No warmup: the learning rate is the configured one at every step.
    plain = RAdam(learning_rate=0.02)
    plain.build([keras.Variable(np.zeros(2, "float32"))])
    plain.iterations.assign(3)
    assert float(keras.ops.convert_to_numpy(plain.learning_rate)) == pytest.approx(0.02)
    # warmup_proportion=0: decay from the first step, no division by zero.
    decay_only = RAdam(learning_rate=0.02, total_steps=10, warmup_proportion=0.0)
    decay_only.build([keras.Variable(np.zeros(2, "float32"))])
    decay_only.iterations.assign(4)
    got = float(keras.ops.convert_to_numpy(decay_only.learning_rate))
    assert got == pytest.approx(tfa_warmup(0.02, 5, 10, 0.0, 0.0), rel=1e-6)


def test_learning_rate_schedule_and_warmup_combine():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.01, decay_steps=10, decay_rate=0.5)

    def lr(step):  # Keras schedules see the number of completed steps
        return 0.01 * 0.5 ** ((step - 1) / 10)

    steps = 60
    params, grads = random_problem([(4,), (2, 2)], steps, seed=4)
    opt = RAdam(learning_rate=schedule, total_steps=40, warmup_proportion=0.2)
    result = Runner(opt, params).run(grads)[steps]
    ref = RAdamRef(lr=lr, total_steps=40, warmup_proportion=0.2)
    ref = reference_trajectory(ref, params, grads)
    assert relative_error(result, ref[-1]) <= 1e-5


# ----------------------------------------------------------------------------- base options
def _final(opt, params, grads):
    return Runner(opt, params).run(grads)[len(grads)]


def _assert_all_close(actual, expected, rtol, atol):
    for a, e in zip(actual, expected, strict=True):
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol)


def test_clipnorm_and_global_clipnorm_clip_before_the_update():
    steps = 12
    params, grads = random_problem([(5,), (3,)], steps, seed=5)
    clip = 0.5
    clipped = [[g * min(1.0, clip / np.linalg.norm(g)) for g in gs] for gs in grads]
    expected = _final(RAdam(0.01), params, clipped)
    _assert_all_close(
        _final(RAdam(0.01, clipnorm=clip), params, grads), expected, rtol=1e-5, atol=1e-7
    )
    global_clipped = []
    for gs in grads:
        norm = math.sqrt(sum(float(np.sum(g**2)) for g in gs))
        global_clipped.append([g * min(1.0, clip / norm) for g in gs])
    expected = _final(RAdam(0.01), params, global_clipped)
    _assert_all_close(
        _final(RAdam(0.01, global_clipnorm=clip), params, grads), expected, rtol=1e-5, atol=1e-7
    )


def test_gradient_accumulation_averages_gradients_between_updates():
    steps = 16
    params, grads = random_problem([(4,), (2, 3)], steps, seed=6)
    averaged = [[(a + b) / 2 for a, b in zip(grads[i], grads[i + 1])] for i in range(0, steps, 2)]
    opt = RAdam(0.01, gradient_accumulation_steps=2, total_steps=6, weight_decay=0.01)
    runner = Runner(opt, params)
    result = runner.run(grads)[steps]
    runner.sync()
    ref = reference_trajectory(
        RAdamRef(lr=0.01, total_steps=6, weight_decay=0.01), params, averaged
    )
    assert relative_error(result, ref[-1]) <= 1e-5
    assert int(keras.ops.convert_to_numpy(opt.iterations)) == steps // 2


def test_loss_scale_factor_unscales_gradients():
    steps = 10
    params, grads = random_problem([(6,)], steps, seed=7)
    scaled = [[g * 128.0 for g in gs] for gs in grads]
    _assert_all_close(
        _final(RAdam(0.01, loss_scale_factor=128.0), params, scaled),
        _final(RAdam(0.01), params, grads),
        rtol=1e-6,
        atol=1e-8,
    )


def test_use_ema_keeps_the_moving_average_of_the_weights():
    steps = 9
    params, grads = random_problem([(5,)], steps, seed=8)
    opt = RAdam(0.01, use_ema=True, ema_momentum=0.8)
    runner = Runner(opt, params)
    runner.run(grads)
    runner.sync()
    ref = reference_trajectory(RAdamRef(lr=0.01), params, grads)
    average = ref[0][0]
    for trajectory in ref[1:]:
        average = 0.8 * average + 0.2 * trajectory[0]
    opt.finalize_variable_values(runner.variables)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(runner.variables[0]), average,
                               rtol=1e-5, atol=1e-6)


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


def test_fit_reduces_the_loss_at_least_twofold():
    x, y = _regression()
    model = _model()
    model.compile(optimizer=RAdam(0.01, weight_decay=1e-4), loss="mse")
    history = model.fit(x, y, batch_size=32, epochs=10, shuffle=False, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] * 2 <= losses[0], losses


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_fit_stays_finite(policy):
    keras.config.set_dtype_policy(policy)
    x, y = _regression(128)
    model = _model()
    model.compile(optimizer=RAdam(0.01), loss="mse")
    history = model.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0)
    assert all(np.isfinite(history.history["loss"]))
    assert history.history["loss"][-1] < history.history["loss"][0]
    opt = model.optimizer
    if policy == "mixed_float16":
        assert isinstance(opt, keras.optimizers.LossScaleOptimizer)
        assert isinstance(opt.inner_optimizer, RAdam)
        opt = opt.inner_optimizer
    assert all(v.dtype == "float32" for v in opt.variables if v.dtype.startswith("float"))
    assert all(v.dtype == "float32" for v in model.trainable_variables)


def test_jit_compiled_fit_trains():
    if BACKEND != "tensorflow":
        pytest.skip("jit_compile=True is a TensorFlow choice (JAX always compiles)")
    x, y = _regression(64)
    model = _model()
    model.compile(optimizer=RAdam(0.01, total_steps=20), loss="mse", jit_compile=True)
    history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    losses = history.history["loss"]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0], losses
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 12


def test_jit_compiled_steps_match_the_reference():
    if BACKEND == "torch":
        pytest.skip("jit_compile is a TensorFlow option; JAX always compiles")
    steps = 30
    params, grads = random_problem(SHAPES, steps, seed=9)
    opt = RAdam(0.01, total_steps=25, weight_decay=0.01)
    result = Runner(opt, params, jit_compile=True).run(grads)[steps]
    ref = reference_trajectory(RAdamRef(lr=0.01, total_steps=25, weight_decay=0.01), params, grads)
    assert relative_error(result, ref[-1]) <= 1e-5


def test_save_after_7_steps_and_resume_matches_15_uninterrupted_steps(tmp_path):
    rng = np.random.default_rng(0)
    batches = [
        (rng.normal(size=(16, 8)).astype("float32"), rng.normal(size=(16, 1)).astype("float32"))
        for _ in range(15)
    ]

    def compiled():
        model = _model(seed=3)
        model.compile(optimizer=RAdam(0.01, total_steps=12, weight_decay=0.01), loss="mse")
        return model

    straight = compiled()
    for x, y in batches[:7]:
        straight.train_on_batch(x, y)
    path = tmp_path / "radam.keras"
    straight.save(path)
    config = straight.optimizer.get_config()
    for x, y in batches[7:]:  # the uninterrupted run goes on
        straight.train_on_batch(x, y)

    resumed = keras.saving.load_model(path)
    assert isinstance(resumed.optimizer, RAdam)
    assert int(keras.ops.convert_to_numpy(resumed.optimizer.iterations)) == 7
    assert resumed.optimizer.get_config() == config
    for x, y in batches[7:]:
        resumed.train_on_batch(x, y)
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(a, b)  # the same trajectory, to the last bit
    for a, b in zip(resumed.optimizer.variables, straight.optimizer.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


# ----------------------------------------------------------------------------- config
def test_config_round_trip_and_keras_serialization():
    schedule = keras.optimizers.schedules.CosineDecay(0.01, decay_steps=100)
    opt = RAdam(
        learning_rate=schedule, beta_1=0.8, beta_2=0.99, epsilon=1e-6, sma_threshold=6.0,
        total_steps=100, warmup_proportion=0.2, min_lr=1e-5, weight_decay=0.01, clipnorm=1.0,
        name="my_radam",
    )
    config = opt.get_config()
    for key, value in {
        "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-6, "sma_threshold": 6.0,
        "total_steps": 100, "warmup_proportion": 0.2, "min_lr": 1e-5,
        "weight_decay": 0.01, "clipnorm": 1.0, "name": "my_radam",
    }.items():
        assert config[key] == value, key
    clone = RAdam.from_config(copy.deepcopy(config))  # from_config edits its argument
    assert clone.get_config() == config
    assert isinstance(clone._learning_rate, keras.optimizers.schedules.CosineDecay)

    serialized = keras.optimizers.serialize(opt)
    assert serialized["registered_name"] == "linked_neurons>RAdam"
    restored = keras.optimizers.deserialize(serialized)
    assert isinstance(restored, RAdam) and restored.get_config() == config
    assert keras.optimizers.get(serialized).get_config() == config


def test_bare_name_works_with_keras_optimizers_get_and_compile():
    opt = keras.optimizers.get("radam")
    assert isinstance(opt, RAdam)
    assert opt.get_config()["learning_rate"] == pytest.approx(1e-3)
    model = _model()
    model.compile(optimizer="radam", loss="mse")
    assert isinstance(model.optimizer, RAdam)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"learning_rate": -0.1}, ValueError, ["RAdam", "learning_rate", "-0.1"]),
        ({"learning_rate": "fast"}, TypeError, ["RAdam", "learning_rate", "fast"]),
        ({"beta_1": 1.0}, ValueError, ["RAdam", "beta_1", "[0, 1)", "1.0"]),
        ({"beta_1": -0.1}, ValueError, ["RAdam", "beta_1", "-0.1"]),
        ({"beta_2": 1.5}, ValueError, ["RAdam", "beta_2", "[0, 1)", "1.5"]),
        ({"beta_2": None}, TypeError, ["RAdam", "beta_2", "None"]),
        ({"epsilon": -1e-8}, ValueError, ["RAdam", "epsilon"]),
        ({"sma_threshold": 3.0}, ValueError, ["RAdam", "sma_threshold", "3.0"]),
        ({"total_steps": -5}, ValueError, ["RAdam", "total_steps", "-5"]),
        ({"total_steps": 2.5}, ValueError, ["RAdam", "total_steps", "2.5"]),
        ({"warmup_proportion": 1.2}, ValueError, ["RAdam", "warmup_proportion", "1.2"]),
        ({"min_lr": -1.0}, ValueError, ["RAdam", "min_lr", "-1.0"]),
        ({"weight_decay": -0.01}, ValueError, ["RAdam", "weight_decay", "-0.01"]),
        ({"weight_decay": float("inf")}, ValueError, ["RAdam", "weight_decay", "inf"]),
        ({"epsilon": float("inf")}, ValueError, ["RAdam", "epsilon", "inf"]),
        ({"min_lr": float("inf")}, ValueError, ["RAdam", "min_lr", "inf"]),
        ({"learning_rate": float("nan")}, ValueError, ["RAdam", "learning_rate", "nan"]),
        ({"total_steps": float("inf")}, ValueError, ["RAdam", "total_steps", "inf"]),
        ({"total_steps": float("nan")}, ValueError, ["RAdam", "total_steps", "nan"]),
        ({"total_steps": "10"}, TypeError, ["RAdam", "total_steps", "'10'"]),
        ({"momentum": 0.9}, ValueError, ["momentum"]),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, error, words):
    with pytest.raises(error) as info:
        RAdam(**kwargs)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_integer_learning_rate_is_accepted():
    assert RAdam(learning_rate=1).get_config()["learning_rate"] == 1.0


@pytest.mark.parametrize(
    "name", ["linked_neurons.optimizers", "linked_neurons.optimizers.radam"]
)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0


def test_amsgrad_is_rejected_with_the_reason_and_false_is_accepted():
    with pytest.raises(ValueError, match=r"RAdam: `amsgrad=True` is not supported.*Adam\(amsgrad"):
        RAdam(amsgrad=True)
    assert "amsgrad" not in RAdam(amsgrad=False).get_config()


@pytest.mark.parametrize("name", ["radam", "RAdam", "RADAM", "Radam"])
def test_optimizer_names_are_case_insensitive(name):
    assert type(keras.optimizers.get(name)) is RAdam
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=name, loss="mse")
    assert type(model.optimizer) is RAdam
