"""The relatedness sweep's report: every finished point's cost per combination and method, against k.

Reads ``OUT/<arch>/<point>/report.json`` (``pamkit compare`` over seeds, written by ``run.sh``) and writes, into
``--into`` (default: beside this file), ``report.json`` (per arch and point: k, each method's MACs per
combination as ``{"mean", "std", "seeds"}`` and test scores, the single-task networks' scores, the goals and the
command), ``report.md`` (the MACs and each point's goals) and
``cost_vs_k.png`` (one panel per combination: MACs against k, one line per method, the seeds' spread as bars) and
``saving_vs_k.png`` (one panel per combination: how many times cheaper PAM is than no merging and than MTZ, against k,
each seed a dot and the means a line; above 1, PAM wins: where PAM helps and where it does not, at a glance).

    .venv/bin/python benchmarks/relatedness/report.py runs/relatedness
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pamkit.io import read_json, write_json
from pamkit.versions import source_commit

HERE = Path(__file__).parent
POINTS = {"related-k0": 0, "related-k2": 2, "related-k5": 5, "related-k8": 8, "related-k10": 10, "domains": None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="the sweep's run folder (run.sh's OUT)")
    parser.add_argument("--into", type=Path, default=HERE, help="where the report goes (default: %(default)s)")
    args = parser.parse_args()
    settings: dict[str, Any] = {}
    for arch_dir in sorted(p for p in args.out.iterdir() if p.is_dir()):
        for point, k in POINTS.items():
            path = arch_dir / point / "report.json"
            if path.is_file():
                settings.setdefault(arch_dir.name, {})[point] = _point(read_json(path, "run run.sh again"), k)
    if not settings:
        raise SystemExit(f"no finished point under {args.out}; run benchmarks/relatedness/run.sh first")
    document = {"commit": source_commit(HERE), "settings": settings}
    args.into.mkdir(parents=True, exist_ok=True)
    write_json(args.into / "report.json", document)
    (args.into / "report.md").write_text(_markdown(document))
    _plot(settings, args.into / "cost_vs_k.png")
    _plot_saving(settings, args.into / "saving_vs_k.png", "macs", "")
    _plot_saving(settings, args.into / "saving_vs_k_common.png", "macs_common_limit", ", one limit")
    print(f"wrote {args.into / 'report.md'}, report.json, cost_vs_k.png, saving_vs_k.png, saving_vs_k_common.png")


def _point(report: dict[str, Any], k: int | None) -> dict[str, Any]:
    """One point of the sweep: each method's MACs per combination and test scores, the goals, the command."""
    return {
        "k": k,
        "command": report["command"],
        "seeds": report.get("seeds"),
        "reference_test": report["reference"]["test"],
        "methods": {
            method: {
                "macs": {"+".join(c["tasks"]): c["macs"] for c in entry["pruned"]},
                "macs_common_limit": {
                    "+".join(r["tasks"]): r["macs"] for r in report["common_limit"]["methods"][method]
                }
                if "common_limit" in report
                else None,
                "merged_macs": {"+".join(c["tasks"]): c["macs"] for c in entry["merged"]},
                "test": entry["test"],
            }
            for method, entry in report["methods"].items()
        },
        "goals": report.get("goals"),
    }


def _mean(value: Any) -> float:
    return float(value["mean"] if isinstance(value, dict) else value)


def _markdown(document: dict[str, Any]) -> str:
    lines = [
        "# Relatedness sweep: cost of every combination against task relatedness",
        "",
        "Composite frames (two Fashion-MNIST garments and two MNIST digits per 56x56 frame, 20 attributes). Task A: "
        "the ten garment attributes; task B_k keeps the first 10-k of them and names digits 0..k-1 instead "
        "(`related-kK`; k = 10 asks the same as `domains`: A = the garments, B = the digits). "
        "Every method pruned under one rule (each task within 1 point of its single-task network). "
        "MACs are mean ± std over seeds with each seed's value; ratio = MTZ / PAM and none / PAM of "
        f"the means. Commit {document['commit']}. Plots: `cost_vs_k.png` (MACs against k), "
        "`saving_vs_k.png` (baseline / PAM against k) and `saving_vs_k_common.png` (the same at one limit).",
    ]
    for arch, points in document["settings"].items():
        lines += ["", f"## {arch}", "", "The saved models (each seed held to its own single-task networks):", ""]
        lines += _macs_table(points, "macs")
        lines += [
            "",
            "Read off each seed's pruning path at one limit per task for every seed (the single-task networks' "
            'mean validation score over the seeds minus the tolerance; `pamkit compare`\'s "At one limit" '
            'table; "-" where a seed has no point within it):',
            "",
        ]
        lines += _macs_table(points, "macs_common_limit")
        lines += _goals_table(points)
        lines += ["", "Commands:", ""] + [f"- {point}: `{entry['command']}`" for point, entry in points.items()]
    return "\n".join(lines) + "\n"


