"""CLI verb of the comparison: ``pamkit compare``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..merge import METHODS, MergeOptions
from ..prune import CRITERIA, PruneOptions
from ..tasks import get_suite
from ..train import TrainConfig, suite_data
from ..train.cli import parse_arch_args
from .api import CompareOptions, compare


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``compare``."""
    p = verbs.add_parser("compare", help="merge with every method, prune each under one rule, compare the cost of "
                                         "every task combination",
                         description="Train (or reuse, from OUT/single) one network per task, merge them with each "
                                     "method, prune each with the same criterion and tolerance (no merging: each "
                                     "network alone), and write OUT/report.json, report.md and cost.png: MACs, "
                                     "params and accuracy per combination, ratios against none and mtz, the paper's "
                                     "goals checked and, for two tasks, the oracle. Finished stages are reused, so "
                                     "an interrupted run resumes.")
    p.add_argument("--suite", required=True, help="built-in suite name or a suite YAML/TOML file")
    p.add_argument("--arch", required=True, help="architecture (see `pamkit archs`)")
    p.add_argument("--methods", default=",".join(("none", "shared", "mtz", "pam")),
                   help=f"comma-separated, from {', '.join(METHODS)} (default: %(default)s)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--data", metavar="DIR", help="directory holding the dataset files")
    p.add_argument("--limit", type=int, help="at most LIMIT samples per split (fast, rough runs)")
    p.add_argument("--size", type=int, help="input size in pixels (default: native, raised to the arch's minimum)")
    p.add_argument("--arch-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="architecture option, e.g. width=0.25 for a reduced vgg/resnet (repeatable)")
    t, m, r = TrainConfig(), MergeOptions(), PruneOptions()
    p.add_argument("--epochs", type=int, default=t.epochs, help="single-task training epochs (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=t.batch_size, help="(default: %(default)s)")
    p.add_argument("--lr", type=float, default=t.lr, help="single-task training learning rate (default: %(default)s)")
    p.add_argument("--criterion", choices=CRITERIA, default=r.criterion, help="(default: %(default)s)")
    p.add_argument("--tolerance", type=float, default=r.tolerance, help="(default: %(default)s)")
    p.add_argument("--step", type=float, default=r.step, help="pruning step (default: %(default)s)")
    p.add_argument("--finetune-samples", type=int, default=r.finetune_samples,
                   help="training images per fine-tuning round while pruning (default: %(default)s)")
    p.add_argument("--finetune-epochs", type=int, default=m.finetune_epochs,
                   help="MTZ per-layer / shared-trunk training epochs (default: %(default)s)")
    p.add_argument("--no-oracle", action="store_true", help="skip the oracle (two tasks only)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    suite = get_suite(args.suite)
    data_options = {"limit": args.limit, "seed": args.seed}
    data = suite_data(suite, args.arch, size=args.size, path=args.data, **data_options)
    options = CompareOptions(
        methods=tuple(m.strip() for m in args.methods.split(",") if m.strip()),
        train=TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed),
        merge=MergeOptions(finetune_epochs=args.finetune_epochs, seed=args.seed),
        prune=PruneOptions(criterion=args.criterion, tolerance=args.tolerance, step=args.step,
                           finetune_samples=args.finetune_samples or None, batch_size=args.batch_size,
                           seed=args.seed),
        oracle=not args.no_oracle, arch_kwargs=parse_arch_args(args.arch_arg))
    report = compare(suite, args.arch, data, Path(args.out), options, data_options)
    print(f"\nreport: {args.out}/report.md, report.json, cost.png")
    print((Path(args.out) / "report.md").read_text())
    return 0
