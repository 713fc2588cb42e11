"""What the full relatedness sweep would take on N cores, projected from its job graph and measured job times.

    .venv/bin/python benchmarks/sweeps/project.py --lenet5 JOBS_JSON --lenet5-seed-seconds S \
        [--vgg JOBS_JSON [--vgg-scale 2]] [--out benchmarks/sweeps]

The graph is pamkit's own plan (`pamkit.compare.plan`) of benchmarks/relatedness/run.sh: six points
(related-k0, k2, k5, k8, k10, domains) x two architectures (LeNet-5, VGG at width 0.125) x three seeds, no
merging, MTZ and PAM, the oracle for LeNet-5 as run.sh runs it (none for VGG, as its runs did). Each job's
duration is measured, per kind of job (train/a, merge/pam, prune/mtz, oracle, report), from the `jobs.json` of a
sweep run with `--executor local --jobs 1` (one job at a time, so each job's seconds are its own):
- LeNet-5: each kind's share of a seed in a small sweep, scaled to what a full-size seed took on one core
  (--lenet5-seed-seconds, from benchmarks/relatedness);
- VGG: one seed at half run.sh's sizes (benchmarks/sweeps/vgg_seed.sh), times --vgg-scale.
Every point is given the durations measured on one point (they vary by up to 2x between points). The schedule
is the driver's: ready jobs start in graph order whenever a core is free (one core per job), as on Ray.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import sys
from pathlib import Path

from pamkit.compare import CompareOptions, DataRequest, plan
from pamkit.tasks import get_suite

POINTS = ("related-k0", "related-k2", "related-k5", "related-k8", "related-k10", "domains")
SEEDS = (0, 1, 2)
CORES = (1, 2, 8, 16, 32, 64, 128)


def kind(key: str) -> str:
    """A job's kind: its key without the seed folder ("seed-1/prune/pam" -> "prune/pam")."""
    parts = key.split("/")
    return "/".join(parts[1:]) if parts[0].startswith("seed-") else key


def kind_seconds(jobs_json: Path) -> dict[str, float]:
    """Per kind of job, its mean seconds over the run's seeds (the final report over the seeds left out)."""
    jobs = json.loads(jobs_json.read_text())["jobs"]
    by_kind: dict[str, list[float]] = {}
    for key, job in jobs.items():
        if job["seconds"] is not None and key != "report":
            by_kind.setdefault(kind(key), []).append(job["seconds"])
    return {k: sum(v) / len(v) for k, v in by_kind.items()}


def lenet5_durations(jobs_json: Path, seed_seconds: float) -> dict[str, float]:
    """Each kind's share of a seed in ``jobs_json``, scaled so that one seed's jobs add up to ``seed_seconds``."""
    means = kind_seconds(jobs_json)
    if "oracle" not in means:  # the small run had none: an oracle prune costs what PAM's prune costs
        means["oracle"] = means["prune/pam"]
    scale = seed_seconds / sum(means.values())
    return {k: v * scale for k, v in means.items()}


def graph_jobs(durations: dict[str, dict[str, float]]) -> list[tuple[str, tuple[str, ...], float]]:
    """(key, needs, seconds) of every job of the sweep, in the order the driver would offer them."""
    jobs = []
    for arch, oracle in (("lenet5", True), ("vgg", False)):
        if arch not in durations:
            continue
        for point in POINTS:
            request = DataRequest(get_suite(point), arch)
            options = CompareOptions(methods=("none", "mtz", "pam"), oracle=oracle)
            for job in plan(request, Path("/sweep") / arch / point, SEEDS, options).order:
                prefix = f"{arch}/{point}/"
                seconds = durations[arch].get(kind(job.key), durations[arch].get("report", 0.0))
                jobs.append((prefix + job.key, tuple(prefix + n for n in job.needs), seconds))
    return jobs


def schedule(jobs: list[tuple[str, tuple[str, ...], float]], cores: int) -> float:
    """Makespan of the driver's schedule: whenever a core is free, the first ready job in order starts."""
    finish: dict[str, float] = {}
    pending = list(jobs)
    free_at = [0.0] * cores
    running: list[tuple[float, str]] = []
    now = 0.0
    while pending or running:
        started = True
        while started and free_at and pending:
            started = False
            for i, (key, needs, seconds) in enumerate(pending):
                if all(n in finish and finish[n] <= now for n in needs):
                    heapq.heappush(running, (now + seconds, key))
                    free_at.pop()
                    pending.pop(i)
                    started = True
                    break
        end, key = heapq.heappop(running)
        now, finish[key] = end, end
        free_at.append(end)
    return now


def critical_path(jobs: list[tuple[str, tuple[str, ...], float]]) -> float:
    longest: dict[str, float] = {}
    for key, needs, seconds in jobs:  # in graph order: needs come first
        longest[key] = seconds + max((longest[n] for n in needs), default=0.0)
    return max(longest.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lenet5", type=Path, required=True, help="jobs.json of a LeNet-5 sweep run (its shares)")
    parser.add_argument(
        "--lenet5-seed-seconds",
        type=float,
        required=True,
        help="what one full-size LeNet-5 seed takes on one core (its jobs' shares scaled to it)",
    )
    parser.add_argument("--vgg", type=Path, help="jobs.json of a VGG seed (vgg_seed.sh; without it: LeNet-5's half)")
    parser.add_argument("--vgg-scale", type=float, default=2.0, help="full size / measured size")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = parser.parse_args()
    durations = {"lenet5": lenet5_durations(args.lenet5, args.lenet5_seed_seconds)}
    if args.vgg:
        durations["vgg"] = {k: v * args.vgg_scale for k, v in kind_seconds(args.vgg).items()}
    jobs = graph_jobs(durations)
    total = sum(seconds for _, _, seconds in jobs)
    projection = {str(c): round(schedule(jobs, c)) for c in CORES}
    document = {
        "command": " ".join(["benchmarks/sweeps/project.py", *sys.argv[1:]]),
        "jobs": len(jobs),
        "core_seconds": round(total),
        "critical_path_s": round(critical_path(jobs)),
        "makespan_s_by_cores": projection,
        "durations_s": {arch: {k: round(v, 1) for k, v in d.items()} for arch, d in durations.items()},
    }
    (args.out / "projection.json").write_text(json.dumps(document, indent=1) + "\n")
    _plot(projection, total, document["critical_path_s"], args.out / "projection.png")
    print(json.dumps({k: document[k] for k in ("jobs", "core_seconds", "critical_path_s", "makespan_s_by_cores")}))
    return 0


def _plot(projection: dict[str, int], total: float, critical: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cores = [int(c) for c in projection]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(cores, [projection[str(c)] / 3600 for c in cores], "o-", label="projected wall (driver's schedule)")
    ax.plot(cores, [total / c / 3600 for c in cores], ":", label="core-hours / cores (perfect split)")
    ax.axhline(critical / 3600, color="gray", ls="--", label="longest chain of jobs")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("cores (one job each)")
    ax.set_ylabel("hours")
    ax.set_title("Relatedness sweep, projected")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
