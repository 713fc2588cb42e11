"""Prototype of a gentler zip: in a partly zipped PAM merge, give every channel that was left unpaired the task of
the network it came from only, so that each task's path is at most its own network's width at every layer.

A channel of a shared label group that the zip did not pair (its origin names one network, "b:7", not a merged
pair, "a:3+b:5") was a feature of that network alone; the other tasks did without it in their own networks. The
relabelling drops the weights the new labels do not permit (``MultitaskNet.relabel``): a merged channel above no
longer reads its partner's now-private inputs, which the prune's recovery fine-tune has to make up for.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/relatedness/apart/private_leftovers.py \
        runs/lenet-zf05-related-k8-s0/seed-0/pam/merged runs/lenet-private-related-k8-s0/seed-0/pam/merged

writes the relabelled network to OUT (model.json, model.safetensors); `pamkit cost OUT --baseline MERGED` compares
every combination's cost with the input's. Then prune_apart.py on OUT's comparison folder (single/, none/pruned,
pam/pruned copied in).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pamkit.network import INPUT_SPACE, load_multitask, save_multitask
from pamkit.network.structure import source_networks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("merged", type=Path, help="a PAM merge zipped with --zip-fraction < 1 (its folder)")
    parser.add_argument("out", type=Path, help="a new folder for the relabelled merge")
    args = parser.parse_args()
    net, _ = load_multitask(args.merged / "model.json")
    names = net.structure.task_names
    labels = {}
    for space, groups in net.structure.groups.items():
        if space == INPUT_SPACE:
            continue
        labels[space] = [
            (names.index(next(iter(came_from))),) if len(came_from) == 1 and len(g.label) > 1 else g.label
            for g in groups
            for came_from in map(source_networks, g.origins)
        ]
    args.out.mkdir(parents=True, exist_ok=False)
    save_multitask(args.out / "model", net.relabel(labels))
    print(f"relabelled merge written to {args.out}")


if __name__ == "__main__":
    main()
