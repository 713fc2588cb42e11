"""The comparison's report: per-combination tables with ratios, the paper's goals checked, a cost plot.

Costs only mean something for networks that learned their tasks: every report flags a task whose
test score does not beat its trivial baseline (always giving the most frequent answer), and no goal
is reported met while any network is flagged.

Two kinds of report go through the same functions: one seed's (every number plain), and the report
over several seeds (``aggregate``), where each number is ``{"mean", "std", "seeds": [...]}`` (std: the
sample standard deviation, 0 for one seed). Over seeds, goals are judged on the means and each also
says whether any seed misses it by more than 5%; a difference between two methods is called real only
when it holds on every seed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..io import write_json
from ..tasks import combination_label
from .curves import plot_curves, readings, worst

ORACLE_SLACK = 1.10  # goal: PAM within 10% of the oracle
SEED_SLACK = 1.05  # over seeds: no seed may miss a goal by more than 5%
TRIVIAL_MARGIN = 1e-6  # float32 rounding: a score equal to the trivial baseline must not count as above it


# -- numbers over seeds -------------------------------------------------------------------------------


def stat(values: list[float]) -> dict[str, Any]:
    """``{"mean", "std", "seeds"}`` of one number measured once per seed (std: sample, 0 for one seed)."""
    values = list(values)
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return {"mean": mean, "std": std, "seeds": values}


def mean(value: Any) -> float:
    """The mean of a number over seeds, or the number itself (one seed's report)."""
    return value["mean"] if isinstance(value, dict) else value


def per_seed(value: Any) -> list[Any]:
    """The per-seed values of a number over seeds, or ``[the number]``."""
    return list(value["seeds"]) if isinstance(value, dict) else [value]


def aggregate(reports: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """The report over seeds from one report per seed (``compare``'s): the same layout, every number a
    ``stat``; per-seed words (why pruning stopped, the oracle's source, the groups) as lists."""
    seeds, runs = list(reports), list(reports.values())
    first = runs[0]
    methods = list(first["methods"])
    out: dict[str, Any] = {key: first.get(key) for key in ("suite", "arch", "tasks", "command", "versions", "data")}
    out["seeds"] = seeds
    out["options"] = {
        part: {**values, "seed": seeds} if isinstance(values, dict) and "seed" in values else values
        for part, values in first["options"].items()
    }
    out["reference"] = {split: _task_stats([r["reference"][split] for r in runs]) for split in ("val", "test")}
    out["trivial"] = first["trivial"]  # the data is the same for every seed
    out["methods"] = {}
    for m in methods:
        entries = [r["methods"][m] for r in runs]
        out["methods"][m] = {
            "val": _task_stats([e["val"] for e in entries]),
            "test": _task_stats([e["test"] for e in entries]),
            "stop_reason": [e["stop_reason"] for e in entries],
            "iterations": stat([e["iterations"] for e in entries]),
            "merged": _combination_stats([e["merged"] for e in entries]),
            "pruned": _combination_stats([e["pruned"] for e in entries]),
            "groups": [e.get("groups", {}) for e in entries],
            "curve": {
                "sources": [(e.get("curve") or {}).get("source") for e in entries],
                "notes": [(e.get("curve") or {}).get("note") for e in entries],
            },
            "at_tolerance": _reading_stats(
                [e.get("at_tolerance") or [{"tasks": c["tasks"], "macs": None} for c in e["pruned"]] for e in entries],
                seeds,
            ),
        }
    if len(seeds) > 1:  # one seed's own limit is the common one: its curve reading says it already
        out["common_limit"] = _common_limit(out, runs, seeds)
    if all(r.get("oracle") for r in runs):
        out["oracle"] = [
            {"tasks": rows[0]["tasks"], "macs": stat([o["macs"] for o in rows]), "source": [o["source"] for o in rows]}
            for rows in zip(*(r["oracle"] for r in runs), strict=True)
        ]
    out["seed_reports"] = {str(s): f"seed-{s}/report.json" for s in seeds}
    return out


def _common_limit(out: dict[str, Any], runs: list[dict[str, Any]], seeds: list[int]) -> dict[str, Any]:
    """Every seed's curves read at one limit per task: the single-task networks' mean validation score minus the
    tolerance. Each seed's own limit moves with its network's score (``_limit_noise``); this reading does not.
    """
    reference = {task: value["mean"] for task, value in out["reference"]["val"].items()}
    tolerance = out["options"]["prune"]["tolerance"]
    methods = {}
    for m in out["methods"]:
        entries = [r["methods"][m] for r in runs]
        per_seed = [
            readings(
                (e.get("curve") or {}).get("points") or [], reference, tolerance, [c["tasks"] for c in e["pruned"]]
            )
            for e in entries
        ]
        methods[m] = _reading_stats(per_seed, seeds)
    return {"reference": reference, "methods": methods}


def _task_stats(scores: list[dict[str, float]]) -> dict[str, Any]:
    return {task: stat([s[task] for s in scores]) for task in scores[0]}


def _combination_stats(per_run: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    rows = []
    for combos in zip(*per_run, strict=True):
        row: dict[str, Any] = {"tasks": combos[0]["tasks"]}
        for key, value in combos[0].items():
            if key != "tasks" and isinstance(value, int | float) and not isinstance(value, bool):
                row[key] = stat([c[key] for c in combos])
        rows.append(row)
    return rows


def _reading_stats(per_seed: list[list[dict[str, Any]]], seeds: list[int]) -> list[dict[str, Any]]:
    """Per combination, the MACs and worst test score read off each seed's curve (``curves.readings``, per seed).

    A stat only when every seed's curve gives one; otherwise None, with the seeds that lack it.
    """
    out = []
    for combos in zip(*per_seed, strict=True):
        tasks = combos[0]["tasks"]
        missing = [s for s, r in zip(seeds, combos, strict=True) if r.get("macs") is None]
        scores = [worst(r.get("test") or {}, tasks) for r in combos]
        out.append(
            {
                "tasks": tasks,
                "macs": None if missing else stat([r["macs"] for r in combos]),
                "worst_test": None if missing or None in scores else stat([s for s in scores if s is not None]),
                "missing_seeds": missing,
            }
        )
    return out


# -- tables and goals ---------------------------------------------------------------------------------


def combination_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per combination: each method's pruned MACs and params, ratios to none and mtz, the oracle.

    MACs and params are as in the report (numbers, or stats over seeds); ratios are of the means, and over
    seeds ``vs_none_seeds`` / ``vs_mtz_seeds`` give each seed's ratio.
    """
    methods = report["methods"]
    oracle = {tuple(o["tasks"]): o for o in report.get("oracle", [])}
    rows = []
    for i, combo in enumerate(next(iter(methods.values()))["pruned"]):
        tasks = tuple(combo["tasks"])
        macs = {m: e["pruned"][i]["macs"] for m, e in methods.items()}
        row = {"tasks": list(tasks), "macs": macs, "params": {m: e["pruned"][i]["params"] for m, e in methods.items()}}
        for base in ("none", "mtz"):
            if base in macs:
                row[f"vs_{base}"] = {m: mean(macs[base]) / max(mean(v), 1) for m, v in macs.items()}
                if "seeds" in report:
                    row[f"vs_{base}_seeds"] = {
                        m: [b / max(v, 1) for b, v in zip(per_seed(macs[base]), per_seed(macs[m]), strict=True)]
                        for m in macs
                    }
        if tasks in oracle:
            row["oracle"] = oracle[tasks]["macs"]
        rows.append(row)
    return rows


def unlearned(report: dict[str, Any]) -> dict[str, list[str]]:
    """Per network ("single-task" or a method), the tasks whose test score does not beat the trivial baseline
    (over seeds: on any seed)."""
    trivial = report["trivial"]["test"]
    scores = {"single-task": report["reference"]["test"], **{m: e["test"] for m, e in report["methods"].items()}}
    flagged = {
        net: [t for t in report["tasks"] if min(per_seed(s[t])) <= trivial[t] + TRIVIAL_MARGIN]
        for net, s in scores.items()
    }
    return {net: tasks for net, tasks in flagged.items() if tasks}


def goals(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets for PAM, each with the measured value and whether it is met.

    The first checks that every network learned every task; when one did not, no other goal is met.
    Over seeds, each goal is judged on the means, and ``seeds`` / ``no_seed_losing_by_more_than_5pct``
    say how each seed fares (a seed loses by more than 5% when it misses the target by that much).
    """
    if "pam" not in report["methods"]:
        return []
    rows = combination_rows(report)
    samples = _samples(report, rows)
    flagged = unlearned(report)
    checks: list[dict[str, Any]] = [
        {
            "goal": "every task beats its trivial baseline (always the most frequent answer)",
            "measured": "; ".join(f"{net}: {', '.join(tasks)} not above it" for net, tasks in flagged.items())
            or "all above it",
            "met": not flagged,
        }
    ]
    for goal, judge in _goal_judges(report, rows):
        value, margin, measured = judge(samples["mean"])
        check: dict[str, Any] = {"goal": goal, "measured": measured, "value": value, "met": margin >= 1.0 - 1e-12}
        if "seeds" in report:
            judged = [judge(sample) for sample in samples["seeds"]]
            check["seeds"] = [v for v, _, _ in judged]
            check["no_seed_losing_by_more_than_5pct"] = all(m >= 1 / SEED_SLACK - 1e-12 for _, m, _ in judged)
        checks.append(check)
    if flagged:
        for check in checks[1:]:
            check.update(met=False, measured=f"{check['measured']}; not judged: a network learned nothing")
    return checks


def _samples(report: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The per-combination MACs (and oracle) of the means and of each seed, for the goal judges."""
    n = len(per_seed(rows[0]["macs"][next(iter(rows[0]["macs"]))]))

    def sample(pick: Any) -> dict[str, Any]:
        return {
            "macs": [{m: pick(v) for m, v in r["macs"].items()} for r in rows],
            "oracle": [pick(r["oracle"]) if "oracle" in r else None for r in rows],
        }

    return {"mean": sample(mean), "seeds": [sample(lambda v, k=k: per_seed(v)[k]) for k in range(n)]}


def _goal_judges(report: dict[str, Any], rows: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """(goal, judge) pairs; a judge maps a sample to (value, margin, words), margin >= 1 when met."""
    names = [combination_label(r["tasks"]) for r in rows]
    methods, n = report["methods"], len(report["tasks"])
    judges: list[tuple[str, Any]] = []

    def at_most(base: str) -> Any:
        def judge(s: dict[str, Any]) -> tuple[float, float, str]:
            ratio, i = min((m[base] / max(m["pam"], 1), i) for i, m in enumerate(s["macs"]))
            return ratio, ratio, f"worst ratio {ratio:.2f}x on {names[i]}"

        return judge

    for base in ("none", "mtz"):
        if base in methods:
            judges.append((f"PAM costs at most {base} on every combination", at_most(base)))
    if "none" in methods:
        target = 1.9 if n == 2 else 0.9 * n

        def all_tasks(s: dict[str, Any]) -> tuple[float, float, str]:
            ratio = s["macs"][-1]["none"] / max(s["macs"][-1]["pam"], 1)
            return ratio, ratio / target, f"{ratio:.2f}x"

        judges.append((f"all tasks: at least {target:.2f}x below none", all_tasks))
    if "mtz" in methods:

        def some_mtz(s: dict[str, Any]) -> tuple[float, float, str]:
            best = max(m["mtz"] / max(m["pam"], 1) for m in s["macs"])
            return best, best / 2.01, f"best {best:.2f}x"

        judges.append(("at least 2.01x below MTZ on some combination", some_mtz))
    if report.get("oracle"):

        def oracle(s: dict[str, Any]) -> tuple[float, float, str]:
            excess, i = max(
                (m["pam"] / max(o, 1), i) for i, (m, o) in enumerate(zip(s["macs"], s["oracle"], strict=True)) if o
            )
            return excess, ORACLE_SLACK / excess, f"worst {excess:.2f}x the oracle on {names[i]}"

        judges.append(("within 10% of the oracle on every combination", oracle))
    return judges


def differences(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Per combination and pair of methods: which is cheaper on how many seeds; ``real`` when on every seed."""
    out = []
    methods = list(report["methods"])
    for row in combination_rows(report):
        for i, first in enumerate(methods):
            for second in methods[i + 1 :]:
                a, b = first, second
                va, vb = per_seed(row["macs"][a]), per_seed(row["macs"][b])
                a_wins = sum(x < y for x, y in zip(va, vb, strict=True))
                b_wins = sum(y < x for x, y in zip(va, vb, strict=True))
                if (b_wins, -mean(row["macs"][b])) > (a_wins, -mean(row["macs"][a])):
                    a, b, a_wins, b_wins = b, a, b_wins, a_wins
                out.append(
                    {
                        "tasks": row["tasks"],
                        "cheaper": a,
                        "than": b,
                        "seeds_cheaper": a_wins,
                        "seeds_dearer": b_wins,
                        "seeds": len(va),
                        "real": a_wins == len(va) and len(va) > 1,
                    }
                )
    return out


# -- markdown -----------------------------------------------------------------------------------------


def cell(value: Any, digits: int = 0) -> str:
    """A number, or over seeds ``mean ± std (seed values)``; one seed shows just its value."""
    shown = (lambda v: f"{v:,.{digits}f}") if digits else (lambda v: f"{round(v):,}")
    if not isinstance(value, dict):
        return shown(value)
    if len(value["seeds"]) == 1:
        return shown(value["seeds"][0])
    return f"{shown(value['mean'])} ± {shown(value['std'])} ({', '.join(shown(v) for v in value['seeds'])})"


def markdown(report: dict[str, Any]) -> str:
    """The report as markdown: setting, accuracies, cost per combination with ratios, goals."""
    methods = list(report["methods"])
    seeds = report.get("seeds")
    prune = report["options"]["prune"]
    backoffs = (  # absent from reports written before the pruner backed off cliffs
        f", at most {prune['max_backoffs']} back-offs a step from a cliff of {prune['backoff_drop']}"
        if "max_backoffs" in prune
        else ""
    )
    lines = [
        f"# {report['suite']} with {report['arch']}: {', '.join(methods)} pruned under one rule",
        "",
        f"Command: `{report['command']}`  ",
        f"Data: {report['data']['name']} ({report['data']['source']}), "
        f"{report['data']['train']} train / {report['data']['val']} val / {report['data']['test']} test  ",
        f"Pruning: criterion {prune['criterion']}, tolerance {prune['tolerance']} (validation split), "
        f"cost-aware {prune['cost_aware']}{backoffs}",
    ]
    if seeds:
        lines[-1] += "  "
        lines.append(
            f"Seeds: {', '.join(map(str, seeds))} (per seed: `seed-S/`). Numbers are mean ± std (sample) "
            "with each seed's value in brackets; goals are judged on the means; a difference between "
            "two methods is called real only when it holds on every seed."
        )
    lines += ["", *_score_lines(report)]
    oracle = bool(report.get("oracle"))
    lines += [
        "",
        "## MACs per combination after pruning (ratio = baseline / method, of the means)",
        "",
        "| combination | " + " | ".join(methods) + (" | oracle" if oracle else "") + " | PAM vs none | PAM vs MTZ |",
        "|---" * (len(methods) + 3 + oracle) + "|",
    ]
    for row in combination_rows(report):
        cells = [cell(row["macs"][m]) for m in methods] + ([cell(row.get("oracle", 0))] if oracle else [])
        ratios = [
            f"{row[key]['pam']:.2f}x" if key in row and "pam" in row[key] else "-" for key in ("vs_none", "vs_mtz")
        ]
        lines.append(f"| {combination_label(row['tasks'])} | " + " | ".join(cells + ratios) + " |")
    lines += [
        "",
        "## Parameters per combination after pruning",
        "",
        "| combination | " + " | ".join(methods) + " |",
        "|---" * (len(methods) + 1) + "|",
    ]
    for row in combination_rows(report):
        lines.append(
            f"| {combination_label(row['tasks'])} | " + " | ".join(cell(row["params"][m]) for m in methods) + " |"
        )
    if seeds:
        lines += _difference_lines(report)
    lines += _tolerance_lines(report)
    lines += _common_limit_lines(report)
    checks = goals(report)
    if checks:
        lines += ["", "## Goals", ""]
        if seeds:
            lines += ["| goal | measured (means) | per seed | met (means) | no seed losing by more than 5% |"]
            lines += ["|---|---|---|---|---|"]
            for c in checks:
                shown = ", ".join(f"{v:.2f}" for v in c["seeds"]) if "seeds" in c else "-"
                within = ("yes" if c["no_seed_losing_by_more_than_5pct"] else "**no**") if "seeds" in c else "-"
                lines.append(
                    f"| {c['goal']} | {c['measured']} | {shown} | {'yes' if c['met'] else '**no**'} | {within} |"
                )
        else:
            lines += ["| goal | measured | met |", "|---|---|---|"]
            lines += [f"| {c['goal']} | {c['measured']} | {'yes' if c['met'] else '**no**'} |" for c in checks]
    lines += ["", "## Why pruning stopped", ""]
    for m in methods:
        reasons = report["methods"][m]["stop_reason"]
        if isinstance(reasons, list):
            lines += [f"- {m}, seed {s}: {r}" for s, r in zip(seeds or [], reasons, strict=False)]
        else:
            lines.append(f"- {m}: {reasons}")
    return "\n".join(lines) + "\n"


def _difference_lines(report: dict[str, Any]) -> list[str]:
    """Each pair of methods per combination, and the differences that hold on every seed."""
    found = differences(report)
    n = len(report["seeds"])
    lines = ["", "## Differences between methods (MACs, seed by seed)", ""]
    if n == 1:
        return [*lines, "One seed: no difference can be called real; run with `--seeds 0,1,2`."]
    real = [d for d in found if d["real"]]
    lines.append(
        "Real (on every seed): "
        + (
            "; ".join(f"{d['cheaper']} < {d['than']} on {combination_label(d['tasks'])} on {n}/{n} seeds" for d in real)
            or "none"
        )
        + "."
    )
    lines += ["", "| combination | cheaper | than | seeds cheaper | seeds dearer | real |", "|---|---|---|---|---|---|"]
    for d in found:
        if d["seeds_cheaper"] == d["seeds_dearer"] == 0:
            lines.append(
                f"| {combination_label(d['tasks'])} | {d['cheaper']} | {d['than']} | equal on every seed | | no |"
            )
            continue
        lines.append(
            f"| {combination_label(d['tasks'])} | {d['cheaper']} | {d['than']} | {d['seeds_cheaper']}/{n} | "
            f"{d['seeds_dearer']}/{n} | {'yes' if d['real'] else 'no'} |"
        )
    return lines


def _tolerance_lines(report: dict[str, Any]) -> list[str]:
    """Each method's MACs read off its own accuracy–cost curve at the tolerance, beside the saved model's."""
    methods = report["methods"]
    if not any("at_tolerance" in e for e in methods.values()):
        return []
    lines = [
        "",
        "## At the tolerance, read off each method's curve (curves.png)",
        "",
        "MACs of the cheapest point on the method's pruning path whose validation scores are all within the "
        'tolerance, beside the saved model\'s; "-" where the curve gives no reading.',
        "",
        "| combination | " + " | ".join(f"{m} saved | {m} curve" for m in methods) + " |",
        "|---" * (2 * len(methods) + 1) + "|",
    ]
    for i, row in enumerate(combination_rows(report)):
        cells = []
        for m, entry in methods.items():
            readings = entry.get("at_tolerance") or []
            reading = readings[i] if i < len(readings) else {}
            cells += [cell(row["macs"][m]), cell(reading["macs"]) if reading.get("macs") is not None else "-"]
        lines.append(f"| {combination_label(row['tasks'])} | " + " | ".join(cells) + " |")
    notes = []
    for m, entry in methods.items():
        curve = entry.get("curve") or {}
        for note in dict.fromkeys(curve.get("notes", [curve.get("note")])):
            if note:
                notes.append(f"- {m}: {note}")
        missing = {s for r in entry.get("at_tolerance") or [] for s in r.get("missing_seeds", [])}
        if missing and report.get("seeds"):
            notes.append(f"- {m}: no reading at the tolerance on some combination for seed(s) {sorted(missing)}")
    if notes:
        lines += ["", "Curve notes:", "", *notes]
    return lines


def _common_limit_lines(report: dict[str, Any]) -> list[str]:
    """The MACs of every method read off each seed's curve at one limit for all seeds, with PAM's ratios."""
    common = report.get("common_limit")
    if not common or not any(r["macs"] for rows in common["methods"].values() for r in rows):
        return []
    methods = list(common["methods"])
    limits = ", ".join(f"{task} {score:.4f}" for task, score in common["reference"].items())
    lines = [
        "",
        "## At one limit for every seed, read off each seed's curve",
        "",
        f"Each task's limit here is the single-task networks' mean validation score over the seeds ({limits}) "
        f"minus the tolerance, the same for every seed and method, where each seed's own run was held to its "
        "own networks' scores. The path points are those the pruner recorded, so a reading can be dearer than "
        'the saved model; "-" where a seed\'s curve gives no point within the limit.',
        "",
        "| combination | " + " | ".join(methods) + " | PAM vs none | PAM vs MTZ |",
        "|---" * (len(methods) + 3) + "|",
    ]
    for i, tasks in enumerate(r["tasks"] for r in common["methods"][methods[0]]):
        macs = {m: common["methods"][m][i]["macs"] for m in methods}
        ratios = [
            f"{mean(macs[base]) / mean(macs['pam']):.2f}x" if macs.get(base) and macs.get("pam") else "-"
            for base in ("none", "mtz")
        ]
        cells = [cell(value) if value else "-" for value in macs.values()]
        lines.append(f"| {combination_label(tasks)} | " + " | ".join(cells + ratios) + " |")
    return lines


def _score_lines(report: dict[str, Any]) -> list[str]:
    """The scores table, with the trivial baseline beside each task and a warning for networks not above it."""
    flagged = unlearned(report)
    networks = {"single-task": report["reference"], **report["methods"]}
    lines = [
        "## Scores (test; validation in brackets"
        + ("; over seeds: test mean ± std (seeds), validation mean" if report.get("seeds") else "")
        + ")",
        "",
        "| task | trivial | " + " | ".join(networks) + " |",
        "|---|---|" + "---|" * len(networks),
    ]
    for task in report["tasks"]:
        cells = [
            f"{cell(scores['test'][task], 4)} ({mean(scores['val'][task]):.4f})"
            + (" (!)" if task in flagged.get(net, ()) else "")
            for net, scores in networks.items()
        ]
        lines.append(f"| {task} | {report['trivial']['test'][task]:.4f} | " + " | ".join(cells) + " |")
    if flagged:
        lines += [
            "",
            "**Warning: (!) marks scores no better than the trivial baseline** (always giving the most "
            "frequent answer"
            + ("; on any seed" if report.get("seeds") else "")
            + "): "
            + "; ".join(f"{net}: {', '.join(tasks)}" for net, tasks in flagged.items())
            + ". Those networks learned nothing, so their costs below say nothing about merging; train "
            "longer, on more data or with another learning rate.",
        ]
    return lines + _limit_noise(report)


def _limit_noise(report: dict[str, Any]) -> list[str]:
    """A note when the single-task networks' validation scores vary over seeds by half the tolerance or more.

    Each task's limit is its own network's score minus the tolerance, so a spread that large moves a seed's limit
    by as much as the rule allows: where one seed's run ends is decided at that resolution.
    """
    tolerance = report["options"]["prune"]["tolerance"]
    spreads = {
        task: max(v) - min(v) for task in report["tasks"] if len(v := per_seed(report["reference"]["val"][task])) > 1
    }
    if not spreads or not tolerance or max(spreads.values()) < tolerance / 2:
        return []
    task = max(spreads, key=spreads.__getitem__)
    return [
        "",
        f"Note: the single-task networks' validation scores vary over the seeds by up to {spreads[task]:.4f} "
        f"({task}), {spreads[task] / tolerance:.0%} of the tolerance ({tolerance}). Each task's limit moves with "
        "its network's score, so where one seed's run ends is decided at that resolution: read the methods' "
        "differences over the seeds, not on one.",
    ]


# -- plots and files ----------------------------------------------------------------------------------


def plot(report: dict[str, Any], path: str | Path) -> Path:
    """A grouped bar chart: MACs per combination, one bar per method (and the oracle), log scale; over seeds
    the bars are the means, with the std as error bars."""
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
        errors = [v["std"] if isinstance(v, dict) else 0.0 for v in values]
        ax.bar(
            [i + (k - (len(series) - 1) / 2) * width for i in range(len(rows))],
            [mean(v) for v in values],
            width,
            yerr=errors if any(errors) else None,
            label=name,
        )
    ax.set_xticks(
        range(len(rows)),
        [combination_label(r["tasks"]) for r in rows],
        rotation=45 if len(rows) > 4 else 0,
        ha="right" if len(rows) > 4 else "center",
    )
    ax.set_yscale("log")
    ax.set_ylabel("MACs per inference (log)" + (", mean ± std over seeds" if report.get("seeds") else ""))
    ax.set_title(f"{report['suite']} / {report['arch']}: cost per task combination after pruning")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_report(report: dict[str, Any], out: str | Path) -> dict[str, Path]:
    """One seed's ``report.json`` (everything), ``report.md`` (tables and goals), ``cost.png`` and ``curves.png``."""
    return _write_files(report, {0: report}, out, {})


def write_seed_report(report: dict[str, Any], reports: dict[int, dict[str, Any]], out: str | Path) -> dict[str, Path]:
    """The report over seeds (``aggregate``) in ``out``: report.json, report.md, cost.png and curves.png
    (every seed's curves, read from the per-seed ``reports``)."""
    return _write_files(report, reports, out, {"differences": differences(report)})


def _write_files(
    report: dict[str, Any], reports: dict[int, dict[str, Any]], out: str | Path, extra: dict[str, Any]
) -> dict[str, Path]:
    """The four report files; ``extra`` adds keys to report.json, ``reports`` are the seeds whose curves are drawn."""
    out = Path(out)
    paths = {
        "json": out / "report.json",
        "markdown": out / "report.md",
        "plot": out / "cost.png",
        "curves": out / "curves.png",
    }
    document = {**report, "rows": combination_rows(report), "goals": goals(report), "unlearned": unlearned(report)}
    write_json(paths["json"], {**document, **extra})
    paths["markdown"].write_text(markdown(report))
    plot(report, paths["plot"])
    plot_curves(reports, paths["curves"])
    return paths
