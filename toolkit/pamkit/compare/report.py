"""The comparison's report: per-combination tables with ratios, the paper's goals checked, a cost plot.

Costs only mean something for networks that learned their tasks: every report flags a task whose
test score does not beat its trivial baseline (always giving the most frequent answer), and no goal
is reported met while any network is flagged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..io import write_json

ORACLE_SLACK = 1.10  # goal: PAM within 10% of the oracle
TRIVIAL_MARGIN = 1e-6  # float32 rounding: a score equal to the trivial baseline must not count as above it


def combination_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per combination: each method's pruned MACs and params, ratios to none and mtz, the oracle."""
    methods = report["methods"]
    oracle = {tuple(o["tasks"]): o for o in report.get("oracle", [])}
    rows = []
    for i, combo in enumerate(next(iter(methods.values()))["pruned"]):
        tasks = tuple(combo["tasks"])
        macs = {m: e["pruned"][i]["macs"] for m, e in methods.items()}
        row = {"tasks": list(tasks), "macs": macs, "params": {m: e["pruned"][i]["params"] for m, e in methods.items()}}
        for base in ("none", "mtz"):
            if base in macs:
                row[f"vs_{base}"] = {m: macs[base] / max(v, 1) for m, v in macs.items()}
        if tasks in oracle:
            row["oracle"] = oracle[tasks]["macs"]
        rows.append(row)
    return rows


def unlearned(report: dict[str, Any]) -> dict[str, list[str]]:
    """Per network ("single-task" or a method), the tasks whose test score does not beat the trivial baseline."""
    trivial = report["trivial"]["test"]
    scores = {"single-task": report["reference"]["test"], **{m: e["test"] for m, e in report["methods"].items()}}
    flagged = {net: [t for t in report["tasks"] if s[t] <= trivial[t] + TRIVIAL_MARGIN] for net, s in scores.items()}
    return {net: tasks for net, tasks in flagged.items() if tasks}


