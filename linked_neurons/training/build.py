"""Build a compiled model's training state before ``fit``."""

import keras


def build_before_fit(model, x, y=None, sample_weight=None):
    """Builds a compiled model's optimizer, loss and metrics before ``fit``.

    On TensorFlow, without a distribution strategy, Keras creates the
    optimizer's slots and the compiled metrics' variables while it traces the
    train function. Variables created in a trace make TensorFlow trace the
    function a second time, and the process keeps every traced graph after
    ``keras.backend.clear_session()``; a process that trains many models
    (sweeps, studies) then keeps about twice the memory per model that it
    would otherwise. This function creates that state from the shapes of one
    batch (what Keras does itself under a strategy and on JAX), so the train
    function is traced once. Nothing is trained, no random numbers are drawn
    and the results of ``fit`` are the same.

    On JAX and PyTorch, and under a ``tf.distribute`` strategy, ``fit``
    already does this and the function returns without doing anything.

    Args:
        model: A built, compiled Keras model.
        x: Training inputs as given to ``fit`` (arrays, tensors, or a dict or
            list of them); only the first example is read, for its shapes.
        y: Targets, as given to ``fit``, or None.
        sample_weight: Sample weights, as given to ``fit``, or None.

    Raises:
        ValueError: If ``model`` is not compiled.

    Example:

        >>> import keras, numpy as np
        >>> from linked_neurons.training import build_before_fit
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> model.compile("adam", "mse", metrics=["mae"])
        >>> x, y = np.ones((8, 3)), np.ones((8, 2))
        >>> build_before_fit(model, x, y)
        >>> model.optimizer.built or keras.backend.backend() != "tensorflow"
        True
        >>> _ = model.fit(x, y, verbose=0)
    """
    if not getattr(model, "compiled", False):
        raise ValueError(
            f"build_before_fit: the model {getattr(model, 'name', model)!r} is not compiled; "
            f"call `model.compile(...)` first."
        )
    if keras.backend.backend() != "tensorflow" or getattr(model, "_distribute_strategy", None):
        return

    def first(value):
        return None if value is None else keras.tree.map_structure(lambda a: a[:1], value)

    batch = tuple(first(v) for v in (x, y, sample_weight))
    symbolic_build = getattr(model, "_symbolic_build", None)
    if symbolic_build is not None:
        symbolic_build(data_batch=batch if sample_weight is not None else batch[:2])
    elif model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
