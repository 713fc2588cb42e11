"""CLI verbs of the training stage: ``pamkit train`` and ``pamkit eval``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..cost import all_combinations
from ..errors import PamkitError
from ..io import read_json
from ..models import is_import_path, parse_arch_args
from ..network import MODEL_STEM, load_multitask, model_file, task_head
from ..outputs import add_resumable_output_arguments, check_output_dir, resumable_output, staged_output
from ..tasks import combination_label
from ..values import FRACTION, POSITIVE, POSITIVE_INT, SEED
from .checkpoint import SingleTaskRecord
from .importing import import_network
from .loop import TrainConfig, evaluate_all
from .run import RUN_FILE, data_like, load_run, model_data, suite_data, train_suite


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """Options that choose and shape the data (shared by every verb that loads a dataset)."""
    group = parser.add_argument_group("data")
    group.add_argument(
        "--data",
        metavar="DIR",
        help="directory holding the dataset files (default: search "
        "$PAMKIT_DATA, system locations, the cache, then download)",
    )
    group.add_argument(
        "--size",
        type=POSITIVE_INT,
        help="resize images to SIZE x SIZE (default: native size, raised to the architecture's minimum)",
    )
    group.add_argument("--limit", type=POSITIVE_INT, help="use at most LIMIT samples per split (fast runs)")
    group.add_argument(
        "--val-fraction",
        type=FRACTION,
        default=0.1,
        help="share of the training set held out for validation (default: 0.1)",
    )
    group.add_argument(
        "--no-normalize", action="store_true", help="keep pixels in [0, 1] instead of standardising them"
    )


def data_options(args: argparse.Namespace) -> dict:
    """The data options given on the command line, as keyword arguments for ``suite_data``."""
    return {
        "path": args.data,
        "size": args.size,
        "limit": args.limit,
        "val_fraction": args.val_fraction,
        "normalize": not args.no_normalize,
        "seed": args.seed,
    }


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``train``, ``import`` and ``eval``."""
    train = verbs.add_parser(
        "train",
        help="train one single-task network per task of a suite",
        description="Train one network per task of a suite (same architecture for all), "
        "with validation-based early stopping. Writes TASK.safetensors + "
        "TASK.json per task and run.json into --out.",
    )
    train.add_argument(
        "--suite", required=True, help="built-in suite name (see `pamkit suites`) or a .yaml/.toml suite file"
    )
    train.add_argument(
        "--arch",
        required=True,
        help="a built-in architecture, or your own network as package.module:Class (see `pamkit archs`)",
    )
    train.add_argument(
        "--arch-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="architecture option, e.g. width=0.5 (repeatable)",
    )
    train.add_argument("--tasks", help="comma-separated subset of the suite's tasks (default: all)")
    add_resumable_output_arguments(
        train,
        "run directory to write (new or empty, or one this command wrote: see --resume and --overwrite)",
        "continue an interrupted run in --out with the same "
        "options: tasks whose checkpoint is there are not trained again",
        "replace a run this command wrote into --out",
        required=True,
    )
    train.add_argument(
        "--epochs", type=POSITIVE_INT, default=TrainConfig.epochs, help="maximum epochs (default: %(default)s)"
    )
    train.add_argument("--batch-size", type=POSITIVE_INT, default=TrainConfig.batch_size, help="default: %(default)s")
    train.add_argument("--lr", type=POSITIVE, default=TrainConfig.lr, help="Adam learning rate (default: %(default)s)")
    train.add_argument(
        "--patience",
        type=POSITIVE_INT,
        default=TrainConfig.patience,
        help="stop after this many epochs without a better validation score (default: %(default)s)",
    )
    train.add_argument(
        "--seed",
        type=SEED,
        default=0,
        help="seed for splits, initialisation and batch order (task i uses seed + i; default: %(default)s)",
    )
    add_data_arguments(train)
    train.set_defaults(run=run_train)

    importer = verbs.add_parser(
        "import",
        help="make a pamkit checkpoint of a network trained elsewhere",
        description="Import a network trained outside pamkit for one task of a suite: build --arch (a "
        "built-in or your own class as package.module:Class, importable in every later pamkit command) "
        "for the task's outputs, load --weights into it exactly, score it on the task's validation and "
        "test splits and write a one-task run folder (TASK.safetensors + TASK.json + run.json) that "
        "`pamkit merge` takes like a trained one. Weights that do not fit the task's outputs or the "
        "architecture are refused with what differs.",
    )
    importer.add_argument("--arch", required=True, help="architecture: a built-in name or package.module:Class")
    importer.add_argument(
        "--arch-arg", action="append", default=[], metavar="KEY=VALUE", help="constructor argument (repeatable)"
    )
    importer.add_argument(
        "--weights",
        required=True,
        help="the network's state dict: a .safetensors file, or a torch.save file (read with weights_only=True)",
    )
    importer.add_argument("--suite", required=True, help="built-in suite name or a .yaml/.toml suite file")
    importer.add_argument("--task", required=True, help="the suite's task the network was trained for")
    importer.add_argument("--out", required=True, help="run folder to write (new or empty)")
    importer.add_argument("--overwrite", action="store_true", help="replace an earlier import in --out")
    importer.add_argument("--seed", type=SEED, default=0, help="seed of the validation split (default: %(default)s)")
    add_data_arguments(importer)
    importer.set_defaults(run=run_import)

    evaluate_parser = verbs.add_parser(
        "eval",
        help="score trained networks: single-task or multitask",
        description="Score networks on a split of their dataset, with the input spec "
        "they were trained on: each single-task network of a run (or the "
        "given checkpoints), and each multitask model (merged or pruned; "
        "its folder or model.json) on every task combination.",
    )
    evaluate_parser.add_argument(
        "models", nargs="+", help="run directories, checkpoint .json files, multitask model folders or model.json files"
    )
    evaluate_parser.add_argument("--split", choices=("train", "val", "test"), default="test")
    evaluate_parser.add_argument("--data", metavar="DIR", help="directory holding the dataset files")
    evaluate_parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    evaluate_parser.set_defaults(run=run_eval)