def goals(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets for PAM, each with the measured value and whether it is met.

    The first checks that every network learned every task; when one did not, no other goal is met.
    """
    rows = combination_rows(report)
    if "pam" not in report["methods"]:
        return []
    n = len(report["tasks"])
    flagged = unlearned(report)
    checks = [
        {
            "goal": "every task beats its trivial baseline (always the most frequent answer)",
            "measured": "; ".join(f"{net}: {', '.join(tasks)} not above it" for net, tasks in flagged.items())
            or "all above it",
            "met": not flagged,
        }
    ]
    for base in ("none", "mtz"):
        if base in report["methods"]:
            worst = min(rows, key=lambda r: r[f"vs_{base}"]["pam"])
            checks.append(
                {
                    "goal": f"PAM costs at most {base} on every combination",
                    "measured": f"worst ratio {worst[f'vs_{base}']['pam']:.2f}x on {'+'.join(worst['tasks'])}",
                    "met": worst[f"vs_{base}"]["pam"] >= 1.0,
                }
            )
    if "none" in report["methods"]:
        target = 1.9 if n == 2 else 0.9 * n
        ratio = rows[-1]["vs_none"]["pam"]
        checks.append(
            {
                "goal": f"all tasks: at least {target:.2f}x below none",
                "measured": f"{ratio:.2f}x",
                "met": ratio >= target,
            }
        )
    if "mtz" in report["methods"]:
        best = max(r["vs_mtz"]["pam"] for r in rows)
        checks.append(
            {
                "goal": "at least 2.01x below MTZ on some combination",
                "measured": f"best {best:.2f}x",
                "met": best >= 2.01,
            }
        )
    if report.get("oracle"):
        excess, tasks = max((r["macs"]["pam"] / max(r["oracle"], 1), r["tasks"]) for r in rows if "oracle" in r)
        checks.append(
            {
                "goal": "within 10% of the oracle on every combination",
                "measured": f"worst {excess:.2f}x the oracle on {'+'.join(tasks)}",
                "met": excess <= ORACLE_SLACK,
            }
        )
    if flagged:
        for check in checks[1:]:
            check.update(met=False, measured=f"{check['measured']}; not judged: a network learned nothing")
    return checks


def markdown(report: dict[str, Any]) -> str:
    """The report as markdown: setting, accuracies, cost per combination with ratios, goals."""
    methods = list(report["methods"])
    lines = [
        f"# {report['suite']} with {report['arch']}: {', '.join(methods)} pruned under one rule",
        "",
        f"Command: `{report['command']}`  ",
        f"Data: {report['data']['name']} ({report['data']['source']}), "
        f"{report['data']['train']} train / {report['data']['val']} val / {report['data']['test']} test  ",
        f"Pruning: criterion {report['options']['prune']['criterion']}, tolerance "
        f"{report['options']['prune']['tolerance']} (validation split), cost-aware "
        f"{report['options']['prune']['cost_aware']}",
        "",
        *_score_lines(report),
    ]
    oracle = bool(report.get("oracle"))
    lines += [
        "",
        "## MACs per combination after pruning (ratio = baseline / method)",
        "",
        "| combination | " + " | ".join(methods) + (" | oracle" if oracle else "") + " | PAM vs none | PAM vs MTZ |",
        "|---" * (len(methods) + 3 + oracle) + "|",
    ]
    for row in combination_rows(report):
        cells = [f"{row['macs'][m]:,}" for m in methods] + ([f"{row.get('oracle', 0):,}"] if oracle else [])
        ratios = [
            f"{row[key]['pam']:.2f}x" if key in row and "pam" in row[key] else "-" for key in ("vs_none", "vs_mtz")
        ]
        lines.append(f"| {'+'.join(row['tasks'])} | " + " | ".join(cells + ratios) + " |")
    lines += [
        "",
        "## Parameters per combination after pruning",
        "",
        "| combination | " + " | ".join(methods) + " |",
        "|---" * (len(methods) + 1) + "|",
    ]
    for row in combination_rows(report):
        lines.append(f"| {'+'.join(row['tasks'])} | " + " | ".join(f"{row['params'][m]:,}" for m in methods) + " |")
    checks = goals(report)
    if checks:
        lines += ["", "## Goals", "", "| goal | measured | met |", "|---|---|---|"]
        lines += [f"| {c['goal']} | {c['measured']} | {'yes' if c['met'] else '**no**'} |" for c in checks]
    lines += ["", "## Why pruning stopped", ""]
    lines += [f"- {m}: {report['methods'][m]['stop_reason']}" for m in methods]
    return "\n".join(lines) + "\n"


def _score_lines(report: dict[str, Any]) -> list[str]:
    """The scores table, with the trivial baseline beside each task and a warning for networks not above it."""
    flagged = unlearned(report)
    networks = {"single-task": report["reference"], **report["methods"]}
    lines = [
        "## Scores (test; validation in brackets)",
        "",
        "| task | trivial | " + " | ".join(networks) + " |",
        "|---|---|" + "---|" * len(networks),
    ]
    for task in report["tasks"]:
        cells = [
            f"{scores['test'][task]:.4f} ({scores['val'][task]:.4f})" + (" (!)" if task in flagged.get(net, ()) else "")
            for net, scores in networks.items()
        ]
        lines.append(f"| {task} | {report['trivial']['test'][task]:.4f} | " + " | ".join(cells) + " |")
    if flagged:
        lines += [
            "",
            "**Warning: (!) marks scores no better than the trivial baseline** (always giving the most "
            "frequent answer): "
            + "; ".join(f"{net}: {', '.join(tasks)}" for net, tasks in flagged.items())
            + ". Those networks learned nothing, so their costs below say nothing about merging; train "
            "longer, on more data or with another learning rate.",
        ]
    return lines


def plot(report: dict[str, Any], path: str | Path) -> Path:
    """A grouped bar chart: MACs per combination, one bar per method (and the oracle), log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = combination_rows(report)
    series = {m: [r["macs"][m] for r in rows] for m in report["methods"]}
    if report.get("oracle"):
        series["oracle"] = [r.get("oracle", 0) for r in rows]
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(min(14.0, 3.0 + 0.8 * len(rows)), 4.8))
    for k, (name, values) in enumerate(series.items()):
        ax.bar([i + (k - (len(series) - 1) / 2) * width for i in range(len(rows))], values, width, label=name)
    ax.set_xticks(
        range(len(rows)),
        ["+".join(r["tasks"]) for r in rows],
        rotation=45 if len(rows) > 4 else 0,
        ha="right" if len(rows) > 4 else "center",
    )
    ax.set_yscale("log")
    ax.set_ylabel("MACs per inference (log)")
    ax.set_title(f"{report['suite']} / {report['arch']}: cost per task combination after pruning")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_report(report: dict[str, Any], out: str | Path) -> dict[str, Path]:
    """``report.json`` (everything), ``report.md`` (tables and goals) and ``cost.png`` in ``out``."""
    out = Path(out)
    paths = {"json": out / "report.json", "markdown": out / "report.md", "plot": out / "cost.png"}
    write_json(
        paths["json"],
        {**report, "rows": combination_rows(report), "goals": goals(report), "unlearned": unlearned(report)},
    )
    paths["markdown"].write_text(markdown(report))
    plot(report, paths["plot"])
    return paths
