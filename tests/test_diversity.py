"""Meta-learning of diverse activations and the validation study (SPEC §4)."""

import doctest
import importlib
import os

import keras
import numpy as np
import pytest
from keras import ops

from linked_neurons import diversity
from linked_neurons.layers.diversity import InterpolatedActivation

K, H, D, HIDDEN, CLASSES = 2, 3, 3, 4, 3


# ----------------------------------------------------------------------------- NumPy reference
def np_logits(params, theta, x, assignment, scale=0.2):
    w1, b1, w2, b2 = params
    t1, tb1, t2, tb2 = theta
    h = x @ w1 + b1
    a = np.empty_like(h)
    for c in range(h.shape[1]):
        j = assignment[c]
        a[:, c] = np.sin(h[:, c]) + scale * (np.tanh(h[:, c, None] * t1[j] + tb1[j]) @ t2[j]
                                             + tb2[j])
    return a @ w2 + b2


def np_loss(params, theta, x, y, assignment):
    z = np_logits(params, theta, x, assignment)
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -np.mean(logp[np.arange(len(y)), y])


def np_grad(fn, arrays, eps=1e-6):
    """Central-difference gradient of ``fn(arrays)`` w.r.t. every array."""
    grads = []
    for i, a in enumerate(arrays):
        g = np.zeros_like(a)
        for j in np.ndindex(a.shape):
            plus = [b.copy() for b in arrays]
            minus = [b.copy() for b in arrays]
            plus[i][j] += eps
            minus[i][j] -= eps
            g[j] = (fn(plus) - fn(minus)) / (2 * eps)
        grads.append(g)
    return grads


def np_trajectory(theta, params, batches, assignment, lr=0.01, decay=0.8, eps=1e-8):
    """Inner weights before each step, the RMSprop-like update written out."""
    squares = [np.ones_like(p) for p in params]
    states = []
    for x, y in batches:
        states.append([p.copy() for p in params])
        grads = np_grad(lambda p, x=x, y=y: np_loss(p, theta, x, y, assignment), params)
        squares = [decay * s + (1 - decay) * g**2 for s, g in zip(squares, grads)]
        params = [p - lr * g / (np.sqrt(s) + eps) for p, g, s in zip(params, grads, squares)]
    return states


@pytest.fixture
def tiny_problem():
    rng = np.random.default_rng(0)
    theta = [rng.uniform(-1, 1, (K, H)), rng.uniform(-1, 1, (K, H)),
             rng.uniform(-0.6, 0.6, (K, H)), rng.uniform(-0.6, 0.6, (K,))]
    params = diversity.init_classifier(rng, (D, HIDDEN, CLASSES), "float64")
    batches = [(rng.normal(size=(5, D)), rng.integers(0, CLASSES, 5)) for _ in range(2)]
    assignment = np.repeat(np.arange(K), HIDDEN // K)
    return theta, params, batches, assignment


def _spec(assignment):
    return {"assignment": assignment, "base": "sin", "residual_scale": 0.2}


# large inner learning rate so that the second-order terms matter
LR = 0.5


def test_second_order_meta_gradient_matches_finite_differences(tiny_problem):
    theta, params, batches, assignment = tiny_problem
    loss, grads = diversity.meta_gradient(theta, params, batches, _spec(assignment), lr=LR)
    # the unrolled loss itself equals the NumPy trajectory's mean loss
    states = np_trajectory(theta, params, batches, assignment, lr=LR)
    expected = np.mean([np_loss(s, theta, x, y, assignment) for s, (x, y) in zip(states, batches)])
    assert loss == pytest.approx(expected, rel=1e-8)

    def value(th):
        return diversity.meta_gradient(th, params, batches, _spec(assignment), lr=LR)[0]

    rng = np.random.default_rng(1)
    eps = 1e-5
    for _ in range(4):
        v = [rng.normal(size=t.shape) for t in theta]
        fd = (value([t + eps * d for t, d in zip(theta, v)])
              - value([t - eps * d for t, d in zip(theta, v)])) / (2 * eps)
        analytic = sum(np.sum(g * d) for g, d in zip(grads, v))
        np.testing.assert_allclose(analytic, fd, rtol=1e-6, atol=1e-9)


def test_first_order_matches_its_hand_reference_and_differs(tiny_problem):
    theta, params, batches, assignment = tiny_problem
    _, first = diversity.meta_gradient(theta, params, batches, _spec(assignment), lr=LR,
                                       first_order=True)
    _, second = diversity.meta_gradient(theta, params, batches, _spec(assignment), lr=LR)
    # first order: the inner weights of each step are constants
    states = np_trajectory(theta, params, batches, assignment, lr=LR)

    def frozen(th):
        return np.mean([np_loss(s, th, x, y, assignment) for s, (x, y) in zip(states, batches)])

    hand = np_grad(frozen, [t.copy() for t in theta])
    for a, b in zip(first, hand):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-8)
    diff = sum(np.sum(np.abs(a - b)) for a, b in zip(first, second))
    assert diff > 1e-4 * sum(np.sum(np.abs(b)) for b in second)


