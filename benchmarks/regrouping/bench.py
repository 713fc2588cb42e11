"""Regrouping speed: pamkit's running-sum greedy against a direct one, on a 2 x 512-channel layer.

The direct greedy recomputes every candidate set's distances from the raw activations, for every
candidate at every step (the per-neuron scale factors it computes once, up front); being slow, it
runs only a few steps of task 0: the first ones (R empty at the start) and later windows, starting
from the fast greedy's R at that step. The fast one is timed on the same steps, in alternating
rounds with the direct one (the machine is shared: both see the same load), and the full two-task
regroup is timed too. Peak memory: the process's peak resident set (VmHWM of /proc/self/status, the value
getrusage reports as ru_maxrss, reset through /proc/self/clear_refs just before the measured call)
minus its resident set then; each in a fresh process. Linux only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from layers import N, accuracy, mixed_layer
from pamkit.merge import relevance
from pamkit.versions import package_versions

M, F, SEED = 1024, 16, 0  # 2 x 512 candidates (VGG-16's width); 4 x 4 maps (VGG-16's block 4 at 32 px input)
# Later windows: from step 52 R gains live neurons (51 dead ones, 5%, go first); at step 201 |R| = 200.
# The direct cost per step grows with R's live neurons, the fast one's does not.
LATER_WINDOWS = [(51, 20), (200, 5)]


class _Enough(Exception):
    """Ends the greedy after the measured steps."""


class _StepClock:
    """Stands in for relevance._greedy's progress bar: records when each step ends, stops after ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit, self.times = limit, [time.perf_counter()]

    def update(self) -> None:
        """Called by the greedy once per step."""
        self.times.append(time.perf_counter())
        if len(self.times) > self.limit:
            raise _Enough


def fast_steps(acts: torch.Tensor, labels: list[torch.Tensor], steps: int) -> list[float]:
    """Seconds per step of task 0's first greedy steps as regroup runs them (scoring, choice, stop test)."""
    dist = relevance.neuron_distances(acts)
    live = (dist.flatten(1).amax(1) > 0).float()
    encoded = relevance._encode(labels[0])
    kernel = relevance._set_kernel(dist.sum(0), live.sum(), relevance.SIGMA2)
    layer_mi = [float(relevance._mi_from_kernel(kernel, encoded))]
    threshold = relevance._thresholds(None, relevance.DEFAULT_RELATIVE_ALPHA, kernel, labels[:1], layer_mi)[0]
    clock = _StepClock(steps)
    try:
        relevance._greedy(dist, live, encoded, threshold, relevance.SIGMA2, 256, clock)
    except _Enough:
        return [b - a for a, b in zip(clock.times, clock.times[1:])]
    raise RuntimeError(f"the greedy stopped before {steps} steps; measure fewer")


def direct_set_mi(acts: torch.Tensor, scale: torch.Tensor, members: list[int], labels: torch.Tensor) -> float:
    """A set's MI from the raw activations: scaled features concatenated, distances recomputed (no running sum)."""
    live = [j for j in members if scale[j] > 0]
    z = (acts[:, live] * scale[live, None]).reshape(len(acts), -1)
    return float(relevance.kde_mutual_information(torch.cdist(z, z).square() / max(len(live), 1), labels))


def direct_steps(acts: torch.Tensor, labels: torch.Tensor, start: list[int],
                 steps: int) -> tuple[list[int], list[float]]:
    """Greedy steps done directly from R = ``start``: the chosen ids and seconds per step (ties: lowest index)."""
    mean_dist = torch.stack([torch.pdist(acts[:, j]).square().mean() for j in range(acts.shape[1])])
    scale = torch.where(mean_dist > 0, mean_dist.rsqrt(), torch.zeros(()))
    order, free, seconds = list(start), [j for j in range(acts.shape[1]) if j not in start], []
    for _ in range(steps):
        begin = time.perf_counter()
        scores = [direct_set_mi(acts, scale, order + [j], labels) for j in free]
        order.append(free.pop(min(range(len(free)), key=scores.__getitem__)))
        seconds.append(time.perf_counter() - begin)
    return order[len(start):], seconds


