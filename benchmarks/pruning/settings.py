"""What does a pruner setting change? Seeded comparisons of the same merges pruned with each engine setting.

Each ``NAME=FOLDER`` is a ``pamkit compare`` output over the same seeds and the same single-task networks and
merges, pruned with one setting of the engine (``--max-backoffs``, ``--hold``, or the code of a commit); the
first is the reference the others are read against. Per method and combination: the MACs at the tolerance
(mean, std as a share of the mean, each seed), the test scores, and per seed how many steps were backed off
and how many held a task. The goal it reads (issue 12): the std over seeds of the all-tasks cost is at most 10%
of the mean.

    .venv/bin/python benchmarks/pruning/settings.py off=runs/bench-backoff/off \\
        unbounded=runs/bench-backoff/on bounded=runs/bench-backoff/bounded --out benchmarks/pruning/backoff \\
        --title "Backing off cliffs"
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from pamkit.io import read_json, write_json

GOAL = 0.10  # std over seeds of the all-tasks cost, as a share of its mean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "runs", nargs="+", type=_named_folder, help="NAME=FOLDER, a `pamkit compare` output; the first is the reference"
    )
    parser.add_argument("--out", type=Path, required=True, help="writes OUT.json, OUT.md and OUT.png")
    parser.add_argument("--title", default="Pruner settings", help="what the settings compare (the report's title)")
    args = parser.parse_args()
    if len(args.runs) < 2 or len(dict(args.runs)) < len(args.runs):
        parser.error("give at least two runs, each under its own NAME")
    record = {"title": args.title, "runs": {name: _summary(folder) for name, folder in args.runs}, "goal": GOAL}
    write_json(args.out.with_suffix(".json"), record)
    args.out.with_suffix(".md").write_text(_markdown(record))
    _plot(record, args.out.with_suffix(".png"))
    print(args.out.with_suffix(".md").read_text())


def _named_folder(text: str) -> tuple[str, Path]:
    name, sep, folder = text.partition("=")
    if not sep or not name or not folder:
        raise argparse.ArgumentTypeError(f"{text!r}: give NAME=FOLDER, e.g. off=runs/bench-backoff/off")
    return name, Path(folder)


def _summary(folder: Path) -> dict[str, Any]:
    """Per method: each combination's MACs over seeds, the test scores, and the back-offs and held steps per seed."""
    report = read_json(folder / "report.json", "run `pamkit compare` first")
    methods = {}
    for method, entry in report["methods"].items():
        backoffs, held = [], []
        for seed in report["seeds"]:
            pruning = folder / f"seed-{seed}" / method / "pruned" / "pruning.json"
            history = read_json(pruning, "run `pamkit compare` first")["history"]
            backoffs.append(sum(1 for step in history if step["event"].startswith("backed off")))
            held.append(sum(1 for step in history if step["event"].startswith("step (held")))
        methods[method] = {
            "macs": {"+".join(row["tasks"]): row["macs"] for row in entry["pruned"]},
            "test": entry["test"],
            "backoffs": backoffs,
            "held": held,
        }
    return {
        "command": report["command"],
        "commit": report["versions"].get("pamkit-commit"),
        "seeds": report["seeds"],
        "methods": methods,
    }


def _common(record: dict[str, Any]) -> list[str]:
    """The methods every run pruned, in the reference's order."""
    runs = list(record["runs"].values())
    return [m for m in runs[0]["methods"] if all(m in run["methods"] for run in runs)]


def _spread(macs: dict[str, Any]) -> float:
    return float(macs["std"] / macs["mean"]) if macs["mean"] else 0.0


def _markdown(record: dict[str, Any]) -> str:
    runs = record["runs"]
    names = list(runs)
    reference = names[0]
    lines = [f"# {record['title']}: the same merges pruned with each setting", ""]
    lines += [f"- {name}: `{run['command']}` (code {run['commit']})" for name, run in runs.items()]
    lines += [
        "",
        f"MACs at the tolerance per combination: mean ± std (std as a share of the mean) and each seed's value; "
        f"ratios are each run's mean over {reference}'s.",
        "",
        "| method | combination | "
        + " | ".join(names)
        + " | "
        + " | ".join(f"{n} / {reference}" for n in names[1:])
        + " |",
        "|---|---|" + "---|" * len(names) + "---:|" * (len(names) - 1),
    ]
    methods = _common(record)
    for method in methods:
        for combo, base in runs[reference]["methods"][method]["macs"].items():
            cells = [_cell(runs[name]["methods"][method]["macs"][combo]) for name in names]
            ratios = [
                f"{runs[name]['methods'][method]['macs'][combo]['mean'] / base['mean']:.2f}x" for name in names[1:]
            ]
            lines.append(f"| {method} | {combo} | " + " | ".join(cells + ratios) + " |")
    lines += [
        "",
        f"All-tasks spread over seeds (std / mean; goal at most {record['goal']:.0%}), back-offs and steps that held "
        "a task per seed, and test scores (mean):",
        "",
        "| method | run | all-tasks spread | back-offs per seed | held steps per seed | test scores |",
        "|---|---|---:|---|---|---|",
    ]
    for method in methods:
        for name in names:
            entry = runs[name]["methods"][method]
            last = list(entry["macs"])[-1]
            scores = ", ".join(f"{task} {value['mean']:.4f}" for task, value in entry["test"].items())
            lines.append(
                f"| {method} | {name} | {_spread(entry['macs'][last]):.0%} | {entry['backoffs']} | {entry['held']} "
                f"| {scores} |"
            )
    return "\n".join(lines) + "\n"


def _cell(macs: dict[str, Any]) -> str:
    seeds = ", ".join(f"{value:,.0f}" for value in macs["seeds"])
    return f"{macs['mean']:,.0f} ± {macs['std']:,.0f} ({_spread(macs):.0%}; {seeds})"


def _plot(record: dict[str, Any], path: Path) -> None:
    """One panel per combination: each seed's MACs per method, one marker and colour per run."""
    runs = record["runs"]
    methods = _common(record)
    combos = list(next(iter(runs.values()))["methods"][methods[0]]["macs"])
    fig, axes = plt.subplots(1, len(combos), figsize=(4 * len(combos), 3.5))
    width = 0.6 / max(len(runs) - 1, 1)
    for ax, combo in zip(axes, combos, strict=True):
        for i, method in enumerate(methods):
            for k, (name, run) in enumerate(runs.items()):
                values = run["methods"][method]["macs"][combo]["seeds"]
                ax.scatter(
                    [i - 0.3 + width * k] * len(values),
                    values,
                    marker="ox^sdv"[k % 6],
                    color=f"C{k}",
                    label=name if i == 0 else None,
                )
        ax.set_xticks(range(len(methods)), methods)
        ax.set_title(combo)
        ax.set_ylim(bottom=0)
    axes[0].set_ylabel("MACs at the tolerance (each seed)")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
