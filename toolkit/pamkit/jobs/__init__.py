"""Jobs: a sweep's work as a graph of resumable jobs, run by a registered executor (inline, local, ray)."""

from .execute import Outcome, RunContext, execute
from .executors import EXECUTORS, Executor, InlineExecutor, LocalExecutor
from .graph import Job, JobGraph, Resources
from .ray_executor import RayExecutor
from .run import JOBS_FILE, LOGS_DIR, JobsFailed, JobsReport, run_jobs

__all__ = [
    "EXECUTORS",
    "JOBS_FILE",
    "LOGS_DIR",
    "Executor",
    "InlineExecutor",
    "Job",
    "JobGraph",
    "JobsFailed",
    "JobsReport",
    "LocalExecutor",
    "Outcome",
    "RayExecutor",
    "Resources",
    "RunContext",
    "execute",
    "run_jobs",
]
