"""Loss-Hessian analysis of a Keras model: eigenvalues, trace, spectral density.

Everything is built on Hessian-vector products ``H v`` of the model's loss
with respect to its trainable weights (flattened into one vector of P
numbers), on one batch ``(x, y)`` or averaged over a dataset (an iterable of
batches, weighted by batch size), so the P × P Hessian is never formed:

- :func:`top_eigenvalues`: power iteration with deflation;
- :func:`trace`: Hutchinson's estimator ``E[v^T H v]`` with Rademacher ``v``;
- :func:`spectral_density`: stochastic Lanczos quadrature (100 Lanczos steps
  with full reorthogonalisation, 1 Rademacher probe by default), giving nodes
  and weights of a discrete spectral measure of mass 1 per probe;
  :func:`density_grid` smooths it with Gaussians on a grid and
  :func:`plot_density` draws it on a logarithmic density axis.

Backend: the Hessian-vector products use nested ``tf.GradientTape`` and so
need the TensorFlow backend (the default); other backends raise a
``NotImplementedError``. The products run in float64 when the model is
float64, in float32 otherwise; the Lanczos and power iterations themselves
run in float64 NumPy. CPU is enough for the small models of the experiments.

Example:

    >>> import keras, numpy as np
    >>> from linked_neurons import hessian
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    >>> y = np.zeros((16, 2), "float32")
    >>> hvp = hessian.HessianOperator(model, "mse", (x, y))
    >>> hvp.size  # 3 * 2 weights + 2 biases
    8
    >>> nodes, weights = hessian.spectral_density(hvp, n_steps=8)
    >>> round(float(np.sum(weights)), 6)
    1.0
"""

import keras
import numpy as np

from linked_neurons._backend import TENSORFLOW_HINT


def _require_tensorflow(where):
    if keras.backend.backend() != "tensorflow":
        raise NotImplementedError(
            f"{where}: Hessian-vector products are implemented with nested tf.GradientTape "
            f"and need the TensorFlow backend; the active Keras backend is "
            f"{keras.backend.backend()!r}. Install TensorFlow with {TENSORFLOW_HINT}, "
            f"and set KERAS_BACKEND=tensorflow (or unset it) before Keras is imported."
        )


class HessianOperator:
    """Hessian-vector products of ``loss(model(x), y)`` w.r.t. trainable weights.

    Args:
        model: A built Keras model.
        loss: A Keras loss (name, function or instance); the mean over the
            batch is used.
        data: One batch ``(x, y)`` or an iterable of batches (e.g. a list or
            a ``tf.data.Dataset``); with several batches the loss is the
            sample-weighted mean over all of them.
        weights: Variables to differentiate (default: the model's trainable
            weights).

    Attributes:
        size: P, the number of weights.
    """

    def __init__(self, model, loss, data, weights=None):
        _require_tensorflow("HessianOperator")
        self.model = model
        self.loss = keras.losses.get(loss) if isinstance(loss, str) else loss
        if isinstance(data, tuple) and len(data) == 2 and not isinstance(data[0], tuple):
            self.batches = [data]
        else:
            self.batches = list(data)
        if not self.batches:
            raise ValueError("HessianOperator: `data` holds no batch.")
        self.weights = list(weights if weights is not None else model.trainable_weights)
        if not self.weights:
            raise ValueError("HessianOperator: the model has no trainable weights.")
        self.shapes = [tuple(w.shape) for w in self.weights]
        self.sizes = [int(np.prod(s)) for s in self.shapes]
        self.size = int(sum(self.sizes))
        self.dtype = keras.backend.standardize_dtype(self.weights[0].dtype)
        self.n_samples = sum(int(np.shape(x)[0]) for x, _ in self.batches)
        self.calls = 0

    def _split(self, vector):
        import tensorflow as tf

        parts = tf.split(tf.constant(vector, dtype=self.dtype), self.sizes)
        return [tf.reshape(p, s) for p, s in zip(parts, self.shapes)]

    def _loss(self, x, y):
        return keras.ops.mean(self.loss(y, self.model(x, training=False)))

    def loss_value(self):
        """The loss over all batches (sample-weighted mean)."""
        total = 0.0
        for x, y in self.batches:
            total += float(self._loss(x, y)) * int(np.shape(x)[0])
        return total / self.n_samples

    def gradient(self):
        """The flattened gradient over all batches (float64 NumPy)."""
        import tensorflow as tf

        total = np.zeros(self.size)
        for x, y in self.batches:
            with tf.GradientTape() as tape:
                loss = self._loss(x, y)
            grads = tape.gradient(loss, self.weights)
            total += self._flat(grads) * int(np.shape(x)[0])
        return total / self.n_samples

    def _flat(self, tensors):
        return np.concatenate([np.asarray(t, dtype="float64").ravel() for t in tensors])

    def _hvp_fn(self):
        import tensorflow as tf

        if getattr(self, "_compiled", None) is None:

            def hvp(x, y, v):
                with tf.GradientTape() as outer:
                    with tf.GradientTape() as inner:
                        loss = self._loss(x, y)
                    grads = inner.gradient(loss, self.weights)
                    dot = tf.add_n([tf.reduce_sum(g * tf.cast(u, g.dtype))
                                    for g, u in zip(grads, v)])
                hv = outer.gradient(dot, self.weights)
                return [tf.zeros_like(w) if h is None else h for h, w in zip(hv, self.weights)]

            self._compiled = tf.function(hvp, reduce_retracing=True)
        return self._compiled

    def matvec(self, vector):
        """``H v`` for a flat float64 vector ``v`` of length ``size``."""
        vector = np.asarray(vector, dtype="float64")
        if vector.shape != (self.size,):
            raise ValueError(
                f"HessianOperator.matvec: expected a vector of shape ({self.size},), got "
                f"{vector.shape}."
            )
        v = self._split(vector)
        fn = self._hvp_fn()
        total = np.zeros(self.size)
        for x, y in self.batches:
            hv = fn(x, y, v)
            total += self._flat(hv) * int(np.shape(x)[0])
        self.calls += 1
        return total / self.n_samples

    __call__ = matvec

    def dense(self):
        """The full P × P Hessian, column by column (small models only)."""
        return np.stack([self.matvec(e) for e in np.eye(self.size)], axis=1)


