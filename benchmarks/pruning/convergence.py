"""Is the pruner converged? Prune every method's merged network of one compared seed again with the fine-tuning
budget multiplied (samples per step's fine-tune and final epochs) and compare the cost at the tolerance.

The goal (issue 12): doubling the fine-tuning budget lowers no method's cost at the tolerance by more than 10%;
otherwise the comparison measures how long each method was trained, not what it can reach. Each prune is
``pamkit prune`` with the comparison's own recorded options except the budget (so it can be rerun by hand);
an interrupted run resumes (``--resume``). Writes ``convergence.json`` / ``convergence.md`` beside this file
under the setting's name, after every method.

    .venv/bin/python benchmarks/pruning/convergence.py runs/bench-pruning-final/fashion-paper-lenet5/seed-0
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pamkit.cost import cost_report
from pamkit.io import read_json, write_json
from pamkit.network import load_multitask
from pamkit.values import POSITIVE
from pamkit.versions import source_commit

HERE = Path(__file__).parent
GOAL = 0.10  # largest allowed drop of the cost at the tolerance when the budget doubles


def main() -> None:
    args = _parser().parse_args()
    report = read_json(args.seed_dir / "report.json", "run `pamkit compare` first")
    label = args.label or "/".join(args.seed_dir.resolve().parts[-2:])  # e.g. fashion-paper-lenet5/seed-0
    document = read_json(args.out, "delete it to start again") if args.out.is_file() else {"runs": {}}
    record = document["runs"].setdefault(label, {"compare": report["command"], "factor": args.factor, "methods": {}})
    for method in args.methods.split(","):
        if method not in report["methods"] or not (args.seed_dir / method / "merged").is_dir():
            print(f"note: {method} is not in {args.seed_dir}; skipped")
            continue
        if method in record["methods"]:
            continue
        command = _command(report, args.seed_dir / method / "merged", args.work / label / method, args.factor)
        print(f"== {label} {method}: {' '.join(command)}", flush=True)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pamkit", *command[1:]], check=True)
        record["methods"][method] = _entry(report, method, args.work / label / method, command, started)
        document["runs"][label] = record
        write_json(args.out, document)
        args.out.with_suffix(".md").write_text(_markdown(document))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("seed_dir", type=Path, help="one seed of a `pamkit compare` run (e.g. .../seed-0)")
    parser.add_argument("--methods", default="none,mtz,pam", help="default: %(default)s")
    parser.add_argument("--factor", type=POSITIVE, default=2.0, help="budget multiplier (default: %(default)s)")
    parser.add_argument("--work", type=Path, default=Path("runs/convergence"), help="prunes (default: %(default)s)")
    parser.add_argument("--label", help="the run's name in the results (default: setting/seed-S from the path)")
    parser.add_argument("--out", type=Path, default=HERE / "convergence.json", help="default: %(default)s")
    return parser


def _command(report: dict[str, Any], merged: Path, out: Path, factor: float) -> list[str]:
    """``pamkit prune`` with the comparison's recorded options, the fine-tuning budget multiplied by ``factor``."""
    o = report["options"]["prune"]
    samples = o["finetune_samples"] or report["data"]["train"]
    command = ["pamkit", "prune", str(merged), "--out", str(out), "--allow-no-change"]
    command += ["--resume"] if out.exists() else []
    command += ["--criterion", o["criterion"], "--recipe", o["recipe"]["name"], "--tolerance", str(o["tolerance"])]
    if o["recipe"]["name"] == "distill":
        command += ["--distill-weight", str(o["recipe"]["weight"]), "--temperature", str(o["recipe"]["temperature"])]
    for flag, key in (("--step", "step"), ("--explore-past", "explore_past"), ("--fine-step", "fine_step")):
        command += [flag, str(o[key])]
    command += ["--search-window", str(o["search_window"]), "--max-candidates", str(o["max_candidates"])]
    if "max_backoffs" in o:  # recorded by the engine that backs off cliffs (0 for runs made before it)
        command += ["--backoff-drop", str(o["backoff_drop"]), "--max-backoffs", str(o["max_backoffs"])]
    else:
        command += ["--max-backoffs", "0"]
    command += ["--max-steps", str(o["max_iterations"]), "--lr", str(o["lr"]), "--batch-size", str(o["batch_size"])]
    command += ["--seed", str(o["seed"])]  # the data: split as the source networks' (recorded with them)
    command += [
        "--finetune-samples",
        str(round(samples * factor)),
        "--final-epochs",
        str(round(o["final_epochs"] * factor)),
    ]
    return command


def _entry(report: dict[str, Any], method: str, out: Path, command: list[str], started: float) -> dict[str, Any]:
    """Each combination's MACs at the tolerance with the comparison's budget and with the larger one."""
    doubled = cost_report(load_multitask(out)[0])["combinations"]
    base = report["methods"][method]["pruned"]
    pruning = read_json(out / "pruning.json", "delete that folder and run again")
    return {
        "command": " ".join(command),
        "commit": source_commit(HERE),
        "wall_s": time.perf_counter() - started,
        "val": pruning["val"],
        "combinations": [
            {"tasks": b["tasks"], "base": b["macs"], "more": d["macs"], "change": d["macs"] / b["macs"] - 1}
            for b, d in zip(base, doubled, strict=True)
        ],
    }


def _markdown(document: dict[str, Any]) -> str:
    lines = [
        "# Convergence: the cost at the tolerance when the fine-tuning budget is multiplied",
        "",
        "Each method's merged network of one compared seed pruned again by `pamkit prune` with the comparison's "
        "options and the fine-tuning budget (samples per step, final epochs) multiplied. Goal: no method's cost "
        f"falls by more than {GOAL:.0%}. Change = more / base - 1 (negative: the larger budget reached a cheaper "
        "network).",
    ]
    for label, record in document["runs"].items():
        lines += ["", f"## {label} (budget x{record['factor']:g}; comparison: `{record['compare']}`)", ""]
        lines += ["| method | combination | MACs, base budget | MACs, larger budget | change | goal met |"]
        lines += ["|---|---|---:|---:|---:|---|"]
        for method, entry in record["methods"].items():
            for c in entry["combinations"]:
                met = "yes" if c["change"] >= -GOAL else "**no**"
                combination = "+".join(c["tasks"])
                lines.append(
                    f"| {method} | {combination} | {c['base']:,} | {c['more']:,} | {c['change']:+.1%} | {met} |"
                )
        lines.append("")
        for method, entry in record["methods"].items():
            lines.append(f"- {method}: {entry['wall_s'] / 60:.0f} min; `{entry['command']}`")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
