"""Checked numbers: every numeric option is finite and in range, at the CLI and at each config's boundary.

One rule serves both sides: ``check_number`` for dataclass configs (``__post_init__``), and
``number_arg`` turns the same rule into an argparse ``type=`` so a bad flag is named at once.
NaN compares false with everything, so a range check written as ``x < 0`` lets it through; these
checks test finiteness first.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any

from .errors import PamkitError


def check_number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    integer: bool = False,
    optional: bool = False,
) -> None:
    """Raise PamkitError unless ``value`` is a finite number (an int if ``integer``) within [low, high].

    ``low_open``: the lower bound itself is excluded (``> low``). ``optional``: None is allowed.
    """
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or (integer and not isinstance(value, int)):
        raise PamkitError(f"{name} must be {'an integer' if integer else 'a number'}, got {value!r}")
    if not math.isfinite(value):
        raise PamkitError(f"{name} must be a finite number, got {value!r}")
    below = low is not None and (value <= low if low_open else value < low)
    if below or (high is not None and value > high):
        raise PamkitError(f"{name} must be {_range(low, high, low_open)}, got {value!r}")


def number_arg(
    *, low: float | None = None, high: float | None = None, low_open: bool = False, integer: bool = False
) -> Callable[[str], int | float]:
    """An argparse ``type=`` that parses and checks one number; argparse names the flag in its error."""

    def parse(text: str) -> int | float:
        try:
            value: int | float = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if integer else 'a number'}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        below = low is not None and (value <= low if low_open else value < low)
        if below or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{text} is out of range: it must be {_range(low, high, low_open)}")
        return value

    parse.__name__ = "integer" if integer else "number"  # argparse's "invalid <name> value" wording
    return parse


def _range(low: float | None, high: float | None, low_open: bool) -> str:
    if low is not None and high is not None:
        return f"{'above' if low_open else 'at least'} {_shown(low)} and at most {_shown(high)}"
    if low is not None:
        return f"{'above' if low_open else 'at least'} {_shown(low)}"
    return f"at most {_shown(high)}" if high is not None else "finite"


def _shown(bound: float) -> str:
    """A bound as written: integers in full (2147483647, not 2.14748e+09)."""
    return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"


POSITIVE_INT = number_arg(low=1, integer=True)
NONNEGATIVE_INT = number_arg(low=0, integer=True)
ANY_INT = number_arg(integer=True)
POSITIVE = number_arg(low=0, low_open=True)
NONNEGATIVE = number_arg(low=0)
FRACTION = number_arg(low=0, high=1)
SEED = number_arg(low=0, high=2**31 - 1, integer=True)  # derived seeds (seed + i) stay in every generator's range
