"""Tables and plots of bench results: latency per entry point and artifact, latency against MACs, ratios."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def latency_table(results: dict[str, Any]) -> list[str]:
    """Markdown rows: one per case, with latency statistics, load time, energy and the estimate."""
    t = results["target"]
    lines = [
        f"### {t['kind']}{' (EMULATED: not device speed)' if t['emulated'] else ''}, {results['format']}, "
        f"{t['runner']}" + ("" if results["complete"] else f" — INCOMPLETE: {results['error']}"),
        "",
        *(
            ["Artifacts: " + ", ".join(f"{label} `{path}`" for label, path in results["artifacts"].items()), ""]
            if results.get("artifacts")
            else []
        ),
        "| artifact | entry point | MACs | median ms | p90 ms | std ms | trimmed mean ms | load ms | first ms | "
        "energy (measured) | energy (estimate) | note |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for c in results["cases"]:
        s = c["stats"] if c["stats"]["count"] else _reported(c)
        energy = c["energy"]
        measured = (
            f"{energy['joules_per_inference'] * 1e3:.3f} mJ"
            if energy.get("joules_per_inference") is not None
            else "not measured"
        )
        note = c["warning"].split(":")[0] if c["warning"] else ""  # the full text is printed below the table
        lines.append(
            f"| {c['artifact']} | {c['entry']} | {c['macs']:,} | {_ms(s['median'])} | {_ms(s['p90'])} | "
            f"{_ms(s['std'])} | {_ms(s['trimmed_mean'])} | {_ms(c['load_ms'])} | {_ms(c['first_ms'])} | "
            f"{measured} | {c['energy_estimate']['joules'] * 1e6:.2f} µJ | {note} |"
        )
    flagged = [c["warning"] for c in results["cases"] if c["warning"]]
    if flagged:
        lines += ["", f"Warning ({len(flagged)} of {len(results['cases'])} entry points): {flagged[0]}"]
    return lines


def ratio_rows(results: dict[str, Any], baseline: str | None = None) -> list[dict[str, Any]]:
    """Per entry point shared by the baseline and another artifact: latency ratio against the MACs ratio.

    The baseline is the artifact labelled ``none`` (the separately pruned networks) if present,
    else the first one. ``deviation`` is latency ratio / MACs ratio − 1.
    """
    by = {(c["artifact"], c["entry"]): c for c in results["cases"]}
    labels = list(dict.fromkeys(c["artifact"] for c in results["cases"]))
    baseline = baseline or ("none" if "none" in labels else labels[0])
    rows = []
    for label in labels:
        if label == baseline:
            continue
        for (artifact, entry), case in by.items():
            base = by.get((baseline, entry))
            if artifact != label or base is None:
                continue
            latency = _ratio(_median(base), _median(case))
            macs = _ratio(base["macs"], case["macs"])
            rows.append(
                {
                    "entry": entry,
                    "artifact": label,
                    "baseline": baseline,
                    "latency_ratio": latency,
                    "macs_ratio": macs,
                    "deviation": _ratio(latency, macs) - 1,
                }
            )
    return rows


def markdown(all_results: list[dict[str, Any]]) -> str:
    """The whole report: a latency table per results file and, where two artifacts were measured, the ratios."""
    lines = ["# pamkit bench report", ""]
    for results in all_results:
        lines += [*latency_table(results), ""]
        rows = ratio_rows(results)
        if rows:
            lines += [
                f"Ratios against `{rows[0]['baseline']}` (above 1: faster / cheaper than the baseline):",
                "",
                "| entry point | artifact | latency ratio | MACs ratio | latency / MACs − 1 |",
                "|---|---|---:|---:|---:|",
            ]
            lines += [
                f"| {r['entry']} | {r['artifact']} | {r['latency_ratio']:.3g}x | {r['macs_ratio']:.3g}x | "
                f"{r['deviation']:+.0%} |"
                for r in rows
            ]
            lines.append("")
        energies = {c["energy"].get("note") for c in results["cases"] if c["energy"].get("joules") is None}
        if energies:
            lines += [
                f"Energy: {'; '.join(sorted(e for e in energies if e))}. The estimate column is analytical "
                f"({results['cases'][0]['energy_estimate'].get('source', '')}), never a measurement.",
                "",
            ]
    return "\n".join(lines)


def plot(all_results: list[dict[str, Any]], out: Path, names: list[str] | None = None) -> list[Path]:
    """``latency.png`` (median per entry point and artifact, p90 as error bar) and ``latency_vs_macs.png`` (log-log).

    ``names`` tell the results files apart in the legends (default: target and format).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = names or [f"{r['target']['kind']}/{r['format']}" for r in all_results]
    cases = [(f"{name}/{c['artifact']}", c) for name, r in zip(names, all_results, strict=True) for c in r["cases"]]
    series = list(dict.fromkeys(name for name, _ in cases))
    entries = list(dict.fromkeys(c["entry"] for _, c in cases))
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(entries) * max(1, len(series)) / 2 + 2), 4))
    width = 0.8 / len(series)
    for k, name in enumerate(series):
        mine = {c["entry"]: c for n, c in cases if n == name}
        xs = [i + k * width for i, e in enumerate(entries) if e in mine]
        medians = [_median(mine[e]) for e in entries if e in mine]
        p90 = [max(0.0, _p90(mine[e]) - _median(mine[e])) for e in entries if e in mine]
        ax.bar(xs, medians, width, yerr=[[0] * len(p90), p90], label=name, capsize=2)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(entries))], entries, rotation=30, ha="right")
    ax.set_ylabel("latency, median (ms); bar to p90")
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths = [out / "latency.png"]
    fig.savefig(paths[0], dpi=120)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name in series:
        points = [c for n, c in cases if n == name]
        ax.scatter([c["macs"] / 1e6 for c in points], [_median(c) for c in points], label=name, s=18)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("MACs (millions)")
    ax.set_ylabel("latency, median (ms)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(out / "latency_vs_macs.png")
    fig.savefig(paths[1], dpi=120)
    plt.close(fig)
    return paths


def _reported(case: dict[str, Any]) -> dict[str, Any]:
    """Statistics from a tool's printed summary (µs) in the table's shape (ms)."""
    r = case.get("reported") or {}
    avg = r.get("avg_us")
    return {
        "median": None if avg is None else avg / 1e3,
        "p90": None,
        "std": None if r.get("std_us") is None else r["std_us"] / 1e3,
        "trimmed_mean": None,
    }


def _median(case: dict[str, Any]) -> float:
    return case["stats"]["median"] if case["stats"]["count"] else (_reported(case)["median"] or float("nan"))


def _p90(case: dict[str, Any]) -> float:
    return case["stats"]["p90"] if case["stats"]["count"] else _median(case)


def _ratio(a: float, b: float) -> float:
    """a / b, NaN where b is zero (a case of zero MACs or an unmeasured latency gives no ratio)."""
    return a / b if b else float("nan")


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"
