"""``bench``: latency (and energy where a counter exists) of exported entry points on a target.

Several artifacts (e.g. the PAM model and the separately pruned networks) are measured in one
run, their entry points interleaved, so that their ratio holds on a noisy machine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import PamkitError
from ..export import MANIFEST, artifact_path, load_manifest, parse_combinations
from ..export.console import guarded
from ..export.formats import FORMATS, ExecuTorchFormat, Signature, TFLiteFormat
from ..io import read_json, write_json
from ..outputs import check_output_file
from ..schemas import check_schema, packaged_schema
from ..train.run import current_command
from ..versions import package_versions
from .cases import Case
from .energy import estimate_energy
from .stats import spread_warning, summarize
from .targets import (
    LOAD_FIX,
    AndroidBenchmarkModel,
    AndroidRunner,
    Apple,
    EmulatedArm64,
    HostRunner,
    InProcess,
    Settings,
    Target,
)

TARGETS = ("host", "emulated-arm64", "android[:SERIAL]", "apple")
SCHEMA_FILE = "results.schema.json"
RESULTS_SCHEMA = "pamkit-bench-results"
RUNNER_FORMATS = tuple(name for name, f in FORMATS.items() if issubclass(f, ExecuTorchFormat))  # .pte: the runner
TFLITE_FORMATS = tuple(name for name, f in FORMATS.items() if issubclass(f, TFLiteFormat))


@dataclass(frozen=True)
class BenchOptions:
    """Where and how to benchmark."""

    target: str = "host"
    format: str = "executorch"
    runner: str = "python"  # host only: python (official runtimes in-process) or native (C++ runner)
    combinations: str = "all"  # "all" or "a+b,a"
    settings: Settings = field(default_factory=Settings)
    energy: bool = True
    runner_binary: str | None = None  # android: the arm64 runner built with the NDK
    benchmark_model: str | None = None  # android + tflite: TFLite's benchmark_model binary

    def __post_init__(self) -> None:
        """Refuse an unknown value or an option that does not apply to the target, before anything runs."""
        kind, _, serial = self.target.partition(":")
        if kind not in ("host", "emulated-arm64", "android", "apple") or (serial and kind != "android"):
            raise PamkitError(f"unknown target {self.target!r}; choose from {', '.join(TARGETS)}")
        if self.format not in FORMATS:
            raise PamkitError(f"unknown format {self.format!r}; choose from {', '.join(FORMATS)}")
        if self.runner not in ("python", "native"):
            raise PamkitError(f"unknown runner {self.runner!r}; choose python or native")
        if not isinstance(self.settings, Settings):
            raise PamkitError(f"settings must be a pamkit.bench.Settings, got {type(self.settings).__name__}")
        _check_target_options(self, kind)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def _check_target_options(options: BenchOptions, kind: str) -> None:
    """Which format, runner and binaries each target takes; anything else is named, not ignored."""
    android_tflite = kind == "android" and options.format in TFLITE_FORMATS
    if options.runner == "native" and kind != "host":
        raise PamkitError(f"--runner native applies to --target host only; {kind} runs its own way")
    native = (
        (kind == "host" and options.runner == "native")
        or kind == "emulated-arm64"
        or (kind == "android" and not android_tflite)
    )
    if native and options.format not in RUNNER_FORMATS:
        where = "the native runner" if kind == "host" else f"--target {kind}"
        raise PamkitError(
            f"{where} runs ExecuTorch .pte files, not {options.format}; use --format "
            f"{' or '.join(RUNNER_FORMATS)}" + (" (or tflite through --benchmark-model)" if kind == "android" else "")
        )
    reason = FORMATS[options.format]().cannot_run() if kind in ("host", "apple") and not native else None
    if reason is not None:
        raise PamkitError(
            f"--format {options.format} cannot be benchmarked here: {reason}; benchmark executorch or "
            "tflite instead, or run on a machine where it runs"
        )
    if options.runner_binary and (kind != "android" or android_tflite):
        raise PamkitError("--runner-binary applies to --target android with an ExecuTorch format only")
    if options.benchmark_model and not android_tflite:
        raise PamkitError("--benchmark-model applies to --target android with --format tflite only")


def bench(
    artifacts: Mapping[str, str | Path], options: BenchOptions = BenchOptions(), progress: bool = True
) -> dict[str, Any]:
    """Benchmark the entry points of exported artifacts (label -> export directory); the results, schema-checked."""
    cases = load_cases(artifacts, options.format, options.combinations)
    target = make_target(options)
    target.check(options.format, options.settings)
    error = target.measure(options.format, cases, options.settings, progress)
    sampler = target.sampler() if options.energy else None
    reason = "energy not requested (--no-energy)" if sampler is None else sampler.unavailable()
    for case in cases:
        if sampler is not None and reason is None:
            target.energy(options.format, case, options.settings, sampler)
        else:
            case.energy = {
                "source": getattr(sampler, "name", "none"),
                "joules": None,
                "note": f"not measured: {reason}",
            }
    results = _results(artifacts, cases, target, options, error)
    validate_results(results)
    return results


def make_target(options: BenchOptions) -> Target:
    """The target object for ``--target`` (and the host's ``--runner``)."""
    kind, _, serial = options.target.partition(":")
    if kind == "host":
        return HostRunner() if options.runner == "native" else InProcess()
    if kind == "emulated-arm64":
        return EmulatedArm64()
    if kind == "android":
        if options.format in TFLITE_FORMATS:
            if not options.benchmark_model:
                raise PamkitError(
                    "TFLite on android runs through TFLite's official benchmark_model binary, which no "
                    "package ships: build or download it for arm64 and pass --benchmark-model PATH"
                )
            return AndroidBenchmarkModel(serial or None, Path(options.benchmark_model))
        return AndroidRunner(serial or None, Path(options.runner_binary) if options.runner_binary else None)
    if kind == "apple":
        return Apple()
    raise PamkitError(f"unknown target {options.target!r}; choose from {', '.join(TARGETS)}")


def load_cases(artifacts: Mapping[str, str | Path], fmt: str, combinations: str) -> list[Case]:
    """One case per artifact and wanted entry point, read from each export's manifest (checksums verified)."""
    if not artifacts:
        raise PamkitError("no artifacts to benchmark: pass one or more directories written by `pamkit export`")
    cases = []
    for label, directory in artifacts.items():
        manifest = load_manifest(directory)
        files: dict[str, dict] = {}
        for item in manifest["files"]:  # the multi-entry artifact comes first; Core ML's per-combination copies after
            files.setdefault(item["format"], item)
        if fmt not in files:
            raise PamkitError(
                f"{directory} has no {fmt} artifact (it has {', '.join(sorted(files)) or 'none'}); "
                f"export it with `pamkit export ... --formats {fmt}`"
            )
        by_entry = {c["entry"]: c for c in manifest["combinations"]}
        tasks = tuple(task["name"] for task in manifest["tasks"])
        wanted = (
            list(by_entry)
            if combinations == "all"
            else [combo.entry for combo in parse_combinations(tasks, combinations)]
        )
        missing = [w for w in wanted if w not in by_entry]
        if missing:
            raise PamkitError(
                f"{directory} has no entry points {missing} (it has {', '.join(by_entry)}); export them "
                "or pick others with --combinations"
            )
        file = artifact_path(directory, files[fmt])
        signatures = _signatures(fmt, file)
        for entry in wanted:
            combo = by_entry[entry]
            cases.append(
                Case(
                    label,
                    entry,
                    tuple(combo["tasks"]),
                    tuple(combo["outputs"]),
                    combo["macs"],
                    combo["params"],
                    file,
                    tuple(manifest["input"]["shape"]),
                    activation_bytes=combo.get("activation_bytes", 0),
                )
            )
            _check_entry(cases[-1], signatures.get(entry))
    return cases


def _signatures(fmt: str, file: Path) -> dict[str, Signature]:
    """The entry points the artifact really holds, read by its runtime here (a corrupt file fails now, by name)."""
    with guarded(f"reading {file} with the {fmt} runtime", LOAD_FIX):
        return FORMATS[fmt]().signatures(file)


def _check_entry(case: Case, signature: Signature | None) -> None:
    """The manifest's entry point must be in the artifact, taking the manifest's input shape."""
    if signature is None:
        raise PamkitError(f"{case.file} has no entry point {case.entry!r}, which its manifest lists; {LOAD_FIX}")
    shapes = [shape for _, shape in signature.inputs]
    if shapes != [case.input_shape]:
        raise PamkitError(
            f"{case.file}: entry point {case.entry!r} takes inputs of shape {shapes}, its manifest "
            f"says {list(case.input_shape)}; {LOAD_FIX}"
        )


def check_results_path(path: str | Path, artifacts: Mapping[str, str | Path] | None = None) -> Path:
    """Check, before measuring, that the results may be written to ``path``: new, or earlier bench results."""
    inputs = [Path(d) / MANIFEST for d in (artifacts or {}).values()]
    return check_output_file(path, inputs=inputs, replaceable=is_results_file)


def is_results_file(path: Path) -> bool:
    """Whether ``path`` holds results written by ``pamkit bench`` (the only file a results path may replace)."""
    try:
        return read_json(path, "").get("schema") == RESULTS_SCHEMA
    except (PamkitError, AttributeError):
        return False


def save_results(results: dict[str, Any], path: str | Path) -> Path:
    """Write the results JSON strictly (no NaN) and atomically; parent folders are created."""
    path = check_results_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_json(path, results)


def load_results(path: str | Path) -> dict[str, Any]:
    """Read and schema-check a results file written by ``pamkit bench`` (strictly: NaN is refused)."""
    results = read_json(path, "pass a file written by `pamkit bench`")
    try:
        validate_results(results)
    except PamkitError as exc:
        raise PamkitError(f"{path}: {exc}; pass a file written by `pamkit bench`") from None
    return results


def schema() -> dict[str, Any]:
    """The results file's JSON Schema (shipped with the package)."""
    return packaged_schema(__package__, SCHEMA_FILE)


def validate_results(results: dict[str, Any]) -> None:
    """Raise PamkitError naming where ``results`` breaks its schema."""
    check_schema(results, schema(), "bench results")


def _results(
    artifacts: Mapping[str, str | Path], cases: list[Case], target: Target, options: BenchOptions, error: str | None
) -> dict[str, Any]:
    rows = []
    for case in cases:
        stats = summarize(case.samples_ms)
        rows.append(
            {
                "artifact": case.artifact,
                "entry": case.entry,
                "tasks": list(case.tasks),
                "macs": case.macs,
                "params": case.params,
                "file": case.file.name,
                "load_ms": case.load_ms,
                "first_ms": case.first_ms,
                "stats": stats,
                "reported": case.reported,
                "samples_ms": case.samples_ms,
                "warning": None if case.reported else spread_warning(stats),
                "energy": case.energy,
                "energy_estimate": estimate_energy(
                    case.macs, 4 * case.params, case.activation_bytes, "int8" if "int8" in options.format else "float32"
                ),
            }
        )
    return {
        "schema": RESULTS_SCHEMA,
        "schema_version": 1,
        "target": {
            **target.describe(),
            "emulated": target.emulated,
            **(
                {"timing_note": "emulated: timings show the device path works, not device speed"}
                if target.emulated
                else {}
            ),
        },
        "format": options.format,
        "settings": options.to_dict(),
        "artifacts": {label: str(Path(d) / MANIFEST) for label, d in artifacts.items()},
        "complete": error is None,
        "error": error,
        "cases": rows,
        "command": current_command(),
        "versions": package_versions(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
