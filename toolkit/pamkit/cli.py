"""The ``pamkit`` command: one verb per pipeline stage (data, train, merge, prune, cost, export, bench)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .errors import PamkitError


def build_parser() -> argparse.ArgumentParser:
    """The full parser; each stage registers its own verbs."""
    from .bench.cli import register as register_bench
    from .compare.cli import register as register_compare
    from .cost.cli import register as register_cost
    from .demo import register as register_demo
    from .export.cli import register as register_export
    from .info import register as register_info
    from .merge.cli import register as register_merge
    from .prune.cli import register as register_prune
    from .train.cli import register as register_train

    parser = argparse.ArgumentParser(
        prog="pamkit",
        description="Merge single-task networks into one task-selectable multitask model (pruning-aware merging), "
                    "prune it, and measure what every task combination costs.",
        epilog="Run `pamkit VERB --help` for each verb's options. `pamkit demo` runs the whole pipeline.")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for register in (register_info, register_train, register_merge, register_prune, register_cost, register_compare,
                     register_export, register_bench, register_demo):
        register(verbs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: bad input ends in one ``pamkit: error: ...`` line and exit status 2, not a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except PamkitError as exc:
        print(f"pamkit: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("pamkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
