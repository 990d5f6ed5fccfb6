"""Helpers shared by the fused ops: a backend-neutral custom-gradient wrapper."""

from keras import backend, ops


def fused_op(forward, backward):
    """Builds ``h(*args)`` with value ``forward(*args)`` and gradient ``backward``.

    ``backward(upstream, *args)`` returns the gradient of every argument (a
    single tensor when there is one argument). Only the arguments are captured
    for the backward pass: ``forward``'s intermediate tensors are not kept
    alive, which is what makes the op memory-saving.
    """

    @ops.custom_gradient
    def _op(*args):
        def grad(*grad_args, upstream=None):
            # TensorFlow and JAX pass the upstream gradient positionally,
            # PyTorch as the ``upstream`` keyword.
            if upstream is None:
                (upstream,) = grad_args
            return backward(upstream, *args)

        return forward(*args), grad

    return _op


def sum_to_shape(x, shape):
    """Sums ``x`` over the axes broadcast to reach it from ``shape``.

    ``shape`` is a static tuple that broadcasts to ``x``'s shape (same rank or
    fewer leading axes); the result has exactly ``shape``.
    """
    shape = tuple(shape)
    rank = len(x.shape)
    lead = rank - len(shape)
    axes = list(range(lead))
    axes += [lead + i for i, d in enumerate(shape) if d == 1 and x.shape[lead + i] != 1]
    if axes:
        x = ops.sum(x, axis=axes, keepdims=True)
    if lead:
        x = ops.reshape(x, shape)
    return x


def negative_part(x):
    """``min(x, 0)``, exactly, in ``x``'s dtype.

    Written as ``x - relu(x)`` because ``keras.ops.minimum`` demotes float64
    to float32 on the PyTorch backend.
    """
    return x - ops.relu(x)


def expm1(x):
    """``exp(x) - 1`` from ``tanh`` and ``exp`` only, accurate near 0.

    ``keras.ops.expm1`` lowers to an ``Expm1`` kernel that ONNX has no
    operator for, so a model using it cannot be exported with
    ``model.export(..., format="onnx")``. The identity
    ``expm1(x) = tanh(x / 2) * (exp(x) + 1)`` keeps the relative accuracy of
    ``expm1`` for small ``|x|`` (no cancellation: ``tanh`` is accurate near 0
    and ``exp(x) + 1`` lies in ``(1, 2]`` for ``x <= 0``). Measured over
    ``x`` in ``[-80, -1e-30]`` against the exact value, in float32 and float64
    on the TensorFlow, JAX and PyTorch backends: at most 7.5 ulp (TensorFlow
    float64; ``keras.ops.expm1`` there: 2.5 ulp).
    Meant for ``x <= 0``; for large positive ``x`` it overflows like ``exp``.
    """
    half = x * 0.5
    if backend.backend() == "jax" and backend.standardize_dtype(x.dtype) == "float64":
        # keras.ops.tanh evaluates float64 in float32 on JAX; jax.numpy keeps it.
        import jax.numpy as jnp

        return jnp.tanh(half) * (ops.exp(x) + 1)
    return ops.tanh(half) * (ops.exp(x) + 1)
