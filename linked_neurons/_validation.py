"""Argument checks shared by every public constructor and function.

Each check takes the owner (a class or function name, or a layer's
``"Swish layer 'swish'"`` label), the argument's name and its value, and
returns the value in canonical form (a Python ``float``, ``int``, ``bool``
or ``tuple``) or raises:

* ``TypeError`` when the value has the wrong type (a string for a number,
  a float for an integer, a bool for a number);
* ``ValueError`` when it has the right type but a bad value (NaN, an
  infinity, out of range, a wrong length).

The message always names the owner, the argument and the value, e.g.
``Swish: `beta` must be a finite real number; received beta=nan.``
"""

import math
import numbers

import numpy as np

__all__ = [
    "channel_axis",
    "check_bool",
    "check_choice",
    "check_int",
    "check_int_tuple",
    "check_number",
    "check_numbers",
    "check_seed",
]


_INT64_MAX = 2**63 - 1  # every integer argument must fit a tensor's int64


def _is_real(value):
    return isinstance(value, (numbers.Real, np.floating, np.integer)) and not isinstance(
        value, (bool, np.bool_)
    )


def _is_integer(value):
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(
        value, (bool, np.bool_)
    )


def _interval(low, high, low_open, high_open):
    lower = "(-inf" if low is None else (f"({low:g}" if low_open else f"[{low:g}")
    upper = "inf)" if high is None else (f"{high:g})" if high_open else f"{high:g}]")
    return f"{lower}, {upper}"


def check_number(
    owner, name, value, low=None, high=None, low_open=False, high_open=False, allow_inf=False
):
    """``value`` as a finite Python float in the given interval.

    Args:
        owner: Class or function name used at the start of the message.
        name: The argument's name.
        value: The value received.
        low, high: Bounds (None: unbounded).
        low_open, high_open: Make the bound strict.
        allow_inf: Accept ``+inf``/``-inf`` when the bounds allow them
            (NaN is never accepted).

    Raises:
        TypeError: ``value`` is not a real number (bools are not numbers).
        ValueError: NaN, an infinity (unless ``allow_inf``) or outside the bounds.
    """
    if not _is_real(value):
        raise TypeError(
            f"{owner}: `{name}` must be a real number; received {name}={value!r} "
            f"of type {type(value).__name__}."
        )
    value = float(value)
    bad = math.isnan(value) or (math.isinf(value) and not allow_inf)
    if low is not None:
        bad = bad or (value <= low if low_open else value < low)
    if high is not None:
        bad = bad or (value >= high if high_open else value > high)
    if bad:
        what = "a real number" if allow_inf else "a finite real number"
        where = _interval(low, high, low_open, high_open)
        where = "" if where == "(-inf, inf)" else f" in {where}"
        raise ValueError(f"{owner}: `{name}` must be {what}{where}; received {name}={value!r}.")
    return value


def check_int(owner, name, value, low=None, high=None):
    """``value`` as a Python int with ``low <= value <= high``.

    Integral floats (``5.0``) are accepted; other floats, NaN, infinities and
    values outside int64 raise a ``ValueError``, strings and bools a
    ``TypeError``.
    """
    if _is_integer(value):
        value = int(value)
    elif _is_real(value):
        f = float(value)
        if not math.isfinite(f) or f != int(f):
            raise ValueError(
                f"{owner}: `{name}` must be an integer; received {name}={value!r}."
            )
        value = int(f)
    else:
        raise TypeError(
            f"{owner}: `{name}` must be an integer; received {name}={value!r} "
            f"of type {type(value).__name__}."
        )
    top = _INT64_MAX if high is None else min(high, _INT64_MAX)
    if (low is not None and value < low) or value > top or value < -_INT64_MAX - 1:
        where = _interval(low, high, False, False)
        where += "" if high is not None else " (and within int64)"
        raise ValueError(
            f"{owner}: `{name}` must be an integer in {where}; received {name}={value!r}."
        )
    return value


