"""One bad input: a command line (with placeholders for the shared workspace), the message it must give."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Case:
    """``argv`` items may hold ``{name}`` placeholders, filled from ``Workspace.placeholders`` (built lazily).

    ``expect``: a piece of the one-line message (case-insensitive). ``setup(case_dir, ws)`` may write
    files into the case's own folder ``{case}`` before the file-system snapshot is taken.
    ``exit_code``: 2 for bad input; a few cases (a prune that removed nothing) exit otherwise.
    """

    id: str
    argv: tuple[str, ...]
    expect: str
    setup: Callable[[Path, object], None] | None = None
    exit_code: int = 2
    tags: tuple[str, ...] = field(default=())
