"""``bench``: latency (and energy where a counter exists) of exported entry points on a target.

Several artifacts (e.g. the PAM model and the separately pruned networks) are measured in one
run, their entry points interleaved, so that their ratio holds on a noisy machine.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import PamkitError
from ..export import MANIFEST, entry_name, load_manifest, parse_combinations
from ..export.formats import FORMATS
from ..schemas import check_schema, packaged_schema
from ..train.run import current_command
from ..versions import package_versions
from .cases import Case
from .energy import estimate_energy
from .stats import spread_warning, summarize
from .targets import AndroidBenchmarkModel, AndroidRunner, Apple, EmulatedArm64, HostRunner, InProcess, Settings, Target

TARGETS = ("host", "emulated-arm64", "android[:SERIAL]", "apple")
SCHEMA_FILE = "results.schema.json"


@dataclass(frozen=True)
class BenchOptions:
    """Where and how to benchmark."""

    target: str = "host"
    format: str = "executorch"
    runner: str = "python"              # host only: python (official runtimes in-process) or native (C++ runner)
    combinations: str = "all"           # "all" or "a+b,a"
    settings: Settings = field(default_factory=Settings)
    energy: bool = True
    runner_binary: str | None = None    # android: the arm64 runner built with the NDK
    benchmark_model: str | None = None  # android + tflite: TFLite's benchmark_model binary

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def bench(artifacts: dict[str, str | Path], options: BenchOptions = BenchOptions(), progress: bool = True
          ) -> dict[str, Any]:
    """Benchmark the entry points of exported artifacts (label -> export directory); the results, schema-checked."""
    _check(options)
    cases = load_cases(artifacts, options.format, options.combinations)
    target = make_target(options)
    error = target.measure(options.format, cases, options.settings, progress)
    sampler = target.sampler() if options.energy else None
    reason = "energy not requested (--no-energy)" if sampler is None else sampler.unavailable()
    for case in cases:
        if reason is None:
            target.energy(options.format, case, options.settings, sampler)
        else:
            case.energy = {"source": getattr(sampler, "name", "none"), "joules": None, "note": f"not measured: {reason}"}
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
        if options.format == "tflite":
            if not options.benchmark_model:
                raise PamkitError("TFLite on android runs through TFLite's official benchmark_model binary, which no "
                                  "package ships: build or download it for arm64 and pass --benchmark-model PATH")
            return AndroidBenchmarkModel(serial or None, Path(options.benchmark_model))
        return AndroidRunner(serial or None, Path(options.runner_binary) if options.runner_binary else None)
    if kind == "apple":
        return Apple()
    raise PamkitError(f"unknown target {options.target!r}; choose from {', '.join(TARGETS)}")


def load_cases(artifacts: dict[str, str | Path], fmt: str, combinations: str) -> list[Case]:
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
            raise PamkitError(f"{directory} has no {fmt} artifact (it has {', '.join(sorted(files)) or 'none'}); "
                              f"export it with `pamkit export ... --formats {fmt}`")
        by_entry = {c["entry"]: c for c in manifest["combinations"]}
        tasks = tuple(task["name"] for task in manifest["tasks"])
        wanted = list(by_entry) if combinations == "all" else [entry_name(combo) for combo in
                                                               parse_combinations(tasks, combinations)]
        missing = [w for w in wanted if w not in by_entry]
        if missing:
            raise PamkitError(f"{directory} has no entry points {missing} (it has {', '.join(by_entry)}); export them "
                              "or pick others with --combinations")
        for entry in wanted:
            combo = by_entry[entry]
            cases.append(Case(label, entry, tuple(combo["tasks"]), tuple(combo["outputs"]), combo["macs"],
                              combo["params"], Path(directory) / files[fmt]["path"],
                              tuple(manifest["input"]["shape"]), activation_bytes=combo.get("activation_bytes", 0)))
    return cases


def save_results(results: dict[str, Any], path: str | Path) -> Path:
    """Write the results JSON (parent directories created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n")
    return path


def load_results(path: str | Path) -> dict[str, Any]:
    """Read and schema-check a results file written by ``pamkit bench``."""
    try:
        results = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PamkitError(f"cannot read bench results {path}: {exc}; pass a file written by `pamkit bench`") from None
    validate_results(results)
    return results


def schema() -> dict[str, Any]:
    """The results file's JSON Schema (shipped with the package)."""
    return packaged_schema(__package__, SCHEMA_FILE)


def validate_results(results: dict[str, Any]) -> None:
    """Raise PamkitError naming where ``results`` breaks its schema."""
    check_schema(results, schema(), "bench results")


def _check(options: BenchOptions) -> None:
    s = options.settings
    if options.format not in FORMATS:
        raise PamkitError(f"unknown format {options.format!r}; choose from {', '.join(FORMATS)}")
    if options.runner not in ("python", "native"):
        raise PamkitError(f"unknown runner {options.runner!r}; choose python or native")
    if s.order not in ("interleaved", "sequential"):
        raise PamkitError(f"unknown order {s.order!r}; choose interleaved or sequential")
    if s.runs < 1 or s.warmup < 0 or s.threads < 1 or s.cooldown_ms < 0 or s.energy_runs < 1 or s.timeout_s <= 0:
        raise PamkitError("runs, threads and energy runs must be at least 1; warm-up and cool-down not negative; "
                          "the timeout positive")


def _results(artifacts: dict[str, str | Path], cases: list[Case], target: Target, options: BenchOptions,
             error: str | None) -> dict[str, Any]:
    rows = []
    for case in cases:
        stats = summarize(case.samples_ms)
        rows.append({
            "artifact": case.artifact, "entry": case.entry, "tasks": list(case.tasks), "macs": case.macs,
            "params": case.params, "file": case.file.name, "load_ms": case.load_ms, "first_ms": case.first_ms,
            "stats": stats, "reported": case.reported, "samples_ms": case.samples_ms,
            "warning": None if case.reported else spread_warning(stats),
            "energy": case.energy,
            "energy_estimate": estimate_energy(case.macs, 4 * case.params, case.activation_bytes,
                                               "int8" if "int8" in options.format else "float32"),
        })
    return {
        "schema": "pamkit-bench-results", "schema_version": 1,
        "target": {**target.describe(), "emulated": target.emulated,
                   **({"timing_note": "emulated: timings show the device path works, not device speed"}
                      if target.emulated else {})},
        "format": options.format, "settings": options.to_dict(),
        "artifacts": {label: str(Path(d) / MANIFEST) for label, d in artifacts.items()},
        "complete": error is None, "error": error,
        "cases": rows,
        "command": current_command(), "versions": package_versions(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
