"""CLI verbs of the merge stage: ``pamkit merge`` and ``pamkit inspect``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..cost import cost_report, format_table, structure_summary
from ..network import MODEL_STEM, load_multitask, save_multitask
from ..train import data_like, load_run
from .api import METHODS, MergeOptions, merge

REPORT_FILE = "regrouping.json"


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``merge`` and ``inspect``."""
    p = verbs.add_parser("merge", help="merge single-task networks into one multitask network",
                         description="Merge one single-task network per task (same architecture) into one multitask "
                                     "network. pam: pruning-aware merging (groups neurons by task relevance); mtz: "
                                     "Multi-Task Zipping; shared: one shared trunk, trained jointly; none: the "
                                     "networks side by side. Writes DIR/model.safetensors + model.json (and "
                                     "regrouping.json for pam) and prints the cost of every task combination.")
    p.add_argument("models", nargs="+", help="run directory from `pamkit train`, or checkpoint .json files")
    p.add_argument("--method", choices=METHODS, default="pam", help="default: %(default)s")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--data", metavar="DIR", help="directory holding the dataset files (default: search as "
                   "`pamkit datasets` shows)")
    p.add_argument("--limit", type=int, help="at most LIMIT samples per split (fast runs)")
    d = MergeOptions()
    p.add_argument("--samples", type=int, default=d.samples, help="held-out inputs for PAM's relevance and MTZ's "
                   "Hessians (default: %(default)s)")
    p.add_argument("--grouping", choices=("paper", "lattice"), default=d.grouping,
                   help="PAM: paper = shared + one private group per task; lattice = one group per task subset "
                        "(default: %(default)s)")
    p.add_argument("--alpha", type=float, help="PAM: absolute mutual-information threshold (default: calibrated "
                   "per layer and task as relative-alpha x the layer's MI)")
    p.add_argument("--relative-alpha", type=float, help="PAM: the calibration factor")
    p.add_argument("--zip-fraction", type=float, default=d.zip_fraction, help="MTZ: share of neurons paired per "
                   "layer (default: %(default)s = full zip)")
    p.add_argument("--finetune-epochs", type=int, default=d.finetune_epochs, help="MTZ: epochs after each layer; "
                   "shared: joint training epochs (default: %(default)s)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.set_defaults(run=run_merge)

    i = verbs.add_parser("inspect", help="show a multitask network's groups (and why each neuron is where)",
                         description="Print each layer's neuron groups. With --neurons, also each neuron's origin, "
                                     "group and mutual information with every task (from PAM's regrouping.json).")
    i.add_argument("model", help="model .json written by `pamkit merge`")
    i.add_argument("--neurons", action="store_true", help="list every neuron of PAM's regrouping")
    i.add_argument("--layer", help="only this layer (with --neurons)")
    i.set_defaults(run=run_inspect)


def run_merge(args: argparse.Namespace) -> int:
    nets = load_run(args.models if len(args.models) > 1 else args.models[0])
    data = None if args.method == "none" else data_like(nets[0].record, args.data, args.limit)
    options = MergeOptions(samples=args.samples, grouping=args.grouping, alpha=args.alpha,
                           relative_alpha=args.relative_alpha, zip_fraction=args.zip_fraction,
                           finetune_epochs=args.finetune_epochs, seed=args.seed)
    net, report = merge(nets, args.method, data, options)
    out = Path(args.out)
    path = save_multitask(out / MODEL_STEM, net)
    if report:
        (out / REPORT_FILE).write_text(json.dumps(report, indent=1) + "\n")
    print(f"\n{args.method} merge of {', '.join(net.task_names)} written to {path}\n")
    print("\n".join(structure_summary(net.structure)) + "\n")
    print(format_table(cost_report(net)))
    return 0


def run_inspect(args: argparse.Namespace) -> int:
    net, record = load_multitask(args.model)
    provenance = net.structure.provenance
    print(f"{provenance.get('method', '?')} network of tasks {', '.join(net.task_names)} "
          f"({provenance.get('arch', {}).get('name', '?')})\n")
    print("\n".join(structure_summary(net.structure)))
    report_path = Path(args.model).parent / REPORT_FILE
    if args.neurons and report_path.is_file():
        for space in json.loads(report_path.read_text()).values():
            if args.layer and args.layer not in space["probes"]:
                continue
            print(f"\n{space['layer']}: alpha {[round(a, 4) for a in space['alpha']]}, layer MI "
                  f"{[round(m, 4) for m in space['layer_mi']]}")
            for neuron in space["neurons"]:
                tasks = "+".join(neuron["tasks"]) or "(dropped)"
                print(f"  {neuron['origin']:<12} {tasks:<16} MI {neuron['mi']}")
    elif args.neurons:
        print(f"\n(no {REPORT_FILE} beside the model: only PAM merges record why each neuron is where)")
    return 0
