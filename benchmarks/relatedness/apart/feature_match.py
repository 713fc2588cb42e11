"""How alike are two single-task networks' conv features? For each conv channel of the first task's network, the
best correlation of its (ReLU) activation map with any channel of the second's, on validation images.

PAM's zip fuses the different networks' channels of one label group pairwise. Where the best match of a channel is
weakly correlated, the fused channel is a compromise neither network had, and each task's path needs more of them.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/relatedness/apart/feature_match.py \
        runs/lenet-plain-related-k8-s 0,1,2 --suite related-k8 --arch lenet5 --limit 6000 \
        --out benchmarks/relatedness/apart/lenet-related-k8-feature-match.json

reads PREFIX{S}/seed-S/single/{first task, second task}.json for each seed S and writes the correlations as JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from pamkit.compare.api import DataRequest
from pamkit.tasks import get_suite
from pamkit.train.checkpoint import load_single_task


def conv_maps(net: torch.nn.Module, images: torch.Tensor) -> list[torch.Tensor]:
    """Each conv layer's ReLU output on ``images``, as (channels, values)."""
    maps: list[torch.Tensor] = []
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    hooks = [
        c.register_forward_hook(lambda _m, _i, out: maps.append(torch.relu(out).transpose(0, 1).flatten(1)))
        for c in convs
    ]
    with torch.no_grad():
        net.eval()(images)
    for hook in hooks:
        hook.remove()
    return maps


def best_correlations(first: torch.Tensor, second: torch.Tensor) -> list[float]:
    """For each channel (row) of ``first``, its highest Pearson correlation with a channel of ``second``."""

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
    first, second = (t.name for t in suite.tasks[:2])
    images = torch.as_tensor(DataRequest(suite, args.arch, limit=args.limit, seed=0).load().val.images[: args.images])
    result: dict[str, dict[str, list[float]]] = {}
    for seed in (int(s) for s in args.seeds.split(",")):
        folder = Path(f"{args.prefix}{seed}") / f"seed-{seed}" / "single"
        maps = [conv_maps(load_single_task(folder / f"{t}.json")[0], images.float()) for t in (first, second)]
        result[f"seed {seed}"] = {
            f"conv{k + 1}": best_correlations(a, b) for k, (a, b) in enumerate(zip(*maps, strict=True))
        }
    report = {"first": first, "second": second, "images": args.images, "best correlation per channel": result}
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
