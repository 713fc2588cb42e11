"""Wall time of one small sweep on each executor, measured side by side in one run, and its results compared.

    .venv/bin/python benchmarks/sweeps/run.py [--work runs/bench-sweeps] [--out benchmarks/sweeps]

Runs the same `pamkit compare` sweep (composite `domains`, LeNet-5, small; no merging, MTZ and PAM; 2 seeds)
with `--executor local --jobs 1`, `--executor local --jobs 2` and `--executor ray --jobs 2`, each from its own
folder with the same relative `--out`, one after another, then checks that every result file is byte-identical
across the three, and writes results.json (walls, ratios, each run's per-job seconds from its jobs.json) for
project.py. Run it with nothing else on the machine: the ratios are only as good as the quiet.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAMKIT = str(ROOT / ".venv" / "bin" / "pamkit")
SWEEP = [
    "compare",
    "--suite",
    "domains",
    "--arch",
    "lenet5",
    "--methods",
    "none,mtz,pam",
    "--limit",
    "1000",
    "--epochs",
    "3",
    "--finetune-samples",
    "512",
    "--max-backoffs",
    "1",
    "--seeds",
    "0,1",
    "--no-oracle",
    "--out",
    "sweep",
]
EXECUTORS = {
    "local-1": ["--executor", "local", "--jobs", "1"],
    "local-2": ["--executor", "local", "--jobs", "2"],
    "ray-2": ["--executor", "ray", "--jobs", "2"],
}
UNSTABLE = {"jobs.json", ".pamkit-output.json", "run.json"}  # the job account, the folder marker, training times


def results(folder: Path) -> dict[str, str]:
    """sha256 of every result file (not logs, the job account, or the single-task records, which hold times)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if not path.is_file() or path.name in UNSTABLE or "logs" in rel.parts:
            continue
        if path.suffix == ".json" and path.parent.name == "single":
            continue
        found[str(rel)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def commit_only(folders: list[Path], differing: list[str]) -> bool:
    """Whether each differing file differs only in the recorded pamkit commit (HEAD moved between runs)."""

    def text(folder: Path, name: str) -> list[str]:
        return [line for line in (folder / name).read_text().splitlines() if '"pamkit-commit"' not in line]

    return all(text(f, name) == text(folders[0], name) for name in differing for f in folders[1:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "bench-sweeps")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "sweeps")
    args = parser.parse_args()
    runs: dict[str, dict] = {}
    for name, options in EXECUTORS.items():
        cwd = args.work / name
        if (cwd / "sweep").exists():
            sys.exit(f"{cwd / 'sweep'} exists: remove {args.work} first (each run starts from nothing)")
        cwd.mkdir(parents=True)
        started = time.perf_counter()
        proc = subprocess.run(
            [PAMKIT, *SWEEP, *options],
            cwd=cwd,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        (cwd / "output.txt").write_text(proc.stdout + proc.stderr)
        if proc.returncode:
            sys.exit(f"{name}: exit {proc.returncode}; see {cwd / 'output.txt'}")
        jobs = json.loads((cwd / "sweep" / "jobs.json").read_text())["jobs"]
        runs[name] = {
            "options": options,
            "wall_s": round(wall, 1),
            "job_seconds": {k: v["seconds"] for k, v in jobs.items()},
            "busy_s": round(sum(v["seconds"] for v in jobs.values()), 1),
        }
        print(f"{name}: {wall:.0f} s wall, {runs[name]['busy_s']:.0f} s in jobs", flush=True)
    hashes = {name: results(args.work / name / "sweep") for name in runs}
    first = next(iter(hashes.values()))
    identical = all(h == first for h in hashes.values())
    base = runs["local-1"]["wall_s"]
    document = {
        "command": f"{PAMKIT} {' '.join(SWEEP)} [executor options]",
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip(),
        "cpus": os.cpu_count(),
        "runs": runs,
        "speedup_vs_local_1": {name: round(base / run["wall_s"], 3) for name, run in runs.items()},
        "result_files": len(first),
        "identical_results": identical,
        "differing": sorted({f for h in hashes.values() for f in h if h.get(f) != first.get(f)}),
    }
    folders = [args.work / name / "sweep" for name in runs]
    document["differing_only_in_recorded_commit"] = commit_only(folders, document["differing"])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(document, indent=1) + "\n")
    print(json.dumps({k: document[k] for k in ("speedup_vs_local_1", "result_files", "identical_results")}))
    return 0 if identical or document["differing_only_in_recorded_commit"] else 1


if __name__ == "__main__":
    sys.exit(main())
