"""Argument checks shared by the optimizers."""

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
