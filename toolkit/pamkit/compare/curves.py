"""Accuracy–cost curves: the path each prune took, read from its ``pruning.json``, and the result at the tolerance.

A pruner records its path under ``"trajectory"``: a list of points ``{"phase", "expected_macs", "macs":
{"a+b": int, ...}, "val": {task: score}, "test": {task: score}}`` (a separately pruned network may add
``"task"`` to each point, or give one list per task). Older pruners wrote only ``"history"`` (one entry per
iteration: ``"event"``, ``"expected_macs"`` and validation scores, ``"task"`` for a separately pruned one);
from it the path's points are kept wherever a combination's MACs are known (a single task's own network,
or entries that carry ``"macs"``), scored on validation where no test score was recorded. A method whose
record holds neither is left off the curves, with a note.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..tasks import combination_label

EPSILON = 1e-9  # the pruner's own slack when it checks the tolerance
_PATH_EVENTS = ("start", "recovery fine-tune", "accepted")  # history events on the path (the rest were undone)


def curve_points(record: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None, str | None]:
    """(points, source, note): the path of a prune from its ``pruning.json`` record, normalised.

    Each point: ``{"phase", "task" (or None), "macs": {combination key: MACs}, "val": {...}, "test": {...}}``.
    ``source`` is "trajectory", "history" or None (nothing usable); ``note`` says what is missing.
    """
    if "trajectory" in record:
        raw = [_point(p) for p in _flat(record["trajectory"])]
        kept = [p for p in raw if p is not None]
        skipped = len(raw) - len(kept)
        notes = [f"{skipped} trajectory point(s) without MACs or validation scores skipped"] if skipped else []
        if any(p["task"] for p in kept):
            notes.append("pruned each task alone: one curve per task; a combination of several reads as the sum")
        if not kept:
            return [], None, "its trajectory holds no usable point"
        return kept, "trajectory", "; ".join(notes) or None
    history = record.get("history")
    if not isinstance(history, list) or not history:
        return [], None, "its pruning.json has neither a trajectory nor a history"
    points: list[dict[str, Any]] = []
    for entry in history:
        if not isinstance(entry, dict) or not _on_path(str(entry.get("event", ""))):
            continue
        macs = entry.get("macs")
        if not isinstance(macs, dict):
            task, expected = entry.get("task"), entry.get("expected_macs")
            macs = {task: expected} if isinstance(task, str) and _number(expected) else {}
        point = _point({**entry, "phase": entry.get("event"), "macs": macs})
        if point is not None:
            points.append(point)
    if not points:
        return (
            [],
            None,
            (
                "no trajectory in its pruning.json, and its history records expected MACs over all "
                "combinations, not each combination's"
            ),
        )
    scored = "test scores" if all(p["test"] for p in points) else "validation scores (no test scores recorded)"
    return points, "history", f"no trajectory: points from its history, {scored}"


def at_tolerance(
    points: list[dict[str, Any]],
    reference: dict[str, float],
    tolerance: float,
    combination: list[str] | tuple[str, ...],
) -> dict[str, Any] | None:
    """The cheapest point of a curve (MACs of ``combination``) whose validation scores are all within the tolerance.

    Returns ``{"macs", "val", "test", "phase"}`` or None when no point qualifies. A separately pruned
    network with one curve per task (points keyed by ``"task"``) and no point for the whole combination
    is read per task, and the combination costs the sum of its tasks' readings.
    """
    key = combination_label(combination)
    direct = [p for p in points if key in p["macs"]]
    if direct:
        within = [p for p in direct if _within(p["val"], reference, tolerance)]
        if not within:
            return None
        best = min(within, key=lambda p: p["macs"][key])
        return {"macs": best["macs"][key], "val": dict(best["val"]), "test": dict(best["test"]), "phase": best["phase"]}
    if len(combination) > 1 and all(any(p.get("task") == t for p in points) for t in combination):
        parts = [
            at_tolerance([p for p in points if p.get("task") == t], reference, tolerance, (t,)) for t in combination
        ]
        if any(part is None for part in parts):
            return None
        return {
            "macs": sum(part["macs"] for part in parts if part),
            "val": {t: s for part in parts if part for t, s in part["val"].items()},
            "test": {t: s for part in parts if part for t, s in part["test"].items()},
            "phase": "each task's own reading",
        }
    return None


def readings(
    points: list[dict[str, Any]], reference: dict[str, float], tolerance: float, combinations: list[list[str]]
) -> list[dict[str, Any]]:
    """``at_tolerance`` for each combination: ``{"tasks", "macs", ...}``, ``"macs"`` None where no point qualifies."""
    return [
        {"tasks": tasks, **(at_tolerance(points, reference, tolerance, tasks) or {"macs": None})}
        for tasks in combinations
    ]


def worst(scores: dict[str, float], combination: list[str] | tuple[str, ...]) -> float | None:
    """The lowest score among the combination's tasks, or None when one of them is missing."""
    values = [scores[t] for t in combination if t in scores]
    return min(values) if values and len(values) == len(combination) else None


