"""``pamkit demo``: the whole pipeline end to end on data that installs offline."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .errors import DataError


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``demo``."""
    demo = verbs.add_parser("demo", help="run the pipeline end to end on Fashion-MNIST (or the bundled digits)",
                            description="Train the PAM paper's two Fashion-MNIST LeNet-5 networks (task A = "
                                        "classes 0-4, task B = classes 5-9) and report their accuracy. Falls back "
                                        "to the bundled 8x8 digits when Fashion-MNIST is not installed.")
    demo.add_argument("--out", default="runs/demo", help="where to write everything (default: %(default)s)")
    demo.add_argument("--epochs", type=int, default=8, help="maximum training epochs (default: %(default)s)")
    demo.add_argument("--limit", type=int, help="at most LIMIT samples per split (a quicker, rougher demo)")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(run=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from .tasks import get_suite
    from .train import TrainConfig, suite_data, train_suite

    out = Path(args.out)
    options = {"limit": args.limit, "seed": args.seed}
    started = time.perf_counter()
    print("== 1/1 train: one LeNet-5 per task (the PAM paper's Fashion-MNIST pair)")
    try:
        suite = get_suite("fashion-paper")
        data = suite_data(suite, "lenet5", download=False, **options)
    except DataError as exc:
        print(f"note: Fashion-MNIST is not available, so the demo uses the bundled 8x8 digits instead.\n  ({exc})")
        suite = get_suite("digits-paper")
        data = suite_data(suite, "lenet5", **options)
    print(f"   data: {data.name} from {data.source}: {len(data.train)} train / {len(data.val)} val / "
          f"{len(data.test)} test images of {data.input_spec.size} px")
    trained = train_suite(suite, "lenet5", data, out / "single", TrainConfig(epochs=args.epochs, seed=args.seed),
                          data_options=options)
    for item in trained:
        m = item.record.metrics
        print(f"   task {item.record.task.name}: test mean attribute accuracy {m['test']:.4f} "
              f"({m['epochs_run']} epochs, {m['train_seconds']:.1f} s, {m['params']:,} params)")
    print(f"\nDemo finished in {time.perf_counter() - started:.0f} s; artifacts in {out}/")
    return 0
