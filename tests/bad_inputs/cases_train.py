"""Bad input to `pamkit train` and `pamkit eval`: numbers, task lists, output folders, crafted checkpoints and runs.

The setup helpers here (copies of workspace artifacts, JSON edits) are shared by the other stage modules.
"""

from __future__ import annotations

import json
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from .case import Case
from .workspace import Workspace

Setup = Callable[[Path, Workspace], None]


def edit_json(path: Path, change: Callable[[dict[str, Any]], Any]) -> None:
    """Rewrite a JSON file after ``change`` edited its document in place."""
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def copied(source: Callable[[Workspace], Path], name: str, *edits: tuple[str, Callable[[dict], Any]]) -> Setup:
    """A setup copying a workspace folder (or a file's folder) to ``{case}/name``, then editing JSON files in it."""
    def setup(case_dir: Path, ws: Workspace) -> None:
        path = source(ws)
        shutil.copytree(path if path.is_dir() else path.parent, case_dir / name)
        for file, change in edits:
            edit_json(case_dir / name / file, change)
    return setup


def written(name: str, content: str | bytes) -> Setup:
    """A setup writing one file into the case folder."""
    def setup(case_dir: Path, ws: Workspace) -> None:
        path = case_dir / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    return setup


def unfinished(document: dict[str, Any]) -> None:
    """Mark a pamkit output folder's marker as interrupted."""
    document["complete"] = False


def run_of(ws: Workspace) -> Path:
    return ws.run


def _torch_saved(case_dir: Path, ws: Workspace) -> None:
    torch.save({"w": torch.zeros(2)}, case_dir / "model.pt")


def _set(key: str, value: Any) -> Callable[[dict], None]:
    return lambda document: document.__setitem__(key, value)


def _checkpoint(value: str) -> Callable[[dict], None]:
    return lambda document: document["tasks"]["odd"].__setitem__("checkpoint", value)


def _unfinished_run(case_dir: Path, ws: Workspace) -> None:
    copied(run_of, "run", (".pamkit-output.json", unfinished))(case_dir, ws)
    (case_dir / "run" / "run.json").unlink()


TRAIN = ("train", "--suite", "digits", "--arch", "lenet5", "--tasks", "odd", "--epochs", "1", "--limit", "100",
         "--size", "16")
RESUMED = ("train", "--suite", "digits", "--arch", "lenet5", "--tasks", "odd,high", "--epochs", "2", "--limit", "400",
           "--size", "16")  # the workspace run's own options (then one changed)


def train(*extra: str, out: str = "{case}/run") -> tuple[str, ...]:
    return (*TRAIN, *extra, "--out", out)


def importing(weights: str, *extra: str, task: str = "odd", out: str = "{case}/imported") -> tuple[str, ...]:
    return ("import", "--arch", "lenet5", "--weights", weights, "--suite", "digits", "--task", task, "--size", "16",
            "--limit", "100", *extra, "--out", out)


def _lenet_weights(outputs: int) -> Setup:
    """A setup saving a fresh LeNet-5 state dict with ``outputs`` outputs (16 px) as ``{case}/w.safetensors``."""
    def setup(case_dir: Path, ws: Workspace) -> None:
        from safetensors.torch import save_file

        from pamkit.models import build_single_task

        save_file(build_single_task("lenet5", 1, 16, outputs).state_dict(), case_dir / "w.safetensors")
    return setup


def _pickled_model(case_dir: Path, ws: Workspace) -> None:
    from pamkit.models import build_single_task

    torch.save(build_single_task("lenet5", 1, 16, 1), case_dir / "w.pt")


