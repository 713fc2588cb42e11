"""pamkit's pruner against Torch-Pruning, network by network: the MACs each reaches at the tolerance.

Each single-task network of a training run is pruned (a) by pamkit (merged with method ``none`` and
pruned alone with ``prune_separately``) and (b) by Torch-Pruning (``pamkit.prune.anchor``), with the
same tolerance, fine-tuning recipe and budget (one ``PruneOptions``). Writes ``anchor.json`` and
``anchor.md`` beside this file, after every network and method; a rerun with the same settings skips
what is recorded, and pamkit's prune resumes from its checkpoints (in ``--work``).

    .venv/bin/python benchmarks/pruning/anchor.py                      # the fashion-paper run, seed 0
    .venv/bin/python benchmarks/pruning/anchor.py --suite digits --batch-size 32 --finetune-samples 512
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import Any

from pamkit.cost import combination_cost
from pamkit.data import DatasetSplits
from pamkit.errors import PamkitError
from pamkit.io import read_json, write_json
from pamkit.merge import merge
from pamkit.prune import Checkpoints, PruneOptions, prune_separately, reference_scores
from pamkit.prune.anchor import IMPORTANCES, AnchorConfig, anchor_prune, module_macs, torch_pruning_macs
from pamkit.tasks import get_suite
from pamkit.train import TrainConfig, TrainedTask, data_like, load_run, suite_data, train_suite
from pamkit.train.run import current_command
from pamkit.values import FRACTION, NONNEGATIVE_INT, POSITIVE_INT, SEED
from pamkit.versions import package_versions, source_commit

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
DEFAULT_RUN = Path("runs/bench-pruning/fashion-paper-lenet5/seed-0/single")


def main() -> None:
    args = _parser().parse_args()
    options = PruneOptions(
        tolerance=args.tolerance,
        step=args.step,
        finetune_samples=args.finetune_samples,
        final_epochs=args.final_epochs,
        batch_size=args.batch_size,
        seed=args.seed,
    )
    config = AnchorConfig(importance=args.importance)
    trained, data, label = _networks(args)
    settings = {"options": options.to_dict(), "anchor": config.to_dict(), "data_limit": args.limit}
    document = read_json(args.out, "delete it to start again") if args.out.is_file() else {"runs": {}}
    record = document["runs"].get(label)
    if record is None or record.get("settings") != settings:
        if record is not None:
            print(f"note: {label} was recorded with other settings; measuring it again")
        record = document["runs"][label] = {"settings": settings, "networks": {}}
        for stale in (args.work / label).glob("pamkit-*"):  # pamkit's checkpoints belong to the old settings
            shutil.rmtree(stale)
    record.update(
        {
            "run": str(args.run) if args.suite is None else f"trained on the fly into {args.work / label / 'single'}",
            "command": current_command(),
            "commit": source_commit(ROOT),
            "versions": package_versions(),
            "data": {"name": data.name, "train": len(data.train), "val": len(data.val), "test": len(data.test)},
        }
    )
    reference = {"val": reference_scores(trained, data.val), "test": reference_scores(trained, data.test)}
    for k, item in enumerate(trained):
        name = item.record.task.name
        entry = record["networks"].setdefault(name, _start(item, data, reference, name))
        print(f"== {label} {name} ({k + 1} of {len(trained)}): {entry['start_macs']:,} MACs unpruned")
        if "pamkit" not in entry:
            entry["pamkit"] = _pamkit(trained, item, data, reference["val"], options, args.work / label)
            _write(label, record, args.out)
        if "torch_pruning" not in entry:
            entry["torch_pruning"] = _torch_pruning(item, data, options, config)
            _write(label, record, args.out)
        entry["ratio"] = entry["torch_pruning"]["macs"] / max(entry["pamkit"]["macs"], 1)
        print(
            f"   pamkit {entry['pamkit']['macs']:,} MACs ({entry['pamkit']['wall_s']:.0f} s), Torch-Pruning "
            f"{entry['torch_pruning']['macs']:,} ({entry['torch_pruning']['wall_s']:.0f} s): "
            f"Torch-Pruning / pamkit = {entry['ratio']:.2f}"
        )
        _write(label, record, args.out)


def _parser() -> argparse.ArgumentParser:
    d = PruneOptions()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=DEFAULT_RUN, help="a training run (default: %(default)s)")
    parser.add_argument("--suite", choices=["digits"], help="instead: train the digits LeNet-5 run on the fly")
    parser.add_argument("--limit", type=POSITIVE_INT, help="samples per split (default: the run's own)")
    parser.add_argument("--tolerance", type=FRACTION, default=d.tolerance, help="default: %(default)s")
    parser.add_argument("--step", type=FRACTION, default=d.step, help="MACs share per step (default: %(default)s)")
    parser.add_argument("--finetune-samples", type=POSITIVE_INT, default=d.finetune_samples, help="per step")
    parser.add_argument("--final-epochs", type=NONNEGATIVE_INT, default=d.final_epochs, help="default: %(default)s")
    parser.add_argument("--batch-size", type=POSITIVE_INT, default=d.batch_size, help="default: %(default)s")
    parser.add_argument("--importance", choices=IMPORTANCES, default="taylor", help="Torch-Pruning's importance")
    parser.add_argument("--seed", type=SEED, default=d.seed, help="default: %(default)s")
    parser.add_argument("--work", type=Path, default=Path("runs/anchor"), help="checkpoints (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=HERE / "anchor.json", help="default: %(default)s")
    parser.add_argument("--label", help="the run's name in the results (default: from the run's path)")
    return parser


def _networks(args: argparse.Namespace) -> tuple[list[TrainedTask], DatasetSplits, str]:
    """The run's networks, their data and the run's label (training the digits run first for ``--suite``)."""
    if args.suite == "digits":
        label = args.label or "digits-lenet5"
        limit = {"limit": args.limit} if args.limit else {}
        data = suite_data(get_suite("digits"), "lenet5", size=16, **limit)
        config = TrainConfig(epochs=12, batch_size=32, lr=3e-3)  # as the tests' digits run
        return (
            train_suite(get_suite("digits"), "lenet5", data, args.work / label / "single", config, resume=True),
            data,
            label,
        )
    if not (args.run / "run.json").is_file():
        raise PamkitError(f"{args.run} holds no finished training run yet (no run.json); wait for it or pass --run")
    trained = load_run(args.run)
    label = args.label or "/".join(args.run.resolve().parts[-3:-1])  # e.g. fashion-paper-lenet5/seed-0
    return trained, data_like(trained[0].record, limit=args.limit), label


def _start(item: TrainedTask, data: DatasetSplits, reference: dict[str, Any], name: str) -> dict[str, Any]:
    """The unpruned network: its MACs by pamkit's cost model and by Torch-Pruning's counter, and its scores."""
    return {
        "start_macs": module_macs(item.net, item.record.task, data.input_spec),
        "torch_pruning_count": torch_pruning_macs(item.net, data.train.images[:1]),
        "reference": {split: scores[name] for split, scores in reference.items()},
    }


def _pamkit(
    trained: list[TrainedTask],
    item: TrainedTask,
    data: DatasetSplits,
    reference: dict[str, float],
    options: PruneOptions,
    work: Path,
) -> dict[str, Any]:
    """pamkit's no-merging prune of one network: merged with ``none``, its own subnetwork pruned alone."""
    name = item.record.task.name
    merged = merge(trained, "none", None, progress=False)[0].extract([name])
    started = time.perf_counter()
    result = prune_separately(
        merged,
        data,
        reference,
        options,
        checkpoints=Checkpoints(work / f"pamkit-{name}", resume=True),
        teachers={name: item.net},
    )
    test = result.trajectory[-1]["test"][name]
    return {
        "macs": combination_cost(result.net, (name,)).macs,
        "val": result.val[name],
        "test": test,
        "wall_s": time.perf_counter() - started,  # the part after a resume, if it was resumed
        "stop_reason": result.stop_reason,
        "trajectory": [{k: p[k] for k in ("phase", "expected_macs", "val", "test")} for p in result.trajectory],
    }


