"""Summary statistics of latency samples, and when their spread is too large to trust."""

from __future__ import annotations

import numpy as np

SPREAD_LIMIT = 0.15  # coefficient of variation above which a latency is flagged


def summarize(samples_ms: list[float], trim: float = 0.1) -> dict[str, float | int | None]:
    """min, median, mean, p90, p99, std and the mean without the lowest and highest ``trim`` share."""
    if not samples_ms:
        return {
            "count": 0,
            "min": None,
            "median": None,
            "mean": None,
            "p90": None,
            "p99": None,
            "std": None,
            "trimmed_mean": None,
            "cv": None,
        }
    x = np.sort(np.asarray(samples_ms, dtype=float))
    cut = int(len(x) * trim)
    trimmed = x[cut : len(x) - cut] if len(x) > 2 * cut else x
    mean = float(x.mean())
    return {
        "count": len(x),
        "min": float(x[0]),
        "median": float(np.median(x)),
        "mean": mean,
        "p90": float(np.percentile(x, 90)),
        "p99": float(np.percentile(x, 99)),
        "std": float(x.std(ddof=0)),
        "trimmed_mean": float(trimmed.mean()),
        "cv": float(x.std(ddof=0) / mean) if mean > 0 else None,
    }


def spread_warning(stats: dict[str, float | int | None], limit: float = SPREAD_LIMIT) -> str | None:
    """A warning when the samples vary too much (coefficient of variation above ``limit``) or are too few."""
    if not stats["count"] or stats["count"] < 5:
        return f"only {stats['count']} timed runs: too few to trust; use --runs 20 or more"
    if stats["cv"] is not None and stats["cv"] > limit:
        return (
            f"spread too large to trust: std is {stats['cv']:.0%} of the mean (limit {limit:.0%}); the machine "
            "is busy or throttling: close other work, pin CPUs (--pin), add --cooldown-ms or more --runs"
        )
    return None
