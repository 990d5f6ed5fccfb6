"""Argument checks and helpers shared by the optimizers."""

import contextlib
import math
import numbers

import keras

from linked_neurons._validation import check_int, check_number  # noqa: F401 (re-exported)


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def learning_rate_or_error(owner, learning_rate):
    """A valid ``learning_rate`` for the Keras base optimizer, or a clear error.

    Numbers must be finite and >= 0 (integers are accepted and turned into
    floats); schedules and callables are passed through unchanged.
    """
    if isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule):
        return learning_rate
    if _is_number(learning_rate):
        value = float(learning_rate)
        if not math.isfinite(value) or value < 0.0:
            raise ValueError(
                f"{owner}: `learning_rate` must be a finite number >= 0; received "
                f"learning_rate={learning_rate!r}."
            )
        return value
    if callable(learning_rate):
        return learning_rate
    raise TypeError(
        f"{owner}: `learning_rate` must be a float >= 0, a "
        "keras.optimizers.schedules.LearningRateSchedule or a callable without "
        f"arguments; received {learning_rate!r} of type {type(learning_rate).__name__}."
    )


@contextlib.contextmanager
def outside_trace():
    """Creates what is built inside it now, not as part of a function being traced.

    Keras' TensorFlow trainer builds the optimizer while it traces the train
    function (without a distribution strategy). A variable created there gets
    its initializer wrapped in a ``cond`` whose two branch graphs TensorFlow
    keeps in its function library for the life of the process, after
    ``keras.backend.clear_session()`` too: 2 graphs per optimizer variable,
    several MB per model. Under ``tf.init_scope()`` the variables are created
    eagerly, as Keras does for a layer's deferred weights, and nothing stays
    behind. Elsewhere (other backends, eager code, a distribution strategy,
    which builds the optimizer before tracing) this does nothing.
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if tf.inside_function() and not tf.distribute.has_strategy():
            with tf.init_scope():
                yield
            return
    yield