def _torch_pruning(
    item: TrainedTask, data: DatasetSplits, options: PruneOptions, config: AnchorConfig
) -> dict[str, Any]:
    """Torch-Pruning's prune of one network under the same rule."""
    name = item.record.task.name
    started = time.perf_counter()
    result = anchor_prune(item.net, item.record.task, data, options, config, label=f"torch-pruning {name}")
    return {
        "macs": result.macs,
        "val": result.val[name],
        "test": result.test[name],
        "wall_s": time.perf_counter() - started,
        "stop_reason": result.stop_reason,
        "torch_pruning_count": torch_pruning_macs(result.net, data.train.images[:1]),
        "trajectory": result.trajectory,
    }


def _write(label: str, record: dict[str, Any], out: Path) -> None:
    """This run's record into ``anchor.json`` (read again first: another run's process may have written it since),
    and ``anchor.md`` from everything measured so far."""
    document = read_json(out, "delete it to start again") if out.is_file() else {"runs": {}}
    document["runs"][label] = record
    write_json(out, document)
    lines = [
        "# pamkit's pruner against Torch-Pruning (the anchor)",
        "",
        "Each single-task network pruned alone by pamkit (`prune_separately`) and by Torch-Pruning "
        "(`pamkit.prune.anchor`: global ranking, group Taylor importance, iterative steps, the head's outputs kept), "
        "with the same distillation recipe, fine-tuning budget and tolerance rule: the cheapest point whose "
        "validation score after the full final fine-tune is within the tolerance of the unpruned network. "
        "MACs by pamkit's cost model (conv and linear; Torch-Pruning's own counter agrees on the unpruned networks, "
        "`torch_pruning_count.conv_linear` in anchor.json). Ratio: Torch-Pruning MACs / pamkit MACs "
        "(above 1: pamkit compresses more).",
        "",
        "| run | network | start MACs | pamkit MACs | Torch-Pruning MACs | ratio | reference val / test | "
        "pamkit val / test | Torch-Pruning val / test | wall s pamkit / TP |",
        "|---|---|---:|---:|---:|---:|---|---|---|---|",
    ]
    for label, record in document["runs"].items():
        for name, e in record["networks"].items():
            p, t = e.get("pamkit"), e.get("torch_pruning")
            ratio = f"{e['ratio']:.2f}" if "ratio" in e else "–"
            lines.append(
                f"| {label} | {name} | {e['start_macs']:,} | {_macs(p)} | {_macs(t)} | {ratio} | "
                f"{e['reference']['val']:.4f} / {e['reference']['test']:.4f} | {_scores(p)} | {_scores(t)} | "
                f"{_wall(p)} / {_wall(t)} |"
            )
    lines.append("")
    for label, record in document["runs"].items():
        o, tp = record["settings"]["options"], record["settings"]["anchor"]
        lines += [
            f"**{label}**: `{record['command']}` at commit `{record['commit']}`; data {record['data']}; "
            f"tolerance {o['tolerance']}, step {o['step']}, {o['finetune_samples']} samples per step's fine-tune, "
            f"{o['final_epochs']} final epochs, recipe {o['recipe']['name']}, batch {o['batch_size']}, "
            f"seed {o['seed']}; Torch-Pruning {tp['version']} with {tp['importance']} importance.",
            "",
        ]
    out.with_suffix(".md").write_text("\n".join(lines))


def _macs(result: dict[str, Any] | None) -> str:
    return f"{result['macs']:,}" if result else "–"


def _scores(result: dict[str, Any] | None) -> str:
    return f"{result['val']:.4f} / {result['test']:.4f}" if result else "–"


def _wall(result: dict[str, Any] | None) -> str:
    return f"{result['wall_s']:.0f}" if result else "–"


if __name__ == "__main__":
    try:
        main()
    except PamkitError as exc:
        raise SystemExit(f"error: {exc}") from None
