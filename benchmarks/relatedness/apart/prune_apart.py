"""Where does PAM lose: in the merge or in the joint search? Prune the merge one task at a time.

No merging prunes each task's network alone: one search per task, each with its own limit, back-offs and
confirmations. PAM's merge is pruned jointly: one search for both tasks. This script prunes PAM's merged network
the way no merging is pruned: each task's subnetwork of the merge (its private channels and the shared ones,
``MultitaskNet.extract``) alone, with the same options as the joint prune. If a task's subnetwork of the merge
prunes about as far as its own network does, the merge is not what costs PAM; the joint search is.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/relatedness/apart/prune_apart.py runs/vgg-hold-s0 0
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/relatedness/apart/prune_apart.py runs/lenet-plain-related-k8-s0 0 \
        --suite related-k8 --arch lenet5 --arch-kwargs '{}' --limit 6000 --finetune-samples 4096

reads RUN/seed-S/{single, pam/merged, pam/pruned, none/pruned} of a finished comparison (by default VGG domains, made by
vgg-domains-confirm/run_seed.sh; the options give another comparison's settings), writes
RUN/seed-S/pam/pruned-apart/TASK/ (model, pruning.json; resumable: run the same command again) and prints each task's
MACs after pruning beside no merging's and the joint prune's.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from pamkit.compare.api import DataRequest, single_task_networks
from pamkit.cost import combination_cost
from pamkit.network import load_multitask
from pamkit.prune import PruneOptions, prune_each, reference_scores, save_pruned
from pamkit.prune.state import PROGRESS_DIR, Checkpoints
from pamkit.tasks import get_suite
from pamkit.train import TrainConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a finished comparison folder, e.g. runs/vgg-hold-s0")
    parser.add_argument("seed", type=int)
    # the defaults: the settings of vgg-domains-confirm/run_seed.sh, without --hold (one task has no other)
    parser.add_argument("--suite", default="domains")
    parser.add_argument("--arch", default="vgg")
    parser.add_argument("--arch-kwargs", type=json.loads, default={"width": 0.125}, help="JSON, e.g. '{}'")
    parser.add_argument("--limit", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--finetune-samples", type=int, default=2048)
    args = parser.parse_args()
    started = time.time()
    folder = args.run / f"seed-{args.seed}"
    request = DataRequest(get_suite(args.suite), args.arch, limit=args.limit, seed=0)
    data = request.load()
    config = TrainConfig(epochs=args.epochs, seed=args.seed)
    trained = single_task_networks(request, folder / "single", config, args.arch_kwargs)
    merged, _ = load_multitask(folder / "pam" / "merged" / "model.json")
    options = PruneOptions(finetune_samples=args.finetune_samples, max_backoffs=2, confirmations=2, seed=args.seed)
    out = folder / "pam" / "pruned-apart"
    checkpoints = Checkpoints(out / PROGRESS_DIR, resume=True)
    reference = reference_scores(trained, data.val)
    results = prune_each(merged, data, reference, options, checkpoints=checkpoints)  # PAM's cannot be stacked
    rows = {"pam apart": {r.net.task_names[0]: combination_cost(r.net, r.net.task_names).macs for r in results}}
    val = {name: score for r in results for name, score in r.val.items()}
    reasons = {r.net.task_names[0]: r.stop_reason for r in results}
    for r in results:
        save_pruned(out / r.net.task_names[0], r, options)
    for method, path in (
        ("none", folder / "none" / "pruned" / "model.json"),
        ("pam joint", folder / "pam" / "pruned" / "model.json"),
    ):
        net, _ = load_multitask(path)
        rows[method] = {name: combination_cost(net, (name,)).macs for name in net.task_names}
    summary = {
        "seed": args.seed,
        "macs": rows,
        "val": val,
        "stop_reasons": reasons,
        "seconds": round(time.time() - started),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
