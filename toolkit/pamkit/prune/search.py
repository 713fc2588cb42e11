"""What the pruning engines share (``api``'s and the Torch-Pruning ``anchor``'s): seeds, the tolerance rule, the search.

The search picks the operating point of a tolerance prune: the schedule has gone past the
accuracy boundary keeping every point (``points[0]`` the start, each later one cheaper), and each
candidate it looks at gets the full final fine-tune, which is what decides "within". Validation
scores are noisy (on a small split one image is a large share of the tolerance), so being within is
only roughly monotone in the points: a single noisy "outside" must not end the search early.
"""

from __future__ import annotations

from collections.abc import Callable

SEARCH_WINDOW = 3  # default: points fine-tuned past the first failure beyond the cheapest within
MAX_CANDIDATES = 12  # default: at most this many candidates get the full final fine-tune


def round_seed(seed: int, kind: int, index: int) -> int:
    """The seed of one round: distinct across the options' ``seed``, the ``kind`` of round and the point ``index``.

    Kinds: 0 importance batches, 1 recovery fine-tune, 2 a step's short fine-tune, 3 a candidate's
    final fine-tune. Derived, not drawn, so a resumed prune ends where an uninterrupted one would.
    """
    return (seed * 7919 + kind) * 100_003 + index


def within_limits(scores: dict[str, float], limits: dict[str, float]) -> bool:
    """Whether every task's score is at least its limit (up to rounding)."""
    return all(scores[name] >= limit - 1e-9 for name, limit in limits.items())


def shortfall(scores: dict[str, float], limits: dict[str, float]) -> str:
    """The tasks below their limits, as text ("a 0.9512 < 0.9600, ..."), or "all within"."""
    return (
        ", ".join(
            f"{name} {scores[name]:.4f} < {limit:.4f}" for name, limit in limits.items() if scores[name] < limit - 1e-9
        )
        or "all within"
    )


def cheapest_within(
    count: int,
    is_within: Callable[[int], bool],
    window: int = SEARCH_WINDOW,
    max_candidates: int = MAX_CANDIDATES,
) -> tuple[int, int]:
    """The cheapest point found within the tolerance among points ``0..count-1``, and how many were fine-tuned.

    ``is_within(k)`` fully fine-tunes point ``k`` (once: later calls read its result) and says
    whether it is within; point 0 (the start) counts as within without a call. The cheapest point
    goes first, then bisection between the cheapest known within and the cheapest known outside.
    Bisection trusts one noisy "outside", so then the ``window`` points past the first failure
    beyond the cheapest within are tried too, cheapest first; one within becomes the new cheapest
    and the window moves past it. At most ``max_candidates`` points are fine-tuned in all (the
    order is fixed by the results, so a resumed search asks for the same points).
    """
    asked: dict[int, bool] = {}

    def check(k: int) -> bool:
        if k not in asked:
            asked[k] = is_within(k)
        return asked[k]

    lo, hi = 0, count  # lo: known within (the start is), hi: known outside (past the last point)
    k = hi - 1
    while hi - lo > 1 and len(asked) < max_candidates:
        if check(k):
            lo = k
        else:
            hi = k
        k = (lo + hi) // 2
    best = max([0, *(k for k, within in asked.items() if within)])
    moved = True
    while moved:
        moved = False
        for k in range(min(count - 1, best + 1 + window), best, -1):  # the failure and the window past it
            if (k in asked or len(asked) < max_candidates) and check(k):
                best, moved = k, True
                break
    return best, len(asked)
