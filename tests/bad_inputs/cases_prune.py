"""Bad input to `pamkit prune`: numbers, references and combination weights, models, their sources, output folders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .case import Case
from .cases_train import copied, written
from .workspace import Workspace


def none_folder(ws: Workspace) -> Path:
    return ws.none_model.parent


def sources(value: Callable[[list[str]], Any]) -> tuple[str, Callable[[dict], None]]:
    """An edit of model.json replacing the recorded sources with ``value(old sources)``."""
    def change(sidecar: dict) -> None:
        provenance = sidecar["structure"]["provenance"]
        provenance["sources"] = value(provenance["sources"])
    return "model.json", change


def prune(*extra: str, model: str = "{none_model}", out: str = "{case}/pruned") -> tuple[str, ...]:
    return ("prune", model, *extra, "--out", out)


def _unfinished_prune(case_dir: Path, ws: Workspace) -> None:
    """An interrupted prune's folder, started with other settings than the case's command."""
    (case_dir / "pruned").mkdir()
    written("pruned/.pamkit-output.json", '{"writer": "prune", "complete": false, "options": {"step": 0.5}}')(
        case_dir, ws)


CASES = [
    # numbers
    Case("prune-tolerance-nan", prune("--tolerance", "nan"), "not a finite"),
    Case("prune-tolerance-above-one", prune("--tolerance", "2"), "--tolerance"),
    Case("prune-step-zero", prune("--step", "0"), "--step"),
    Case("prune-max-steps-zero", prune("--max-steps", "0"), "--max-steps"),
    Case("prune-final-epochs-negative", prune("--final-epochs", "-1"), "--final-epochs"),
    Case("prune-explore-past-above-one", prune("--explore-past", "1.5"), "--explore-past"),
    Case("prune-target-macs-zero", prune("--target-macs", "0"), "--target-macs"),
    Case("prune-target-macs-nan", prune("--target-macs", "nan"), "not a finite"),
    Case("prune-distill-weight-above-one", prune("--distill-weight", "2"), "--distill-weight"),
    Case("prune-temperature-zero", prune("--temperature", "0"), "--temperature"),
    Case("prune-lr-infinite", prune("--lr", "inf"), "not a finite"),
    Case("prune-batch-size-zero", prune("--batch-size", "0"), "--batch-size"),
    Case("prune-finetune-samples-negative", prune("--finetune-samples", "-5"), "--finetune-samples"),
    Case("prune-finetune-samples-below-batch", prune("--finetune-samples", "10"), "below one batch"),
    Case("prune-seed-fraction", prune("--seed", "0.5"), "--seed"),
    Case("prune-limit-zero", prune("--limit", "0"), "--limit"),
    # --reference: every task once, a score in [0, 1]
    Case("prune-reference-above-one", prune("--reference", "odd=5,high=0.9"), "--reference odd"),
    Case("prune-reference-nan", prune("--reference", "odd=nan,high=0.9"), "finite"),
    Case("prune-reference-negative", prune("--reference", "odd=-0.1,high=0.9"), "--reference odd"),
    Case("prune-reference-unknown-task", prune("--reference", "digit=0.5,odd=0.9,high=0.9"), "'digit'"),
    Case("prune-reference-missing-task", prune("--reference", "odd=0.9"), "lacks task 'high'"),
    Case("prune-reference-twice", prune("--reference", "odd=0.9,odd=0.8,high=0.9"), "odd twice"),
    Case("prune-reference-not-pairs", prune("--reference", "odd"), "NAME=NUMBER"),
    # --combination-weights: known tasks, each combination once, finite and >= 0
    Case("prune-weights-unknown-task", prune("--combination-weights", "odd+digit=1"), "unknown task 'digit'"),
    Case("prune-weights-permuted-twice", prune("--combination-weights", "odd+high=1,high+odd=2"), "two weights"),
    Case("prune-weights-same-twice", prune("--combination-weights", "odd=1,odd=2"), "twice"),
    Case("prune-weights-task-twice", prune("--combination-weights", "odd+odd=1"), "names odd twice"),
    Case("prune-weights-negative", prune("--combination-weights", "odd=-1"), "weight of combination odd"),
    Case("prune-weights-infinite", prune("--combination-weights", "odd=inf"), "finite"),
    Case("prune-weights-all-zero", prune("--combination-weights", "odd=0"), "zero"),
    # options that do not apply
    Case("prune-recipe-unknown", prune("--recipe", "kd"), "invalid choice: 'kd'"),
    Case("prune-temperature-with-labels", prune("--recipe", "labels", "--temperature", "3"),
         "apply only to --recipe distill"),
    Case("prune-absolute-target-one-at-a-time", prune("--target-macs", "50000"), "add --jointly"),
    Case("prune-jointly-on-a-merge", prune("--jointly", model="{mtz_model}"), "--jointly applies only"),
    # the model and its recorded sources
    Case("prune-model-missing", prune(model="{case}/model.json"), "not found"),
    Case("prune-model-user-folder", prune(model="{user_dir}"), "without model.json"),
    Case("prune-model-run-folder", prune(model="{run}"), "training run"),
    Case("prune-model-single-task", prune(model="{run}/odd.json"), "not a 'multitask'"),
    Case("prune-model-pickle", prune(model="{case}/model.pth"), "pickle",
         setup=written("model.pth", b"\x80\x04K\x01.")),
    Case("prune-sources-absolute", prune(model="{case}/none"), "absolute path",
         setup=copied(none_folder, "none", sources(lambda old: ["/etc/passwd", *old[1:]]))),
    Case("prune-sources-not-a-list", prune(model="{case}/none"), "must be a list",
         setup=copied(none_folder, "none", sources(lambda old: "../run/odd.json"))),
    Case("prune-sources-gone", prune(model="{case}/none"), "missing", setup=copied(none_folder, "none")),
    Case("prune-source-is-a-model", prune(model="{case}/none"), "not a 'single-task'",
         setup=copied(none_folder, "none", sources(lambda old: ["model.json", "model.json"]))),
    # output folders
    Case("prune-out-model-folder", prune(out="{none_model}/.."), "folder of the input"),
    Case("prune-out-above-model", prune(out="{none_model}/../.."), "folder of the input"),
    Case("prune-out-run-folder", prune(out="{run}"), "`pamkit train` output"),
    Case("prune-out-user-folder", prune(out="{user_dir}"), "did not write"),
    Case("prune-out-is-file", prune(out="{user_file}"), "is a file"),
    Case("prune-out-under-file", prune(out="{user_file}/pruned"), "which is a file"),
    Case("prune-out-unwritable", prune(out="/proc/pamkit-prune"), "/proc/pamkit-prune"),
    Case("prune-resume-and-overwrite", prune("--resume", "--overwrite"), "not allowed with"),
    Case("prune-unfinished-without-resume", prune(), "pass --resume", setup=_unfinished_prune),
    Case("prune-resume-other-settings", prune("--resume"), "other settings", setup=_unfinished_prune),
    # a prune that removes nothing is not a result: exit 1, one line, nothing written
    Case("prune-removed-nothing", prune("--reference", "odd=1,high=1", "--finetune-samples", "0",
                                        model="{mtz_model}"), "removed nothing", exit_code=1),
]
