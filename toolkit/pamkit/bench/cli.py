"""CLI verb of the bench stage: ``pamkit bench DIR...`` and ``pamkit bench report RESULTS...``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import PamkitError
from ..export.formats import FORMATS
from ..outputs import check_output_dir, staged_output
from ..values import NONNEGATIVE, NONNEGATIVE_INT, POSITIVE, POSITIVE_INT, number_arg
from .api import TARGETS, BenchOptions, bench, check_results_path, load_results, save_results
from .report import markdown, plot
from .targets import MAX_SEED, MAX_THREADS, Settings

REPORT_WRITER = "bench report"  # as the marker names it: `pamkit bench report` output
REPORT_VERB = "bench-report"  # `pamkit bench report ...` runs as this verb (``pamkit.cli.main`` maps it)


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``bench``."""
    d = Settings()
    p = verbs.add_parser(
        "bench",
        help="latency and energy of every task combination of exported artifacts, on a target",
        description="Time the entry points of one or more exports (directories written by `pamkit export`) on a "
        "target: per entry point load time, first inference, then min / median / mean / p90 / p99 / std "
        "/ trimmed mean over the timed runs, all raw samples kept. Several exports (label=DIR, e.g. "
        "pam=... none=...) are measured in one run with their entry points interleaved, so that their "
        "ratio holds on a noisy machine. Energy is measured where a counter exists (Linux RAPL, the "
        "Android fuel gauge, macOS powermetrics) and otherwise reported as not measured; an analytical "
        "estimate from MACs and bytes is always given, labelled as such. "
        "`pamkit bench report RESULTS.json...` turns results into tables and plots (see its --help).",
        epilog="examples: pamkit bench runs/demo/export --runs 50 --out runs/demo/bench.json | "
        "pamkit bench pam=runs/x/pam/export none=runs/x/none/export --format tflite | "
        "pamkit bench runs/demo/export --target emulated-arm64 --runs 2 --warmup 0 | "
        "pamkit bench report runs/demo/bench.json --out runs/demo/bench-report",
    )
    p.add_argument(
        "paths",
        nargs="+",
        metavar="DIR",
        help="export directories (LABEL=DIR to name them)",
    )
    p.add_argument("--target", default="host", help=f"one of {', '.join(TARGETS)} (default: %(default)s)")
    p.add_argument("--format", default="executorch", choices=list(FORMATS), help="(default: %(default)s)")
    p.add_argument(
        "--runner",
        default="python",
        choices=("python", "native"),
        help="host only: the official "
        "runtimes in this process, or the C++ runner built against the executorch wheel (default: "
        "%(default)s)",
    )
    p.add_argument("--combinations", default="all", help="'all' or a list like 'a+b,a' (default: %(default)s)")
    p.add_argument(
        "--warmup", type=NONNEGATIVE_INT, default=d.warmup, help="untimed runs per entry point (default: %(default)s)"
    )
    p.add_argument(
        "--runs", type=POSITIVE_INT, default=d.runs, help="timed runs per entry point (default: %(default)s)"
    )
    p.add_argument(
        "--threads",
        type=number_arg(low=1, high=MAX_THREADS, integer=True),
        default=d.threads,
        help="runtime threads (default: %(default)s)",
    )
    p.add_argument(
        "--order",
        default=d.order,
        choices=("interleaved", "sequential"),
        help="interleaved: each round runs every entry point once in shuffled order (default)",
    )
    p.add_argument("--cooldown-ms", type=NONNEGATIVE, default=d.cooldown_ms, help="pause between entry points")
    p.add_argument("--pin", metavar="CPUS", help="run on these CPUs, e.g. 0 or 2-3 (taskset on devices)")
    p.add_argument(
        "--thermal-limit",
        type=POSITIVE,
        default=d.thermal_limit_c,
        help="wait while a readable temperature is above this many °C (default: %(default)s)",
    )
    p.add_argument(
        "--energy-runs",
        type=POSITIVE_INT,
        default=d.energy_runs,
        help="inferences per entry point under the energy sampler (default: %(default)s)",
    )
    p.add_argument("--no-energy", action="store_true", help="skip the energy measurement")
    p.add_argument(
        "--timeout",
        type=POSITIVE,
        default=d.timeout_s,
        help="seconds before a run counts as hung; its partial results are kept (default: %(default)s)",
    )
    p.add_argument("--runner-binary", metavar="PATH", help="android: the arm64 runner built with the NDK")
    p.add_argument("--benchmark-model", metavar="PATH", help="android + tflite: TFLite's benchmark_model binary")
    p.add_argument(
        "--seed",
        type=number_arg(low=0, high=MAX_SEED, integer=True),
        default=d.seed,
        help="seed of the input values and the run order (default: %(default)s)",
    )
    p.add_argument(
        "--out",
        default="bench-results.json",
        help="results JSON; an existing file is replaced only if it holds bench results (default: %(default)s)",
    )
    p.set_defaults(run=run_bench)

    r = verbs.add_parser(
        REPORT_VERB,
        prog="pamkit bench report",
        help="tables and plots of `pamkit bench` results; also written `pamkit bench report`",
        description="Tables (report.md) and plots (latency per entry point; latency against MACs) of one or more "
        "results files written by `pamkit bench`, into a new folder. Every file is checked before anything is "
        "written.",
        epilog="example: pamkit bench report runs/demo/bench.json --out runs/demo/bench-report",
    )
    r.add_argument("results", nargs="*", metavar="RESULTS.json", help="results files written by `pamkit bench`")
    r.add_argument("--out", default="bench-report", help="report folder to write (default: %(default)s)")
    r.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a folder that `pamkit bench report` wrote earlier (never any other folder)",
    )
    r.set_defaults(run=run_report)


