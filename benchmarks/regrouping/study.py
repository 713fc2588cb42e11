"""The evidence behind relevance.py's scale, SIGMA2, stop test and DEFAULT_RELATIVE_ALPHA, on synthetic layers.

1. Estimator scale: MI of sets of pure-noise neurons (should be ~0) and of one label-carrying neuron,
   for raw summed distances with method.md's sigma2 = 0.1 and for pamkit's normalised ones at several
   sigma2; and how well each sigma2 detects a neuron coding the label in its spread, not its mean.
2. Stop rule: plain alpha = r * layer_mi, the null-corrected margin alone, and pamkit's calibrated test
   (permutation test + margin) at several relative_alpha, on 8-candidate layers with a known answer and
   on 256-candidate mixed layers (binary, 10-class and 15-attribute tasks).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import torch

from layers import KINDS, N, WANTED, accuracy, mixed_layer, small_layer
from pamkit.merge.relevance import kde_mutual_information, neuron_distances, regroup
from pamkit.versions import package_versions

SIGMA2S = [0.1, 0.25, 0.5, 1.0, 2.0]
SET_SIZES = [1, 16, 256]
DRAWS = 5


def _binary_and_ten_class(gen: torch.Generator) -> dict[str, torch.Tensor]:
    """A balanced-ish binary label and a 10-class label for N samples."""
    return {"binary": torch.randint(0, 2, (N, 1), generator=gen),
            "10-class": torch.randint(0, 10, (N, 1), generator=gen)}


def _raw_distances(acts: torch.Tensor) -> torch.Tensor:
    """Plain squared distances of a set's concatenated raw activations (method.md as written)."""
    z = acts.reshape(len(acts), -1).double()
    return torch.cdist(z, z).square().float()


def noise_and_carrier_mi() -> list[dict]:
    """Mean MI of s ReLU'd noise neurons (4 x 4 maps), and of one carrier of the label, per setting."""
    rows = []
    settings = [("raw sum", 0.1)] + [("normalised mean", s2) for s2 in SIGMA2S]
    for name, sigma2 in settings:
        for label_kind in ("binary", "10-class"):
            row = {"distances": name, "sigma2": sigma2, "labels": label_kind}
            for s in SET_SIZES:
                values = []
                for draw in range(DRAWS):
                    gen = torch.Generator().manual_seed(draw)
                    y = _binary_and_ten_class(gen)[label_kind]
                    acts = torch.randn(N, s, 16, generator=gen).clamp(min=0)
                    dist = _raw_distances(acts) if name == "raw sum" else neuron_distances(acts).sum(0) / s
                    values.append(float(kde_mutual_information(dist, y, sigma2)))
                row[f"noise_{s}"] = statistics.mean(values)
            row["carrier"] = statistics.mean(_carrier_mi(name, sigma2, label_kind, draw) for draw in range(DRAWS))
            row["H(Y)"] = math.log(2) if label_kind == "binary" else math.log(10)
            rows.append(row)
    return rows


def _carrier_mi(name: str, sigma2: float, label_kind: str, draw: int) -> float:
    """MI of one neuron that adds a +-1 (binary) or random (10-class) 4 x 4 class map to unit noise."""
    gen = torch.Generator().manual_seed(100 + draw)
    y = _binary_and_ten_class(gen)[label_kind]
    means = torch.randn(10, 16, generator=gen).sign()
    means[1] = -means[0]
    acts = (means[y[:, 0]] + torch.randn(N, 16, generator=gen)).clamp(min=0)[:, None]
    dist = _raw_distances(acts) if name == "raw sum" else neuron_distances(acts)[0]
    return float(kde_mutual_information(dist, y, sigma2))


