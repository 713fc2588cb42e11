"""CLI verb of the comparison: ``pamkit compare``."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from ..errors import PamkitError
from ..jobs import EXECUTORS, Executor
from ..merge import MERGERS, MergeOptions
from ..merge.pam import GROUPINGS
from ..models import build_single_task, parse_arch_args
from ..outputs import add_resumable_output_arguments, check_output_dir, resumable_output
from ..prune import CRITERIA, PruneOptions
from ..tasks import TaskSuite, get_suite
from ..train import TrainConfig
from ..values import NONNEGATIVE_INT, POSITIVE, POSITIVE_INT, SEED, number_arg
from .api import CompareOptions, DataRequest, compare_seeds

WRITER = "compare"
_FINETUNED = ("mtz", "shared", "pam")  # the methods --finetune-epochs applies to


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``compare``."""
    p = verbs.add_parser(
        "compare",
        help="merge with every method, prune each under one rule, compare the cost of every task combination",
        description="For each seed (--seeds, default --seed): train one network per task (into "
        "OUT/seed-S/single), merge them with each method, prune each with the same criterion and "
        "tolerance (no merging: each network alone). Then write OUT/report.json, report.md, cost.png "
        "and curves.png: MACs, params and accuracy per combination as mean ± std over the seeds with "
        "each seed's value, ratios against none and mtz, differences between methods (real only when "
        "they hold on every seed), the paper's goals checked and, for two tasks, the oracle; and each "
        "method's accuracy–cost curve with its result read at the tolerance (over seeds, also at one limit for "
        "every seed: each seed's own limit moves with its single-task networks' scores). Tasks that score no better "
        "than always giving the most frequent answer are flagged. An interrupted run continues with "
        "--resume, reusing every finished stage of every seed and continuing a prune from its last step.",
    )
    p.add_argument("--suite", required=True, help="built-in suite name or a suite YAML/TOML file")
    p.add_argument(
        "--arch",
        required=True,
        help="a built-in architecture, or your own network as package.module:Class (see `pamkit archs`)",
    )
    p.add_argument(
        "--methods",
        default=",".join(("none", "shared", "mtz", "pam")),
        help=f"comma-separated, from {', '.join(MERGERS)} (default: %(default)s)",
    )
    add_resumable_output_arguments(
        p,
        "output directory (new or empty, or an earlier compare's with --resume / --overwrite)",
        "continue an interrupted compare in --out, or extend a finished one (more --methods or --seeds), "
        "reusing its finished stages",
        "replace an earlier compare in --out",
        required=True,
    )
    p.add_argument("--data", metavar="DIR", help="directory holding the dataset files")
    p.add_argument("--limit", type=POSITIVE_INT, help="at most LIMIT samples per split (fast, rough runs)")
    p.add_argument(
        "--size", type=POSITIVE_INT, help="input size in pixels (default: native, raised to the arch's minimum)"
    )
    p.add_argument(
        "--arch-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="architecture option, e.g. width=0.25 for a reduced vgg/resnet (repeatable)",
    )
    t, m, r = TrainConfig(), MergeOptions(), PruneOptions()
    p.add_argument(
        "--epochs", type=POSITIVE_INT, default=t.epochs, help="single-task training epochs (default: %(default)s)"
    )
    p.add_argument("--batch-size", type=POSITIVE_INT, default=t.batch_size, help="(default: %(default)s)")
    p.add_argument(
        "--lr", type=POSITIVE, default=t.lr, help="single-task training learning rate (default: %(default)s)"
    )
    p.add_argument("--criterion", choices=CRITERIA, default=r.criterion, help="(default: %(default)s)")
    p.add_argument(
        "--tolerance",
        type=number_arg(low=0, high=1),
        default=r.tolerance,
        help="largest allowed drop of a task's validation score, a fraction (default: %(default)s)",
    )
    p.add_argument(
        "--step",
        type=number_arg(low=0, high=1, low_open=True),
        default=r.step,
        help="pruning step, a fraction (default: %(default)s)",
    )
    p.add_argument(
        "--finetune-samples",
        type=NONNEGATIVE_INT,
        default=r.finetune_samples,
        help="training images per fine-tuning round while pruning, 0 for all (default: %(default)s)",
    )
    p.add_argument(
        "--max-backoffs",
        type=NONNEGATIVE_INT,
        default=r.max_backoffs,
        help="back-offs per pruning step from a cliff (a step from the boundary leaving a task more than "
        f"{r.backoff_drop:g} below both the point before and its limit), 0 for never (default: %(default)s)",
    )
    p.add_argument(
        "--confirmations",
        type=NONNEGATIVE_INT,
        default=r.confirmations,
        help="full fine-tunes a prune may give a point that would end its exploration, to see whether it comes "
        "back, 0 for never (default: %(default)s)",
    )
    p.add_argument(
        "--hold",
        action="store_true",
        help="hold a task outside its limit while another is within: it gives up no channel while the others "
        "are pruned on towards their own boundaries (default: off)",
    )
    p.add_argument(
        "--retire",
        action="store_true",
        help="retire a task whose pruning ends while another's goes on: back to the cheapest point within the "
        "tolerance, then the others are pruned on from there while it keeps its channels (default: off)",
    )
    p.add_argument(
        "--sequential",
        action="store_true",
        help="prune the merged networks' tasks one at a time, in task order, the others held, each retired at its "
        "own boundary before the next is pruned (default: off)",
    )
    p.add_argument(
        "--finetune-epochs",
        type=NONNEGATIVE_INT,
        help=f"MTZ and PAM per-layer / shared-trunk training epochs (default: {m.finetune_epochs})",
    )
    p.add_argument(
        "--grouping",
        choices=GROUPINGS,
        help=f"PAM's grouping: paper (shared + one private group per task) or lattice (one group per task "
        f"subset) (default: {m.grouping})",
    )
    p.add_argument("--no-oracle", action="store_true", help="skip the oracle (two-task suites only)")
    p.add_argument(
        "--seed",
        type=NONNEGATIVE_INT,
        default=0,
        help="seed of the data split (and --limit sample), the same for every seed; also the one seed "
        "of the run when --seeds is not given (default: %(default)s)",
    )
    p.add_argument(
        "--seeds",
        type=seed_list,
        metavar="S,S,...",
        help="repeat everything random (training, merging samples, pruning) once per seed, each in "
        "OUT/seed-S, and report mean ± std over them (default: --seed alone)",
    )
    add_executor_arguments(p)
    p.set_defaults(run=run_compare)


