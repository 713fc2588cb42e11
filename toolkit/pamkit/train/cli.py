"""CLI verbs of the training stage: ``pamkit train`` and ``pamkit eval``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from ..errors import PamkitError
from .loop import TrainConfig, evaluate
from .run import data_like, load_run, suite_data, train_suite


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """Options that choose and shape the data (shared by every verb that loads a dataset)."""
    group = parser.add_argument_group("data")
    group.add_argument("--data", metavar="DIR", help="directory holding the dataset files (default: search "
                       "$PAMKIT_DATA, system locations, the cache, then download)")
    group.add_argument("--size", type=int, help="resize images to SIZE x SIZE (default: native size, raised to "
                       "the architecture's minimum)")
    group.add_argument("--limit", type=int, help="use at most LIMIT samples per split (fast runs)")
    group.add_argument("--val-fraction", type=float, default=0.1, help="share of the training set held out "
                       "for validation (default: 0.1)")
    group.add_argument("--no-normalize", action="store_true", help="keep pixels in [0, 1] instead of "
                       "standardising them")


def data_options(args: argparse.Namespace) -> dict:
    """The data options given on the command line, as keyword arguments for ``suite_data``."""
    return {"path": args.data, "size": args.size, "limit": args.limit, "val_fraction": args.val_fraction,
            "normalize": not args.no_normalize, "seed": args.seed}


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``train`` and ``eval``."""
    train = verbs.add_parser("train", help="train one single-task network per task of a suite",
                             description="Train one network per task of a suite (same architecture for all), "
                                         "with validation-based early stopping. Writes TASK.safetensors + "
                                         "TASK.json per task and run.json into --out.")
    train.add_argument("--suite", required=True, help="built-in suite name (see `pamkit suites`) or a "
                       ".yaml/.toml suite file")
    train.add_argument("--arch", required=True, help="architecture (see `pamkit archs`)")
    train.add_argument("--arch-arg", action="append", default=[], metavar="KEY=VALUE",
                       help="architecture option, e.g. width=0.5 (repeatable)")
    train.add_argument("--tasks", help="comma-separated subset of the suite's tasks (default: all)")
    train.add_argument("--out", required=True, help="run directory to write")
    train.add_argument("--epochs", type=int, default=TrainConfig.epochs, help="maximum epochs (default: %(default)s)")
    train.add_argument("--batch-size", type=int, default=TrainConfig.batch_size, help="default: %(default)s")
    train.add_argument("--lr", type=float, default=TrainConfig.lr, help="Adam learning rate (default: %(default)s)")
    train.add_argument("--patience", type=int, default=TrainConfig.patience,
                       help="stop after this many epochs without a better validation score (default: %(default)s)")
    train.add_argument("--seed", type=int, default=0, help="seed for splits, initialisation and batch order "
                       "(task i uses seed + i; default: %(default)s)")
    add_data_arguments(train)
    train.set_defaults(run=run_train)

    evaluate_parser = verbs.add_parser("eval", help="evaluate trained single-task networks",
                                       description="Score each network of a run (or the given checkpoints) on a "
                                                   "split of its dataset, with the input spec it was trained on.")
    evaluate_parser.add_argument("models", nargs="+", help="run directory or checkpoint .json files")
    evaluate_parser.add_argument("--split", choices=("train", "val", "test"), default="test")
    evaluate_parser.add_argument("--data", metavar="DIR", help="directory holding the dataset files")
    evaluate_parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    evaluate_parser.set_defaults(run=run_eval)


def parse_arch_args(pairs: list[str]) -> dict:
    """``["width=0.5", "batch_norm=false"]`` -> ``{"width": 0.5, "batch_norm": False}`` (YAML scalars)."""
    kwargs = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise PamkitError(f"--arch-arg {pair!r} is not KEY=VALUE; write e.g. --arch-arg width=0.5")
        kwargs[key] = yaml.safe_load(value)
    return kwargs


def run_train(args: argparse.Namespace) -> int:
    from ..tasks import get_suite

    suite = get_suite(args.suite)
    if args.tasks:
        suite = suite.select(name.strip() for name in args.tasks.split(","))
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, patience=args.patience,
                         seed=args.seed)
    options = data_options(args)
    data = suite_data(suite, args.arch, **options)
    trained = train_suite(suite, args.arch, data, args.out, config, parse_arch_args(args.arch_arg), options)
    print(f"\nTrained {len(trained)} networks on {data.name} ({data.source}) into {args.out}:")
    for item in trained:
        m = item.record.metrics
        print(f"  {item.record.task.name:<14} val {m['val']:.4f}  test {m['test']:.4f}  "
              f"epochs {m['epochs_run']:>3}  {m['train_seconds']:.1f} s  {m['params']:,} params")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    results = {}
    for item in load_run(args.models):
        data = data_like(item.record, args.data)
        results[item.record.task.name] = {"checkpoint": str(item.path), "split": args.split,
                                          "score": evaluate(item.net, item.record.task, getattr(data, args.split))}
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for name, result in results.items():
            print(f"{name:<14} {args.split} score {result['score']:.4f}   ({Path(result['checkpoint']).name})")
    return 0

