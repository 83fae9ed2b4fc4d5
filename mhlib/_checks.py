"""Argument checks shared by every module of mhlib: each raises a ValueError naming the argument."""

from __future__ import annotations

import math
import numbers
from typing import Literal

import numpy as np


def check_integer(
    name: str, value: object, *, minimum: int = 0, parity: Literal["odd", "even"] | None = None
) -> int:
    """Returns `value` as an `int` if it is an integer `>= minimum` of the given parity.

    A `bool` is refused although Python counts it as an integer: `True` is never
    meant as a size or a seed.

    >>> check_integer("num_heads", 4, minimum=1)
    4
    >>> check_integer("kernel_size", 4, minimum=1, parity="odd")
    Traceback (most recent call last):
    ...
    ValueError: `kernel_size` must be an odd integer >= 1; got 4
    """
    kind = f"an {parity} integer" if parity else "an integer"
    message = f"`{name}` must be {kind} >= {minimum}; got {value!r}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(message)
    value = int(value)
    if value < minimum or (parity is not None and value % 2 != (parity == "odd")):
        raise ValueError(message)
    return value


def check_positive_number(name: str, value: object) -> float:
    """Returns `value` as a `float` if it is a finite real number `> 0`.

    >>> check_positive_number("temperature", 0.5)
    0.5
    >>> check_positive_number("temperature", float("inf"))
    Traceback (most recent call last):
    ...
    ValueError: `temperature` must be a finite number > 0; got inf
    """
    message = f"`{name}` must be a finite number > 0; got {value!r}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(message)
    value = float(value)
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(message)
    return value


def check_finite_array(name: str, value: object) -> np.ndarray:
    """Returns `value` as a float32 NumPy array if it is numeric and every entry is finite.

    The check runs after the conversion, so a value too large for float32 is refused too.

    >>> check_finite_array("bias", [0.5, 1.0])
    array([0.5, 1. ], dtype=float32)
    >>> check_finite_array("bias", [0.5, float("nan"), 1e39])
    Traceback (most recent call last):
    ...
    ValueError: `bias` must contain only finite values; got 2 NaN or infinite of 3
    """
    try:
        with np.errstate(over="ignore"):  # an overflow becomes inf, which is reported below
            array = np.asarray(value, dtype="float32")
    except (TypeError, ValueError) as error:
        raise ValueError(f"`{name}` must be an array of numbers; got {value!r}") from error
    bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
    if bad:
        raise ValueError(
            f"`{name}` must contain only finite values; got {bad} NaN or infinite of {array.size}"
        )
    return array


def check_rank(name: str, shape: tuple, axes: tuple[str, ...]) -> None:
    """Checks that a tensor of `shape` has one axis per entry of `axes` (their names).

    >>> check_rank("query", (2, 5, 8), ("batch", "length", "features"))
    >>> check_rank("query", (5, 8), ("batch", "length", "features"))
    Traceback (most recent call last):
    ...
    ValueError: `query` must have shape (batch, length, features), i.e. rank 3; got shape (5, 8)
    """
    if len(shape) != len(axes):
        raise ValueError(
            f"`{name}` must have shape ({', '.join(axes)}), i.e. rank {len(axes)}; "
            f"got shape {tuple(shape)}"
        )
