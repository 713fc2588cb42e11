"""How alike are two single-task networks' features? For each channel of the first task's network, the best
correlation of its activations with any channel of the second's, on validation images.

The activations are the ones PAM's regrouping and zip read (``pamkit.merge.pam.probe_activations``: per channel
space, its probed layers). The zip fuses the different networks' channels of one label group pairwise; where the
best match of a channel is weakly correlated, the fused channel is a compromise neither network had, and each
task's path needs more of them.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/relatedness/apart/feature_match.py \
        runs/lenet-plain-related-k8-s 0,1,2 --suite related-k8 --arch lenet5 --limit 6000 \
        --out benchmarks/relatedness/apart/lenet-related-k8-feature-match.json

reads the run PREFIX{S}/seed-S/single for each seed S and writes the correlations per probed layer as JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from pamkit.compare.api import DataRequest
from pamkit.merge.pam import probe_activations
from pamkit.merge.sources import load_sources
from pamkit.tasks import get_suite
from pamkit.train.run import load_run


def best_correlations(first: torch.Tensor, second: torch.Tensor) -> list[float]:
    """For each channel (row) of ``first``, its highest Pearson correlation with a channel (row) of ``second``."""

    def standardised(x: torch.Tensor) -> torch.Tensor:
        return (x - x.mean(1, keepdim=True)) / (x.std(1, keepdim=True) + 1e-8)

    corr = standardised(first) @ standardised(second).T / (first.shape[1] - 1)
    return sorted(round(float(v), 3) for v in corr.max(1).values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prefix", help="comparison folders without the seed, e.g. runs/lenet-plain-related-k8-s")
    parser.add_argument("seeds", help="comma-separated, e.g. 0,1,2")
    parser.add_argument("--suite", required=True)
    parser.add_argument("--arch", required=True)
    parser.add_argument("--limit", type=int, required=True)
    parser.add_argument("--images", type=int, default=512, help="validation images (default: 512)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    suite = get_suite(args.suite)
    val = DataRequest(suite, args.arch, limit=args.limit, seed=0).load().val
    images = torch.as_tensor(val.images[: args.images]).float()
    result: dict[str, dict[str, list[float]]] = {}
    for seed in (int(s) for s in args.seeds.split(",")):
        sources = load_sources(load_run(Path(f"{args.prefix}{seed}") / f"seed-{seed}" / "single"))
        per_space = {}
        for space, acts in probe_activations(sources, images).items():  # [N, 2d, f]: the first network's d first
            channels = acts.transpose(0, 1).flatten(1)
            d = sources.arch.space_sizes[space]
            per_space[sources.arch.probes[space][0]] = best_correlations(channels[:d], channels[d : 2 * d])
        result[f"seed {seed}"] = per_space
    tasks = [t.name for t in suite.tasks]
    report = {"tasks": tasks[:2], "images": args.images, "best correlation per channel": result}
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
