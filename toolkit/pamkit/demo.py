"""``pamkit demo``: the whole pipeline end to end on data that installs offline."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import DataError
from .examples import OWN_NETWORK
from .outputs import add_resumable_output_arguments, resumable_output
from .tasks import combination_label
from .values import NONNEGATIVE_INT, POSITIVE_INT

if TYPE_CHECKING:
    from .compare import CompareOptions, DataRequest
    from .train import TrainConfig

WRITER = "demo"


FUSE_EXTRA_MACS = 0.5  # the bench step's fused PAM: fast on small models (benchmarks/bench/RESULTS.md)
MERGED = ("none", "mtz", "pam")  # merged and shown before pruning; `pamkit compare` adds the shared trunk
PRUNED = ("none", "pam")
OWN_LIMIT = 12_000  # images per split for your own network: enough to show the mechanism in a few minutes


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``demo``."""
    demo = verbs.add_parser(
        "demo",
        help="run the pipeline end to end on Fashion-MNIST (or the bundled digits)",
        description="Train the PAM paper's two Fashion-MNIST LeNet-5 networks (task A = "
        "classes 0-4, task B = classes 5-9), merge them with PAM and MTZ (and "
        "none), prune PAM and no merging under a 1-point "
        "accuracy tolerance and report accuracy and the cost of every task "
        "combination, and export the pruned PAM model to ExecuTorch, Core ML and "
        "TFLite with one entry point per combination (plus the Android and iOS apps' assets), then time every "
        "combination of it against the separately pruned networks on this machine, and end with "
        "one small point of the relatedness sweep (garments against digits on composite frames) and your own "
        "network: a plain nn.Module class named by import path, trained, re-imported from a state dict file and "
        "merged. Independent work (the two trainings, the merges, the prunes) runs side by side, one process per "
        "core. Falls back "
        "to the bundled 8x8 digits when Fashion-MNIST is not installed. --out is "
        "the demo's own folder: an earlier demo's is continued with --resume or "
        "replaced with --overwrite; a folder holding anything else is never touched.",
    )
    add_resumable_output_arguments(
        demo,
        "where to write everything (default: %(default)s)",
        "continue an interrupted demo in --out, reusing its trained, merged and pruned networks",
        "replace an earlier demo in --out",
        default="runs/demo",
    )
    demo.add_argument("--epochs", type=POSITIVE_INT, default=8, help="maximum training epochs (default: %(default)s)")
    demo.add_argument("--limit", type=POSITIVE_INT, help="at most LIMIT samples per split (a quicker, rougher demo)")
    demo.add_argument(
        "--seed",
        type=NONNEGATIVE_INT,
        default=0,
        help="seed of everything random: the images chosen, training, merging, pruning (default: %(default)s)",
    )
    demo.set_defaults(run=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    took: dict[str, float] = {}

    def timed(step: str, run: Callable[..., Any], *inputs: Any) -> Any:
        begun = time.perf_counter()
        result = run(*inputs)
        took[step] = time.perf_counter() - begun
        return result

    with resumable_output(args.out, WRITER, overwrite=args.overwrite, resume=args.resume) as (out, resuming):
        if resuming:
            print(f"resuming the demo in {out}: finished networks are reused")
        request, options = timed("train", _train, args, out)
        data = request.load()
        timed("merge", _merge, request, out, options)
        timed("prune", _prune, request, out, options)
        timed("export", _export, data, out)
        timed("bench", _bench, data, out)
        timed("relatedness", _relatedness, args, out)
        timed("own network", _own_network, request, out, options.train)
    total = time.perf_counter() - started
    print(f"\nDemo finished in {total:.0f} s (" + ", ".join(f"{k} {v:.0f} s" for k, v in took.items()) + ")")
    print(f"artifacts in {args.out}/")
    return 0


def _train(args: argparse.Namespace, out: Path) -> tuple[DataRequest, CompareOptions]:
    """Stage 1: the two single-task networks, trained side by side; returns the data and the demo's options."""
    from .compare import DataRequest, compare_through, single_task_networks
    from .jobs import LocalExecutor
    from .tasks import get_suite
    from .train import TrainConfig

    print("== 1/7 train: one LeNet-5 per task (the PAM paper's Fashion-MNIST pair), each in its own process")
    config = TrainConfig(epochs=args.epochs, seed=args.seed)
    try:
        request = DataRequest(get_suite("fashion-paper"), "lenet5", limit=args.limit, seed=args.seed, download=False)
        data = request.load()
    except DataError as exc:
        print(f"note: Fashion-MNIST is not available, so the demo uses the bundled 8x8 digits instead.\n  ({exc})")
        request = DataRequest(get_suite("digits-paper"), "lenet5", limit=args.limit, seed=args.seed)
        data = request.load()
        config = TrainConfig(epochs=max(args.epochs, 30), batch_size=32, lr=3e-3, patience=5, seed=args.seed)
    print(
        f"   data: {data.name} from {data.source}: {len(data.train)} train / {len(data.val)} val / "
        f"{len(data.test)} test images of {data.input_spec.size} px"
    )
    options = _options(config, len(data.train))
    compare_through("train", request, out, options, LocalExecutor())
    for item in single_task_networks(request, out / "single", config):
        m = item.record.metrics
        print(
            f"   task {item.record.task.name}: test mean attribute accuracy {m['test']:.4f} "
            f"({m['epochs_run']} epochs, {m['train_seconds']:.1f} s, {m['params']:,} params)"
        )
    return request, options


def _options(config: TrainConfig, train_size: int) -> CompareOptions:
    """Stages 1-3 as one comparison, everything seeded with ``config``'s seed. Coarser pruning steps, a capped
    fine-tune and one final epoch per candidate keep the prune to a few minutes; the tasks are pruned in turns,
    each to its own boundary with the rest of the network intact (``sequential``)."""
    from .compare import CompareOptions
    from .prune import PruneOptions

    prune = PruneOptions(
        batch_size=config.batch_size,
        finetune_samples=None if train_size < 8192 else 8192,
        step=0.2,
        final_epochs=1,
        explore_past=0.03,
        sequential=True,  # each task to its own boundary, in turns (benchmarks/relatedness/README.md, "Taking turns")
    )
    return CompareOptions(methods=MERGED, train=config, prune=prune, oracle=False).with_seed(config.seed)


def _merge(request: DataRequest, out: Path, options: CompareOptions) -> None:
    """Stage 2: every method's merge (side by side) and the cost of every combination before pruning."""
    from .compare import compare_through, merged_network, single_task_networks
    from .cost import cost_report, structure_summary
    from .jobs import LocalExecutor
    from .train import evaluate_all

    print("\n== 2/7 merge: no merging, MTZ and PAM, then the cost of every task combination (before pruning)")
    compare_through("merge", request, out, options, LocalExecutor())
    data = request.load()
    trained = single_task_networks(request, out / "single", options.train)
    tasks = [item.record.task for item in trained]
    reports = {}
    for method in options.methods:
        net = merged_network(method, trained, data, out / method / "merged", options.merge)
        scores = evaluate_all(net, tasks, data.test)
        reports[method] = cost_report(net)
        print(f"\n   {method}: test scores " + ", ".join(f"{name} {score:.4f}" for name, score in scores.items()))
        print("\n".join(f"     {line}" for line in structure_summary(net.structure)))
    print(f"\n   {'combination':<12}" + "".join(f"{m + ' MACs':>16}" for m in options.methods))
    for i, combo in enumerate(reports["none"]["combinations"]):
        print(
            f"   {combination_label(combo['tasks']):<12}"
            + "".join(f"{reports[m]['combinations'][i]['macs']:>16,}" for m in options.methods)
        )
    print(
        "   PAM only pays off after pruning: its groups let pruning remove the two networks' duplicate\n"
        "   features while every combination still runs only the groups it needs."
    )


def _prune(request: DataRequest, out: Path, options: CompareOptions) -> None:
    """Stage 3: PAM and no merging pruned under the same rule, side by side; accuracy, cost and curves."""
    from dataclasses import replace

    from .compare import combination_rows, compare, curve_lines, unlearned
    from .jobs import LocalExecutor

    print("\n== 3/7 prune: PAM and no merging (each network alone), same criterion and 1-point tolerance")
    report = compare(request, out, replace(options, methods=PRUNED), LocalExecutor())  # both prunes at once
    methods = report["methods"]
    print("\n   test scores after pruning (single-task networks in brackets):")
    for task in report["tasks"]:
        print(
            f"     {task}: none {methods['none']['test'][task]:.4f}, pam {methods['pam']['test'][task]:.4f} "
            f"({report['reference']['test'][task]:.4f})"
        )
    for net, tasks in unlearned(report).items():
        print(
            f"   warning: {net} scores no better than always giving the most frequent answer on "
            f"{', '.join(tasks)}: it learned nothing there"
        )
    rows = combination_rows(report)
    print(f"\n   {'combination':<14}{'none MACs':>12}{'pam MACs':>12}{'none / pam':>12}")
    for row in rows:
        print(
            f"   {combination_label(row['tasks']):<14}{row['macs']['none']:>12,}{row['macs']['pam']:>12,}"
            f"{row['vs_none']['pam']:>11.2f}x"
        )
    print(
        "\n   accuracy-cost curves (MACs and the worst task's score along each prune, * the reading at the "
        f"tolerance;\n   plotted in {out}/curves.png):"
    )
    for row in rows:
        print(f"   {combination_label(row['tasks'])}:")
        print("\n".join(f"   {line}" for line in curve_lines(report, row["tasks"])))
    print(f"\n   full report: {out}/report.md, {out}/cost.png; all four methods and the oracle: `pamkit compare`")
    where_the_macs_go(out)


def where_the_macs_go(out: Path) -> None:
    """PAM's pruned model against no merging's, layer by layer: where the merge saves and where it pays."""
    from .cost import cost_report, format_layers
    from .network import load_multitask

    pam, none = (cost_report(load_multitask(out / method / "pruned")[0], layers=True) for method in ("pam", "none"))
    print(
        "\n   where each combination's MACs go, PAM against no merging (`pamkit cost "
        f"{out}/pam/pruned --layers --baseline {out}/none/pruned`):\n"
    )
    print("\n".join(f"   {line}".rstrip() for line in format_layers(pam, none).splitlines()))


def _export(data, out: Path) -> None:
    from .export import DEFAULT_FORMATS, ExportOptions, Int8Refused, export, summary
    from .export.app_assets import AppAssetsOptions, write_app_assets
    from .network import MODEL_STEM, load_multitask

    print("\n== 4/7 export: the pruned PAM model, one entry point per task combination in each format, plus int8")
    model = out / "pam" / "pruned" / f"{MODEL_STEM}.json"
    net, _ = load_multitask(model)
    options = ExportOptions(formats=(*DEFAULT_FORMATS, "executorch-int8", "tflite-int8"), overwrite=True)
    try:
        manifest = export(net, data, out / "export", options, model_path=model)
    except Int8Refused as exc:  # int8 is offered only within the tolerance; the float formats still ship
        print(f"   {exc}")
        manifest = export(net, data, out / "export", ExportOptions(overwrite=True), model_path=model)
    print("\n".join(f"   {line}" for line in summary(manifest)))
    for fmt, result in manifest["validation"]["results"].items():
        if "max_abs_error" in result:
            detail = f"max |runtime - PyTorch| {max(result['max_abs_error'].values()):.2g}"
        elif "accuracy" in result:
            detail = "test accuracy of the all-tasks entry: " + ", ".join(
                f"{task} {score:.4f} (float32 {result['float_accuracy'][task]:.4f})"
                for task, score in result["accuracy"][manifest["default_combination"]].items()
            )
        else:
            detail = result["reason"]
        print(f"   {fmt}: {result['status']} ({detail})")
    print(f"   an app reads {out}/export/manifest.json to pick the entry point for the tasks it needs")
    for app, readme in (("android", "android_demo/README.md"), ("ios", "ios_export/README.md")):
        assets = write_app_assets(out / "export", out / f"{app}-assets", AppAssetsOptions(app, 8, overwrite=True))
        files = ", ".join(dict.fromkeys(f["path"].split("/")[0] for f in assets["files"]))
        print(f"   {app} app assets in {out}/{app}-assets: {files}, the manifest, 8 samples ({readme})")
    print(f"   {manifest['swift']['path']} types the tasks and entry points for Swift: `model.run([.a, .b], input: x)`")


def _bench(data, out: Path) -> None:
    from .bench import BenchOptions, Settings, bench, markdown, save_results
    from .export import ExportOptions, export
    from .network import MODEL_STEM, load_multitask

    print(
        "\n== 5/7 bench: every combination on this machine (ExecuTorch XNNPACK, 1 thread), PAM against the\n"
        "   separately pruned networks and against itself exported fused (--fuse-extra-macs "
        f"{FUSE_EXTRA_MACS}: one\n   operator per layer instead of one per group), entry points interleaved"
    )
    pam_model, none_model = (out / method / "pruned" / f"{MODEL_STEM}.json" for method in ("pam", "none"))
    for model, folder, fuse in ((none_model, "export-none", None), (pam_model, "export-fused", FUSE_EXTRA_MACS)):
        export(
            load_multitask(model)[0],
            data,
            out / folder,
            ExportOptions(formats=("executorch",), fuse_extra_macs=fuse, overwrite=True),
            model_path=model,
            progress=False,
        )
    results = bench(
        {"pam": out / "export", "pam-fused": out / "export-fused", "none": out / "export-none"},
        BenchOptions(settings=Settings(warmup=10, runs=100, pin="0")),
    )
    path = save_results(results, out / "bench.json")
    print("\n".join(f"   {line}" for line in markdown([results]).splitlines()[2:]))
    print(
        f"   raw samples in {path}; `pamkit bench report {path}` plots them; other targets: --target "
        "emulated-arm64 | android | apple"
    )


def _relatedness(args: argparse.Namespace, out: Path) -> None:
    """One point of the relatedness sweep, small: garments against digits on composite frames (unrelated tasks)."""
    from .compare import CompareOptions, DataRequest, combination_rows, compare
    from .jobs import LocalExecutor
    from .prune import PruneOptions
    from .tasks import get_suite
    from .train import TrainConfig

    print(
        "\n== 6/7 relatedness: one point of benchmarks/relatedness at a small size. `domains`: 56x56 frames of two\n"
        "   garments and two digits; task a names the garments, task b the digits (nothing in common)"
    )
    request = DataRequest(get_suite("domains"), "lenet5", limit=args.limit or 2000, seed=args.seed, download=False)
    try:
        request.load()
    except DataError as exc:
        print(f"   skipped: the composite frames need Fashion-MNIST and MNIST ({exc})")
        return
    train = TrainConfig(epochs=min(args.epochs, 6))
    prune = PruneOptions(finetune_samples=1024, step=0.2, final_epochs=1, explore_past=0.03, sequential=True)
    options = CompareOptions(methods=("none", "mtz", "pam"), train=train, prune=prune, oracle=False)
    options = options.with_seed(args.seed)  # training, merging and pruning
    report = compare(request, out / "relatedness-domains", options, LocalExecutor())
    print(f"\n   {'combination':<14}" + "".join(f"{m + ' MACs':>14}" for m in ("none", "mtz", "pam")))
    for row in combination_rows(report):
        print(
            f"   {combination_label(row['tasks']):<14}"
            + "".join(f"{row['macs'][m]:>14,}" for m in ("none", "mtz", "pam"))
        )
    print(
        "   With unrelated tasks PAM can keep features private, so one task runs only its own, while MTZ shares\n"
        "   every feature and each task pays for both. At this size (2,000 frames, one seed) the numbers are\n"
        "   rough; the sweep over k = 0 ... 10 of B's attributes swapped to digits, 3 seeds, is\n"
        "   benchmarks/relatedness/run.sh"
    )


def _own_network(request: DataRequest, out: Path, config: TrainConfig) -> None:
    """Bring your own network: a class named by import path, trained, imported back from its weights, merged."""
    from dataclasses import replace

    from safetensors.torch import save_file

    from .compare import CompareOptions, compare_through, merged_network, single_task_networks
    from .cost import cost_report
    from .jobs import LocalExecutor
    from .network import task_head
    from .train import import_network

    print(
        f"\n== 7/7 your own network: any nn.Module, named by import path (--arch {OWN_NETWORK});\n"
        "   pamkit builds it per task (its num_classes) and keeps the nn.Linear producing its output as the task head"
    )
    own = out / "own"
    size = request.load().input_spec.size  # the LeNet-5s' images, at their size
    mine = replace(request, arch=OWN_NETWORK, size=size, limit=min(request.limit or OWN_LIMIT, OWN_LIMIT))
    data = mine.load()
    print(f"   on {len(data.train)} train / {len(data.val)} val images of theirs, trained and merged side by side")
    width = {"width": 8}  # --arch-arg width=8
    options = CompareOptions(
        methods=PRUNED, train=replace(config, epochs=min(config.epochs, 3)), oracle=False, arch_kwargs=width
    ).with_seed(config.seed)
    compare_through("merge", mine, own, options, LocalExecutor())
    trained = single_task_networks(mine, own / "single", options.train, width)
    suite = request.suite
    first = trained[0]
    print(f"   trained {len(trained)} x {OWN_NETWORK}; task head: {task_head(first.net)!r}")
    weights = own / f"{first.record.task.name}.safetensors"  # as a user's own training script would save it
    save_file(first.net.state_dict(), weights)
    imported = import_network(
        replace(first.record, metrics={}), weights, suite.select([first.record.task.name]), data, own / "imported"
    )
    print(
        f"   `pamkit import --weights {weights.name}` made a checkpoint of it: val score "
        f"{imported.record.metrics['val']:.4f} (as trained: {first.record.metrics['val']:.4f})"
    )
    reports = {
        method: cost_report(merged_network(method, trained, data, own / method / "merged", options.merge))
        for method in options.methods
    }
    print(f"\n   {'combination':<14}{'none MACs':>14}{'pam MACs':>14}   (merged, before pruning)")
    for row_none, row_pam in zip(reports["none"]["combinations"], reports["pam"]["combinations"], strict=True):
        print(f"   {combination_label(row_none['tasks']):<14}{row_none['macs']:>14,}{row_pam['macs']:>14,}")
    print("   `pamkit prune`, `export` and `bench` take it from here as above; README: Bring your own network")
