"""``compare``: every merging method pruned under one rule, and what each combination costs in each.

Layout of one seed's directory (each stage is reused when its files are already there, so an
interrupted comparison resumes): ``single/`` (the single-task networks), ``<method>/merged/``,
``<method>/pruned/``, ``oracle/<combination>/`` and ``report.json``. A prune in progress keeps its state in
``<stage>/progress/`` after every step (``prune.Checkpoint``), so a resumed comparison continues it from its
last step; the state goes once the stage is written. ``compare_seeds`` repeats that in
``seed-S/`` for each seed and writes the report over all seeds beside them. The folder itself is the
caller's: ``pamkit compare`` owns it as a resumable output (``--resume``), the demo writes into its own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..card import check_reusable
from ..cost import cost_report
from ..data import DatasetSplits
from ..errors import PamkitError
from ..io import read_json, write_json
from ..merge import MERGERS, REGROUPING_FILE, MergeOptions, merge
from ..network import MODEL_STEM, MultitaskNet, load_multitask, save_multitask
from ..prune import PruneOptions, prune, prune_separately, reference_scores, save_pruned
from ..prune.api import REPORT_FILE
from ..prune.state import PROGRESS_DIR, Checkpoints
from ..tasks import TaskSuite, combination_label
from ..train import TrainConfig, TrainedTask, evaluate_all, load_run, train_suite
from ..train.run import RUN_FILE, current_command
from ..versions import package_versions
from .curves import curve_points, readings
from .report import aggregate, write_report, write_seed_report

SEED_DIR = "seed-{seed}"
# a pruning step in pruning.json's history, by its event's first word (older and newer pruners; "step (held: a)")
_STEP_EVENTS = ("accepted", "rejected", "step")


@dataclass(frozen=True)
class CompareOptions:
    """What to compare and how; every method is pruned with the same ``prune`` options."""

    methods: tuple[str, ...] = ("none", "shared", "mtz", "pam")
    # train, merge and prune each carry the seed of everything random in them; ``with_seed`` sets all three
    train: TrainConfig = field(default_factory=TrainConfig)
    merge: MergeOptions = field(default_factory=MergeOptions)
    prune: PruneOptions = field(default_factory=PruneOptions)
    oracle: bool = True  # for two tasks: also prune for the all-tasks combination alone
    arch_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in MERGERS]
        if unknown or not self.methods:
            raise PamkitError(f"unknown methods {unknown or '(none given)'}; choose from {', '.join(MERGERS)}")
        repeated = sorted({m for m in self.methods if self.methods.count(m) > 1})
        if repeated:
            raise PamkitError(f"methods {repeated} are listed twice; list each method once")

    def with_seed(self, seed: int) -> CompareOptions:
        """The same options with every random stage (training, merging samples, pruning batches) seeded ``seed``."""
        return replace(
            self,
            train=replace(self.train, seed=seed),
            merge=replace(self.merge, seed=seed),
            prune=replace(self.prune, seed=seed),
        )


def compare_seeds(
    suite: TaskSuite,
    arch: str,
    data: DatasetSplits,
    out: str | Path,
    seeds: list[int] | tuple[int, ...],
    options: CompareOptions | None = None,
    data_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``compare`` once per seed, each in ``out/seed-S`` (resumable on its own), then the report over the seeds.

    The data (split and ``--limit`` sample) is the same for every seed, so that seeds differ only in
    what is random in training, merging and pruning. Returns the aggregated report (see ``aggregate``).
    """
    out, options = Path(out), options or CompareOptions()
    if not seeds or len(set(seeds)) != len(seeds):
        raise PamkitError(f"seeds {list(seeds)}: give at least one seed, each once")
    per_seed: dict[int, dict[str, Any]] = {}
    for k, seed in enumerate(seeds):
        folder = out / SEED_DIR.format(seed=seed)
        print(f"\n==== seed {seed} ({k + 1} of {len(seeds)}) in {folder}")
        per_seed[seed] = compare(suite, arch, data, folder, options.with_seed(seed), data_options)
    report = aggregate(per_seed)
    report["command"] = current_command()
    write_seed_report(report, per_seed, out)
    return report


