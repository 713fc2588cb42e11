"""The driver: runs a job graph on an executor, each job after what it needs, and keeps the account.

- A job whose outputs an earlier run wrote is skipped (``--resume`` continues a sweep where it stopped).
- A job whose process died is started again, up to ``retries`` more times; one that raised is not (its inputs
  would fail the same way): it is reported with its error, the jobs that need it are not started, and every
  other job runs to the end.
- Progress: a line per job that starts or ends, with the counts of done, running and failed jobs, and every
  ``heartbeat`` seconds the running jobs with their time so far and their log's last line.
- ``jobs.json`` in the output folder records each job's status, attempts, seconds and error, after every event.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PamkitError
from ..io import write_json
from .execute import Outcome, RunContext
from .executors import Executor
from .graph import JobGraph

JOBS_FILE = "jobs.json"


class JobsFailed(PamkitError):
    """Some jobs failed (the others finished): the run went, but not to the end."""

    exit_code = 1


LOGS_DIR = "logs"


@dataclass
class JobsReport:
    """How every job of a run ended: ``status`` per key (finished before, done, failed, blocked)."""

    status: dict[str, str] = field(default_factory=dict)
    attempts: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def count(self, status: str) -> int:
        return sum(1 for value in self.status.values() if value == status)

    def to_dict(self, graph: JobGraph, executor: Executor) -> dict[str, Any]:
        return {
            "executor": executor.describe(),
            "jobs": {
                job.key: {
                    "status": self.status.get(job.key, "waiting"),
                    "attempts": self.attempts[job.key],
                    "seconds": round(self.seconds[job.key], 2) if job.key in self.seconds else None,
                    "error": self.errors.get(job.key),
                    "needs": list(job.needs),
                    "cpus": job.resources.cpus,
                }
                for job in graph.order
            },
        }


def run_jobs(
    graph: JobGraph,
    executor: Executor,
    out: Path,
    command: str,
    retries: int = 2,
    heartbeat: float = 60.0,
) -> JobsReport:
    """Run every unfinished job of ``graph`` on ``executor``; PamkitError at the end if any failed."""
    out = Path(out).resolve()
    context = RunContext(command, out / LOGS_DIR if executor.logs_to_files else None)
    report = JobsReport()
    for job in graph.order:
        if job.finished():
            report.status[job.key] = "finished before"
    skipped = report.count("finished before")
    print(
        f"== {len(graph)} jobs on {executor.name}"
        + (f", {skipped} finished before (skipped)" if skipped else "")
        + (f"; job logs in {context.logs}" if context.logs else "")
    )
    running: dict[str, float] = {}
    last_beat = time.monotonic()
    try:
        executor.open(out)
        print(f"   executor: {executor.describe()}")
        while True:
            for job in _ready(graph, report, running):
                if len(running) >= executor.slots:
                    break
                report.attempts[job.key] += 1
                running[job.key] = time.monotonic()
                executor.submit(job, context)
                again = f" (attempt {report.attempts[job.key]})" if report.attempts[job.key] > 1 else ""
                _say(report, running, graph, f"started {job.key}{again}")
            if not running:
                break
            for outcome in executor.wait(timeout=min(heartbeat, 5.0)):
                running.pop(outcome.key, None)
                _settle(outcome, graph, report, retries)
                _say(report, running, graph, _event(outcome, report, retries))
                write_json(out / JOBS_FILE, report.to_dict(graph, executor))
            if time.monotonic() - last_beat >= heartbeat and running:
                last_beat = time.monotonic()
                _beat(running, context)
    finally:
        executor.close()
        write_json(out / JOBS_FILE, report.to_dict(graph, executor))
    failed = {key: report.errors[key] for key, status in report.status.items() if status == "failed"}
    if failed:
        blocked = report.count("blocked")
        raise JobsFailed(
            f"{len(failed)} job(s) failed: "
            + "; ".join(f"{key}: {error}" for key, error in failed.items())
            + (f" ({blocked} job(s) that need them did not run)" if blocked else "")
            + (f"; logs in {context.logs}" if context.logs else "")
            + "; fix the cause and run again with --resume (finished jobs are skipped)"
        )
    return report


def _ready(graph: JobGraph, report: JobsReport, running: dict[str, float]) -> list[Any]:
    """Jobs not yet started whose needs are all done, in graph order."""
    settled = {"finished before", "done"}
    return [
        job
        for job in graph.order
        if job.key not in report.status
        and job.key not in running
        and all(report.status.get(need) in settled for need in job.needs)
    ]


def _settle(outcome: Outcome, graph: JobGraph, report: JobsReport, retries: int) -> None:
    key = outcome.key
    report.seconds[key] = report.seconds.get(key, 0.0) + outcome.seconds
    if outcome.status == "done":
        report.status[key] = "done"
    elif outcome.status == "died" and report.attempts[key] <= retries:
        report.errors[key] = outcome.error  # not settled: _ready offers it again
    else:
        report.status[key], report.errors[key] = "failed", outcome.error
        for dependent in graph.dependents(key):
            report.status.setdefault(dependent, "blocked")


def _event(outcome: Outcome, report: JobsReport, retries: int) -> str:
    if outcome.status == "done":
        return f"done {outcome.key} ({outcome.seconds:.0f} s)"
    if outcome.status == "died" and outcome.key not in report.status:
        return f"retrying {outcome.key}: {outcome.error} (attempt {report.attempts[outcome.key]} of {retries + 1})"
    return f"FAILED {outcome.key}: {outcome.error}"


def _say(report: JobsReport, running: dict[str, float], graph: JobGraph, event: str) -> None:
    done = report.count("done") + report.count("finished before")
    failed = report.count("failed") + report.count("blocked")
    print(f"   [{done}/{len(graph)} done, {len(running)} running, {failed} failed] {event}", flush=True)


def _beat(running: dict[str, float], context: RunContext) -> None:
    now = time.monotonic()
    for key, started in running.items():
        log = context.log_of(key)
        print(f"     running {key} for {now - started:.0f} s" + (f": {_last_line(log)}" if log else ""), flush=True)


def _last_line(log: Path | None) -> str:
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()] if log else []
    except OSError:
        return ""
    return lines[-1].strip()[:120] if lines else ""
