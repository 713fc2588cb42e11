"""Parsers for text that measuring tools print: TFLite's ``benchmark_model`` and single-integer sysfs files.

``benchmark_model`` (tensorflow/lite/tools/benchmark) logs its parameters as ``Name: [value]``, then for the warm-up
and the timed run a ``Running benchmark for at least N iterations ...`` line followed by a statistics line
(``count=50 first=.. curr=.. min=.. max=.. avg=.. std=..``, newer builds add ``p5= median= p95=``; a run whose values
were all equal prints ``count=N curr=V``), and at the end ``Inference timings in us: Init: .., First inference: ..,
Warmup (avg): .., Inference (avg): ..``. Lines may carry a log prefix (``INFO: ``, or logcat's ``I tflite  : ``) and
large numbers are printed in exponent form (``1.24027e+06``).
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..errors import PamkitError

_NUM = r"[-+]?(?:nan|inf|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
_SUMMARY = re.compile(
    rf"Inference timings in us: Init: ({_NUM}), First inference: ({_NUM}), "
    rf"Warmup \(avg\): ({_NUM}), Inference \(avg\): ({_NUM})"
)
_INIT_MS = re.compile(rf"Initialized session in ({_NUM}) ?ms")
_PAIR = re.compile(rf"(\w+)=({_NUM})")
_PARAM = re.compile(r"(Graph|Signature to run|Num threads): \[([^\]]*)\]")
_MODEL_MB = re.compile(rf"The input model file size \(MB\): ({_NUM})")
# "Peak memory footprint (MB): init= overall=" is the older wording of the same line.
_MEMORY = re.compile(
    rf"(?:Memory footprint delta from the start of the tool|Peak memory footprint) \(MB\): "
    rf"init=({_NUM}) overall=({_NUM})"
)
_PEAK = re.compile(rf"Overall peak memory footprint \(MB\) via periodic monitoring: ({_NUM})")


def parse_sysfs_int(text: str) -> int:
    """The one integer a sysfs attribute holds (``"-350000\\n"``); PamkitError naming what came back otherwise."""
    try:
        return int(text.strip())
    except ValueError:
        raise PamkitError(
            f"expected one integer from a sysfs file, got {text.strip()[:120]!r}; check that the "
            "file exists on this device and is readable"
        ) from None


def parse_benchmark_model(text: str) -> dict[str, Any]:
    """Timings (µs), run count and settings from ``benchmark_model``'s output; None for what it did not print."""
    summary = _SUMMARY.search(text)
    init, first, warmup, avg = (_number(g) for g in summary.groups()) if summary else (None,) * 4
    if init is None and (m := _INIT_MS.search(text)):
        init = float(m.group(1)) * 1e3
    stats = _timed_run_stats(text)
    if avg is None:
        avg = stats.get("avg")
    if all(v is None for v in (init, first, warmup, avg)):
        head = " | ".join(line.strip() for line in text.splitlines() if line.strip())[:400] or "(nothing)"
        raise PamkitError(
            f"benchmark_model printed no timings; its output was: {head}. Check the --graph path, "
            "--signature_to_run_for and delegate flags, and that the run reached its "
            "'Inference timings in us:' line"
        )
    params = dict(_PARAM.findall(text))
    memory, peak, size = _MEMORY.search(text), _PEAK.search(text), _MODEL_MB.search(text)
    count = stats.get("count")
    return {
        "init_us": init,
        "first_us": first,
        "warmup_avg_us": warmup,
        "avg_us": avg,
        "count": None if count is None else int(count),
        "min_us": stats.get("min"),
        "max_us": stats.get("max"),
        "std_us": stats.get("std"),
        "signature": params.get("Signature to run") or None,
        "threads": int(params["Num threads"]) if params.get("Num threads") else None,
        "model": params.get("Graph") or None,
        "model_size_mb": _number(size.group(1)) if size else None,
        "mem_init_mb": _number(memory.group(1)) if memory else None,
        "mem_overall_mb": _number(memory.group(2)) if memory else None,
        "peak_mem_mb": _number(peak.group(1)) if peak else None,
    }


def _timed_run_stats(text: str) -> dict[str, float]:
    """Statistics of the timed run: the statistics line after the warm-up's (falls back to ``Timings (microseconds):``).

    The first ``Running benchmark for at least`` block is the warm-up; a text without those lines (an excerpt) is
    taken to end with the timed run. Op-profiling summaries (``Timings (microseconds): count=..``, ``Memory (bytes):
    count=..``) are not run statistics and serve only as the fallback.
    """
    runs: list[dict[str, float]] = []
    profiled: list[dict[str, float]] = []
    marked = False
    for line in text.splitlines():
        if "Running benchmark for at least" in line:
            marked = True
        elif "count=" in line and "Memory (bytes)" not in line:
            (profiled if "Timings (microseconds)" in line else runs).append(_stats(line))
    if runs and (len(runs) >= 2 or not marked):
        return runs[-1]
    return profiled[-1] if profiled else {}


def _stats(line: str) -> dict[str, float]:
    """``count= first= curr= min= max= avg= std=`` as numbers; an all-equal run (``curr=`` only) filled in."""
    stats = {key: value for key, raw in _PAIR.findall(line) if (value := _number(raw)) is not None}
    if "avg" not in stats and "curr" in stats:
        stats.update(min=stats["curr"], max=stats["curr"], avg=stats["curr"], std=0.0)
    return stats


def _number(raw: str) -> float | None:
    """A printed number; None for nan/inf (what an empty run prints)."""
    value = float(raw)
    return value if math.isfinite(value) else None
