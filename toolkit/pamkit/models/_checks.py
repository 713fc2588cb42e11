"""Shared validation helpers, so every builder rejects bad input with the same kind of message."""

from __future__ import annotations

import math
from collections.abc import Iterable

from pamkit.errors import ModelError


def check_positive_int(value: object, what: str, fix: str) -> int:
    """Return ``value`` if it is an int >= 1 (bools refused), else raise ModelError naming ``what`` and ``fix``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ModelError(f"{what} must be an integer >= 1, got {value!r}; {fix}")
    return value


def check_positive_number(value: object, what: str, fix: str) -> float:
    """Return ``value`` as float if it is a finite number > 0 (bools refused), else raise ModelError."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not (math.isfinite(value) and value > 0):
        raise ModelError(f"{what} must be a finite number > 0, got {value!r}; {fix}")
    return float(value)


def check_choice(value: object, what: str, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ModelError listing them."""
    choices = list(choices)
    if value not in choices:
        raise ModelError(f"{what} {value!r} is not supported; use one of: {', '.join(choices)}")
    return value


def check_bool(value: object, what: str) -> bool:
    """Return ``value`` if it is a bool, else raise ModelError (so "false" strings are not truthy by accident)."""
    if not isinstance(value, bool):
        raise ModelError(f"{what} must be True or False, got {value!r}; pass a bool")
    return value