def _operator(hvp, where):
    if isinstance(hvp, HessianOperator):
        return hvp
    if callable(hvp) and hasattr(hvp, "size"):
        return hvp
    raise TypeError(f"{where}: expected a HessianOperator, got {type(hvp).__name__}.")


def _rademacher(rng, size):
    return rng.integers(0, 2, size=size).astype("float64") * 2.0 - 1.0


def top_eigenvalues(hvp, k=1, max_iter=100, tol=1e-4, seed=0):
    """The ``k`` largest eigenvalues by power iteration with deflation.

    Power iteration converges to the eigenvalue of largest magnitude; each
    found pair ``(λ, u)`` is deflated by projecting ``u`` out of the iterate
    (as PyHessian does), so the next run finds the next one.

    Args:
        hvp: A :class:`HessianOperator`.
        k: Number of eigenvalues.
        max_iter: Iterations per eigenvalue.
        tol: Stop when the relative change of the estimate is below ``tol``.
        seed: Seed of the random start vectors.

    Returns:
        ``(eigenvalues, eigenvectors)``: a length-``k`` array (in the order
        found, i.e. by decreasing magnitude) and a ``(k, P)`` array of unit
        vectors.
    """
    hvp = _operator(hvp, "top_eigenvalues")
    rng = np.random.default_rng(seed)
    values, vectors = [], []
    for _ in range(k):
        v = rng.normal(size=hvp.size)

        def project(u):
            for w in vectors:
                u = u - np.dot(u, w) * w
            return u

        v = project(v)
        v /= np.linalg.norm(v)
        value = None
        for _ in range(max_iter):
            hv = project(hvp(v))
            new = float(np.dot(v, hv))
            norm = np.linalg.norm(hv)
            if norm == 0:
                value = 0.0
                break
            v = hv / norm
            if value is not None and abs(new - value) <= tol * (abs(value) + 1e-12):
                value = new
                break
            value = new
        values.append(value)
        vectors.append(v)
    return np.array(values), np.array(vectors)


def trace(hvp, n_probes=100, tol=None, seed=0, return_samples=False):
    """Hutchinson's trace estimate ``mean_i v_i^T H v_i`` (Rademacher ``v_i``).

    Args:
        hvp: A :class:`HessianOperator`.
        n_probes: Largest number of probes.
        tol: Optional early stop when the running mean changes by less than
            ``tol`` relative.
        seed: Seed of the probes.
        return_samples: Also return the per-probe values.

    Returns:
        The estimate (float), or ``(estimate, samples)``. Its standard error
        is ``samples.std() / sqrt(len(samples))``.
    """
    hvp = _operator(hvp, "trace")
    rng = np.random.default_rng(seed)
    samples = []
    mean = None
    for _ in range(int(n_probes)):
        v = _rademacher(rng, hvp.size)
        samples.append(float(np.dot(v, hvp(v))))
        new = float(np.mean(samples))
        if tol is not None and mean is not None and abs(new - mean) <= tol * (abs(mean) + 1e-12):
            mean = new
            break
        mean = new
    samples = np.array(samples)
    return (mean, samples) if return_samples else mean


