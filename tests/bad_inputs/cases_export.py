"""Bad input to `pamkit export`: numbers (NaN, inf, ranges), formats and combinations, and output folders that must
never be replaced (the model's own folder, a parent of it, a user's folder, another verb's output)."""

from __future__ import annotations

import os
from pathlib import Path

from .case import Case
from .workspace import Workspace


def export(*options: str, out: str = "{case}/export", model: str = "{none_model}") -> tuple[str, ...]:
    """An export command line of the none model into a new folder, plus ``options``."""
    return ("export", model, "--formats", "tflite", "--parity-samples", "1", "--out", out, *options)


def symlink_loop(case_dir: Path, ws: Workspace) -> None:
    os.symlink(case_dir / "loop", case_dir / "loop")


def overwrite_case(case_id: str, out: str, expect: str) -> Case:
    """``--overwrite`` aimed at a folder pamkit must never replace."""
    return Case(case_id, export("--overwrite", out=out), expect)


CASES = [
    # numbers: finite, in range, the right kind, each named by its flag
    Case("export-atol-inf", export("--atol", "inf"), "argument --atol: 'inf' is not a finite number"),
    Case("export-atol-negative", export("--atol", "-0.1"), "argument --atol: -0.1 is out of range"),
    Case("export-atol-word", export("--atol", "tight"), "argument --atol: 'tight' is not a number"),
    Case("export-rtol-nan", export("--rtol", "nan"), "argument --rtol: 'nan' is not a finite number"),
    Case("export-rtol-negative", export("--rtol", "-1"), "argument --rtol: -1 is out of range"),
    Case("export-int8-tolerance-nan", export("--int8-tolerance", "nan"), "--int8-tolerance: 'nan' is not a finite"),
    Case("export-int8-tolerance-above-one", export("--int8-tolerance", "1.5"), "--int8-tolerance: 1.5 is out of range"),
    Case("export-int8-tolerance-negative-inf", export("--int8-tolerance=-inf"), "not a finite number"),
    Case("export-parity-samples-zero", export("--parity-samples", "0"), "--parity-samples: 0 is out of range"),
    Case("export-parity-samples-fraction", export("--parity-samples", "2.5"), "'2.5' is not an integer"),
    Case("export-parity-samples-word", export("--parity-samples", "many"), "'many' is not an integer"),
    Case("export-jobs-negative", export("--jobs", "-2"), "argument --jobs: -2 is out of range"),
    Case("export-jobs-nan", export("--jobs", "nan"), "argument --jobs: 'nan' is not an integer"),
    # formats and combinations
    Case("export-unknown-format", export("--formats", "tflite,onnx"), "unknown export formats ['onnx']"),
    Case("export-no-format", export("--formats", " , "), "unknown export formats (none given)"),
    Case("export-coreml-legacy-without-coreml", export("--coreml-legacy"), "add coreml to the formats"),
    Case("export-unknown-task", export("--combinations", "odd+nine"), "unknown task 'nine'"),
    Case("export-empty-combination", export("--combinations", "odd,,high"), "empty task combination"),
    Case("export-swift-type-lowercase", export("--swift-type", "model"), "--swift-type must be a Swift type name"),
    Case("export-swift-type-dash", export("--swift-type", "My-Model"), "--swift-type must be a Swift type name"),
    # the model
    Case("export-model-missing", export(model="{case}/absent.json"), "not found"),
    Case("export-model-is-an-export", export(model="{export}"), "folder without model.json"),
    # output folders: checked before any work, never replaced unless pamkit's own export
    Case("export-out-is-a-file", export(out="{user_file}"), "is a file, not a folder"),
    Case("export-out-under-a-file", export(out="{user_file}/export"), "which is a file"),
    Case("export-out-is-the-manifest", export(out="{export}/manifest.json"), "is a file, not a folder"),
    Case("export-out-existing-export", export(out="{export}"), "pass --overwrite to replace it"),
    Case("export-out-empty-string", export(out=""), "not a usable path"),
    Case("export-out-nul", export(out="{case}/a\0b"), "not a usable path"),
    Case("export-out-symlink-loop", export(out="{case}/loop"), "cannot be resolved", setup=symlink_loop),
    Case("export-out-unwritable", export(out="/proc/pamkit-x"), "/proc is not writable"),
    overwrite_case("export-overwrite-model-folder", "{none_model}/..", "would replace the folder of the input"),
    overwrite_case("export-overwrite-parent-of-model", "{none_model}/../..", "would replace the folder of the input"),
    overwrite_case("export-overwrite-user-folder", "{user_dir}", "files pamkit did not write"),
    overwrite_case("export-overwrite-training-run", "{run}", "`pamkit train` output"),
    overwrite_case("export-overwrite-merge-folder", "{pam_model}/..", "`pamkit merge` output"),
]
