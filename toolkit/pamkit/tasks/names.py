"""The one rule for task names, checked when a suite or task is built and again before export.

A task name becomes a file name (``TASK.safetensors``), an output name in every exported format
(``-`` becomes ``_``: ``age-group`` -> ``age_group``) and part of entry-point names, which join
output names with ``__`` (``digit__odd``). So a name is an ASCII letter, then ASCII letters, digits
and single ``-`` or ``_`` between them (never two in a row, never at the end, so joined names split
back unambiguously), at most 64 characters; and no two names of one suite may become the same
output or file name (``a-b`` and ``a_b``, or ``Odd`` and ``odd`` on a case-insensitive disk).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..errors import TaskError

MAX_LENGTH = 64
RULE = (
    f"a task name starts with an ASCII letter, then ASCII letters, digits and single '-' or '_' between them "
    f"(not two in a row, not at the end), at most {MAX_LENGTH} characters"
)
_NAME = re.compile(r"[A-Za-z](?:[-_]?[A-Za-z0-9])*\Z")


def check_task_name(name: object) -> str:
    """``name`` if it follows the rule (it names files, outputs and entry points); TaskError otherwise."""
    if not isinstance(name, str):
        raise TaskError(
            f"task name {name!r} is not text (YAML read it as {type(name).__name__}); quote it in the suite file"
        )
    if len(name) > MAX_LENGTH or not _NAME.match(name):
        shown = name if len(name) <= MAX_LENGTH else f"{name[:20]}... ({len(name)} characters)"
        raise TaskError(f"task name {shown!r} is not allowed: {RULE}; rename the task in its suite")
    return name


def check_task_names(names: Iterable[object]) -> None:
    """Check every name, and that no two become the same output or file name."""
    seen: dict[str, str] = {}
    for name in map(check_task_name, names):
        key = name.replace("-", "_").lower()
        if seen.get(key) == name:
            raise TaskError(f"task name {name!r} is used twice; give each task its own name")
        if key in seen:
            raise TaskError(
                f"task names {seen[key]!r} and {name!r} collide: outputs turn '-' into '_' and file "
                "names may ignore case; rename one of them in the suite"
            )
        seen[key] = name
