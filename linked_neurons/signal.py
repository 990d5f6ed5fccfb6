"""Signal and gradient sizes of a network on one batch, layer by layer.

Figures that tell whether a deep network can train at all: the root mean
square of the loss gradient of every kernel (:func:`kernel_gradient_rms`)
and the second moment ``E[a^2]`` of every activation layer's output
(:func:`second_moments`). Adam's update of a weight is about
``lr * g / (sqrt(v) + epsilon)``: a gradient RMS far below ``epsilon``
makes the steps shrink in proportion. Works on the TensorFlow, JAX and
PyTorch backends.

Example:

    >>> import numpy as np
    >>> from linked_neurons.paper_models import depth_net
    >>> from linked_neurons import signal
    >>> model = depth_net((8, 8, 1), 10, "lkrelu", depth=3, width=2)
    >>> x, y = np.ones((4, 8, 8, 1), "float32"), np.arange(4)
    >>> len(signal.kernel_gradient_rms(model, x, y)), len(signal.second_moments(model, x))
    (4, 3)
"""

import math

import numpy as np

__all__ = ["kernel_gradient_rms", "loss_gradients", "second_moments"]


def loss_gradients(model, x, y, loss="sparse_categorical_crossentropy"):
    """Gradients of the mean loss on ``(x, y)`` for ``model.trainable_weights``.

    Args:
        model: A built Keras model.
        x, y: One batch of inputs and labels.
        loss: A Keras loss name or object (applied to the training-mode output).

    Returns:
        A list of float64 NumPy arrays, one per trainable weight, in order.

    Raises:
        NotImplementedError: On a backend other than TensorFlow, JAX and PyTorch.
    """
    import keras

    loss_fn = keras.losses.get(loss)

    def mean_loss(out):
        return keras.ops.mean(loss_fn(y, out))

    weights = model.trainable_weights
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            value = mean_loss(model(x, training=True))
        grads = tape.gradient(value, [w.value for w in weights])
    elif backend == "jax":
        import jax

        fixed = [v.value for v in model.non_trainable_variables]

        def loss_of(values):
            out, _ = model.stateless_call(values, fixed, x, training=True)
            return mean_loss(out)

        grads = jax.grad(loss_of)([w.value for w in weights])
    elif backend == "torch":
        for w in weights:
            w.value.grad = None
        mean_loss(model(x, training=True)).backward()
        grads = [w.value.grad for w in weights]
    else:
        raise NotImplementedError(f"loss_gradients: needs the TensorFlow, JAX or PyTorch "
                                  f"backend, got {backend!r}.")
    return [np.asarray(keras.ops.convert_to_numpy(g), dtype="float64") for g in grads]


def kernel_gradient_rms(model, x, y, loss="sparse_categorical_crossentropy"):
    """Root mean square of the loss gradient of every layer's ``kernel``, in layer order.

    Args:
        model: A built Keras model (convolutions and Dense layers have kernels).
        x, y: One batch of inputs and labels.
        loss: As in :func:`loss_gradients`.

    Returns:
        A list of floats, one per layer with a trainable ``kernel``.
    """
    grads = loss_gradients(model, x, y, loss)
    by_id = {id(w): g for w, g in zip(model.trainable_weights, grads)}
    kernels = [layer.kernel for layer in model.layers
               if getattr(layer, "kernel", None) is not None and id(layer.kernel) in by_id]
    return [math.sqrt(float(np.mean(by_id[id(k)] ** 2))) for k in kernels]


def second_moments(model, x, layers=None):
    """The second moment ``E[a^2]`` of the outputs of ``layers`` on inputs ``x``.

    Args:
        model: A built Keras model with one input.
        x: A batch of inputs.
        layers: Layer names (default: the hidden activation layers of
            :func:`linked_neurons.monitoring.activation_layers`, the output
            layer left out).

    Returns:
        A list of floats (float64 means), one per layer.

    Raises:
        ValueError: For a layer name the model does not have.
    """
    import keras

    if layers is None:
        from linked_neurons import monitoring

        layers = [layer.name for layer in monitoring.activation_layers(model)
                  if layer is not model.layers[-1]]
    names = [layer.name for layer in model.layers]
    unknown = [n for n in layers if n not in names]
    if unknown:
        raise ValueError(f"second_moments: `layers` has names the model lacks: {unknown}.")
    probe = keras.Model(model.inputs, [model.get_layer(n).output for n in layers])
    outputs = probe.predict(x, verbose=0)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return [float(np.mean(np.asarray(o, dtype="float64") ** 2)) for o in outputs]
