"""Console hygiene: converter and runtime chatter goes to a log file (or nowhere), the progress bar and pamkit's
own messages stay on the terminal, and a converter's or runtime's failure becomes one clear error."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

from ..errors import PamkitError

DISCARD = Path(os.devnull)


@contextmanager
def captured(log: Path) -> Iterator[None]:
    """Send this process's console output into ``log``: file descriptors 1 and 2 (native code) and Python's
    ``sys.stdout`` / ``sys.stderr``, also where those are not the descriptors (pytest, notebooks)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        with open(log, "a", buffering=1, errors="replace") as sink, redirect_stdout(sink), redirect_stderr(sink):
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                sink.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
    finally:
        os.close(saved[0])
        os.close(saved[1])


@contextmanager
def guarded(what: str, fix: str, log: Path = DISCARD) -> Iterator[None]:
    """Run converter or runtime code with its console output sent to ``log``; its failure as one PamkitError.

    The toolchains print warnings and import chatter (torchao "Failed to load", deprecations, absl and TFLite
    INFO lines) that mean nothing to the user; their exceptions carry what matters. ``what`` names the step
    ("executorch export", "loading model.pte"), ``fix`` says what to do.
    """
    try:
        with captured(log):
            yield
    except PamkitError:
        raise
    except Exception as exc:  # converter and runtime errors of every kind
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:240].rstrip(".")
        raise PamkitError(f"{what} failed ({type(exc).__name__}: {first}); {fix}") from exc


@contextmanager
def terminal_stream() -> Iterator[Any]:
    """A stream on the real stderr, so the progress bar stays visible while converter output is captured."""
    stream = os.fdopen(os.dup(2), "w", buffering=1)
    try:
        yield stream
    finally:
        stream.close()