def _synthetic(n=240, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype("float32")
    y = (np.sin(2 * x[:, 0]) + x[:, 1] ** 2 > 0.8).astype("int32") + (x[:, 2] > 0.5)
    return x, y.astype("int32")


def test_a_few_outer_steps_lower_the_outer_loss():
    """With the inner problem held fixed, the outer loss is one function of the
    sub-network weights, and a few clipped momentum steps lower it."""
    x, y = _synthetic()
    for first_order in (False, True):
        result = diversity.meta_learn(
            x, y, x, y, n_activations=2, outer_steps=6, inner_hidden=8, hidden_units=6,
            batch_size=40, inner_epochs=1, inner_lr=0.05, resample_inner=False,
            first_order=first_order, seed=3, verbose=0)
        losses = result.history["outer_loss"]
        assert losses[-1] < losses[0] - 1e-3, losses
    history = result.history
    assert set(history) >= {"outer_loss", "test_accuracy", "meta_grad_norm", "diversity"}
    assert len(history["meta_grad_norm"]) == 6
    assert all(np.isfinite(history["meta_grad_norm"]))
    assert 0.0 <= history["test_accuracy"][-1] <= 1.0
    assert result.config["resample_inner"] is False


def test_meta_learn_saves_curves_and_prints_progress(tmp_path, capsys):
    x, y = _synthetic(120)
    path = os.path.join(str(tmp_path), "learned.npz")
    result = diversity.meta_learn(x, y, n_activations=2, outer_steps=2, inner_hidden=4,
                                  hidden_units=5, batch_size=60, inner_epochs=1,
                                  first_order=True, save_path=path, seed=1)
    out = capsys.readouterr().out
    assert "meta step 2/2" in out and "outer loss" in out
    layer = InterpolatedActivation.from_file(path)
    grid, curves = result.curves()
    np.testing.assert_allclose(layer.initial_y_values, curves, rtol=1e-6)
    np.testing.assert_allclose(layer.x_values, grid)
    data = np.load(path)
    assert '"first_order": true' in str(data["metadata"])


def test_meta_learn_argument_errors():
    x, y = _synthetic(100)
    with pytest.raises(ValueError, match="meta_learn.*divisible by K = 3"):
        diversity.meta_learn(x, y, n_activations=3, inner_hidden=8, batch_size=50,
                             outer_steps=1, verbose=0)
    with pytest.raises(ValueError, match="meta_learn.*batch_size=200.*100"):
        diversity.meta_learn(x, y, outer_steps=1, verbose=0)
    with pytest.raises(ValueError, match="meta_learn.*x_train.*\\(n, d\\)"):
        diversity.meta_learn(x[:, None], y, outer_steps=1, verbose=0)


@pytest.mark.slow  # in .ci/run's slow step: keeps the README test command under 5 minutes
def test_validation_study_configs_and_summary():
    x, y = _synthetic(200)
    grid = np.linspace(-5, 5, 21)
    pair = InterpolatedActivation(np.stack([np.sin(grid), np.tanh(grid)]))
    configs = diversity.validation_configs(pair)
    assert list(configs) == ["diverse (K=2)", "learned 0", "learned 1", "base sin"]
    assert configs["diverse (K=2)"]().n_activations == 2
    assert configs["learned 1"]().initial_y_values.shape == (1, 21)
    # the pure base configuration is exactly sin
    z = np.linspace(-3, 3, 8).reshape(2, 4).astype("float32")
    np.testing.assert_allclose(ops.convert_to_numpy(configs["base sin"]()(z)), np.sin(z),
                               rtol=1e-6, atol=1e-7)
    # training: one learned curve alone vs the base, two seeds each
    single = InterpolatedActivation(np.tanh(grid))
    rows, summary = diversity.validate(single, x[:160], y[:160], x[160:], y[160:], seeds=(0, 1),
                                       epochs=1, batch_size=40, hidden=8, verbose=0)
    assert [s["config"] for s in summary] == ["learned 0", "base sin"]
    assert [(r["config"], r["seed"]) for r in rows] == [
        ("learned 0", 0), ("learned 0", 1), ("base sin", 0), ("base sin", 1)]
    for s in summary:
        accs = [r["test_accuracy"] for r in rows if r["config"] == s["config"]]
        assert s["mean"] == pytest.approx(np.mean(accs))
        assert s["std"] == pytest.approx(np.std(accs))
        assert s["runs"] == 2 and 0.0 <= s["mean"] <= 1.0


def test_validation_with_the_inner_optimizer():
    x, y = _synthetic(200)
    grid = np.linspace(-5, 5, 21)
    single = InterpolatedActivation(np.tanh(grid))
    used = []

    def factory():
        used.append(1)
        return keras.optimizers.SGD(0.1)

    rows, summary = diversity.validate(single, x[:160], y[:160], x[160:], y[160:], seeds=(0,),
                                       epochs=1, batch_size=40, hidden=8, verbose=0,
                                       optimizer="inner")
    assert [s["runs"] for s in summary] == [1, 1]
    diversity.validate(single, x[:160], y[:160], x[160:], y[160:], seeds=(0,), epochs=1,
                       batch_size=40, hidden=8, verbose=0, optimizer=factory)
    assert len(used) == 2  # one new optimizer per configuration and seed
    with pytest.raises(ValueError, match="validate.*optimizer.*'sgd'"):
        diversity.validate(single, x, y, x, y, optimizer="sgd", verbose=0)


def test_unsupported_backend_is_a_clear_error():
    from linked_neurons.diversity.unrolled import _Autodiff

    with pytest.raises(NotImplementedError, match="meta_learn.*nested automatic"):
        _Autodiff("numpy", False)


def test_presets_paper_is_the_default_and_explicit_values_win():
    import inspect

    signature = inspect.signature(diversity.meta_learn)
    assert signature.parameters["preset"].default == "paper"
    assert diversity.PRESETS["paper"] == diversity.PAPER_DEFAULTS
    assert diversity.PAPER_DEFAULTS["outer_steps"] == 300
    assert diversity.resolve_preset("paper") == diversity.PAPER_DEFAULTS
    quick = diversity.resolve_preset("quick", clip=0.5, outer_lr=None)
    assert (quick["outer_steps"], quick["inner_epochs"], quick["clip"]) == (20, 1, 0.5)
    assert quick["outer_lr"] == diversity.PAPER_DEFAULTS["outer_lr"]
    with pytest.raises(ValueError, match="meta_learn.*preset.*'fast'"):
        diversity.meta_learn(*_synthetic(100), preset="fast", verbose=0)
    assert signature.parameters["base"].default == "sin"


def test_quick_preset_lowers_the_outer_loss_on_mnist1d():
    """The quick preset's settings (one inner epoch, paper learning rates) on a
    slice of MNIST-1D: with the inner problem held fixed, a few outer steps
    lower the outer loss."""
    pytest.importorskip("mnist1d")
    from linked_neurons.datasets import load_mnist1d

    data = load_mnist1d(n_samples=1000, validation_split=0.0)
    result = diversity.meta_learn(data.x_train, data.y_train, preset="quick", outer_steps=4,
                                  resample_inner=False, seed=0, verbose=0)
    assert result.config["preset"] == "quick" and result.config["inner_steps"] == 4
    losses = np.asarray(result.history["outer_loss"])
    assert np.all(np.diff(losses) < 0), losses  # falls at every step
    assert losses[-1] < losses[0] - 5e-4, losses


def test_docstrings():
    names = ["linked_neurons.diversity.meta"]
    if keras.backend.backend() == "tensorflow":  # the Hessian tools need TensorFlow
        names.append("linked_neurons.hessian")
    for name in names:
        module = importlib.import_module(name)
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted > 0 and result.failed == 0