def run_train(args: argparse.Namespace) -> int:
    from ..tasks import get_suite

    suite = get_suite(args.suite)
    if args.tasks is not None:
        suite = suite.select(task_names(args.tasks))
    config = TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, patience=args.patience, seed=args.seed
    )
    arch_kwargs = parse_arch_args(args.arch_arg)
    options = data_options(args)
    settings = {
        "suite": suite.to_dict(),
        "arch": args.arch,
        "arch_kwargs": arch_kwargs,
        "train": config.to_dict(),
        "data": {key: value for key, value in options.items() if key != "path"},
    }
    output = {"overwrite": args.overwrite, "resume": args.resume, "meta": settings}
    check_output_dir(args.out, "train", resumable=True, **output)  # before the data is loaded
    data = suite_data(suite, args.arch, **options)
    net = SingleTaskRecord(args.arch, arch_kwargs, suite.tasks[0], data.input_spec).build()  # fails on bad options
    if is_import_path(args.arch):
        print(f"{args.arch}: task head {task_head(net)!r}, the nn.Linear producing the output, is kept per task")
    with resumable_output(args.out, "train", **output) as (out, resuming):
        trained = train_suite(suite, args.arch, data, out, config, arch_kwargs, options, resume=resuming)
    print(f"\nTrained {len(trained)} networks on {data.name} ({data.source}) into {args.out}:")
    for item in trained:
        m = item.record.metrics
        print(
            f"  {item.record.task.name:<14} val {m['val']:.4f}  test {m['test']:.4f}  "
            f"epochs {m['epochs_run']:>3}  {m['train_seconds']:.1f} s  {m['params']:,} params"
        )
    return 0


