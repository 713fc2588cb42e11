"""Bad input to `pamkit bench` and `pamkit bench report`: numbers (NaN switches the thermal gate off), CPUs, targets
and formats that do not go together, output paths checked before measuring, crafted exports and results files."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pamkit.export import checksum

from .case import Case
from .cases_train import Setup, copied, edit_json, written
from .workspace import Workspace


def bench(*options: str, export: str = "{export}", out: str = "{case}/results.json") -> tuple[str, ...]:
    """A short bench command line of the workspace export, plus ``options``."""
    return ("bench", export, "--runs", "2", "--warmup", "0", "--no-energy", "--out", out, *options)


def report(*results: str, out: str = "{case}/report") -> tuple[str, ...]:
    return ("bench", "report", *results, "--out", out)


def export_of(ws: Workspace) -> Path:
    return ws.export


def manifest_edit(change: Callable[[dict[str, Any]], Any]) -> Setup:
    """A copy of the workspace export at ``{case}/export`` whose manifest ``change`` edited."""
    return copied(export_of, "export", ("manifest.json", change))


def first_file(path: str) -> Callable[[dict[str, Any]], None]:
    def change(manifest: dict[str, Any]) -> None:
        manifest["files"][0]["path"] = path
    return change


def ghost_entry(manifest: dict[str, Any]) -> None:
    """A combination the artifacts do not hold."""
    manifest["combinations"].append({**manifest["combinations"][0], "entry": "ghost"})


def wrong_input_shape(manifest: dict[str, Any]) -> None:
    manifest["input"]["shape"] = [1, 1, 32, 32]


def tampered(name: str, damage: Callable[[bytes], bytes]) -> Setup:
    """A copy of the export with one artifact damaged and its checksum and size recomputed in the manifest."""
    def setup(case_dir: Path, ws: Workspace) -> None:
        shutil.copytree(ws.export, case_dir / "export")
        artifact = case_dir / "export" / name
        artifact.write_bytes(damage(artifact.read_bytes()))

        def change(manifest: dict[str, Any]) -> None:
            item = next(f for f in manifest["files"] if f["path"] == name)
            item.update(sha256=checksum(artifact), size=artifact.stat().st_size)
        edit_json(case_dir / "export" / "manifest.json", change)
    return setup


def results_edit(change: Callable[[dict[str, Any]], Any]) -> Setup:
    """``{case}/results.json``: the workspace's bench results after ``change``."""
    def setup(case_dir: Path, ws: Workspace) -> None:
        shutil.copy(ws.results, case_dir / "results.json")
        edit_json(case_dir / "results.json", change)
    return setup


def no_cases(results: dict[str, Any]) -> None:
    results["cases"] = []


def median_as_text(results: dict[str, Any]) -> None:
    results["cases"][0]["stats"]["median"] = "fast"


def not_an_object(results: dict[str, Any]) -> None:
    results.clear()  # edit_json writes the (empty) object; the list case below writes a list


def results_with_nan(case_dir: Path, ws: Workspace) -> None:
    text = ws.results.read_text().replace('"load_ms": ', '"load_ms": NaN, "x": ', 1)
    (case_dir / "results.json").write_text(text)


def report_folder_of_another_verb(case_dir: Path, ws: Workspace) -> None:
    copied(export_of, "report")(case_dir, ws)


NUMBERS = [
    ("thermal-limit-nan", ("--thermal-limit", "nan"), "argument --thermal-limit: 'nan' is not a finite number"),
    ("thermal-limit-zero", ("--thermal-limit", "0"), "argument --thermal-limit: 0 is out of range"),
    ("runs-zero", ("--runs", "0"), "argument --runs: 0 is out of range"),
    ("runs-inf", ("--runs", "inf"), "argument --runs: 'inf' is not an integer"),
    ("warmup-negative", ("--warmup", "-1"), "argument --warmup: -1 is out of range"),
    ("threads-zero", ("--threads", "0"), "argument --threads: 0 is out of range"),
    ("threads-huge", ("--threads", "100000"), "argument --threads: 100000 is out of range"),
    ("cooldown-nan", ("--cooldown-ms", "nan"), "argument --cooldown-ms: 'nan' is not a finite number"),
    ("energy-runs-zero", ("--energy-runs", "0"), "argument --energy-runs: 0 is out of range"),
    ("timeout-zero", ("--timeout", "0"), "argument --timeout: 0 is out of range"),
    ("timeout-nan", ("--timeout", "nan"), "argument --timeout: 'nan' is not a finite number"),
    ("seed-negative", ("--seed", "-3"), "argument --seed: -3 is out of range"),
    ("seed-too-large", ("--seed", str(2**40)), "out of range"),
    ("seed-word", ("--seed", "lucky"), "argument --seed: 'lucky' is not an integer"),
]