def compare(
    suite: TaskSuite,
    arch: str,
    data: DatasetSplits,
    out: str | Path,
    options: CompareOptions | None = None,
    data_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train (or reuse) the single-task networks, merge and prune with each method, report every combination."""
    out, options = Path(out), options or CompareOptions()
    trained = single_task_networks(suite, arch, data, out / "single", options.train, options.arch_kwargs, data_options)
    reference = reference_scores(trained, data.val)
    report: dict[str, Any] = {
        "suite": suite.name,
        "arch": arch,
        "tasks": [t.name for t in suite.tasks],
        "command": current_command(),
        "versions": package_versions(),
        "options": {"train": options.train.to_dict(), "prune": options.prune.to_dict(), "merge": asdict(options.merge)},
        "data": {
            "name": data.name,
            "source": data.source,
            "train": len(data.train),
            "val": len(data.val),
            "test": len(data.test),
        },
        "reference": {"val": reference, "test": reference_scores(trained, data.test)},
        "trivial": {"test": {t.name: t.trivial_score(data.test.labels) for t in suite.tasks}},
        "methods": {},
    }
    for method in options.methods:
        print(f"\n== {method}: merge, then prune (tolerance {options.prune.tolerance})")
        merge_options = options.merge  # the shared trunk is trained jointly as long as each network was alone
        if method == "shared":
            merge_options = replace(merge_options, finetune_epochs=options.train.epochs)
        merged = merged_network(method, trained, data, out / method / "merged", merge_options)
        pruned, record = _pruned(merged, method, data, reference, out / method / "pruned", options.prune)
        entry = report["methods"][method] = _method_entry(merged, pruned, record, data)
        _add_curve(entry, record, reference, options.prune.tolerance)
        print(
            f"   MACs of all tasks {entry['merged'][-1]['macs']:,} -> {entry['pruned'][-1]['macs']:,}; test scores "
            + ", ".join(f"{task} {score:.4f}" for task, score in entry["test"].items())
            + f"; stopped: {entry['stop_reason']}"
        )
    if options.oracle and len(suite.tasks) == 2:
        report["oracle"] = _oracle(report, trained, data, reference, out / "oracle", options)
    write_report(report, out)
    return report


def single_task_networks(
    suite: TaskSuite,
    arch: str,
    data: DatasetSplits,
    out: Path,
    config: TrainConfig,
    arch_kwargs: dict[str, Any] | None = None,
    data_options: dict[str, Any] | None = None,
) -> list[TrainedTask]:
    """One ``arch`` network per task, trained into ``out``; a finished run there is reused, and so is each task
    checkpoint an interrupted run left (the folder is fresh unless the caller resumes it)."""
    if (out / RUN_FILE).is_file():
        trained = load_run(out)
        names = [item.record.task.name for item in trained]
        if names != [t.name for t in suite.tasks] or trained[0].record.arch != arch:
            raise PamkitError(
                f"{out} holds {trained[0].record.arch} networks for tasks {names}, not {arch} for "
                f"suite {suite.name}; use another --out directory"
            )
        print(f"== reusing the single-task networks in {out}")
        return trained
    print(f"== training one {arch} per task of {suite.name} into {out}")
    return train_suite(suite, arch, data, out, config, arch_kwargs, data_options, resume=True)


def merged_network(
    method: str, trained: list[TrainedTask], data: DatasetSplits, out: Path, options: MergeOptions
) -> MultitaskNet:
    """The networks merged with ``method`` into ``out`` (as ``pamkit merge`` writes it), or reused from there."""
    if (out / f"{MODEL_STEM}.json").is_file():
        check_reusable(out, "merge", asdict(options))
        return load_multitask(out / f"{MODEL_STEM}.json")[0]
    net, regrouping = merge(trained, method, data, options)
    out.mkdir(parents=True, exist_ok=True)
    if regrouping:  # first: the model file is what marks this stage finished
        write_json(out / REGROUPING_FILE, regrouping)
    save_multitask(out / MODEL_STEM, net)
    return net


def _pruned(
    net: MultitaskNet, method: str, data: DatasetSplits, reference: dict[str, float], out: Path, options: PruneOptions
) -> tuple[MultitaskNet, dict[str, Any]]:
    """The pruned network and its pruning record (the no-merging baseline prunes each task alone).

    Until the stage is written, the prune's state is saved in ``out/progress`` after every step, and a state left
    there by an interrupted run is continued (the comparison's folder checks its settings when it resumes).
    """
    if not ((out / f"{MODEL_STEM}.json").is_file() and (out / REPORT_FILE).is_file()):
        checkpoints = Checkpoints(out / PROGRESS_DIR, resume=True)
        if method == "none":
            result = prune_separately(net, data, reference, options, checkpoints=checkpoints)
        else:
            result = prune(net, data, reference, options, checkpoint=checkpoints.named("joint"))
        save_pruned(out, result, options)
        checkpoints.clear()
    check_reusable(out, "pruning", options.to_dict())
    record = read_json(out / REPORT_FILE, "delete that folder and run again with --resume")  # as saved: with its path
    if not isinstance(record, dict):
        raise PamkitError(
            f"{out / REPORT_FILE} is not a pruning record; delete that folder and run again with --resume"
        )
    return load_multitask(out / f"{MODEL_STEM}.json")[0], record


def _method_entry(
    merged: MultitaskNet, pruned: MultitaskNet, record: dict[str, Any], data: DatasetSplits
) -> dict[str, Any]:
    tasks = [pruned.structure.tasks[t] for t in pruned.structure.heads]
    history: list[Any] = record["history"] if isinstance(record.get("history"), list) else []
    return {
        "val": record["val"],
        "test": evaluate_all(pruned, tasks, data.test),
        "stop_reason": record.get("stop_reason", ""),
        "iterations": len(
            [e for e in history if isinstance(e, dict) and str(e.get("event")).split(" ")[0] in _STEP_EVENTS]
        ),
        "merged": cost_report(merged)["combinations"],
        "pruned": cost_report(pruned)["combinations"],
        "groups": {
            str(space): [{"tasks": [pruned.structure.task_names[t] for t in g.label], "size": g.size} for g in groups]
            for space, groups in pruned.structure.groups.items()
            if space
        },
    }


def _add_curve(entry: dict[str, Any], record: dict[str, Any], reference: dict[str, float], tolerance: float) -> None:
    """The method's accuracy–cost curve (from its pruning record) and, per combination, its result read off it."""
    points, source, note = curve_points(record)
    entry["curve"] = {"source": source, "note": note, "points": points}
    entry["at_tolerance"] = readings(points, reference, tolerance, [combo["tasks"] for combo in entry["pruned"]])


def _oracle(
    report: dict[str, Any],
    trained: list[TrainedTask],
    data: DatasetSplits,
    reference: dict[str, float],
    out: Path,
    options: CompareOptions,
) -> list[dict[str, Any]]:
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
            merged = merged_network("pam", trained, data, out.parent / "pam" / "merged", options.merge)
            targeted = PruneOptions(**{**vars(options.prune), "combination_weights": {tasks: 1.0}})
            net, _ = _pruned(merged, "pam", data, reference, out / combination_label(tasks), targeted)
            candidates["pam pruned for this combination"] = cost_report(net)["combinations"][i]["macs"]
        if not candidates:
            continue
        source, macs = min(candidates.items(), key=lambda item: item[1])
        best.append({"tasks": list(tasks), "macs": macs, "source": source})
    return best