def series(
    points: list[dict[str, Any]], combination: list[str] | tuple[str, ...]
) -> tuple[list[float], list[float], str]:
    """(MACs, worst task's score, "test" or "val") along a curve, for one combination; empty when not on it."""
    key = combination_label(combination)
    on = [p for p in points if key in p["macs"]]
    split = "test" if on and all(worst(p["test"], combination) is not None for p in on) else "val"
    kept = [(p["macs"][key], worst(p[split], combination)) for p in on]
    xs = [float(x) for x, y in kept if y is not None and x > 0]
    ys = [float(y) for x, y in kept if y is not None and x > 0]
    return xs, ys, split


def curve_lines(report: dict[str, Any], combination: list[str] | tuple[str, ...], points: int = 6) -> list[str]:
    """The accuracy–cost curve of one combination as text, one line per method: ``MACs score`` pairs from the
    start of the prune to its end (at most ``points`` of them, evenly spaced), the reading at the tolerance
    marked ``*``. For a terminal, where ``curves.png`` cannot be looked at."""
    lines = []
    for method, entry in report["methods"].items():
        xs, ys, split = series((entry.get("curve") or {}).get("points", []), combination)
        index = [c["tasks"] for c in entry["pruned"]].index(list(combination))
        reading = (entry.get("at_tolerance") or [None] * (index + 1))[index] or {}
        if not xs:
            if reading.get("phase") == "each task's own reading":
                score = worst(reading.get("test") or {}, combination)
                lines.append(
                    f"{method:>8}: each task pruned alone; at the tolerance *{reading['macs']:,.0f}"
                    + (f" {score:.4f}" if score is not None else "")
                    + " (the sum of its tasks' readings)"
                )
            else:
                lines.append(f"{method:>8}: no curve ({(entry.get('curve') or {}).get('note') or 'nothing recorded'})")
            continue
        keep = sorted({round(k * (len(xs) - 1) / max(points - 1, 1)) for k in range(points)})
        steps = {xs[k]: f"{xs[k]:,.0f} {ys[k]:.4f}" for k in keep}
        if reading.get("macs") is not None:
            score = worst(reading.get(split) or {}, combination)
            steps[reading["macs"]] = f"*{reading['macs']:,.0f}" + (f" {score:.4f}" if score is not None else "")
        lines.append(f"{method:>8} ({split}): " + " -> ".join(steps[x] for x in sorted(steps, reverse=True)))
    return lines