def add_executor_arguments(p: argparse.ArgumentParser) -> None:
    """``--executor``, ``--jobs`` and ``--retries``: where the comparison's jobs run (nothing else changes)."""
    p.add_argument(
        "--executor",
        default="local",
        metavar="local|ray[:ADDRESS]|inline",
        help="where the jobs run: local (child processes on this machine), ray (a local Ray instance), "
        "ray:ADDRESS (a running Ray cluster, e.g. ray:auto or ray:HEAD:6379; every node must see --out at the "
        "same path), or inline (this process, one job at a time, output on the console). The results are the "
        "same on every executor (default: %(default)s)",
    )
    p.add_argument(
        "--jobs",
        type=POSITIVE_INT,
        help="jobs at a time for local, CPUs of a local Ray instance (default: this machine's CPUs); each job "
        "computes with one thread",
    )
    p.add_argument(
        "--retries",
        type=NONNEGATIVE_INT,
        default=2,
        help="times a job whose process died is started again; a job that fails with an error is not retried "
        "(default: %(default)s)",
    )


def executor_from(args: argparse.Namespace) -> Executor:
    """The executor ``--executor`` and ``--jobs`` ask for; an option it would ignore is refused."""
    name, _, address = args.executor.partition(":")
    if name == "ray":
        return EXECUTORS.create("ray", address=address or None, cpus=args.jobs)
    if address:
        raise PamkitError(f"--executor {args.executor}: only ray takes an address; use {name} alone")
    if name == "inline" and args.jobs is not None:
        raise PamkitError("--jobs sizes the local and ray executors; inline runs one job at a time: drop --jobs")
    return EXECUTORS.create(name, **({} if args.jobs is None or name != "local" else {"jobs": args.jobs}))


