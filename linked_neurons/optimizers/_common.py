"""Argument checks shared by the optimizers."""

import math
import numbers

import keras


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_number(owner, name, value, low=None, high=None, high_open=False):
    """Returns ``value`` as a Python float after checking ``low <= value <= high``.

    ``high_open`` makes the upper bound strict. Raises a ``TypeError`` for a
    value that is not a real number and a ``ValueError`` naming ``owner``,
    the argument, the allowed range and the value for one outside it.
    """
    if not _is_number(value):
        raise TypeError(
            f"{owner}: `{name}` must be a real number; received {name}={value!r} "
            f"of type {type(value).__name__}."
        )
    value = float(value)
    bad = math.isnan(value)
    bad = bad or (low is not None and value < low)
    if high is not None:
        bad = bad or (value >= high if high_open else value > high)
    if bad:
        lower = "(-inf" if low is None else f"[{low:g}"
        upper = "inf)" if high is None else (f"{high:g})" if high_open else f"{high:g}]")
        raise ValueError(
            f"{owner}: `{name}` must be in {lower}, {upper}; received {name}={value!r}."
        )
    return value


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
