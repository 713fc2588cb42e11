"""Executors: where jobs run. Each is a registered class whose fields are its settings.

- ``inline``: in this process, one at a time, output on the console (for the API, debuggers and profilers).
- ``local``: each job in its own child process, ``jobs`` at a time (a crash kills only that job's process).
- ``ray``: each job a Ray task with its resource requests, on a local Ray instance or a running cluster.

The driver (``run_jobs``) decides what runs when; an executor only starts jobs and says how they ended.
"""

from __future__ import annotations

import multiprocessing
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, ClassVar

from ..errors import PamkitError
from ..registry import Registry
from .execute import Outcome, RunContext, execute
from .graph import Job


class Executor(ABC):
    """Starts jobs and reports how each ended; ``open`` before the first, ``close`` after the last (also on an
    interrupt: it stops what is still running)."""

    name: ClassVar[str]
    logs_to_files: ClassVar[bool] = True  # whether jobs' output goes to log files (else the console)

    def open(self, out: Path) -> None:  # noqa: B027  # most executors need no setup
        """Get ready to run jobs that write into ``out``."""

    @property
    @abstractmethod
    def slots(self) -> int:
        """How many jobs to keep in flight."""

    @abstractmethod
    def submit(self, job: Job, context: RunContext) -> None:
        """Start ``job``."""

    @abstractmethod
    def wait(self, timeout: float) -> list[Outcome]:
        """The outcomes of jobs that ended, waiting up to ``timeout`` seconds for at least one."""

    def close(self) -> None:  # noqa: B027
        """Stop whatever still runs and release the executor's resources."""

    def describe(self) -> str:
        return self.name


EXECUTORS: Registry[Executor] = Registry("executor")


@EXECUTORS.register
@dataclass
class InlineExecutor(Executor):
    """Every job in this process, one after another, its output on the console."""

    name: ClassVar[str] = "inline"
    logs_to_files: ClassVar[bool] = False
    _done: list[Outcome] = field(default_factory=list, repr=False)

    @property
    def slots(self) -> int:
        return 1

    def submit(self, job: Job, context: RunContext) -> None:
        self._done.append(execute(job, context))

    def wait(self, timeout: float) -> list[Outcome]:
        done, self._done = self._done, []
        return done


def _serve(conn: Connection) -> None:
    """A local worker process: run the jobs the driver sends, one at a time, until it sends None."""
    while (item := conn.recv()) is not None:
        conn.send(execute(*item))


@dataclass
class _Worker:
    process: Any
    conn: Connection
    job: str | None = None  # the key of the job it runs


@EXECUTORS.register
@dataclass
class LocalExecutor(Executor):
    """``jobs`` worker processes on this machine (spawned: nothing inherited but the arguments), each running
    one job at a time and kept for the next (imports and loaded data are reused). A worker that dies takes only
    its job with it; the next job gets a fresh worker."""

    name: ClassVar[str] = "local"
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    _workers: list[_Worker] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.jobs < 1:
            raise PamkitError(f"local executor: jobs must be at least 1, not {self.jobs}")

    @property
    def slots(self) -> int:
        return self.jobs

    def describe(self) -> str:
        return f"local, {self.jobs} job{'s' * (self.jobs != 1)} at a time"

    def submit(self, job: Job, context: RunContext) -> None:
        worker = next((w for w in self._workers if w.job is None), None) or self._start()
        worker.conn.send((job, context))
        worker.job = job.key

    def _start(self) -> _Worker:
        spawn = multiprocessing.get_context("spawn")
        ours, theirs = spawn.Pipe()
        process = spawn.Process(target=_serve, args=(theirs,), name="pamkit job worker", daemon=True)
        process.start()
        theirs.close()
        worker = _Worker(process, ours)
        self._workers.append(worker)
        return worker

    def wait(self, timeout: float) -> list[Outcome]:
        busy = [w for w in self._workers if w.job is not None]
        wait([handle for w in busy for handle in (w.conn, w.process.sentinel)], timeout)
        outcomes = []
        for worker in busy:
            outcome: Outcome | None = None
            try:
                if worker.conn.poll():
                    outcome = worker.conn.recv()
                elif worker.process.is_alive():
                    continue
            except (EOFError, OSError):
                pass
            key, worker.job = worker.job, None
            if outcome is None:  # its process went away without an answer
                worker.process.join(5)
                outcome = Outcome(str(key), "died", error=f"its process ended with exit code {worker.process.exitcode}")
                worker.conn.close()
                self._workers.remove(worker)
            outcomes.append(outcome)
        return outcomes

    def close(self) -> None:
        for worker in self._workers:
            if worker.job is None:
                worker.conn.send(None)
                worker.process.join(10)
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(10)
            if worker.process.is_alive():
                worker.process.kill()
            worker.conn.close()
        self._workers.clear()
