"""``export``: one artifact per format with one entry point per task combination, validated, then a manifest.

Everything is built in a temporary directory beside the output and moved into place only after
every entry point of every format has passed validation, so a failure leaves no partial output.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ..data import DatasetSplits
from ..errors import PamkitError
from ..network import MultitaskNet
from ..train import evaluate_all
from ..train.run import current_command
from ..versions import package_versions
from .entries import INPUT_NAME, EntryPoint, entry_points, output_name, parse_combinations
from .formats import FORMATS, CoreMLFormat, Format
from .manifest import MANIFEST, checksum, size_of, validate_manifest

LOG_FILE = "export.log"
LEGACY_DIR = "coreml-ios15"


@dataclass(frozen=True)
class ExportOptions:
    """What to export and how strictly to check it."""

    formats: tuple[str, ...] = tuple(FORMATS)
    combinations: str | tuple[tuple[str, ...], ...] = "all"  # "all", "a+b,a", or task tuples
    stem: str = "model"                 # file names: model.pte, model.mlpackage, model.tflite
    coreml_legacy: bool = False         # also one plain .mlpackage per combination (iOS 15 / macOS 12)
    parity_samples: int = 32            # real test images each entry point is run on
    atol: float = 1e-4                  # parity: |runtime - torch| <= atol + rtol * |torch|, elementwise
    rtol: float = 1e-3
    threads: int = 1                    # runtime threads during validation
    overwrite: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass
class _Built:
    format: Format
    path: Path
    seconds: float
    validation: dict[str, Any] = field(default_factory=dict)


def export(net: MultitaskNet, data: DatasetSplits, out: str | Path, options: ExportOptions = ExportOptions(),
           model_path: str | Path | None = None, progress: bool = True) -> dict[str, Any]:
    """Export ``net`` to ``out``: the artifacts, ``manifest.json`` and ``export.log``; returns the manifest.

    ``data`` supplies the real inputs of the parity check (its test split) and each task's accuracy.
    """
    out = Path(out)
    formats = _check(net, data, out, options)
    combos = parse_combinations(net, options.combinations if isinstance(options.combinations, str)
                                else list(options.combinations))
    entries = entry_points(net, combos)
    default = entries[-1].name if len(entries[-1].tasks) == len(net.task_names) else entries[0].name
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        example = data.test.images[:1].contiguous()
        inputs = data.test.images[:options.parity_samples]
        references = _references(entries, inputs)
        total = len(formats) * (2 * len(entries) + 1)
        with _bar_stream() as stream, tqdm(total=total, desc="export", unit="step", file=stream,
                                           disable=not progress or None) as bar:
            built = [_build(fmt, entries, example, inputs, references, tmp, default, options, bar) for fmt in formats]
        text = json.dumps(_manifest(net, data, entries, default, built, options, model_path), indent=1) + "\n"
        manifest = json.loads(text)  # exactly what an app will read
        validate_manifest(manifest)
        (tmp / MANIFEST).write_text(text)
        _move_into_place(tmp, out, options.overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _check(net: MultitaskNet, data: DatasetSplits | None, out: Path, options: ExportOptions) -> list[Format]:
    if not isinstance(net, MultitaskNet):
        raise PamkitError(f"export takes a pamkit MultitaskNet (the output of `pamkit merge` or `pamkit prune`), "
                          f"not a {type(net).__name__}; merge single-task networks first")
    unknown = [f for f in options.formats if f not in FORMATS]
    if unknown or not options.formats:
        raise PamkitError(f"unknown export formats {unknown or '(none given)'}; choose from {', '.join(FORMATS)}")
    if data is None or data.input_spec != net.structure.input_spec:
        got = None if data is None else data.input_spec.to_dict()
        raise PamkitError(f"export validates on real inputs of the model's dataset "
                          f"{net.structure.input_spec.to_dict()}, got {got}; load that dataset (pamkit export --data)")
    if options.parity_samples < 1 or options.atol < 0 or options.rtol < 0 or options.threads < 1:
        raise PamkitError("parity_samples and threads must be at least 1, atol and rtol not negative")
    if out.exists() and not options.overwrite and (not out.is_dir() or any(out.iterdir())):
        raise PamkitError(f"{out} already exists and is not empty; choose another --out or pass --overwrite")
    return [CoreMLFormat() if name == "coreml" else FORMATS[name]() for name in dict.fromkeys(options.formats)]


def _build(fmt: Format, entries: list[EntryPoint], example: torch.Tensor, inputs: torch.Tensor,
           references: dict[str, list[list[np.ndarray]]], tmp: Path, default: str, options: ExportOptions,
           bar: tqdm) -> _Built:
    """Write one format's artifact, then validate every entry point on its official runtime."""
    path = tmp / f"{options.stem}{fmt.suffix}"
    if isinstance(fmt, CoreMLFormat) and options.coreml_legacy:
        fmt.legacy_dir = tmp / LEGACY_DIR
    bar.set_description(f"{fmt.name}: building {len(entries)} entry points")
    started = time.perf_counter()
    with _converter_step(fmt, "export", tmp / LOG_FILE):
        fmt.write(entries, example, path, default, on_entry=lambda name: bar.update(1))
    seconds = time.perf_counter() - started
    bar.update(1)
    built = _Built(fmt, path, seconds)
    with _converter_step(fmt, "validation", tmp / LOG_FILE):
        built.validation = _validate(fmt, path, entries, example, inputs, references, options, bar)
    return built