def lanczos(hvp, v, n_steps):
    """Lanczos tridiagonalisation from ``v`` with full reorthogonalisation.

    Returns:
        ``(alpha, beta)``: the diagonal (length m ≤ ``n_steps``) and
        off-diagonal (length m − 1) of the tridiagonal matrix; it stops early
        on an invariant subspace.
    """
    v = np.asarray(v, dtype="float64")
    v = v / np.linalg.norm(v)
    basis = [v]
    alpha, beta = [], []
    w_prev, b_prev = None, 0.0
    for step in range(min(int(n_steps), hvp.size)):
        w = hvp(basis[-1])
        a = float(np.dot(w, basis[-1]))
        w = w - a * basis[-1]
        if w_prev is not None:
            w = w - b_prev * w_prev
        for q in basis:  # full reorthogonalisation
            w = w - np.dot(w, q) * q
        alpha.append(a)
        b = float(np.linalg.norm(w))
        if step == min(int(n_steps), hvp.size) - 1 or b < 1e-10 * max(1.0, abs(a)):
            break
        beta.append(b)
        w_prev, b_prev = basis[-1], b
        basis.append(w / b)
    return np.array(alpha), np.array(beta[: len(alpha) - 1])


def spectral_density(hvp, n_steps=100, n_probes=1, seed=0):
    """Stochastic Lanczos quadrature of the Hessian's eigenvalue density.

    For each Rademacher probe, ``n_steps`` Lanczos steps give a tridiagonal
    matrix ``T``; its eigenvalues are the quadrature nodes and the squared
    first components of its eigenvectors the weights (summing to 1). The
    probes' measures are averaged (weights divided by ``n_probes``).

    Args:
        hvp: A :class:`HessianOperator`.
        n_steps: Lanczos steps (100).
        n_probes: Number of probes (1).
        seed: Seed of the probes.

    Returns:
        ``(nodes, weights)``: 1-D arrays; ``weights`` sum to 1.
    """
    hvp = _operator(hvp, "spectral_density")
    rng = np.random.default_rng(seed)
    nodes, weights = [], []
    for _ in range(int(n_probes)):
        alpha, beta = lanczos(hvp, _rademacher(rng, hvp.size), n_steps)
        t = np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)
        evals, evecs = np.linalg.eigh(t)
        nodes.append(evals)
        weights.append(evecs[0] ** 2 / n_probes)
    return np.concatenate(nodes), np.concatenate(weights)


def density_grid(nodes, weights, num_points=1000, sigma=None, margin=0.05):
    """Smooths ``(nodes, weights)`` into a density on a grid.

    Each node becomes a Gaussian of standard deviation ``sigma`` (default 1%
    of the node range, at least 1e-6) carrying its weight, so the density
    integrates to ``sum(weights)`` (1) over the real line.

    Returns:
        ``(grid, density)`` arrays of length ``num_points``.
    """
    nodes = np.asarray(nodes, dtype="float64")
    weights = np.asarray(weights, dtype="float64")
    span = float(nodes.max() - nodes.min())
    if sigma is None:
        sigma = max(0.01 * span, 1e-6)
    pad = margin * span + 5 * sigma
    grid = np.linspace(nodes.min() - pad, nodes.max() + pad, int(num_points))
    diff = grid[:, None] - nodes[None, :]
    density = np.exp(-0.5 * (diff / sigma) ** 2) @ weights / (sigma * np.sqrt(2 * np.pi))
    return grid, density


def plot_density(densities, path=None, ax=None, title="Hessian eigenvalue density",
                 floor=1e-8):
    """Plots one or more densities on a logarithmic density axis.

    Args:
        densities: Dict from label to ``(grid, density)``.
        path: Optional file to save the figure to (PNG, ...).
        ax: Optional matplotlib axes to draw on.
        title: Figure title.
        floor: Values below this are drawn at ``floor`` (log axis).

    Returns:
        The matplotlib figure.
    """
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6, 4), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    for label, (grid, density) in densities.items():
        ax.semilogy(grid, np.maximum(density, floor), label=label)
    ax.set_xlabel("eigenvalue")
    ax.set_ylabel("density (log scale)")
    ax.set_title(title)
    ax.legend(fontsize="small")
    if path is not None:
        fig.savefig(path, dpi=80)
    return fig