def check_bool(owner, name, value):
    """``value`` as a Python bool (NumPy bools too); anything else is a ``TypeError``."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(
        f"{owner}: `{name}` must be a bool; received {name}={value!r} "
        f"of type {type(value).__name__}."
    )


def check_seed(owner, name, value):
    """A seed: None or an integer >= 0, returned as None or a Python int."""
    if value is None:
        return None
    return check_int(owner, name, value, low=0)


def check_numbers(owner, name, value, length=None, low=None, high=None):
    """A sequence of finite real numbers as a tuple of floats.

    Args:
        length: Required length (None: any length >= 1).
        low, high: Inclusive bounds every entry must respect.
    """
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        raise TypeError(
            f"{owner}: `{name}` must be a sequence of numbers; received {name}={value!r} "
            f"of type {type(value).__name__}."
        )
    items = list(np.asarray(value, dtype=object).ravel()) if np.ndim(value) > 1 else list(value)
    if length is not None and len(items) != length:
        raise ValueError(
            f"{owner}: `{name}` must have {length} entries; received {name}={value!r} "
            f"with {len(items)}."
        )
    if not items:
        raise ValueError(f"{owner}: `{name}` must not be empty; received {name}={value!r}.")
    out = []
    for i, item in enumerate(items):
        if not _is_real(item):
            raise TypeError(
                f"{owner}: `{name}` must hold real numbers; entry {i} of "
                f"{name}={value!r} is {item!r} of type {type(item).__name__}."
            )
        f = float(item)
        if not math.isfinite(f) or (low is not None and f < low) or (
            high is not None and f > high
        ):
            where = _interval(low, high, False, False)
            where = "" if where == "(-inf, inf)" else f" in {where}"
            raise ValueError(
                f"{owner}: `{name}` must hold finite numbers{where}; entry {i} of "
                f"{name}={value!r} is {f!r}."
            )
        out.append(f)
    return tuple(out)


def check_int_tuple(owner, name, value, allow_none=True, low=None):
    """An int or a sequence of ints (axes, sizes) as a tuple of Python ints.

    Floats are rejected even when integral (``[1.7]`` must not become ``[1]``).
    """
    if value is None:
        if allow_none:
            return None
        raise TypeError(f"{owner}: `{name}` must not be None.")
    items = [value] if _is_integer(value) else value
    if isinstance(items, (str, bytes)) or not hasattr(items, "__iter__"):
        raise TypeError(
            f"{owner}: `{name}` must be an integer or a sequence of integers; "
            f"received {name}={value!r} of type {type(value).__name__}."
        )
    out = []
    for item in items:
        if not _is_integer(item):
            raise TypeError(
                f"{owner}: `{name}` must hold integers; received {name}={value!r} "
                f"(entry {item!r} of type {type(item).__name__})."
            )
        if low is not None and item < low:
            raise ValueError(
                f"{owner}: `{name}` entries must be >= {low}; received {name}={value!r}."
            )
        out.append(int(item))
    return tuple(out)


def check_choice(owner, name, value, choices):
    """``value`` if it is one of ``choices`` (compared with ``==``; must be hashable)."""
    try:
        ok = value in choices
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(
            f"{owner}: `{name}` must be one of {sorted(map(str, choices))}; "
            f"received {name}={value!r}."
        )
    return value


def channel_axis(owner, axis, rank):
    """The non-negative form of a channel ``axis`` for an input of ``rank``.

    Raises:
        ValueError: Naming ``owner`` when ``axis`` is the batch axis or out of range.
    """
    if not -rank <= axis < rank or axis % rank == 0:
        raise ValueError(
            f"{owner}: invalid `axis`={axis} for an input of rank {rank}; expected a "
            f"non-batch axis in [-{rank}, {rank - 1}] other than 0 and -{rank}."
        )
    return axis % rank
