"""CLI verb of the cost stage: ``pamkit cost``."""

from __future__ import annotations

import argparse
import json

from ..network import load_multitask
from .combinations import cost_report, format_table


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``cost``."""
    p = verbs.add_parser("cost", help="MACs, parameters and activation memory of every task combination",
                         description="Count, for each of the 2^n - 1 task combinations, the MACs (conv + linear; "
                                     "FLOPs are about 2x), parameters and an activation-memory estimate of the "
                                     "subnetwork that combination runs.")
    p.add_argument("model", help="multitask model .json written by `pamkit merge` or `pamkit prune`")
    p.add_argument("--baseline", help="another multitask model to compare against (ratio baseline/model MACs)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=run_cost)


def run_cost(args: argparse.Namespace) -> int:
    report = cost_report(load_multitask(args.model)[0])
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    baseline = cost_report(load_multitask(args.baseline)[0]) if args.baseline else None
    print(format_table(report, baseline))
    return 0