def _references(entries: list[EntryPoint], inputs: torch.Tensor) -> dict[str, list[list[np.ndarray]]]:
    """PyTorch's outputs of every entry point for every input, one image at a time (the exported batch size)."""
    with torch.no_grad():
        return {e.name: [[t.numpy() for t in e.module()(x[None])] for x in inputs] for e in entries}


def _validate(fmt: Format, path: Path, entries: list[EntryPoint], example: torch.Tensor, inputs: torch.Tensor,
              references: dict[str, list[list[np.ndarray]]], options: ExportOptions, bar: tqdm) -> dict[str, Any]:
    """Structure of every entry point against the manifest, then outputs against PyTorch where the runtime runs."""
    signatures = fmt.signatures(path)
    missing = [e.name for e in entries if e.name not in signatures]
    if missing:
        raise PamkitError(f"{fmt.name}: entry points {missing} are missing from {path.name}")
    for e in entries:
        _check_signature(fmt, e, signatures[e.name], example, [o.shape for o in references[e.name][0]])
    reason = fmt.cannot_run()
    if reason is not None:
        bar.update(len(entries))
        return {"status": "structure only", "reason": reason}
    run, errors = fmt.runner(path, options.threads), {}
    for e in entries:
        bar.set_description(f"{fmt.name}: validating {e.name}")
        worst = 0.0
        for x, expected in zip(inputs, references[e.name]):
            for name, got, ref in zip(e.output_names, run(e.name, x[None].numpy(), e.output_names), expected):
                excess = np.abs(got - ref) - (options.atol + options.rtol * np.abs(ref))
                worst = max(worst, float(np.abs(got - ref).max()))
                if excess.max() > 0:
                    raise PamkitError(f"{fmt.name}: entry point {e.name!r} output {name!r} differs from PyTorch by "
                                      f"{np.abs(got - ref).max():.3g} (allowed {options.atol:g} + {options.rtol:g} "
                                      f"x |output|); the runtime does not reproduce the model, nothing was written")
        errors[e.name] = worst
        bar.update(1)
    return {"status": "passed", "max_abs_error": errors}


def _check_signature(fmt: Format, entry: EntryPoint, signature, example: torch.Tensor,
                     output_shapes: list[tuple[int, ...]]) -> None:
    expected_in = [(INPUT_NAME, tuple(example.shape))]
    expected_out = list(zip(entry.output_names, (tuple(s) for s in output_shapes)))
    problems = []
    for kind, declared, expected in (("input", signature.inputs, expected_in), ("output", signature.outputs,
                                                                               expected_out)):
        named = all(name is not None for name, _ in declared)
        as_declared = sorted(declared) if named else [shape for _, shape in declared]
        as_expected = sorted(expected) if named else [shape for _, shape in expected]
        if as_declared != as_expected:
            problems.append(f"{kind}s {as_declared} instead of {as_expected}")
    if problems:
        raise PamkitError(f"{fmt.name}: entry point {entry.name!r} declares " + "; ".join(problems))


