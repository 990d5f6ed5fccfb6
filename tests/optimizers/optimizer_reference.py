"""Independent float64 NumPy implementations of the optimizers, and a step runner.

The references follow the formulas of SPEC section 8 and of the Keras
optimizers they wrap, written from the formulas and not from the library
code. :func:`run_optimizer` applies a fixed sequence of gradients with a
Keras optimizer on any backend, compiled where the backend compiles
(``tf.function``, ``jax.jit`` of ``stateless_apply``), eagerly on PyTorch.
"""

import math

import keras
import numpy as np

BACKEND = keras.backend.backend()


# ----------------------------------------------------------------------------- schedules
def tfa_warmup(lr, step, total_steps, warmup_proportion, min_lr):
    """TensorFlow Addons' RectifiedAdam warmup: learning rate of 1-based ``step``."""
    if total_steps <= 0:
        return lr
    warmup = total_steps * warmup_proportion
    decay = max(total_steps - warmup, 1.0)
    if step <= warmup:
        return lr * step / warmup
    return lr + (min_lr - lr) / decay * min(step - warmup, decay)


# ----------------------------------------------------------------------------- optimizers
class RAdamRef:
    """RAdam (Liu et al. 2019; ``torch.optim.RAdam``) with decoupled weight decay.

    ``lr`` is a float or a function of the 1-based step returning the learning
    rate before warmup (a Keras schedule sees ``step - 1``).
    """

    def __init__(
        self,
        lr=1e-3,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        sma_threshold=5.0,
        total_steps=0,
        warmup_proportion=0.1,
        min_lr=0.0,
        weight_decay=None,
    ):
        self.lr = lr if callable(lr) else (lambda step, lr=lr: lr)
        self.b1, self.b2, self.eps, self.threshold = beta_1, beta_2, epsilon, sma_threshold
        self.total, self.proportion, self.min_lr = total_steps, warmup_proportion, min_lr
        self.wd = weight_decay
        self.t = 0
        self.m = self.v = None
        self.rectified = []  # whether each step took the rectified branch

    def learning_rate(self, step):
        return tfa_warmup(self.lr(step), step, self.total, self.proportion, self.min_lr)

    def step(self, params, grads):
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        self.t += 1
        t, b1, b2 = self.t, self.b1, self.b2
        lr = self.learning_rate(t)
        rho_inf = 2.0 / (1.0 - b2) - 1.0
        rho_t = rho_inf - 2.0 * t * b2**t / (1.0 - b2**t)
        rectified = rho_t > self.threshold
        self.rectified.append(rectified)
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            if self.wd:
                p = p - lr * self.wd * p
            self.m[i] = b1 * self.m[i] + (1.0 - b1) * g
            self.v[i] = b2 * self.v[i] + (1.0 - b2) * g * g
            m_hat = self.m[i] / (1.0 - b1**t)
            if rectified:
                r = math.sqrt(
                    (rho_t - 4.0)
                    * (rho_t - 2.0)
                    * rho_inf
                    / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)
                )
                p = p - lr * m_hat * r * math.sqrt(1.0 - b2**t) / (np.sqrt(self.v[i]) + self.eps)
            else:
                p = p - lr * m_hat
            out.append(p)
        return out


