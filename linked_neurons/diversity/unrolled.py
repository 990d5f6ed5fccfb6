"""The unrolled inner training of meta-learning and its nested differentiation.

A small classifier (:func:`init_classifier`, :func:`classifier_logits`) is
trained from scratch by :func:`unrolled_loss`, whose result stays
differentiable with respect to the sub-network weights on every backend that
has nested automatic differentiation.
"""

import dataclasses
import math

import numpy as np
from keras import ops

from linked_neurons.layers.diversity import neural_activation


class _Autodiff:
    """The few differentiation primitives the unrolled loop needs, per backend."""

    def __init__(self, backend, first_order):
        self.backend = backend
        self.first_order = first_order
        if backend not in ("tensorflow", "jax", "torch"):
            raise NotImplementedError(
                f"meta_learn: differentiating through the unrolled inner loop needs nested "
                f"automatic differentiation, available here for the TensorFlow, JAX and "
                f"PyTorch backends; the active Keras backend is {backend!r}."
            )

    def tensor(self, value, dtype, watch=False):
        t = ops.convert_to_tensor(np.asarray(value, dtype=dtype))
        if self.backend == "torch" and watch:
            t = t.detach().clone().requires_grad_(True)
        return t

    def value_and_grad(self, fn, params):
        """``fn(params)`` and its gradient; recorded for the outer gradient."""
        if self.backend == "tensorflow":
            import tensorflow as tf

            with tf.GradientTape() as tape:
                tape.watch(params)
                loss = fn(params)
            return loss, tape.gradient(loss, params)
        if self.backend == "jax":
            import jax

            return jax.value_and_grad(fn)(params)
        import torch

        loss = fn(params)
        grads = torch.autograd.grad(loss, params, create_graph=not self.first_order,
                                    retain_graph=True)
        return loss, list(grads)

    def stop(self, values, keep_watch=False):
        if self.backend == "tensorflow":
            import tensorflow as tf

            return [tf.stop_gradient(v) for v in values]
        if self.backend == "jax":
            import jax

            return [jax.lax.stop_gradient(v) for v in values]
        out = [v.detach() for v in values]
        return [v.requires_grad_(True) for v in out] if keep_watch else out

    def outer_value_and_grad(self, fn, theta):
        """``fn(theta)`` (a tuple whose first item is the loss) and d loss / d theta."""
        if self.backend == "tensorflow":
            import tensorflow as tf

            with tf.GradientTape() as tape:
                tape.watch(theta)
                out = fn(theta)
            return out, tape.gradient(out[0], theta)
        if self.backend == "jax":
            import jax

            (loss, aux), grads = jax.value_and_grad(
                lambda th: (lambda r: (r[0], r[1:]))(fn(th)), has_aux=True)(theta)
            return (loss, *aux), grads
        import torch

        out = fn(theta)
        grads = torch.autograd.grad(out[0], theta)
        return out, list(grads)


def init_classifier(rng, sizes, dtype="float32"):
    """PyTorch ``Linear``-style init: ``W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))``.

    Args:
        rng: ``numpy.random.Generator``.
        sizes: Layer sizes, e.g. ``(40, 200, 10)``.

    Returns:
        ``[W1, b1, W2, b2, ...]`` NumPy arrays.
    """
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / math.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype))
        params.append(rng.uniform(-bound, bound, (fan_out,)).astype(dtype))
    return params


@dataclasses.dataclass
class _Spec:
    assignment: np.ndarray
    base_fn: object
    residual_scale: float
    hidden_activation: str


def classifier_logits(params, theta, x, spec):
    """Logits of the inner classifier ``x → Dense → g → Dense``."""
    w1, b1, w2, b2 = params
    # einsum rather than matmul: Keras' torch matmul evaluates float64 in float32
    h = ops.einsum("nd,dh->nh", x, w1) + b1
    a = neural_activation(h, *theta, spec.assignment, spec.base_fn, spec.residual_scale,
                          spec.hidden_activation, axis=-1, fused=False)
    return ops.einsum("nh,hc->nc", a, w2) + b2


def cross_entropy(logits, labels):
    """Mean sparse softmax cross-entropy (kept in the logits' dtype)."""
    logp = ops.log_softmax(logits, axis=-1)
    onehot = ops.one_hot(ops.cast(labels, "int32"), logits.shape[-1], dtype=logits.dtype)
    # sum / n rather than ops.mean, which evaluates float64 in float32 on JAX
    return -ops.sum(onehot * logp) / logits.shape[0]


def unrolled_loss(theta, params, batches, spec, autodiff, lr=0.01, decay=0.8, eps=1e-8):
    """Trains the inner classifier on ``batches`` and returns the mean training loss.

    Args:
        theta: ``[w1, b1, w2, b2]`` of the K sub-networks (the outer weights).
        params: Initial inner weights ``[W1, b1, W2, b2]``.
        batches: List of ``(x, y)`` tensors, one per inner step.
        spec: Activation settings.
        autodiff: The backend's differentiation primitives.
        lr, decay, eps: The RMSprop-like inner update.

    Returns:
        ``(mean loss, final inner weights)``.
    """
    squares = [ops.ones_like(p) for p in params]
    losses = []
    for xb, yb in batches:
        def inner(p, xb=xb, yb=yb):
            return cross_entropy(classifier_logits(p, theta, xb, spec), yb)

        loss, grads = autodiff.value_and_grad(inner, params)
        if autodiff.first_order:
            grads = autodiff.stop(grads)
        squares = [decay * s + (1.0 - decay) * ops.square(g) for s, g in zip(squares, grads)]
        params = [p - lr * g / (ops.sqrt(s) + eps) for p, g, s in zip(params, grads, squares)]
        if autodiff.first_order:
            params = autodiff.stop(params, keep_watch=True)
            squares = autodiff.stop(squares)
        losses.append(loss)
    return ops.sum(ops.stack(losses)) / len(losses), params


def accuracy(params, theta, x, y, spec):
    """Fraction of ``x`` that the classifier assigns its label ``y``.

    Takes the same arguments as :func:`classifier_logits`, plus the integer
    labels ``y``; returns a Python float in [0, 1].
    """
    logits = classifier_logits(params, theta, x, spec)
    pred = ops.convert_to_numpy(ops.argmax(logits, axis=-1))
    return float(np.mean(pred == np.asarray(y)))
