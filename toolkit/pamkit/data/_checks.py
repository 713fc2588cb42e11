"""Type checks shared by the option and spec validators (bool is rejected where a number is meant)."""

from __future__ import annotations

import math
from typing import Any


def is_int(value: Any) -> bool:
    """True for real integers; bool excluded, since True would silently mean 1."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """True for finite ints and floats, bool excluded."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
