"""Argument checks shared across kgan.

Each check returns the value cast to a Python `int` or `float` (so configs
stay JSON-serializable), or raises a `ValueError` whose one line names the
argument, says what it must be and shows what was received:

    `batch_size` must be a positive integer. Received: batch_size=0

Python and NumPy integers count as integers, and NumPy floats as numbers;
`bool` is never a number, although it subclasses `int`. Numbers must be
finite: NaN and infinities are rejected. `is_int` and `is_number` are the
bare predicates, for checks with a message of their own.
"""

import math

import numpy as np

_INTEGERS = (int, np.integer)
_NUMBERS = (int, float, np.integer, np.floating)


def is_int(value):
    """True for a Python or NumPy integer, False for a bool."""
    return isinstance(value, _INTEGERS) and not isinstance(value, bool)


def is_number(value):
    """True for a Python or NumPy integer or finite float, False for a
    bool."""
    if isinstance(value, bool) or not isinstance(value, _NUMBERS):
        return False
    # An int too large for a float would overflow `isfinite`.
    return is_int(value) or math.isfinite(value)


def _fail(name, value, expected):
    raise ValueError(f"`{name}` must be {expected}. Received: {name}={value!r}")


def integer(name, value, minimum=None, allow_none=False):
    """Returns `int(value)` for an integer `value >= minimum` (any integer if
    `minimum` is None), and None for None if `allow_none`; raises
    `ValueError` otherwise."""
    if allow_none and value is None:
        return None
    if not is_int(value) or (minimum is not None and value < minimum):
        if minimum is None:
            expected = "an integer"
        elif minimum == 1:
            expected = "a positive integer"
        else:
            expected = f"an integer >= {minimum}"
        if allow_none:
            expected = "None or " + expected
        _fail(name, value, expected)
    return int(value)


def positive_int(name, value, allow_none=False):
    """Returns `int(value)` for an integer `value >= 1`, and None for None if
    `allow_none`; raises `ValueError` otherwise."""
    return integer(name, value, minimum=1, allow_none=allow_none)


def positive_number(name, value):
    """Returns `float(value)` for a finite number `value > 0`; raises
    `ValueError` otherwise."""
    if not is_number(value) or value <= 0:
        _fail(name, value, "a positive number")
    return float(value)


def non_negative_number(name, value):
    """Returns `float(value)` for a finite number `value >= 0`; raises
    `ValueError` otherwise."""
    if not is_number(value) or value < 0:
        _fail(name, value, "a non-negative number")
    return float(value)


def number_in(name, value, low, high, high_open=False):
    """Returns `float(value)` for a finite number in `[low, high]`, or in
    `[low, high)` with `high_open=True`; raises `ValueError` otherwise."""
    inside = is_number(value) and (
        low <= value < high if high_open else low <= value <= high
    )
    if not inside:
        bracket = ")" if high_open else "]"
        _fail(name, value, f"a number in [{low}, {high}{bracket}")
    return float(value)
