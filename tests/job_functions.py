"""Small jobs for the executor tests: module-level functions, so that every executor's workers can import them."""

import os
import signal
from pathlib import Path


def write(path: str, text: str) -> None:
    Path(path).write_text(text)


def join(inputs: list[str], path: str) -> None:
    Path(path).write_text("+".join(Path(p).read_text() for p in inputs))


def fail_unless(fixed: str, path: str) -> None:
    """Fails with the same error every time until the file ``fixed`` exists."""
    if not Path(fixed).exists():
        raise ValueError(f"{Path(fixed).name} is missing")
    Path(path).write_text("fixed")


def die_once(marker: str, path: str) -> None:
    """Kills its own process the first time (as an out-of-memory kill would); writes ``path`` the next."""
    if not Path(marker).exists():
        Path(marker).write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    Path(path).write_text(f"after a death in process {Path(marker).read_text()}")
