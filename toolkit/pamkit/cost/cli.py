"""CLI verb of the cost stage: ``pamkit cost``."""

from __future__ import annotations

import argparse
import json

from ..network import load_multitask
from ..tasks import Combination
from .combinations import baseline_ratios, cost_report, format_layers, format_table


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``cost``."""
    p = verbs.add_parser(
        "cost",
        help="MACs, parameters and activation memory of every task combination",
        description="Count, for each of the 2^n - 1 task combinations, the MACs (conv + linear; "
        "FLOPs are about 2x), parameters and an activation-memory estimate of the "
        "subnetwork that combination runs.",
    )
    p.add_argument(
        "model", help="multitask model written by `pamkit merge` or `pamkit prune` (its folder or model.json)"
    )
    p.add_argument(
        "--baseline", help="another multitask model of the same tasks to compare against (ratio baseline/model MACs)"
    )
    p.add_argument(
        "--layers",
        action="store_true",
        help="per combination, its MACs layer by layer (beside the baseline's, with --baseline): where a "
        "combination's cost sits, and where one model gains or loses against another of the same architecture",
    )
    p.add_argument(
        "--combinations",
        default="all",
        help="with --layers: 'all' or a list like 'a+b,a' (default: %(default)s)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=run_cost)


def run_cost(args: argparse.Namespace) -> int:
    net = load_multitask(args.model)[0]
    combinations = Combination.parse_list(args.combinations, net.task_names)  # checked before any work
    report = cost_report(net, layers=args.layers)
    baseline = cost_report(load_multitask(args.baseline)[0], layers=args.layers) if args.baseline else None
    if not args.json:
        print(format_layers(report, baseline, combinations) if args.layers else format_table(report, baseline))
        return 0
    if baseline:
        base = {frozenset(c["tasks"]): c for c in baseline["combinations"]}
        for combination, ratio in zip(report["combinations"], baseline_ratios(report, baseline), strict=True):
            combination["macs_vs_baseline"] = ratio
            if args.layers:
                combination["baseline_layers"] = base[frozenset(combination["tasks"])]["layers"]
    print(json.dumps(report, indent=2))
    return 0
