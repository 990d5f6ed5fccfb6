"""Hessian tools against the exact Hessian of a small model (SPEC §4)."""

import os

import keras
import numpy as np
import pytest

from linked_neurons import hessian
from linked_neurons.layers.diversity import NeuralActivation

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="Hessian-vector products need TensorFlow"
)


def _small_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((3,)),
        keras.layers.Dense(4, dtype="float64"),
        NeuralActivation(2, hidden_units=3, seed=0, dtype="float64", trainable=False),
        keras.layers.Dense(3, dtype="float64"),
    ])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3))
    y = rng.integers(0, 3, 20)
    return model, x, y


LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True, dtype="float64")


def _exact_hessian(model, x, y):
    """Full Hessian by differentiating the gradient with tf.GradientTape.jacobian."""
    import tensorflow as tf

    weights = model.trainable_weights
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            loss = LOSS(y, model(x))
        grads = inner.gradient(loss, weights)
        flat = tf.concat([tf.reshape(g, [-1]) for g in grads], axis=0)
    jac = outer.jacobian(flat, weights)
    return np.concatenate([np.reshape(j, (flat.shape[0], -1)) for j in jac], axis=1)


@pytest.fixture(scope="module")
def problem():
    model, x, y = _small_model()
    exact = _exact_hessian(model, x, y)
    return model, x, y, exact


def test_hvp_matches_exact_hessian_on_batch_and_dataset(problem):
    model, x, y, exact = problem
    assert exact.shape == (31, 31) and np.allclose(exact, exact.T, atol=1e-10)
    op = hessian.HessianOperator(model, LOSS, (x, y))
    assert op.size == 31
    v = np.random.default_rng(1).normal(size=31)
    np.testing.assert_allclose(op(v), exact @ v, rtol=1e-9, atol=1e-12)
    # a dataset of unequal batches gives the sample-weighted mean: the same Hessian
    batches = [(x[:12], y[:12]), (x[12:], y[12:])]
    op2 = hessian.HessianOperator(model, LOSS, batches)
    np.testing.assert_allclose(op2(v), exact @ v, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(op2.dense(), exact, rtol=1e-8, atol=1e-11)
    assert op2.loss_value() == pytest.approx(float(LOSS(y, model(x))), rel=1e-12)


def test_top_eigenvalues(problem):
    model, x, y, exact = problem
    evals = np.linalg.eigvalsh(exact)
    by_magnitude = evals[np.argsort(-np.abs(evals))]
    op = hessian.HessianOperator(model, LOSS, (x, y))
    values, vectors = hessian.top_eigenvalues(op, k=2, max_iter=300, tol=1e-10)
    np.testing.assert_allclose(values, by_magnitude[:2], rtol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-12)
    residual = exact @ vectors[0] - values[0] * vectors[0]
    assert np.linalg.norm(residual) < 1e-2 * abs(values[0])


def test_trace_hutchinson(problem):
    model, x, y, exact = problem
    op = hessian.HessianOperator(model, LOSS, (x, y))
    estimate, samples = hessian.trace(op, n_probes=200, seed=2, return_samples=True)
    stderr = samples.std() / np.sqrt(len(samples))
    assert abs(estimate - np.trace(exact)) < 4 * stderr
    # Rademacher: the variance is 2 * sum of squared off-diagonal entries
    off = exact - np.diag(np.diag(exact))
    assert samples.var() == pytest.approx(np.sum(off**2) * 2, rel=0.35)


def test_spectral_density(problem, tmp_path):
    model, x, y, exact = problem
    evals = np.linalg.eigvalsh(exact)
    op = hessian.HessianOperator(model, LOSS, (x, y))
    nodes, weights = hessian.spectral_density(op)  # 100 steps > 31: exact nodes
    assert np.sum(weights) == pytest.approx(1.0, abs=1e-10)
    assert np.all(weights >= 0)
    # every quadrature node is an eigenvalue; the weighted mean is tr(H) / P for this probe
    for node in nodes[weights > 1e-6]:
        assert np.min(np.abs(evals - node)) < 1e-6 * max(1.0, np.abs(evals).max())
    assert nodes.max() == pytest.approx(evals.max(), rel=1e-6)
    nodes2, weights2 = hessian.spectral_density(op, n_steps=10, n_probes=3, seed=4)
    assert len(nodes2) == 30 and np.sum(weights2) == pytest.approx(1.0, abs=1e-10)
    # 3 probes average to the normalised trace, up to probe noise
    assert np.dot(nodes2, weights2) == pytest.approx(np.trace(exact) / 31, rel=0.5)
    grid, density = hessian.density_grid(nodes, weights)
    assert np.trapezoid(density, grid) == pytest.approx(1.0, abs=1e-3)
    path = os.path.join(str(tmp_path), "density.png")
    fig = hessian.plot_density({"model": (grid, density)}, path=path)
    assert fig.axes[0].get_yscale() == "log"
    assert os.path.getsize(path) > 1000


def test_errors():
    model, x, y = _small_model()
    op = hessian.HessianOperator(model, LOSS, (x, y))
    with pytest.raises(ValueError, match="matvec.*shape \\(31,\\)"):
        op(np.ones(5))
    with pytest.raises(TypeError, match="top_eigenvalues.*HessianOperator"):
        hessian.top_eigenvalues(np.eye(3))
    with pytest.raises(ValueError, match="no batch"):
        hessian.HessianOperator(model, LOSS, [])