def _macs_table(points: dict[str, Any], key: str) -> list[str]:
    """Every point's MACs per combination and method (``key``: "macs" or "macs_common_limit"), PAM's ratios."""
    lines = ["| point | combination | none | mtz | pam | none / pam | mtz / pam |", "|---|---|---|---|---|---|---|"]
    for point, entry in points.items():
        values = {m: e[key] for m, e in entry["methods"].items() if e.get(key)}
        for combo in entry["methods"]["pam"]["macs"]:
            macs = {m: v.get(combo) for m, v in values.items()}
            cells = [_stat(macs[m]) if macs.get(m) else "-" for m in ("none", "mtz", "pam")]
            ratios = [
                f"{_mean(macs[m]) / _mean(macs['pam']):.2f}x" if macs.get(m) and macs.get("pam") else "-"
                for m in ("none", "mtz")
            ]
            lines.append(f"| {point} | {combo} | " + " | ".join(cells + ratios) + " |")
    return lines


def _goals_table(points: dict[str, Any]) -> list[str]:
    """Issue 13's goals per point as ``pamkit compare`` judged them: met on the means, and no seed losing by >5%."""
    rows: dict[str, dict[str, str]] = {}
    for point, entry in points.items():
        for goal in entry["goals"] or []:
            cell = f"{'yes' if goal['met'] else '**no**'}: {goal['measured']}"
            if "seeds" in goal:
                cell += f" ({', '.join(f'{v:.2f}' for v in goal['seeds'])})"
                cell += "" if goal["no_seed_losing_by_more_than_5pct"] else "; a seed loses by >5%"
            rows.setdefault(goal["goal"], {})[point] = cell
    if not rows:
        return []
    header = [
        "",
        "Goals (met on the means? measured, per seed in brackets):",
        "",
        "| goal | " + " | ".join(points) + " |",
    ]
    header.append("|---" * (len(points) + 1) + "|")
    return header + [
        f"| {goal} | " + " | ".join(cells.get(p, "-") for p in points) + " |" for goal, cells in rows.items()
    ]


def _stat(value: Any) -> str:
    if not isinstance(value, dict):
        return f"{value:,}"
    seeds = ", ".join(f"{v:,.0f}" for v in value["seeds"])
    return f"{value['mean']:,.0f} ± {value['std']:,.0f} ({seeds})"


def _x(entry: dict[str, Any]) -> int:
    """The point's place on the k axis (``domains`` after k = 10)."""
    return 12 if entry["k"] is None else int(entry["k"])


def _plot(settings: dict[str, Any], path: Path) -> None:
    """MACs against k per combination: one line per method, the seeds' spread as bars."""

    def draw(ax: Any, points: dict[str, Any], combo: str) -> None:
        for n, method in enumerate(("none", "mtz", "pam")):
            values = [(_x(e), e["methods"][method]["macs"][combo]) for e in points.values() if method in e["methods"]]
            xs, ys = [x for x, _ in values], [_mean(v) for _, v in values]
            errs = [v["std"] if isinstance(v, dict) else 0 for _, v in values]
            ax.errorbar(xs, ys, yerr=errs, marker="o", capsize=3, color=f"C{n}", label=method)

    _panels(settings, path, draw, "", "MACs after pruning", sharey=False)


def _plot_saving(settings: dict[str, Any], path: Path, key: str, note: str) -> None:
    """Baseline / PAM MACs (``key``) against k per combination: each seed a dot, the ratio of the means a line."""

    def draw(ax: Any, points: dict[str, Any], combo: str) -> None:
        for n, baseline in enumerate(("none", "mtz")):
            xs, means = [], []
            for entry in points.values():
                methods = entry["methods"]
                if baseline not in methods or not methods[baseline].get(key) or not methods["pam"].get(key):
                    continue
                pam, other = methods["pam"][key].get(combo), methods[baseline][key].get(combo)
                if not pam or not other:
                    continue
                xs.append(_x(entry))
                means.append(_mean(other) / _mean(pam))
                if isinstance(pam, dict):
                    seeds = [o / p for o, p in zip(other["seeds"], pam["seeds"], strict=True)]
                    ax.scatter([xs[-1] + 0.15 * (2 * n - 1)] * len(seeds), seeds, s=12, color=f"C{n}", alpha=0.6)
            ax.plot(xs, means, marker="o", color=f"C{n}", label=f"{baseline} / PAM")
        ax.axhline(1, color="grey", linestyle="--", linewidth=1)

    _panels(settings, path, draw, f" (above 1: PAM cheaper{note})", "baseline MACs / PAM MACs", sharey=True)


def _panels(
    settings: dict[str, Any],
    path: Path,
    draw: Callable[[Any, dict[str, Any], str], None],
    title: str,
    ylabel: str,
    sharey: bool,
) -> None:
    """One figure per arch (``path``, or ``path-<arch>`` when there are several), one panel per combination."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for arch, points in settings.items():
        combos = list(next(iter(points.values()))["methods"]["pam"]["macs"])
        fig, axes = plt.subplots(1, len(combos), figsize=(4.2 * len(combos), 3.4), squeeze=False, sharey=sharey)
        for ax, combo in zip(axes[0], combos, strict=True):
            draw(ax, points, combo)
            ax.set_xticks([0, 2, 5, 8, 10, 12], ["0", "2", "5", "8", "10", "domains"])
            ax.set_title(f"{arch}: {combo}{title}", fontsize=10)
            ax.set_xlabel("k (attributes of B not in A)", fontsize=8)
            ax.set_ylabel(ylabel, fontsize=8)
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(path if len(settings) == 1 else path.with_name(f"{path.stem}-{arch}.png"), dpi=110)
        plt.close(fig)


if __name__ == "__main__":
    main()
