"""The ``pamkit`` command: one verb per pipeline stage (data, train, merge, prune, cost, export, bench)."""

from __future__ import annotations

import argparse
import signal
import sys
import typing
from collections.abc import Sequence
from types import FrameType

from .errors import PamkitError

_AFTER_INTERRUPT = "unfinished output was removed (train, prune and compare keep finished work: continue with --resume)"
MAX_MESSAGE = 400  # characters of an error line; longer ones (a YAML alias bomb echoed back) are cut


class Terminated(BaseException):
    """SIGTERM (``timeout``, a CI cancel, a scheduler): unwinds like Ctrl-C so every cleanup block runs."""


class Parser(argparse.ArgumentParser):
    """argparse with pamkit's error form: one line naming the bad flag and where the help is, exit 2."""

    def error(self, message: str) -> typing.NoReturn:
        sys.exit(_error(f"{message} (see `{self.prog} --help`)"))


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
    from .versions import pamkit_version

    parser = Parser(
        prog="pamkit",
        description="Merge single-task networks into one task-selectable multitask model (pruning-aware merging), "
        "prune it, and measure what every task combination costs.",
        epilog="Run `pamkit VERB --help` for each verb's options. `pamkit demo` runs the whole pipeline.",
    )
    parser.add_argument("--version", action="version", version=f"pamkit {pamkit_version()}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for register in (
        register_info,
        register_train,
        register_merge,
        register_prune,
        register_cost,
        register_compare,
        register_export,
        register_bench,
        register_demo,
    ):
        register(verbs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: bad input ends in one ``pamkit: error: ...`` line and exit status 2, not a traceback."""
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:2] == ["bench", "report"]:  # a verb of two words: its own parser, registered as one word
        words = ["bench-report", *words[2:]]
    args = build_parser().parse_args(words)
    args.words = list(sys.argv[1:] if argv is None else argv)  # as given: what results record as their command
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return int(args.run(args) or 0)
    except PamkitError as exc:
        return _error(str(exc), exc.exit_code)
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        sys.stderr.close()
        return 0
    except OSError as exc:
        if exc.filename is None:
            raise
        # the file system refused (permissions, a full disk, a path under a file): not a pamkit bug
        return _error(
            f"cannot write or read {exc.filename}: {exc.strerror}; check the path, its permissions and the free space"
        )
    except KeyboardInterrupt:
        print(f"pamkit: interrupted; {_AFTER_INTERRUPT}", file=sys.stderr)
        return 130
    except Terminated:
        print(f"pamkit: terminated; {_AFTER_INTERRUPT}", file=sys.stderr)
        return 143
    finally:
        signal.signal(signal.SIGTERM, previous)


def _error(message: str, code: int = 2) -> int:
    """Print one line (newlines folded, length capped) and return the exit status (2: bad input)."""
    line = " ".join(message.split())
    if len(line) > MAX_MESSAGE:
        line = line[: MAX_MESSAGE - 20].rstrip() + " ... (message cut)"
    print(f"pamkit: error: {line}", file=sys.stderr)
    return code


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


if __name__ == "__main__":
    sys.exit(main())