def _manifest(net: MultitaskNet, data: DatasetSplits, entries: list[EntryPoint], default: str, built: list[_Built],
              options: ExportOptions, model_path: str | Path | None) -> dict[str, Any]:
    from ..cost import combination_cost

    s, spec = net.structure, net.structure.input_spec
    accuracy = evaluate_all(net, [s.tasks[t] for t in s.heads], data.test)
    tasks = [{"name": task.name, "output": output_name(task.name), "kind": task.kind, "encoding": task.encoding,
              "labels": list(task.output_names),
              "accuracy": {"split": "test", "score": accuracy[task.name], "samples": len(data.test)}}
             for task in (s.tasks[t] for t in s.heads)]
    normalization = None if spec.mean is None else {
        "mean": spec.mean, "std": spec.std, "formula": "x = (pixel / 255 - mean) / std, pixel in 0..255"}
    combinations = []
    for e in entries:
        cost = combination_cost(net, e.tasks)
        combinations.append({"tasks": list(e.tasks), "entry": e.name, "outputs": list(e.output_names),
                             "macs": cost.macs, "params": cost.params})
    files = [{"format": b.format.name, "path": b.path.name, "size": size_of(b.path), "sha256": checksum(b.path),
              "entries": [e.name for e in entries], "export_seconds": round(b.seconds, 3),
              **({"min_os": "iOS 18 / macOS 15"} if b.format.name == "coreml" else {})} for b in built]
    legacy = next((b for b in built if isinstance(b.format, CoreMLFormat) and b.format.legacy_dir), None)
    if legacy is not None:  # one plain package per combination, for OS versions without multifunction models
        files += [{"format": "coreml", "path": f"{LEGACY_DIR}/{e.name}.mlpackage",
                   "size": size_of(legacy.format.legacy_dir / f"{e.name}.mlpackage"),
                   "sha256": checksum(legacy.format.legacy_dir / f"{e.name}.mlpackage"), "entries": [e.name],
                   "export_seconds": 0.0, "min_os": "iOS 15 / macOS 12"} for e in entries]
    return {
        "schema": "pamkit-export-manifest", "schema_version": 1,
        "model": {"path": str(model_path) if model_path else "", "method": s.provenance.get("method"),
                  "architecture": s.provenance.get("arch", {}).get("name")},
        "tasks": tasks,
        "input": {"name": INPUT_NAME, "shape": [1, *spec.shape], "dtype": "float32", "layout": "NCHW",
                  "dataset": spec.dataset, "normalization": normalization},
        "combinations": combinations,
        "default_combination": default,
        "files": files,
        "validation": {"inputs": f"the first {len(data.test.images[:options.parity_samples])} images of the "
                                 f"{spec.dataset} test split, one at a time",
                       "tolerance": f"|runtime - pytorch| <= {options.atol:g} + {options.rtol:g} * |pytorch| for "
                                    "every output value",
                       "results": {b.format.name: b.validation for b in built}},
        "options": options.to_dict(),
        "versions": package_versions(),
        "created": {"command": current_command(), "time": datetime.now(timezone.utc).isoformat(timespec="seconds")},
    }


def _move_into_place(tmp: Path, out: Path, overwrite: bool) -> None:
    """Replace ``out`` by the finished directory (the old one is removed only after the new one is complete)."""
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp made it private
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    else:
        os.replace(tmp, out)


@contextmanager
def _converter_step(fmt: Format, step: str, log: Path) -> Iterator[None]:
    """Send the converters' console output to the log; turn their failures into one clear error."""
    try:
        with _captured(log):
            yield
    except PamkitError:
        raise
    except Exception as exc:  # converter and runtime errors: name the format and where the details are
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300].rstrip(".")
        raise PamkitError(f"{fmt.name} {step} failed: {type(exc).__name__}: {first}. The model has an operation "
                          f"this format cannot take, or the toolchain is broken; export with --formats without "
                          f"{fmt.name} to skip it. Nothing was written.") from exc


@contextmanager
def _captured(log: Path) -> Iterator[None]:
    """Redirect this process's stdout and stderr (file descriptors too, for native code) into ``log``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        with open(log, "ab") as sink:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
    finally:
        os.close(saved[0])
        os.close(saved[1])


@contextmanager
def _bar_stream() -> Iterator[Any]:
    """A stream on the real stderr, so the progress bar stays visible while converter output is captured."""
    stream = os.fdopen(os.dup(2), "w", buffering=1)
    try:
        yield stream
    finally:
        stream.close()

