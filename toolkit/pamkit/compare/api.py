"""``compare``: every merging method pruned under one rule, and what each combination costs in each.

Layout of one seed's directory (each stage is reused when its files are already there, so an
interrupted comparison resumes): ``single/`` (the single-task networks), ``<method>/merged/``,
``<method>/pruned/``, ``oracle/<combination>/`` and ``report.json``. A prune in progress keeps its state in
``<stage>/progress/`` after every step (``prune.Checkpoint``), so a resumed comparison continues it from its
last step; the state goes once the stage is written. ``compare_seeds`` repeats that in
``seed-S/`` for each seed and writes the report over all seeds beside them. The folder itself is the
caller's: ``pamkit compare`` owns it as a resumable output (``--resume``), the demo writes into its own.

The work is a graph of jobs (``plan``: train per task and seed, merge and prune per method and seed, the
reports), run by an executor from ``pamkit.jobs``; the same seeds give the same files on every executor.
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
from ..jobs import Executor, InlineExecutor, Job, JobGraph, run_jobs
from ..merge import MERGERS, REGROUPING_FILE, MergeOptions, merge
from ..network import MODEL_STEM, MultitaskNet, load_multitask, save_multitask
from ..prune import PruneOptions, prune, prune_separately, reference_scores, save_pruned
from ..prune.api import JOINT_SEARCH_ONLY, REPORT_FILE
from ..prune.state import PROGRESS_DIR, Checkpoints
from ..tasks import TaskSuite, combination_label
from ..train import TrainConfig, TrainedTask, evaluate_all, load_run, suite_data, train_suite, train_task
from ..train.run import RUN_FILE, current_command
from ..versions import package_versions
from .curves import curve_points, readings
from .report import aggregate, write_report, write_seed_report

SEED_DIR = "seed-{seed}"
ORACLE_DIR = "oracle"
# a pruning step in pruning.json's history, by its event's first word (older and newer pruners; "step (held: a)")
_STEP_EVENTS = ("accepted", "rejected", "step")
_EARLY_STAGES = ("train", "merge")  # the stages ``compare_through`` can stop after, in order (job keys' first part)


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


@dataclass(frozen=True)
class DataRequest:
    """The comparison's data, as each job loads it wherever it runs (once per process): the suite's dataset for
    ``arch`` at ``size``, from ``path``, ``limit`` samples per split chosen with ``seed`` (the same for every seed
    of a comparison, so that seeds differ only in training, merging and pruning)."""

    suite: TaskSuite
    arch: str
    size: int | None = None
    path: str | None = None
    limit: int | None = None
    seed: int = 0
    download: bool = True

    @property
    def options(self) -> dict[str, Any]:
        """What the single-task networks record of how their data was chosen."""
        return {"limit": self.limit, "seed": self.seed}

    def load(self) -> DatasetSplits:
        """The splits; loaded once per process and request."""
        for request, data in _LOADED:
            if request == self:
                return data
        data = suite_data(self.suite, self.arch, size=self.size, path=self.path, download=self.download, **self.options)
        _LOADED[:] = [(self, data), *_LOADED[:1]]
        return data


_LOADED: list[tuple[DataRequest, DatasetSplits]] = []


def compare_seeds(
    data: DataRequest,
    out: str | Path,
    seeds: list[int] | tuple[int, ...],
    options: CompareOptions | None = None,
    executor: Executor | None = None,
    command: str | None = None,
    retries: int = 2,
) -> dict[str, Any]:
    """``compare`` once per seed, each in ``out/seed-S`` (resumable on its own), then the report over the seeds.

    The work is a graph of jobs (``plan``) run by ``executor`` (default: inline, in this process); which one
    changes nothing but the wall time. ``command`` is what the files record (default: this process's).
    Returns the aggregated report (see ``aggregate``).
    """
    out, options = Path(out), options or CompareOptions()
    if not seeds or len(set(seeds)) != len(seeds):
        raise PamkitError(f"seeds {list(seeds)}: give at least one seed, each once")
    graph = plan(data, out, seeds, options)
    run_jobs(graph, executor or InlineExecutor(), out, command or current_command(), retries)
    return _saved_report(out)


def compare(
    data: DataRequest,
    out: str | Path,
    options: CompareOptions | None = None,
    executor: Executor | None = None,
    command: str | None = None,
    retries: int = 2,
) -> dict[str, Any]:
    """Train (or reuse) the single-task networks, merge and prune with each method, report every combination:
    one seed (``options``'), in ``out`` itself. Returns the report ``out/report.json`` holds."""
    out, options = Path(out), options or CompareOptions()
    graph = JobGraph(seed_jobs(data, out, options))
    run_jobs(graph, executor or InlineExecutor(), out, command or current_command(), retries)
    return _saved_report(out)


def compare_through(
    stage: str,
    data: DataRequest,
    out: str | Path,
    options: CompareOptions | None = None,
    executor: Executor | None = None,
) -> None:
    """``compare``'s jobs up to ``stage`` (``"train"`` or ``"merge"``) and no further, side by side on ``executor``,
    in ``compare``'s layout, so that a later ``compare`` in ``out`` reuses them: for a caller that shows each stage
    before the next one starts, as the demo does."""
    if stage not in _EARLY_STAGES:
        raise PamkitError(f"stage {stage!r}: compare runs through {' or '.join(map(repr, _EARLY_STAGES))} alone")
    out, options = Path(out), options or CompareOptions()
    wanted = _EARLY_STAGES[: _EARLY_STAGES.index(stage) + 1]
    jobs = [job for job in seed_jobs(data, out, options) if job.key.split("/")[0] in wanted]
    run_jobs(JobGraph(jobs), executor or InlineExecutor(), out, current_command())


def plan(data: DataRequest, out: Path, seeds: list[int] | tuple[int, ...], options: CompareOptions) -> JobGraph:
    """Every seed's jobs (``seed_jobs`` in ``out/seed-S``), then the report over the seeds."""
    jobs: list[Job] = []
    for seed in seeds:
        folder = SEED_DIR.format(seed=seed)
        jobs += seed_jobs(data, out / folder, options.with_seed(seed), prefix=folder)
    seed_reports = tuple(f"{SEED_DIR.format(seed=seed)}/report" for seed in seeds)
    jobs.append(Job("report", seeds_report_job, {"out": out, "seeds": tuple(seeds)}, needs=seed_reports))
    return JobGraph(jobs)


def seed_jobs(data: DataRequest, out: Path, options: CompareOptions, prefix: str = "") -> list[Job]:
    """One seed's jobs, keyed under ``prefix``: train each task; merge with each method (and PAM, for the
    oracle); prune each merge (and the oracle's); then the seed's report. Each stage's model file (written
    last) marks it finished."""

    def key(*parts: str) -> str:
        return "/".join((prefix, *parts) if prefix else parts)

    common = {"data": data, "out": out, "options": options}
    tasks = [t.name for t in data.suite.tasks]
    trains = [
        Job(key("train", name), train_job, {**common, "index": i}, outputs=(out / "single" / f"{name}.json",))
        for i, name in enumerate(tasks)
    ]
    oracle = options.oracle and len(tasks) == 2
    merged = [*options.methods, *(["pam"] if oracle and "pam" not in options.methods else [])]
    merges = [
        Job(
            key("merge", method),
            merge_job,
            {**common, "method": method},
            needs=tuple(job.key for job in trains),
            outputs=(out / method / "merged" / f"{MODEL_STEM}.json",),
        )
        for method in merged
    ]
    prunes = [
        Job(
            key("prune", method),
            prune_job,
            {**common, "method": method},
            needs=(key("merge", method),),
            outputs=_pruned_files(out / method / "pruned"),
        )
        for method in options.methods
    ]
    if oracle:
        folder = out / ORACLE_DIR / combination_label(tuple(tasks))
        prunes.append(
            Job(key("oracle"), oracle_job, common, needs=(key("merge", "pam"),), outputs=_pruned_files(folder))
        )
    report = Job(key("report"), seed_report_job, common, needs=tuple(job.key for job in prunes))
    return [*trains, *merges, *prunes, report]


def _pruned_files(folder: Path) -> tuple[Path, ...]:
    return (folder / f"{MODEL_STEM}.json", folder / REPORT_FILE)


def _saved_report(out: Path) -> dict[str, Any]:
    report = read_json(out / "report.json", "run the comparison again with --resume")
    if not isinstance(report, dict):
        raise PamkitError(f"{out / 'report.json'} is not a comparison report; run the comparison again")
    return report


# The jobs. Each loads what it needs from ``out`` (a finished stage is reused, never redone) and writes its stage.


def train_job(data: DataRequest, out: Path, options: CompareOptions, index: int) -> None:
    """Train the single-task network of task ``index`` into ``out/single``."""
    splits = data.load()
    train_task(
        data.suite,
        index,
        data.arch,
        splits,
        out / "single",
        options.train,
        options.arch_kwargs,
        data.options,
        resume=True,
    )


def merge_job(data: DataRequest, out: Path, options: CompareOptions, method: str) -> None:
    """Merge the single-task networks with ``method`` into ``out/<method>/merged``."""
    splits = data.load()
    trained = single_task_networks(data, out / "single", options.train, options.arch_kwargs)
    merged_network(method, trained, splits, out / method / "merged", _merge_options(method, options))


def prune_job(data: DataRequest, out: Path, options: CompareOptions, method: str) -> None:
    """Prune ``method``'s merge into ``out/<method>/pruned`` (no merging: each network alone)."""
    splits = data.load()
    trained = single_task_networks(data, out / "single", options.train, options.arch_kwargs)
    merged = merged_network(method, trained, splits, out / method / "merged", _merge_options(method, options))
    _pruned(merged, method, splits, reference_scores(trained, splits.val), out / method / "pruned", options.prune)


def oracle_job(data: DataRequest, out: Path, options: CompareOptions) -> None:
    """PAM's merge pruned with all the cost weight on both tasks together (the two-task oracle's candidate)."""
    splits = data.load()
    trained = single_task_networks(data, out / "single", options.train, options.arch_kwargs)
    _oracle_prune(trained, splits, reference_scores(trained, splits.val), out, options)


def seed_report_job(data: DataRequest, out: Path, options: CompareOptions) -> None:
    """The seed's report from its finished stages: ``out/report.json``, report.md, cost.png, curves.png."""
    write_report(seed_report(data, out, options), out)


def seeds_report_job(out: Path, seeds: tuple[int, ...]) -> None:
    """The report over the seeds from each seed's ``report.json``."""
    per_seed = {seed: _saved_report(out / SEED_DIR.format(seed=seed)) for seed in seeds}
    report = aggregate(per_seed)
    report["command"] = current_command()
    write_seed_report(report, per_seed, out)


def seed_report(data: DataRequest, out: Path, options: CompareOptions) -> dict[str, Any]:
    """One seed's report: every method's scores, costs before and after pruning, curve and stop reason."""
    splits = data.load()
    suite = data.suite
    trained = single_task_networks(data, out / "single", options.train, options.arch_kwargs)
    reference = reference_scores(trained, splits.val)
    report: dict[str, Any] = {
        "suite": suite.name,
        "arch": data.arch,
        "tasks": [t.name for t in suite.tasks],
        "command": current_command(),
        "versions": package_versions(),
        "options": {"train": options.train.to_dict(), "prune": options.prune.to_dict(), "merge": asdict(options.merge)},
        "data": {
            "name": splits.name,
            "source": splits.source,
            "train": len(splits.train),
            "val": len(splits.val),
            "test": len(splits.test),
        },
        "reference": {"val": reference, "test": reference_scores(trained, splits.test)},
        "trivial": {"test": {t.name: t.trivial_score(splits.test.labels) for t in suite.tasks}},
        "methods": {},
    }
    for method in options.methods:
        merged = merged_network(method, trained, splits, out / method / "merged", _merge_options(method, options))
        pruned, record = _pruned(merged, method, splits, reference, out / method / "pruned", options.prune)
        entry = report["methods"][method] = _method_entry(merged, pruned, record, splits)
        _add_curve(entry, record, reference, options.prune.tolerance)
        print(
            f"== {method}: MACs of all tasks {entry['merged'][-1]['macs']:,} -> {entry['pruned'][-1]['macs']:,}; "
            + "test scores "
            + ", ".join(f"{task} {score:.4f}" for task, score in entry["test"].items())
            + f"; stopped: {entry['stop_reason']}"
        )
    if options.oracle and len(suite.tasks) == 2:
        report["oracle"] = _oracle(report, trained, splits, reference, out, options)
    return report


def _merge_options(method: str, options: CompareOptions) -> MergeOptions:
    """The shared trunk is trained jointly for as long as each network was trained alone."""
    if method == "shared":
        return replace(options.merge, finetune_epochs=options.train.epochs)
    return options.merge


def single_task_networks(
    data: DataRequest, out: Path, config: TrainConfig, arch_kwargs: dict[str, Any] | None = None
) -> list[TrainedTask]:
    """One ``data.arch`` network per task, trained into ``out``; a finished run there is reused, and so is each
    task checkpoint an earlier or interrupted run left (the folder is fresh unless the caller resumes it)."""
    suite, arch = data.suite, data.arch
    if (out / RUN_FILE).is_file():
        trained = load_run(out)
        names = [item.record.task.name for item in trained]
        if names != [t.name for t in suite.tasks] or trained[0].record.arch != arch:
            raise PamkitError(
                f"{out} holds {trained[0].record.arch} networks for tasks {names}, not {arch} for "
                f"suite {suite.name}; use another --out directory"
            )
        return trained
    if not all((out / f"{task.name}.json").is_file() for task in suite.tasks):  # else: each is reused, and says so
        print(f"== training one {arch} per task of {suite.name} into {out}")
    return train_suite(suite, arch, data.load(), out, config, arch_kwargs, data.options, resume=True)


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
    if not all(path.is_file() for path in _pruned_files(out)):
        checkpoints = Checkpoints(out / PROGRESS_DIR, resume=True)
        if method == "none":
            result = prune_separately(net, data, reference, options, checkpoints=checkpoints)
        else:
            result = prune(net, data, reference, options, checkpoint=checkpoints.named("joint"))
        save_pruned(out, result, options)
        checkpoints.clear()
    check_reusable(out, "pruning", options.to_dict(), JOINT_SEARCH_ONLY if method == "none" else ())
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
            net = _oracle_prune(trained, data, reference, out, options)
            candidates["pam pruned for this combination"] = cost_report(net)["combinations"][i]["macs"]
        if not candidates:
            continue
        source, macs = min(candidates.items(), key=lambda item: item[1])
        best.append({"tasks": list(tasks), "macs": macs, "source": source})
    return best


def _oracle_prune(
    trained: list[TrainedTask], data: DatasetSplits, reference: dict[str, float], out: Path, options: CompareOptions
) -> MultitaskNet:
    """PAM's merge pruned with all the cost weight on every task together, in ``out/oracle/<a+b>`` (or reused)."""
    tasks = tuple(item.record.task.name for item in trained)
    merged = merged_network("pam", trained, data, out / "pam" / "merged", options.merge)
    targeted = PruneOptions(**{**vars(options.prune), "combination_weights": {tasks: 1.0}})
    return _pruned(merged, "pam", data, reference, out / ORACLE_DIR / combination_label(tasks), targeted)[0]
