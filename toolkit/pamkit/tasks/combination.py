"""The task combination, the product's central value: which tasks run together, in one type with one set of rules.

A combination is always in the model's declared task order, so ``b+a`` and ``("a", "b")`` are one
value. People and command lines write it ``a+b`` (``label``); an exported entry point is named by
its tasks' output names joined with ``__`` (``entry``: ``long-sleeve`` -> ``long_sleeve``,
``category__long_sleeve``). The names' rule (``names``) keeps both unambiguous.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import combinations as subsets

from ..errors import PamkitError

SEPARATOR = "+"  # between tasks, as people write a combination
ENTRY_SEPARATOR = "__"  # between output names, in an entry point's name


def output_name(task: str) -> str:
    """A task's output name in every exported format: its name with ``-`` turned into ``_``."""
    return task.replace("-", "_")


def combination_label(tasks: Iterable[str]) -> str:
    """How a combination is written for people and on command lines: ``a+b``."""
    return SEPARATOR.join(tasks)


class Combination(tuple[str, ...]):
    """Tasks that run together, checked against the model's tasks ``order`` and put in that order."""

    def __new__(cls, tasks: Iterable[str], order: Sequence[str]) -> Combination:
        names = [task.strip() for task in tasks]
        written = combination_label(names)
        if not names or not all(names):
            raise PamkitError(
                f"empty task combination {written!r}; write combinations like 'a+b', of the tasks {', '.join(order)}"
            )
        unknown = [name for name in names if name not in order]
        if unknown:
            raise PamkitError(
                f"unknown task{'s' * (len(unknown) > 1)} {', '.join(map(repr, unknown))} in combination {written!r}; "
                f"the tasks are: "
                f"{', '.join(order)}"
            )
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise PamkitError(f"combination {written!r} names {', '.join(repeated)} twice; name each task once")
        return super().__new__(cls, (task for task in order if task in names))

    def __getnewargs__(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return tuple(self), tuple(self)  # copies and pickles rebuild it as it is (already in order)

    @classmethod
    def parse(cls, text: str, order: Sequence[str]) -> Combination:
        """``"b+a"`` -> the combination (a, b) of a model with tasks ``order``."""
        return cls(text.split(SEPARATOR), order)

    @classmethod
    def every(cls, order: Sequence[str]) -> list[Combination]:
        """Every non-empty subset of the tasks, smallest first, each in declared order."""
        return [cls(subset, order) for size in range(1, len(order) + 1) for subset in subsets(order, size)]

    @classmethod
    def parse_list(cls, text: str | None, order: Sequence[str]) -> list[Combination]:
        """``"all"`` or None (every combination), or ``"a+b,a"``: each once, in the order given."""
        if text is None or text == "all":
            return cls.every(order)
        parsed = [cls.parse(item, order) for item in text.split(",")]
        return list(dict.fromkeys(parsed))

    @property
    def label(self) -> str:
        """``a+b``."""
        return combination_label(self)

    @property
    def entry(self) -> str:
        """The exported entry point's name: output names joined with ``__``."""
        return ENTRY_SEPARATOR.join(output_name(task) for task in self)

    def __str__(self) -> str:
        return self.label