class AdamRef:
    """Keras' Adam: epsilon added to the uncorrected ``sqrt(v)``."""

    def __init__(self, lr=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        self.lr, self.b1, self.b2, self.eps = lr, beta_1, beta_2, epsilon
        self.t = 0
        self.m = self.v = None

    def step(self, params, grads):
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        self.t += 1
        alpha = self.lr * math.sqrt(1.0 - self.b2**self.t) / (1.0 - self.b1**self.t)
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            self.m[i] = self.b1 * self.m[i] + (1.0 - self.b1) * g
            self.v[i] = self.b2 * self.v[i] + (1.0 - self.b2) * g * g
            out.append(p - alpha * self.m[i] / (np.sqrt(self.v[i]) + self.eps))
        return out


class SGDRef:
    def __init__(self, lr=0.01):
        self.lr = lr

    def step(self, params, grads):
        return [p - self.lr * g for p, g in zip(params, grads)]


class LookaheadRef:
    """Lookahead (Zhang et al. 2019) around another reference optimizer."""

    def __init__(self, inner, sync_period=5, slow_step_size=0.5):
        self.inner, self.k, self.alpha = inner, sync_period, slow_step_size
        self.steps = 0
        self.slow = None

    def step(self, params, grads):
        if self.slow is None:
            self.slow = [p.copy() for p in params]
        params = self.inner.step(params, grads)
        self.steps += 1
        if self.steps % self.k == 0:
            self.slow = [s + self.alpha * (p - s) for s, p in zip(self.slow, params)]
            params = [s.copy() for s in self.slow]
        return params


def reference_trajectory(ref, params, grads_seq):
    """Parameters after every step of ``ref`` on the gradient sequence."""
    params = [np.asarray(p, np.float64) for p in params]
    out = []
    for grads in grads_seq:
        params = ref.step(params, grads)
        out.append([p.copy() for p in params])
    return out


# ----------------------------------------------------------------------------- data
def random_problem(shapes, steps, seed=0):
    """Initial parameters and a fixed sequence of non-zero random gradients."""
    rng = np.random.default_rng(seed)
    params = [rng.normal(size=s) for s in shapes]
    # Gradient scales vary from step to step so that v keeps changing.
    scales = np.exp(rng.normal(scale=0.5, size=steps))
    grads = [[rng.normal(size=s) * scales[t] + 0.1 for s in shapes] for t in range(steps)]
    return params, grads


# ----------------------------------------------------------------------------- runner
class Runner:
    """Applies gradients with a Keras optimizer to Keras variables.

    ``run(grads_seq)`` applies each list of gradients in turn and returns the
    variable values after every step in ``record`` (1-based step numbers) and
    at the end. TensorFlow: one ``tf.function`` per step (``jit_compile``
    selectable); JAX: ``jax.jit(optimizer.stateless_apply)``, or the stateful
    ``apply`` with ``stateful=True``; PyTorch: eager ``apply``. With
    ``compiled=False`` TensorFlow runs eagerly and JAX calls
    ``stateless_apply`` without ``jax.jit`` (cheaper for a few steps).
    """

    def __init__(
        self, optimizer, params, dtype="float32", jit_compile=False, stateful=False, compiled=True
    ):
        self.optimizer = optimizer
        self.dtype = dtype
        self.variables = [
            keras.Variable(np.asarray(p, dtype), name=f"w{i}") for i, p in enumerate(params)
        ]
        optimizer.build(self.variables)
        self.stateful = stateful
        self.steps = 0
        if BACKEND == "tensorflow":
            import tensorflow as tf

            def step(grads):
                optimizer.apply(grads, self.variables)

            if compiled:
                step = tf.function(step, jit_compile=jit_compile, reduce_retracing=True)
            self._tf_step = step
        elif BACKEND == "jax" and not stateful:
            import jax

            self._jax_step = optimizer.stateless_apply
            if compiled:
                self._jax_step = jax.jit(self._jax_step)
            self._opt_values = [v.value for v in optimizer.variables]
            self._values = [v.value for v in self.variables]

    def apply(self, grads):
        grads = [keras.ops.convert_to_tensor(np.asarray(g, self.dtype)) for g in grads]
        self.steps += 1
        if BACKEND == "tensorflow":
            self._tf_step(grads)
        elif BACKEND == "jax" and not self.stateful:
            self._values, self._opt_values = self._jax_step(self._opt_values, grads, self._values)
        else:
            if BACKEND == "torch":
                import torch

                with torch.no_grad():
                    self.optimizer.apply(grads, self.variables)
            else:
                self.optimizer.apply(grads, self.variables)

    def sync(self):
        """Writes the JAX stateless values back into the Keras variables."""
        if BACKEND == "jax" and not self.stateful:
            for v, value in zip(self.variables, self._values):
                v.assign(value)
            for v, value in zip(self.optimizer.variables, self._opt_values):
                v.assign(value)

    def reload(self):
        """Reads the Keras variables again (after they were changed from outside)."""
        if BACKEND == "jax" and not self.stateful:
            self._values = [v.value for v in self.variables]
            self._opt_values = [v.value for v in self.optimizer.variables]

    def values(self):
        if BACKEND == "jax" and not self.stateful:
            return [np.asarray(v, np.float64) for v in self._values]
        return [keras.ops.convert_to_numpy(v).astype(np.float64) for v in self.variables]

    def run(self, grads_seq, record=()):
        recorded = {}
        for grads in grads_seq:
            self.apply(grads)
            if self.steps in record:
                recorded[self.steps] = self.values()
        recorded[self.steps] = self.values()
        return recorded


def relative_error(actual, expected):
    """Normwise relative error of a list of weights: max |a - e| / max |e|."""
    num = max(float(np.max(np.abs(a - e))) for a, e in zip(actual, expected))
    den = max(float(np.max(np.abs(e))) for e in expected)
    return num / den


def displacement_error(actual, expected, start):
    """Largest deviation relative to the largest displacement from ``start``.

    Float32 weights are rounded at every step (half an ulp, about 1e-7 of
    their size), which bounds this error from below once the displacement
    is small compared with the weights.
    """
    num = max(float(np.max(np.abs(a - e))) for a, e in zip(actual, expected))
    den = max(float(np.max(np.abs(e - s))) for e, s in zip(expected, start))
    return num / den
