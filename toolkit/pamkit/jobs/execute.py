"""Running one job, wherever it runs: its threads, its command of record, its output, its outcome."""

from __future__ import annotations

import contextlib
import os
import socket
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from ..train.run import recorded_command
from .graph import Job

Status = Literal["done", "failed", "died"]


@dataclass(frozen=True)
class RunContext:
    """What every job of one run shares: the command its files record, and where job logs go (None: the
    console, for the inline executor)."""

    command: str
    logs: Path | None = None

    def log_of(self, key: str) -> Path | None:
        """The log file of job ``key`` (its key's parts as folders: ``logs/seed-0/prune/pam.log``)."""
        return None if self.logs is None else self.logs / f"{key}.log"


@dataclass(frozen=True)
class Outcome:
    """How one attempt at a job ended: done, failed (it raised: the same inputs fail again, so it is not
    retried) or died (its process went away: retried)."""

    key: str
    status: Status
    seconds: float = 0.0
    error: str = ""  # one line; the traceback is in the job's log


def execute(job: Job, context: RunContext) -> Outcome:
    """Run ``job`` here with ``job.resources.cpus`` threads, output into its log; an exception becomes a failed
    outcome (KeyboardInterrupt and the like pass through)."""
    started = time.perf_counter()
    log = context.log_of(job.key)
    with _threads(job.resources.cpus), recorded_command(context.command), _output(log):
        try:
            job.run(**job.kwargs)
        except Exception as exc:  # the job's own error: reported, the other jobs go on
            traceback.print_exc()
            error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            return Outcome(job.key, "failed", time.perf_counter() - started, error)
    return Outcome(job.key, "done", time.perf_counter() - started)


@contextlib.contextmanager
def _threads(count: int) -> Iterator[None]:
    """Compute with ``count`` threads inside the block: the same on every executor, so results do not depend on
    where a job ran (a reduction split over more threads adds in another order)."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def _output(log: Path | None) -> Iterator[None]:
    """Send the job's stdout and stderr to ``log`` (appended: a retried job's attempts follow each other)."""
    if log is None:
        yield
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", buffering=1) as stream, contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
        print(f"==== attempt started {time.strftime('%Y-%m-%d %H:%M:%S')} on {socket.gethostname()}, pid {os.getpid()}")
        yield
