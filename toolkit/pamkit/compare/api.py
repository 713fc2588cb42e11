"""``compare``: every merging method pruned under one rule, and what each combination costs in each.

Layout of the output directory (each stage is reused when its files are already there, so an
interrupted comparison resumes): ``single/`` (the single-task networks), ``<method>/merged/``,
``<method>/pruned/``, ``oracle/<combination>/`` and ``report.json``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..cost import cost_report
from ..data import DatasetSplits
from ..errors import PamkitError
from ..merge import METHODS, MergeOptions, merge
from ..network import MODEL_STEM, MultitaskNet, load_multitask, save_multitask
from ..prune import PruneOptions, prune, prune_separately, reference_scores, save_pruned
from ..prune.api import REPORT_FILE
from ..tasks import TaskSuite
from ..train import TrainConfig, TrainedTask, evaluate_all, load_run, train_suite
from ..train.run import RUN_FILE, current_command
from ..versions import package_versions
from .report import write_report


@dataclass(frozen=True)
class CompareOptions:
    """What to compare and how; every method is pruned with the same ``prune`` options."""

    methods: tuple[str, ...] = ("none", "shared", "mtz", "pam")
    train: TrainConfig = TrainConfig()
    merge: MergeOptions = MergeOptions()
    prune: PruneOptions = PruneOptions()
    oracle: bool = True  # for two tasks: also prune for the all-tasks combination alone
    arch_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not self.methods:
            raise PamkitError(f"unknown methods {unknown or '(none given)'}; choose from {', '.join(METHODS)}")


def compare(suite: TaskSuite, arch: str, data: DatasetSplits, out: str | Path,
            options: CompareOptions = CompareOptions(), data_options: dict[str, Any] | None = None
            ) -> dict[str, Any]:
    """Train (or reuse) the single-task networks, merge and prune with each method, report every combination."""
    out = Path(out)
    trained = _single_task(suite, arch, data, out / "single", options, data_options)
    reference = reference_scores(trained, data.val)
    report: dict[str, Any] = {"suite": suite.name, "arch": arch, "tasks": [t.name for t in suite.tasks],
                              "command": current_command(), "versions": package_versions(),
                              "options": {"train": options.train.to_dict(), "prune": options.prune.to_dict(),
                                          "merge": asdict(options.merge)},
                              "data": {"name": data.name, "source": data.source, "train": len(data.train),
                                       "val": len(data.val), "test": len(data.test)},
                              "reference": {"val": reference, "test": reference_scores(trained, data.test)},
                              "methods": {}}
    for method in options.methods:
        print(f"\n== {method}: merge, then prune (tolerance {options.prune.tolerance})")
        merge_options = options.merge  # the shared trunk is trained jointly as long as each network was alone
        if method == "shared":
            merge_options = replace(merge_options, finetune_epochs=options.train.epochs)
        merged = _merged(method, trained, data, out / method / "merged", merge_options)
        pruned, record = _pruned(merged, method, data, reference, out / method / "pruned", options.prune)
        entry = report["methods"][method] = _method_entry(merged, pruned, record, data)
        print(f"   MACs of all tasks {entry['merged'][-1]['macs']:,} -> {entry['pruned'][-1]['macs']:,}; test scores "
              + ", ".join(f"{task} {score:.4f}" for task, score in entry["test"].items())
              + f"; stopped: {entry['stop_reason']}")
    if options.oracle and len(suite.tasks) == 2:
        report["oracle"] = _oracle(report, trained, data, reference, out / "oracle", options)
    write_report(report, out)
    return report


def _single_task(suite: TaskSuite, arch: str, data: DatasetSplits, out: Path, options: CompareOptions,
                 data_options: dict[str, Any] | None) -> list[TrainedTask]:
    if (out / RUN_FILE).is_file():
        trained = load_run(out)
        names = [item.record.task.name for item in trained]
        if names != [t.name for t in suite.tasks] or trained[0].record.arch != arch:
            raise PamkitError(f"{out} holds {trained[0].record.arch} networks for tasks {names}, not {arch} for "
                              f"suite {suite.name}; use another --out directory")
        print(f"== reusing the single-task networks in {out}")
        return trained
    print(f"== training one {arch} per task of {suite.name} into {out}")
    return train_suite(suite, arch, data, out, options.train, options.arch_kwargs, data_options)


def _merged(method: str, trained: list[TrainedTask], data: DatasetSplits, out: Path,
            options: MergeOptions) -> MultitaskNet:
    if (out / f"{MODEL_STEM}.json").is_file():
        return load_multitask(out / f"{MODEL_STEM}.json")[0]
    net, _ = merge(trained, method, data, options)
    save_multitask(out / MODEL_STEM, net)
    return net


def _pruned(net: MultitaskNet, method: str, data: DatasetSplits, reference: dict[str, float], out: Path,
            options: PruneOptions) -> tuple[MultitaskNet, dict[str, Any]]:
    """The pruned network and its pruning record (the no-merging baseline prunes each task alone)."""
    if (out / f"{MODEL_STEM}.json").is_file() and (out / REPORT_FILE).is_file():
        return load_multitask(out / f"{MODEL_STEM}.json")[0], json.loads((out / REPORT_FILE).read_text())
    result = (prune_separately if method == "none" else prune)(net, data, reference, options)
    save_pruned(out, result, options)
    return result.net, result.to_dict()


def _method_entry(merged: MultitaskNet, pruned: MultitaskNet, record: dict[str, Any], data: DatasetSplits
                  ) -> dict[str, Any]:
    tasks = [pruned.structure.tasks[t] for t in pruned.structure.heads]
    return {"val": record["val"], "test": evaluate_all(pruned, tasks, data.test), "stop_reason": record["stop_reason"],
            "iterations": sum(1 for e in record["history"] if e["event"] in ("accepted", "rejected")),
            "merged": cost_report(merged)["combinations"], "pruned": cost_report(pruned)["combinations"],
            "groups": {str(space): [{"tasks": [pruned.structure.task_names[t] for t in g.label], "size": g.size}
                                    for g in groups] for space, groups in pruned.structure.groups.items() if space}}


def _oracle(report: dict[str, Any], trained: list[TrainedTask], data: DatasetSplits, reference: dict[str, float],
            out: Path, options: CompareOptions) -> list[dict[str, Any]]:
    """Per combination, the cheapest network found for exactly it (method.md 6).

    A single task: its separately pruned network. Both tasks: the cheapest of every method's
    pruned network and a PAM merge pruned with all the cost weight on that combination.
    """
    methods = report["methods"]
    best = []
    for i, combo in enumerate(next(iter(methods.values()))["pruned"]):
        tasks = tuple(combo["tasks"])
        candidates = {m: entry["pruned"][i]["macs"] for m, entry in methods.items() if len(tasks) > 1 or m == "none"}
        if len(tasks) > 1:
            merged = _merged("pam", trained, data, out.parent / "pam" / "merged", options.merge)
            targeted = PruneOptions(**{**vars(options.prune), "combination_weights": {tasks: 1.0}})
            net, _ = _pruned(merged, "pam", data, reference, out / "+".join(tasks), targeted)
            candidates["pam pruned for this combination"] = cost_report(net)["combinations"][i]["macs"]
        if not candidates:
            continue
        source, macs = min(candidates.items(), key=lambda item: item[1])
        best.append({"tasks": list(tasks), "macs": macs, "source": source})
    return best