def in_fresh_process(part: str, steps: int, threads: int) -> dict:
    """Run ``--part`` in a new interpreter, so that its peak RSS is its own."""
    command = [sys.executable, __file__, "--part", part, "--steps", str(steps), "--threads", str(threads)]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def _status_kib(field: str) -> int:
    """A memory field of /proc/self/status (VmRSS: resident now, VmHWM: peak resident), in KiB."""
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith(field))
    return int(line.split()[1])


def measure_part(part: str, steps: int) -> dict:
    """Build the layer, then run ``part`` (full regroup, or the direct steps): seconds and peak-RSS rise in MiB."""
    acts, labels, kinds = mixed_layer(M, F, SEED)
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current resident set
    before = _status_kib("VmRSS")
    start = time.perf_counter()
    if part == "regroup":
        result = relevance.regroup(acts, labels)
        summary = {"steps": [len(o) for o in result.irrelevant_order], "accuracy": accuracy(result.relevant, kinds)}
    else:
        summary = {"steps": [steps]}
        direct_steps(acts, labels[0], [], steps)
    seconds = time.perf_counter() - start
    rise = (_status_kib("VmHWM") - before) / 1024
    return {"seconds": seconds, "peak_rss_rise_mib": rise, "rss_before_mib": before / 1024, **summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=20, help="greedy steps compared with the direct implementation")
    parser.add_argument("--rounds", type=int, default=3, help="alternating fast/direct rounds (median reported)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch CPU threads")
    parser.add_argument("--part", choices=["regroup", "direct"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.part:
        print(json.dumps(measure_part(args.part, args.steps)))
        return
    acts, labels, _ = mixed_layer(M, F, SEED)
    load_before = os.getloadavg()
    windows = [(0, args.steps), *LATER_WINDOWS]
    fast_order = relevance.regroup(acts, labels).irrelevant_order[0]
    fast = {w: [] for w in windows}
    direct = {w: [] for w in windows}
    same, full = True, []
    for _ in range(args.rounds):
        clock = fast_steps(acts, labels, max(a + n for a, n in windows))
        for a, n in windows:
            fast[a, n].append(statistics.mean(clock[a:a + n]))
            chosen, seconds = direct_steps(acts, labels[0], fast_order[:a], n)
            direct[a, n].append(statistics.mean(seconds))
            same &= chosen == fast_order[a:a + n]
        begin = time.perf_counter()
        result = relevance.regroup(acts, labels)
        full.append(time.perf_counter() - begin)
        print(f"round: seconds per step fast {[round(v[-1], 4) for v in fast.values()]}, "
              f"direct {[round(v[-1], 3) for v in direct.values()]}; full regroup {full[-1]:.1f} s", file=sys.stderr)
    steps = [{"first_step": a, "steps": n, "fast_seconds_per_step": statistics.median(fast[a, n]),
              "direct_seconds_per_step": statistics.median(direct[a, n]),
              "speedup": statistics.median(direct[a, n]) / statistics.median(fast[a, n]),
              "fast_rounds": fast[a, n], "direct_rounds": direct[a, n]} for a, n in windows]
    speed = {
        "layer": {"candidates": M, "samples": N, "features_per_candidate": F, "maps": "4x4", "tasks": 2,
                  "labels": "binary, one column per task", "generator": f"layers.mixed_layer({M}, {F}, seed={SEED})"},
        "torch_threads": args.threads,
        "cpu_cores": os.cpu_count(),
        "load_average_1_5_15_min": {"before": load_before, "after": os.getloadavg()},
        "per_step": steps,
        "same_choices_as_direct": same,
        "full_regroup_seconds_median": statistics.median(full),
        "full_regroup_seconds": full,
        "full_regroup_steps": [len(o) for o in result.irrelevant_order],
        "memory_regroup": in_fresh_process("regroup", args.steps, args.threads),
        "memory_direct": in_fresh_process("direct", args.steps, args.threads),
        "versions": package_versions(),
    }
    stored = json.loads(args.out.read_text()) if args.out.exists() else {}
    args.out.write_text(json.dumps({**stored, "speed": speed}, indent=2) + "\n")
    print(json.dumps(speed, indent=2))


if __name__ == "__main__":
    main()