def run_bench(args: argparse.Namespace) -> int:
    settings = Settings(
        warmup=args.warmup,
        runs=args.runs,
        threads=args.threads,
        order=args.order,
        cooldown_ms=args.cooldown_ms,
        pin=args.pin,
        thermal_limit_c=args.thermal_limit,
        energy_runs=args.energy_runs,
        timeout_s=args.timeout,
        seed=args.seed,
    )
    options = BenchOptions(
        target=args.target,
        format=args.format,
        runner=args.runner,
        combinations=args.combinations,
        settings=settings,
        energy=not args.no_energy,
        runner_binary=args.runner_binary,
        benchmark_model=args.benchmark_model,
    )
    artifacts = parse_artifacts(args.paths)
    out = args.out
    check_results_path(out, artifacts)  # before measuring: a bad path must not cost the measurements
    results = bench(artifacts, options)
    path = save_results(results, out)
    print(markdown([results]))
    print(f"results (with every raw sample) written to {path}")
    return 0 if results["complete"] else 1


def parse_artifacts(items: list[str]) -> dict[str, Path]:
    """``["pam=DIR", "DIR2"]`` -> {"pam": DIR, <DIR2's name>: DIR2}; labels must differ."""
    artifacts: dict[str, Path] = {}
    for item in items:
        label, _, text = item.rpartition("=")
        path = Path(text)
        label = label or path.name
        if label in artifacts:
            raise PamkitError(f"two artifacts are labelled {label!r}; name them, e.g. pam={path} none=OTHER_DIR")
        artifacts[label] = path
    return artifacts


def run_report(args: argparse.Namespace) -> int:
    """Tables and plots of results files into a new folder; every file is checked before anything is written."""
    paths, out, overwrite = args.results, Path(args.out), args.overwrite
    if not paths:
        raise PamkitError("`pamkit bench report` needs one or more results files written by `pamkit bench`")
    check_output_dir(out, REPORT_WRITER, inputs=paths, overwrite=overwrite)
    all_results = [load_results(p) for p in paths]
    text = markdown(all_results)
    with staged_output(out, REPORT_WRITER, inputs=paths, overwrite=overwrite) as tmp:
        (tmp / "report.md").write_text(text + "\n")
        figures = [
            out / f.name for f in plot(all_results, tmp, [f"{Path(p).parent.name}/{Path(p).stem}" for p in paths])
        ]
    print(text)
    print(f"report written to {out / 'report.md'}; plots: {', '.join(str(f) for f in figures)}")
    return 0