def command_of_record(words: list[str]) -> str:
    """The command the results record: this one without the options that choose where jobs run, since those
    change nothing in the results (the same sweep on any executor records the same command)."""
    kept, skip = [], False
    for word in words:
        if skip:
            skip = False
            continue
        name = word.split("=", 1)[0]
        if name in _EXECUTOR_OPTIONS:
            skip = "=" not in word
            continue
        kept.append(word)
    return shlex.join(["pamkit", *kept])


_EXECUTOR_OPTIONS = ("--executor", "--jobs", "--retries")


def run_compare(args: argparse.Namespace) -> int:
    """Check everything (suite, options, --out, data, architecture) before anything is written, then compare."""
    suite = get_suite(args.suite)
    options = _options(args, suite)
    executor = executor_from(args)
    check_output_dir(args.out, WRITER, overwrite=args.overwrite, resume=args.resume, resumable=True, extendable=True)
    request = DataRequest(suite, args.arch, size=args.size, path=args.data, limit=args.limit, seed=args.seed)
    spec = request.load().input_spec
    build_single_task(args.arch, spec.channels, spec.size, 1, **options.arch_kwargs)  # a bad --arch-arg fails here
    with resumable_output(args.out, WRITER, overwrite=args.overwrite, resume=args.resume, extendable=True) as (
        out,
        resuming,
    ):
        if resuming:
            print(f"== resuming the comparison in {out}: finished stages are reused")
        command = command_of_record(args.words)
        compare_seeds(request, out, args.seeds or [args.seed], options, executor, command, args.retries)
    print(f"\nreport: {args.out}/report.md, report.json, cost.png, curves.png (each seed's in seed-S/)")
    print((Path(args.out) / "report.md").read_text())
    return 0


def seed_list(text: str) -> list[int]:
    """``--seeds``: comma-separated seeds, each a non-negative integer, each once."""
    parts = [part.strip() for part in text.split(",")]
    if not any(parts):
        raise argparse.ArgumentTypeError(f"{text!r} names no seed; give e.g. 0,1,2")
    seeds = []
    for part in parts:
        try:
            seeds.append(int(SEED(part)))
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(f"seed {exc}") from None
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise argparse.ArgumentTypeError(f"seeds {repeated} are listed twice; list each seed once")
    return seeds


def _options(args: argparse.Namespace, suite: TaskSuite) -> CompareOptions:
    """The comparison's settings; an option that would have no effect on this run is refused, not ignored."""
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    if args.finetune_epochs is not None and not set(methods) & set(_FINETUNED):
        raise PamkitError(
            f"--finetune-epochs applies to the methods {', '.join(_FINETUNED[:-1])} and {_FINETUNED[-1]}, which "
            f"--methods {args.methods} leaves out; drop --finetune-epochs or add one of them"
        )
    if args.no_oracle and len(suite.tasks) != 2:
        raise PamkitError(
            f"--no-oracle applies to two-task suites only, and {suite.name} has {len(suite.tasks)} "
            "tasks (no oracle is computed); drop --no-oracle"
        )
    if args.grouping is not None and "pam" not in methods:
        raise PamkitError(f"--grouping applies to pam, which --methods {args.methods} leaves out; drop --grouping")
    finetune_epochs = MergeOptions.finetune_epochs if args.finetune_epochs is None else args.finetune_epochs
    grouping = MergeOptions.grouping if args.grouping is None else args.grouping
    return CompareOptions(
        methods=methods,
        train=TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed),
        merge=MergeOptions(finetune_epochs=finetune_epochs, grouping=grouping, seed=args.seed),
        prune=PruneOptions(
            criterion=args.criterion,
            tolerance=args.tolerance,
            step=args.step,
            finetune_samples=args.finetune_samples or None,
            max_backoffs=args.max_backoffs,
            confirmations=args.confirmations,
            hold=args.hold,
            retire=args.retire,
            sequential=args.sequential,
            batch_size=args.batch_size,
            seed=args.seed,
        ),
        oracle=not args.no_oracle,
        arch_kwargs=parse_arch_args(args.arch_arg),
    )
