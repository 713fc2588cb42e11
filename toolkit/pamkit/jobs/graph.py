"""Jobs and the graph they form: what runs, what it needs first, what it writes, what it asks of a machine.

A job is a module-level function and its keyword arguments, so that it pickles by reference and runs the
same in this process, in a child process or on a Ray worker. Its ``outputs`` are the files whose presence
means it finished; a resumed run skips such a job. A job without outputs (a report) always runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PamkitError


@dataclass(frozen=True)
class Resources:
    """What one job asks of a machine. ``cpus`` is also the number of threads it computes with, on every
    executor, so that a job's numbers do not depend on where it ran. pamkit computes on the CPU: no job
    asks for a GPU today, and ``gpus`` is passed on to executors that schedule them."""

    cpus: int = 1
    gpus: float = 0.0

    def __post_init__(self) -> None:
        if self.cpus < 1 or self.gpus < 0:
            raise PamkitError(f"a job needs at least one CPU and no negative GPUs, not {self}")


@dataclass(frozen=True)
class Job:
    """One unit of work: ``run(**kwargs)`` after every job in ``needs`` has finished."""

    key: str  # unique in its graph, readable: "seed-0/prune/pam"
    run: Callable[..., Any]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    needs: tuple[str, ...] = ()
    outputs: tuple[Path, ...] = ()
    resources: Resources = Resources()

    def finished(self) -> bool:
        """Whether an earlier run already wrote everything this job writes (never true without outputs)."""
        return bool(self.outputs) and all(path.is_file() for path in self.outputs)


class JobGraph:
    """Jobs in an order that runs each after what it needs; unknown needs, repeated keys and cycles are refused."""

    def __init__(self, jobs: Iterable[Job]) -> None:
        self.jobs: dict[str, Job] = {}
        for job in jobs:
            if job.key in self.jobs:
                raise PamkitError(f"two jobs are named {job.key!r}; every job needs its own key")
            self.jobs[job.key] = job
        for job in self.jobs.values():
            unknown = [need for need in job.needs if need not in self.jobs]
            if unknown:
                raise PamkitError(f"job {job.key!r} needs {unknown}, which are not in the graph")
        self.order = self._topological()

    def _topological(self) -> list[Job]:
        order: list[Job] = []
        state: dict[str, str] = {}  # "visiting" or "done"

        def visit(job: Job, path: tuple[str, ...]) -> None:
            if state.get(job.key) == "done":
                return
            if state.get(job.key) == "visiting":
                raise PamkitError(f"jobs form a cycle: {' -> '.join((*path, job.key))}")
            state[job.key] = "visiting"
            for need in job.needs:
                visit(self.jobs[need], (*path, job.key))
            state[job.key] = "done"
            order.append(job)

        for job in self.jobs.values():
            visit(job, ())
        return order

    def dependents(self, key: str) -> set[str]:
        """Every job that needs ``key``, directly or through others."""
        found: set[str] = set()
        frontier = [key]
        while frontier:
            current = frontier.pop()
            for job in self.jobs.values():
                if current in job.needs and job.key not in found:
                    found.add(job.key)
                    frontier.append(job.key)
        return found

    def __len__(self) -> int:
        return len(self.jobs)
