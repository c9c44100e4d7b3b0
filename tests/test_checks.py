"""Tests for kgan._checks, the shared argument checks."""

import math

import numpy as np
import pytest

from kgan import _checks


@pytest.mark.parametrize(
    "value", [1, 7, 10**30, np.int8(3), np.int64(5), np.uint16(2)]
)
def test_positive_int_accepts_python_and_numpy_ints(value):
    result = _checks.positive_int("batch_size", value)
    assert result == int(value)
    assert type(result) is int


@pytest.mark.parametrize(
    "value",
    [0, -3, np.int64(0), True, False, np.bool_(True), 2.0, np.float32(2),
     "2", None, [2]],
)  # fmt: skip
def test_positive_int_rejects(value):
    with pytest.raises(ValueError) as error:
        _checks.positive_int("batch_size", value)
    message = str(error.value)
    assert message == (
        "`batch_size` must be a positive integer. "
        f"Received: batch_size={value!r}"
    )
    assert "\n" not in message


def test_positive_int_allow_none():
    assert _checks.positive_int("num_classes", None, allow_none=True) is None
    assert _checks.positive_int("num_classes", 3, allow_none=True) == 3
    with pytest.raises(ValueError, match="`num_classes` must be a positive"):
        _checks.positive_int("num_classes", None)
    match = r"must be None or a positive integer\. Received: num_classes=0$"
    with pytest.raises(ValueError, match=match):
        _checks.positive_int("num_classes", 0, allow_none=True)


def test_integer_minimum():
    assert _checks.integer("axis", -1) == -1
    assert _checks.integer("subset_size", np.int32(2), minimum=2) == 2
    with pytest.raises(ValueError, match=r"^`axis` must be an integer\. "):
        _checks.integer("axis", "last")
    match = r"^`subset_size` must be an integer >= 2\. Received: subset_size=1$"
    with pytest.raises(ValueError, match=match):
        _checks.integer("subset_size", 1, minimum=2)
    with pytest.raises(ValueError, match="Received: seed=True"):
        _checks.integer("seed", True, allow_none=True)


@pytest.mark.parametrize("value", [1e-8, 3, 2.5, np.float32(0.5), np.int8(4)])
def test_positive_number_accepts(value):
    result = _checks.positive_number("epsilon", value)
    assert result == pytest.approx(float(value))
    assert type(result) is float


@pytest.mark.parametrize(
    "value",
    [0, 0.0, -1e-3, True, float("nan"), float("inf"), np.float64("nan"),
     "1", None],
)  # fmt: skip
def test_positive_number_rejects(value):
    with pytest.raises(ValueError) as error:
        _checks.positive_number("epsilon", value)
    assert str(error.value) == (
        f"`epsilon` must be a positive number. Received: epsilon={value!r}"
    )


def test_non_negative_number():
    assert _checks.non_negative_number("weight", 0) == 0.0
    assert type(_checks.non_negative_number("weight", 0)) is float
    assert _checks.non_negative_number("weight", np.float32(2.5)) == 2.5
    for value in [-1, -0.1, False, float("nan"), float("-inf"), "abc"]:
        with pytest.raises(ValueError) as error:
            _checks.non_negative_number("weight", value)
        assert str(error.value) == (
            "`weight` must be a non-negative number. "
            f"Received: weight={value!r}"
        )


def test_number_in():
    assert _checks.number_in("momentum", 0, 0, 1) == 0.0
    assert _checks.number_in("momentum", 1, 0, 1) == 1.0
    assert _checks.number_in("momentum", np.float32(0.5), 0, 1) == 0.5
    assert _checks.number_in("momentum", 0.999, 0, 1, high_open=True) == 0.999
    match = r"^`momentum` must be a number in \[0, 1\]\. Received: momentum=1.5"
    with pytest.raises(ValueError, match=match):
        _checks.number_in("momentum", 1.5, 0, 1)
    match = r"must be a number in \[0, 1\)\. Received: momentum=1$"
    with pytest.raises(ValueError, match=match):
        _checks.number_in("momentum", 1, 0, 1, high_open=True)
    for value in [True, float("nan"), "0.9", -0.1]:
        with pytest.raises(ValueError, match="Received: momentum="):
            _checks.number_in("momentum", value, 0, 1)


def test_predicates():
    assert _checks.is_int(3) and _checks.is_int(np.int64(3))
    assert not _checks.is_int(True) and not _checks.is_int(3.0)
    assert _checks.is_number(3) and _checks.is_number(np.float16(0.5))
    assert _checks.is_number(10**400)  # no float overflow
    assert not _checks.is_number(True)
    assert not _checks.is_number(math.nan)
    assert not _checks.is_number(math.inf)
    assert not _checks.is_number(1 + 2j)
