"""Summarise training runs (run.json files) as RESULTS.md + results.json: accuracy and time per task."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("runs", nargs="+", type=Path, help="run directories written by `pamkit train`")
    parser.add_argument("--out", type=Path, required=True, help="folder for RESULTS.md and results.json")
    parser.add_argument("--note", default="", help="a remark on the conditions of this run, printed under the table")
    args = parser.parse_args()
    runs = {run.name: json.loads((run / "run.json").read_text()) for run in args.runs}
    lines = ["# Single-task baselines", "",
             "Test score (accuracy; mean attribute agreement for multilabel tasks) and training time on 2 CPU "
             "cores. Produced by `benchmarks/single_task/run.sh`.", "",
             "| run | task | kind | test score | val score | epochs | train time (s) | params |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for name, run in runs.items():
        kinds = {t["name"]: t["kind"] for t in run["suite"]["tasks"]}
        for task, entry in run["tasks"].items():
            m = entry["metrics"]
            lines.append(f"| {name} | {task} | {kinds[task]} | {m['test']:.4f} | {m['val']:.4f} | "
                         f"{m['epochs_run']} | {m['train_seconds']:.0f} | {m['params']:,} |")
    first = next(iter(runs.values()))
    lines += ["", args.note] if args.note else []
    lines += ["", "Commands:", "", *[f"- `{run['command']}`" for run in runs.values()], "",
              "Versions: " + ", ".join(f"{k} {v}" for k, v in first["versions"].items()), ""]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "RESULTS.md").write_text("\n".join(lines))
    (args.out / "results.json").write_text(json.dumps(runs, indent=2) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