def plot_curves(seed_reports: dict[int, dict[str, Any]], path: str | Path) -> Path:
    """``curves.png``: one panel per combination, each method's MACs (log) against the worst task's test score.

    One line per method and seed along its curve, a circle at the saved model, a star at the reading at
    the tolerance, and the tolerance (the single-task networks' worst test score minus the tolerance,
    averaged over seeds) as a dotted line.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    first = next(iter(seed_reports.values()))
    methods = list(first["methods"])
    combos = [c["tasks"] for c in first["methods"][methods[0]]["pruned"]]
    tolerance = first["options"]["prune"]["tolerance"]
    cols = min(len(combos), 4)
    rows = math.ceil(len(combos) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    colors = {m: f"C{k}" for k, m in enumerate(methods)}
    for ax, combo in zip(axes.flat, combos, strict=False):
        for method in methods:
            for k, report in enumerate(seed_reports.values()):
                entry = report["methods"][method]
                curve = entry.get("curve") or {}
                xs, ys, split = series(curve.get("points", []), combo)
                label = f"{method}" + (" (val)" if xs and split == "val" else "") if k == 0 else None
                if xs:
                    ax.plot(xs, ys, "-", color=colors[method], alpha=0.75, lw=1, marker=".", ms=3, label=label)
                    label = None
                index = [c["tasks"] for c in entry["pruned"]].index(combo)
                saved = worst(entry["test"], combo)
                if saved is not None:
                    ax.plot([entry["pruned"][index]["macs"]], [saved], "o", color=colors[method], ms=5, label=label)
                reading = (entry.get("at_tolerance") or [None] * len(combos))[index]
                if reading and reading.get("macs") and worst(reading["test"], combo) is not None:
                    ax.plot([reading["macs"]], [worst(reading["test"], combo)], "*", color=colors[method], ms=9)
        worsts = [worst(r["reference"]["test"], combo) for r in seed_reports.values()]
        limits = [v - tolerance for v in worsts if v is not None]
        if limits:
            ax.axhline(sum(limits) / len(limits), ls=":", color="k", lw=1, label=f"tolerance ({tolerance})")
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # minor labels overlap on short spans
        ax.set_title(combination_label(combo), fontsize=10)
        ax.set_xlabel("MACs (log)", fontsize=8)
        ax.set_ylabel("worst task's test score", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(combos) :]:
        ax.axis("off")
    fig.suptitle(
        f"{first['suite']} / {first['arch']}: accuracy against cost per combination "
        f"({len(seed_reports)} seed(s); o saved model, * read at the tolerance)",
        fontsize=10,
    )
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _flat(trajectory: Any) -> list[Any]:
    """A trajectory as one list of points: a dict of per-task lists becomes points keyed by their task."""
    if isinstance(trajectory, dict):
        return [
            {**p, "task": p.get("task", task)} if isinstance(p, dict) else p
            for task, items in trajectory.items()
            if isinstance(items, list)
            for p in items
        ]
    return list(trajectory) if isinstance(trajectory, list) else []


def _point(raw: Any) -> dict[str, Any] | None:
    """A normalised point, or None when it lacks numeric MACs or validation scores."""
    if not isinstance(raw, dict):
        return None
    macs = (
        {str(k): v for k, v in (raw.get("macs") or {}).items() if _number(v)}
        if isinstance(raw.get("macs"), dict)
        else {}
    )
    val, test = _scores(raw.get("val")), _scores(raw.get("test"))
    if not macs or not val:
        return None
    task = raw.get("task")
    return {
        "phase": str(raw.get("phase", "")),
        "task": task if isinstance(task, str) else None,
        "macs": macs,
        "val": val,
        "test": test,
    }


def _scores(raw: Any) -> dict[str, float]:
    return {str(k): float(v) for k, v in raw.items() if _number(v)} if isinstance(raw, dict) else {}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _on_path(event: str) -> bool:
    return event in _PATH_EVENTS or (event.startswith("final fine-tune") and event.endswith("kept"))


def _within(val: dict[str, float], reference: dict[str, float], tolerance: float) -> bool:
    checked = [t for t in val if t in reference]
    return bool(checked) and all(val[t] >= reference[t] - tolerance - EPSILON for t in checked)