CASES = [
    # numbers: finite, integral where they count, in range; the flag is named
    Case("train-epochs-zero", train("--epochs", "0"), "--epochs"),
    Case("train-epochs-fraction", train("--epochs", "2.5"), "--epochs"),
    Case("train-lr-nan", train("--lr", "nan"), "not a finite"),
    Case("train-lr-zero", train("--lr", "0"), "--lr"),
    Case("train-lr-infinite", train("--lr", "inf"), "not a finite"),
    Case("train-batch-size-negative", train("--batch-size", "-8"), "--batch-size"),
    Case("train-patience-zero", train("--patience", "0"), "--patience"),
    Case("train-seed-negative", train("--seed", "-1"), "--seed"),
    Case("train-seed-huge", train("--seed", "99999999999"), "--seed"),
    Case("train-size-zero", train("--size", "0"), "--size"),
    Case("train-limit-zero", train("--limit", "0"), "--limit"),
    Case("train-val-fraction-nan", train("--val-fraction", "nan"), "--val-fraction"),
    Case("train-val-fraction-one", train("--val-fraction", "1"), "val_fraction"),
    Case("train-val-fraction-word", train("--val-fraction", "tenth"), "--val-fraction"),
    # task lists: never silently "all tasks"
    Case("train-tasks-empty", train("--tasks", ""), "--tasks"),
    Case("train-tasks-empty-item", train("--tasks", "odd,,high"), "empty task name"),
    Case("train-tasks-repeated", train("--tasks", "odd,odd"), "more than once"),
    Case("train-tasks-unknown", train("--tasks", "odd,prime"), "prime"),
    Case("train-arch-option-unknown", train("--arch-arg", "depth=3"), "depth"),
    Case("train-arch-option-nan", ("train", "--suite", "digits", "--arch", "vgg", "--arch-arg", "width=.nan",
                                   "--size", "16", "--limit", "100", "--out", "{case}/run"), "finite"),
    # output folders: checked before the data is loaded, never mixed, never someone else's
    Case("train-out-is-file", train(out="{user_file}"), "is a file"),
    Case("train-out-under-file", train(out="{user_file}/run"), "which is a file"),
    Case("train-out-user-folder", train(out="{user_dir}"), "did not write"),
    Case("train-overwrite-user-folder", train("--overwrite", out="{user_dir}"), "did not write"),
    Case("train-out-finished-run", train(out="{run}"), "--overwrite"),
    Case("train-resume-finished-run", train("--resume", out="{run}"), "a finished"),
    Case("train-resume-and-overwrite", train("--resume", "--overwrite"), "not allowed with"),
    Case("train-out-unwritable", train(out="/proc/pamkit-run"), "/proc/pamkit-run"),
    Case("train-unfinished-without-resume", (*RESUMED, "--out", "{case}/run"), "--resume",
         setup=copied(run_of, "run", (".pamkit-output.json", unfinished))),
    Case("train-resume-other-settings", (*RESUMED[:-4], "--limit", "300", "--size", "16", "--resume", "--out",
                                         "{case}/run"), "data.limit",
         setup=copied(run_of, "run", (".pamkit-output.json", unfinished))),
    # eval: crafted or broken checkpoints and runs
    Case("eval-missing-checkpoint", ("eval", "{case}/nothing.json"), "not found"),
    Case("eval-pickle", ("eval", "{case}/model.pt"), "pickle", setup=_torch_saved),
    Case("eval-pickle-as-safetensors", ("eval", "{case}/odd.safetensors"), "pickle",
         setup=lambda case_dir, ws: (written("odd.safetensors", pickle.dumps({"a": 1}))(case_dir, ws),
                                     shutil.copy(ws.run / "odd.json", case_dir))),
    Case("eval-sidecar-not-json", ("eval", "{case}/run/odd.json"), "not valid JSON",
         setup=lambda case_dir, ws: (copied(run_of, "run")(case_dir, ws),
                                     (case_dir / "run" / "odd.json").write_text("{\"format\": "))),
    Case("eval-sidecar-nan", ("eval", "{case}/run/odd.json"), "non-finite",
         setup=lambda case_dir, ws: (copied(run_of, "run")(case_dir, ws),
                                     (case_dir / "run" / "odd.json").write_text("{\"format\": NaN}"))),
    Case("eval-sidecar-weights-parent", ("eval", "{case}/run/odd.json"), "outside its folder",
         setup=copied(run_of, "run", ("odd.json", _set("weights", "../odd.safetensors")))),
    Case("eval-sidecar-weights-absolute", ("eval", "{case}/run/odd.json"), "not a path relative",
         setup=copied(run_of, "run", ("odd.json", _set("weights", "/etc/passwd")))),
    Case("eval-sidecar-other-kind", ("eval", "{case}/run/odd.json"), "not a 'single-task'",
         setup=copied(run_of, "run", ("odd.json", _set("kind", "bench-results")))),
    Case("eval-sidecar-future-version", ("eval", "{case}/run/odd.json"), "format version 7",
         setup=copied(run_of, "run", ("odd.json", _set("format_version", 7)))),
    Case("eval-weights-tampered", ("eval", "{case}/run/odd.json"), "checksum",
         setup=lambda case_dir, ws: (copied(run_of, "run")(case_dir, ws),
                                     shutil.copy(ws.run / "high.safetensors", case_dir / "run" / "odd.safetensors"))),
    Case("eval-run-checkpoint-escapes", ("eval", "{case}/run"), "outside its folder",
         setup=copied(run_of, "run", ("run.json", _checkpoint("../../run/odd.json")))),
    Case("eval-run-checkpoint-absolute", ("eval", "{case}/run"), "not a path relative",
         setup=copied(run_of, "run", ("run.json", _checkpoint("/etc/passwd")))),
    Case("eval-run-json-not-json", ("eval", "{case}/run"), "not valid JSON",
         setup=lambda case_dir, ws: (copied(run_of, "run")(case_dir, ws),
                                     (case_dir / "run" / "run.json").write_text("[1, 2"))),
    Case("eval-run-json-no-tasks", ("eval", "{case}/run"), "lists no checkpoints",
         setup=copied(run_of, "run", ("run.json", _set("tasks", [])))),
    Case("eval-unfinished-run", ("eval", "{case}/run"), "--resume", setup=_unfinished_run),
    Case("eval-user-folder", ("eval", "{user_dir}"), "not a pamkit run directory"),
    Case("eval-bad-split", ("eval", "{run}", "--split", "dev"), "invalid choice"),
    # your own architecture, by import path
    Case("train-arch-module-missing", ("train", "--suite", "digits", "--arch", "nosuchmodule:Net", "--limit", "100",
                                       "--out", "{case}/run"), "cannot import module 'nosuchmodule'"),
    Case("train-arch-attribute-missing", ("train", "--suite", "digits", "--arch", "torch.nn:NoSuchNet", "--limit",
                                          "100", "--out", "{case}/run"), "has no 'NoSuchNet'"),
    Case("train-arch-not-a-network", ("train", "--suite", "digits", "--arch", "torch.nn:Linear", "--limit", "100",
                                      "--out", "{case}/run"), "torch.nn:Linear() failed"),
    Case("train-arch-ends-in-softmax", ("train", "--suite", "digits", "--arch", "torch.nn:Softmax", "--limit", "100",
                                        "--out", "{case}/run"), "not from an nn.Linear"),
    # pamkit import: weights that do not fit, files that are not weights, tasks and folders
    Case("import-weights-missing", importing("{case}/w.safetensors"), "does not exist"),
    Case("import-unknown-task", importing("{run}/odd.safetensors", task="prime"), "unknown task 'prime'"),
    Case("import-head-of-other-task", importing("{case}/w.safetensors"), "has 10 outputs but task 'odd' has 1",
         setup=_lenet_weights(10)),
    Case("import-other-input-size", importing("{case}/w.safetensors", "--size", "20"), "does not fit",
         setup=_lenet_weights(1)),
    Case("import-pickled-model", importing("{case}/w.pt"), "beyond tensors", setup=_pickled_model),
    Case("import-not-a-state-dict", importing("{case}/w.pt"), "not a state dict",
         setup=lambda case_dir, ws: torch.save([torch.zeros(2)], case_dir / "w.pt")),
    Case("import-into-user-folder", importing("{run}/odd.safetensors", out="{user_dir}"), "did not write"),
]