def spread_coded() -> list[dict]:
    """z-score of a neuron whose class changes its spread (sd 2 vs 0.5), against label permutations."""
    rows = []
    for sigma2 in SIGMA2S:
        signal, null = [], []
        for draw in range(40):
            gen = torch.Generator().manual_seed(draw)
            y = torch.randint(0, 2, (N, 1), generator=gen)
            x = torch.randn(N, 1, 1, generator=gen) * torch.where(y == 1, 2.0, 0.5)[:, :, None]
            dist = neuron_distances(x)[0]
            signal.append(float(kde_mutual_information(dist, y, sigma2)))
            null.append(float(kde_mutual_information(dist, y[torch.randperm(N, generator=gen)], sigma2)))
        z = (statistics.mean(signal) - statistics.mean(null)) / statistics.stdev(null)
        rows.append({"sigma2": sigma2, "mi": statistics.mean(signal), "null": statistics.mean(null), "z": z})
    return rows


def _variants() -> list[tuple[str, float]]:
    """(stop rule, relative_alpha) pairs compared."""
    return [("plain", r) for r in (0.05, 0.1, 0.3)] + [("margin only", 0.02)] + \
           [("calibrated", r) for r in (0.0, 0.02, 0.05, 0.1)]


def _run(acts: torch.Tensor, labels: list[torch.Tensor], rule: str, r: float) -> torch.Tensor:
    """The relevance mask of one layer under one stop rule."""
    if rule == "calibrated":
        return regroup(acts, labels, relative_alpha=r).relevant
    if rule == "margin only":  # the calibrated threshold (null + margin) as a fixed alpha: no permutation test
        return regroup(acts, labels, alpha=regroup(acts, labels, relative_alpha=r).alpha).relevant
    dist = neuron_distances(acts)
    layer = dist.sum(0) / max(int((dist.flatten(1).amax(1) > 0).sum()), 1)
    return regroup(acts, labels, alpha=[r * float(kde_mutual_information(layer, y)) for y in labels]).relevant


def small_layers(seeds: int) -> list[dict]:
    """Per stop rule: exact answers, carriers lost and noise kept over 8-candidate layers (f = 1 and 16)."""
    rows = []
    for rule, r in _variants():
        exact = lost = kept = 0
        for f in (1, 16):
            for seed in range(seeds):
                acts, labels, kinds = small_layer(f, seed)
                relevant = _run(acts, labels, rule, r)
                wanted = torch.tensor([WANTED[kind] for kind in kinds])
                exact += torch.equal(relevant, wanted)
                lost += int((wanted & ~relevant).sum())
                kept += int((~wanted & relevant).sum())
        rows.append({"rule": rule, "relative_alpha": r, "layers": 2 * seeds, "exact": exact,
                     "carrier_relevances_lost": lost, "spurious_relevances": kept})
    return rows


def mixed_layers(m: int, seeds: int) -> list[dict]:
    """Per stop rule: mean and worst per-kind accuracy over mixed layers of m candidates."""
    cases = [(n_classes, attributes, f, seed) for n_classes, attributes in ((2, 1), (10, 1), (2, 15))
             for f in (1, 16) for seed in range(1, seeds + 1)]
    layers = [mixed_layer(m, f, seed, n_classes, attributes) for n_classes, attributes, f, seed in cases]
    rows = []
    for rule, r in _variants():
        scores = [accuracy(_run(acts, labels, rule, r), kinds) for acts, labels, kinds in layers]
        rows.append({"rule": rule, "relative_alpha": r, "layers": len(layers),
                     "mean": {k: statistics.mean(s[k] for s in scores) for k in KINDS},
                     "worst": {k: min(s[k] for s in scores) for k in KINDS}})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small-seeds", type=int, default=100)
    parser.add_argument("--mixed-seeds", type=int, default=2)
    parser.add_argument("--mixed-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    study = {"scale": noise_and_carrier_mi(), "spread_coded": spread_coded(),
             "small_layers": small_layers(args.small_seeds),
             "mixed_layers": mixed_layers(args.mixed_size, args.mixed_seeds),
             "settings": {"samples": N, "mixed_size": args.mixed_size, "threads": args.threads},
             "seconds": time.perf_counter() - start, "versions": package_versions()}
    stored = json.loads(args.out.read_text()) if args.out.exists() else {}
    args.out.write_text(json.dumps({**stored, "study": study}, indent=2) + "\n")
    print(json.dumps(study, indent=2))


if __name__ == "__main__":
    main()