def run_import(args: argparse.Namespace) -> int:
    from ..tasks import get_suite

    suite = get_suite(args.suite)
    suite = suite.select([suite.task(args.task).name])
    arch_kwargs = parse_arch_args(args.arch_arg)
    options = data_options(args)
    check_output_dir(args.out, "import", inputs=[args.weights], overwrite=args.overwrite)
    data = suite_data(suite, args.arch, **options)
    record = SingleTaskRecord(
        args.arch,
        arch_kwargs,
        suite.tasks[0],
        data.input_spec,
        provenance={"suite": suite.name, "dataset_source": data.source, "data_options": options},
    )
    with staged_output(args.out, "import", inputs=[args.weights], overwrite=args.overwrite) as out:
        item = import_network(record, args.weights, suite, data, out)
    m = item.record.metrics
    print(
        f"Imported {args.weights} as {args.arch} for task {item.record.task.name} into {args.out} "
        f"(task head: {task_head(item.net)}): val {m['val']:.4f}  test {m['test']:.4f}  {m['params']:,} params"
    )
    if m["val"] <= m["trivial_val"]:
        print(
            f"warning: it scores no better than always giving the most frequent answer ({m['trivial_val']:.4f}); "
            "check that it was trained for this task with the same preprocessing (--size, --no-normalize)"
        )
    return 0


def task_names(spec: str) -> list[str]:
    """``--tasks "a,b"`` -> ``["a", "b"]``; an empty name or a repeated one is an error (not "all tasks")."""
    names = [name.strip() for name in spec.split(",")]
    if not all(names):
        raise PamkitError(
            f"--tasks {spec!r} holds an empty task name; list task names separated by commas, or "
            "leave --tasks out to train every task of the suite"
        )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise PamkitError(f"--tasks names {', '.join(repeated)} more than once; list each task once")
    return names


def run_eval(args: argparse.Namespace) -> int:
    results = [result for model in args.models for result in evaluate_model(Path(model), args.split, args.data)]
    if args.json:
        print(json.dumps({"split": args.split, "models": results}, indent=2))
        return 0
    for result in results:
        print("\n".join(_score_lines(result, args.split)))
    return 0


def evaluate_model(path: Path, split: str, data_path: str | None) -> list[dict[str, Any]]:
    """Scores of what ``path`` holds: one result per single-task network, or one per multitask model.

    A result: ``{"model", "kind", "tasks", "combinations": [{"tasks", "scores": {task: score}}]}``;
    a multitask model is scored on every combination, each running only that combination's
    subnetwork (what its exported entry point runs).
    """
    if not _is_multitask(path):
        results = []
        for item in load_run(path):
            score = evaluate_all(item.net, [item.record.task], getattr(data_like(item.record, data_path), split))
            results.append(_result(item.path, "single-task", [item.record.task.name], [score]))
        return results
    net, _ = load_multitask(path)
    s = net.structure
    data = getattr(model_data(s.input_spec, s.provenance, data_path), split)
    combinations = all_combinations(net.task_names)
    scores = [
        evaluate_all(net.extract(combo), [s.tasks[s.task_names.index(name)] for name in combo], data)
        for combo in combinations
    ]
    return [_result(model_file(path), "multitask", list(net.task_names), scores)]


def _is_multitask(path: Path) -> bool:
    """Whether ``path`` names a multitask model (by its folder's model.json or its sidecar's kind)."""
    if path.is_dir():
        return not (path / RUN_FILE).is_file() and (path / f"{MODEL_STEM}.json").is_file()
    try:
        record = read_json(path.with_suffix(".json"), "")
    except PamkitError:
        return False  # loading it as a checkpoint says what is wrong
    return isinstance(record, dict) and record.get("kind") == "multitask"


def _result(path: Path, kind: str, tasks: list[str], scores: list[dict[str, float]]) -> dict[str, Any]:
    return {
        "model": str(path),
        "kind": kind,
        "tasks": tasks,
        "combinations": [{"tasks": list(combination), "scores": combination} for combination in scores],
    }


def _score_lines(result: dict[str, Any], split: str) -> list[str]:
    """One line for a single-task network; a table (combination x task) for a multitask model."""
    if result["kind"] == "single-task":
        ((name, score),) = result["combinations"][0]["scores"].items()
        return [f"{name:<14} {split} score {score:.4f}   ({Path(result['model']).name})"]
    tasks = result["tasks"]
    lines = [
        f"{result['model']}: {split} score of every task in every combination",
        f"  {'combination':<28}" + "".join(f" {name:>10}" for name in tasks),
    ]
    for combo in result["combinations"]:
        cells = "".join(
            f" {combo['scores'][name]:>10.4f}" if name in combo["scores"] else f" {'-':>10}" for name in tasks
        )
        lines.append(f"  {combination_label(combo['tasks']):<28}{cells}")
    return lines