CASES = [
    *(Case(f"bench-{name}", bench(*argv), expect) for name, argv, expect in NUMBERS),
    # CPUs to pin to: checked before measuring
    Case("bench-pin-missing-cpu", bench("--pin", "99"), "--pin 99: CPUs [99] do not exist"),
    Case("bench-pin-reversed-range", bench("--pin", "3-1"), "cannot read CPU list '3-1'"),
    Case("bench-pin-word", bench("--pin", "all"), "cannot read CPU list 'all'"),
    Case("bench-pin-huge-range", bench("--pin", "0-99999999999"), "cannot read CPU list"),
    # targets, runners and formats that do not go together
    Case("bench-coreml-on-linux", bench("--format", "coreml"), "Core ML prediction runs only on macOS"),
    Case("bench-unknown-format", bench("--format", "onnx"), "argument --format: invalid choice"),
    Case("bench-unknown-target", bench("--target", "watch"), "unknown target 'watch'"),
    Case("bench-host-with-serial", bench("--target", "host:0A1B"), "unknown target 'host:0A1B'"),
    Case("bench-native-runner-on-emulated", bench("--target", "emulated-arm64", "--runner", "native"),
         "--runner native applies to --target host only"),
    Case("bench-native-runner-tflite", bench("--runner", "native", "--format", "tflite"),
         "the native runner runs ExecuTorch .pte files, not tflite"),
    Case("bench-emulated-tflite", bench("--target", "emulated-arm64", "--format", "tflite"),
         "--target emulated-arm64 runs ExecuTorch .pte files"),
    Case("bench-benchmark-model-on-host", bench("--benchmark-model", "{user_file}"),
         "--benchmark-model applies to --target android"),
    Case("bench-runner-binary-on-host", bench("--runner-binary", "{user_file}"),
         "--runner-binary applies to --target android"),
    Case("bench-duplicate-labels", ("bench", "a={export}", "a={export}", "--out", "{case}/r.json"),
         "two artifacts are labelled 'a'"),
    # the results path: checked before measuring, a user's file never replaced
    Case("bench-out-is-a-folder", bench(out="{user_dir}"), "is a folder; give a file path"),
    Case("bench-out-is-a-users-file", bench(out="{user_file}"), "was not written by pamkit"),
    Case("bench-out-is-the-manifest", bench(out="{export}/manifest.json"), "is also an input"),
    Case("bench-out-under-a-file", bench(out="{user_file}/results.json"), "which is a file"),
    Case("bench-out-unwritable", bench(out="/proc/pamkit-x/results.json"), "/proc is not writable"),
    Case("bench-overwrite-without-report", bench("--overwrite"), "unrecognized arguments: --overwrite"),
    # crafted or damaged exports (checksums recomputed, so only the runtime or the path rules can tell)
    Case("bench-manifest-absolute-path", bench(export="{case}/export"), "not a path relative to its folder",
         setup=manifest_edit(first_file("/etc/passwd"))),
    Case("bench-manifest-path-escapes", bench(export="{case}/export"), "lies outside its folder",
         setup=manifest_edit(first_file("../../../../../../etc/passwd"))),
    Case("bench-manifest-nan", bench(export="{case}/export"), "non-finite number NaN",
         setup=copied(export_of, "export", ("manifest.json", lambda m: m["tasks"][0]["accuracy"].update(
             score=float("nan"))))),
    Case("bench-manifest-not-json", bench(export="{case}/export"), "is not valid JSON",
         setup=lambda case_dir, ws: (copied(export_of, "export")(case_dir, ws),
                                     written("export/manifest.json", "{'not': json")(case_dir, ws))),
    Case("bench-manifest-missing-entry", bench(export="{case}/export"), "has no entry point 'ghost'",
         setup=manifest_edit(ghost_entry)),
    Case("bench-manifest-wrong-input-shape", bench(export="{case}/export"), "takes inputs of shape",
         setup=manifest_edit(wrong_input_shape)),
    Case("bench-truncated-pte", bench(export="{case}/export"), "model.pte with the executorch runtime failed",
         setup=tampered("model.pte", lambda data: data[:len(data) // 2])),
    Case("bench-garbage-tflite", bench("--format", "tflite", export="{case}/export"),
         "model.tflite with the tflite runtime failed", setup=tampered("model.tflite", lambda data: b"\0" * 512)),
    Case("bench-not-an-export", bench(export="{user_dir}"), "manifest.json not found"),
    # bench report: every results file checked before a report folder is made
    Case("bench-report-no-cases", report("{case}/results.json"), "should be non-empty",
         setup=results_edit(no_cases)),
    Case("bench-report-wrong-type", report("{case}/results.json"), "'fast' is not of type",
         setup=results_edit(median_as_text)),
    Case("bench-report-empty-object", report("{case}/results.json"), "is a required property",
         setup=results_edit(not_an_object)),
    Case("bench-report-a-list", report("{case}/results.json"), "is not of type 'object'",
         setup=written("results.json", "[1, 2]")),
    Case("bench-report-nan", report("{case}/results.json"), "non-finite number NaN", setup=results_with_nan),
    Case("bench-report-missing-file", report("{case}/absent.json"), "not found"),
    Case("bench-report-no-results", ("bench", "report"), "needs one or more results files"),
    Case("bench-report-out-users-folder", report("{results}", out="{user_dir}"), "files pamkit did not write"),
    Case("bench-report-out-another-verb", report("{results}", out="{case}/report"), "`pamkit export` output",
         setup=report_folder_of_another_verb),
    Case("bench-report-out-parent-of-results", report("{results}", out="{results}/.."),
         "would replace the folder of the input"),
]
