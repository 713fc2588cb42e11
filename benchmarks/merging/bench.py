"""Merge time of every method for two and four networks (LeNet-5 and VGG-style), on this machine.

Reads single-task runs made by `pamkit train` and writes results.json + RESULTS.md here.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

from pamkit.cost import cost_report
from pamkit.merge import METHODS, MergeOptions, merge
from pamkit.train import data_like, load_run
from pamkit.versions import package_versions

HERE = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("runs", nargs="+", type=Path, help="run directories (the first 2 and all tasks are merged)")
    parser.add_argument("--limit", type=int, default=6000, help="samples per split for MTZ/shared fine-tuning")
    args = parser.parse_args()
    rows = []
    for run in args.runs:
        everything = load_run(run)
        data = data_like(everything[0].record, limit=args.limit)
        for count in sorted({2, len(everything)}):
            nets = everything[:count]
            for method in METHODS:
                started = time.perf_counter()
                net, _ = merge(nets, method, data, MergeOptions(), progress=False)
                seconds = time.perf_counter() - started
                all_tasks = cost_report(net)["combinations"][-1]
                rows.append({"run": run.name, "arch": everything[0].record.arch, "networks": count,
                             "method": method, "seconds": round(seconds, 2), "all_tasks_macs": all_tasks["macs"],
                             "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024})
                print(rows[-1], flush=True)
                write_results(rows, args.limit)  # after every row, so an interrupted run keeps its numbers


def write_results(rows: list[dict], limit: int) -> None:
    """RESULTS.md and results.json from the rows measured so far."""
    lines = ["# Merge time", "",
             "Wall time of `pamkit.merge.merge` per method on 2 CPU cores (MTZ and shared include their default "
             f"fine-tuning: 1 epoch per zipped layer / 1 joint epoch, on {limit} training samples). PAM uses "
             "128 held-out samples. Peak RSS is of the whole process so far (monotone).", "",
             "| run | arch | networks | method | seconds | all-tasks MACs (before pruning) |", "|---|---|---:|---|---:|---:|"]
    lines += [f"| {r['run']} | {r['arch']} | {r['networks']} | {r['method']} | {r['seconds']} | "
              f"{r['all_tasks_macs']:,} |" for r in rows]
    lines += ["", f"Command: `benchmarks/merging/run.sh`", "",
              "Versions: " + ", ".join(f"{k} {v}" for k, v in package_versions().items()), ""]
    (HERE / "RESULTS.md").write_text("\n".join(lines))
    (HERE / "results.json").write_text(json.dumps({"rows": rows, "versions": package_versions()}, indent=1) + "\n")


if __name__ == "__main__":
    main()
