"""Does backing off cliffs make the pruner's result reproducible? Two seeded comparisons of the same merges.

``before`` and ``after`` are ``pamkit compare`` outputs over the same seeds and the same single-task networks and
merges, pruned without and with the back-off (``--max-backoffs``). Per method and combination: the MACs at the
tolerance (mean, std as a share of the mean, each seed), the test scores, and how many steps were backed off.
The goal it reads (issue 12): the std over seeds of the all-tasks cost is at most 10% of the mean.

    .venv/bin/python benchmarks/pruning/backoff.py runs/bench-zip2/fashion-paper-lenet5 \\
        runs/bench-backoff/fashion-paper-lenet5 --out benchmarks/pruning/backoff
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
    parser.add_argument("before", type=Path, help="a `pamkit compare` output pruned without the back-off")
    parser.add_argument("after", type=Path, help="the same merges pruned with it")
    parser.add_argument("--out", type=Path, required=True, help="writes OUT.json, OUT.md and OUT.png")
    args = parser.parse_args()
    folders = {"before": args.before, "after": args.after}
    record = {"runs": {name: _summary(folder) for name, folder in folders.items()}, "goal": GOAL}
    write_json(args.out.with_suffix(".json"), record)
    args.out.with_suffix(".md").write_text(_markdown(record))
    _plot(record, args.out.with_suffix(".png"))
    print(args.out.with_suffix(".md").read_text())


def _summary(folder: Path) -> dict[str, Any]:
    """Per method: each combination's MACs over seeds, the test scores and the back-offs per seed."""
    report = read_json(folder / "report.json", "run `pamkit compare` first")
    methods = {}
    for method, entry in report["methods"].items():
        backoffs = []
        for seed in report["seeds"]:
            pruning = folder / f"seed-{seed}" / method / "pruned" / "pruning.json"
            history = read_json(pruning, "run `pamkit compare` first")["history"]
            backoffs.append(sum(1 for step in history if step["event"].startswith("backed off")))
        methods[method] = {
            "macs": {"+".join(row["tasks"]): row["macs"] for row in entry["pruned"]},
            "test": entry["test"],
            "backoffs": backoffs,
        }
    return {
        "command": report["command"],
        "commit": report["versions"].get("pamkit-commit"),
        "seeds": report["seeds"],
        "methods": methods,
    }


def _common(record: dict[str, Any]) -> list[str]:
    """The methods both runs pruned."""
    return [m for m in record["runs"]["after"]["methods"] if m in record["runs"]["before"]["methods"]]


def _spread(macs: dict[str, Any]) -> float:
    return float(macs["std"] / macs["mean"]) if macs["mean"] else 0.0


def _markdown(record: dict[str, Any]) -> str:
    before, after = record["runs"]["before"], record["runs"]["after"]
    lines = [
        "# Backing off cliffs: the same merges pruned without and with the back-off",
        "",
        f"- before: `{before['command']}` (code {before['commit']})",
        f"- after: `{after['command']}` (code {after['commit']})",
        "",
        "MACs at the tolerance per combination: mean ± std (std as a share of the mean) and each seed's value.",
        "",
        "| method | combination | before | after | after / before |",
        "|---|---|---|---|---:|",
    ]
    methods = _common(record)
    for method in methods:
        for combo, macs in after["methods"][method]["macs"].items():
            old = before["methods"][method]["macs"][combo]
            lines.append(f"| {method} | {combo} | {_cell(old)} | {_cell(macs)} | {macs['mean'] / old['mean']:.2f}x |")
    lines += [
        "",
        "| method | back-offs per seed | test scores after (mean) | all-tasks spread before -> after |",
        "|---|---|---|---|",
    ]
    for method in methods:
        entry = after["methods"][method]
        last = list(entry["macs"])[-1]
        spread = f"{_spread(before['methods'][method]['macs'][last]):.0%} -> {_spread(entry['macs'][last]):.0%}"
        scores = ", ".join(f"{task} {value['mean']:.4f}" for task, value in entry["test"].items())
        lines.append(f"| {method} | {entry['backoffs']} | {scores} | {spread} |")
    return "\n".join(lines) + "\n"


def _cell(macs: dict[str, Any]) -> str:
    seeds = ", ".join(f"{value:,.0f}" for value in macs["seeds"])
    return f"{macs['mean']:,.0f} ± {macs['std']:,.0f} ({_spread(macs):.0%}; {seeds})"


def _plot(record: dict[str, Any], path: Path) -> None:
    """One panel per combination: each seed's MACs per method, before (o) and after (x) the back-off."""
    after = record["runs"]["after"]["methods"]
    before = record["runs"]["before"]["methods"]
    methods = _common(record)
    combos = list(after[methods[0]]["macs"])
    fig, axes = plt.subplots(1, len(combos), figsize=(4 * len(combos), 3.5))
    for ax, combo in zip(axes, combos, strict=True):
        for i, method in enumerate(methods):
            for offset, (name, runs, marker) in enumerate((("before", before, "o"), ("after", after, "x"))):
                values = runs[method]["macs"][combo]["seeds"]
                ax.scatter(
                    [i + 0.15 * (2 * offset - 1)] * len(values),
                    values,
                    marker=marker,
                    color=f"C{offset}",
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
