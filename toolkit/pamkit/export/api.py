"""``export``: one artifact per format with one entry point per task combination, validated, then a manifest.

Everything is built in a temporary directory beside the output and moved into place only after
every entry point of every format has passed validation, so a failure leaves no partial output.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ..cost import combination_cost
from ..data import DatasetSplits, Split
from ..errors import PamkitError
from ..network import MultitaskNet
from ..train import evaluate_all
from ..train.run import current_command
from ..versions import package_versions
from .console import captured, terminal_stream
from .entries import INPUT_NAME, EntryPoint, entry_points, output_name, parse_combinations
from .formats import DEFAULT_FORMATS, FORMATS, CoreMLFormat, Format, Runner, Signature
from .manifest import MANIFEST, checksum, size_of, validate_manifest

LOG_FILE = "export.log"
LEGACY_DIR = "coreml-ios15"


@dataclass(frozen=True)
class ExportOptions:
    """What to export and how strictly to check it."""

    formats: tuple[str, ...] = DEFAULT_FORMATS  # add "executorch-int8" for an int8 .pte
    combinations: str | tuple[tuple[str, ...], ...] = "all"  # "all", "a+b,a", or task tuples
    stem: str = "model"                 # file names: model.pte, model.mlpackage, model.tflite
    coreml_legacy: bool = False         # also one plain .mlpackage per combination (iOS 15 / macOS 12)
    parity_samples: int = 32            # real test images each entry point is run on
    atol: float = 1e-4                  # parity: |runtime - torch| <= atol + rtol * |torch|, elementwise
    rtol: float = 1e-3
    threads: int = 1                    # runtime threads during validation
    calibration_samples: int = 64       # int8: training images the activation ranges are calibrated on (static)
    int8_samples: int = 1000            # int8: test images each entry point's accuracy is measured on
    int8_tolerance: float = 0.01        # int8: largest allowed accuracy drop of any task against float32
    overwrite: bool = False
    jobs: int = 0                       # formats built in parallel processes (0: one per format, up to the cores)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass
class _Built:
    format: Format
    path: Path
    seconds: float          # writing the artifact
    trace_seconds: float    # of which: until the last entry point was traced / converted
    validation: dict[str, Any] = field(default_factory=dict)


def export(net: MultitaskNet, data: DatasetSplits, out: str | Path, options: ExportOptions = ExportOptions(),
           model_path: str | Path | None = None, progress: bool = True) -> dict[str, Any]:
    """Export ``net`` to ``out``: the artifacts, ``manifest.json`` and ``export.log``; returns the manifest.

    ``data`` supplies real inputs: its test split for the parity check and each task's accuracy,
    its training split for int8 calibration.
    """
    out = Path(out)
    formats = _check(net, data, out, options)
    combos = parse_combinations(net.task_names, options.combinations)
    entries = entry_points(net, combos)
    default = entries[-1].name if len(entries[-1].tasks) == len(net.task_names) else entries[0].name
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        total = len(formats) * (2 * len(entries) + 1)
        with terminal_stream() as stream, tqdm(total=total, desc="export", unit="step", file=stream,
                                           disable=not progress or None) as bar:
            built = _Session(net, data, entries, default, tmp, options, bar).build(formats)
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
    counts = (options.parity_samples, options.threads, options.calibration_samples, options.int8_samples)
    if min(counts) < 1 or min(options.atol, options.rtol, options.int8_tolerance, options.jobs) < 0:
        raise PamkitError("parity_samples, threads, calibration_samples and int8_samples must be at least 1; atol, "
                          "rtol, int8_tolerance and jobs must not be negative")
    if out.exists() and not options.overwrite and (not out.is_dir() or any(out.iterdir())):
        raise PamkitError(f"{out} already exists and is not empty; choose another --out or pass --overwrite")
    calibration = data.train.images[:options.calibration_samples]
    return [FORMATS[name](calibration) if FORMATS[name].precision == "int8" else FORMATS[name]()
            for name in dict.fromkeys(options.formats)]


class _Session:
    """One export run: the entry points, PyTorch's reference outputs, the temporary directory, the progress bar."""

    def __init__(self, net: MultitaskNet, data: DatasetSplits, entries: list[EntryPoint], default: str, tmp: Path,
                 options: ExportOptions, bar: tqdm) -> None:
        self.net, self.data, self.entries, self.default = net, data, entries, default
        self.tmp, self.options, self.bar = tmp, options, bar
        self.example = data.test.images[:1].contiguous()
        self.inputs = data.test.images[:options.parity_samples]
        with torch.no_grad():  # one image at a time: the exported batch size
            self.references = {e.name: _outputs(e.module(), self.inputs) for e in entries}

    def build(self, formats: list[Format]) -> list[_Built]:
        """Write every format's artifact (in parallel worker processes when ``jobs`` > 1), validating each in turn."""
        paths = {fmt.name: self.tmp / f"{self.options.stem}{fmt.suffix}" for fmt in formats}
        for fmt in formats:
            if isinstance(fmt, CoreMLFormat) and self.options.coreml_legacy:
                fmt.legacy_dir = self.tmp / LEGACY_DIR
        jobs = min(len(formats), self.options.jobs or os.cpu_count() or 1)
        if jobs == 1:
            return [self._validated(fmt, paths[fmt.name], self._write(fmt, paths[fmt.name])) for fmt in formats]
        self.bar.set_description(f"{', '.join(f.name for f in formats)}: building in {jobs} processes")
        threads = max(1, torch.get_num_threads() // jobs)
        with ProcessPoolExecutor(jobs, mp_context=get_context("spawn"), initializer=torch.set_num_threads,
                                 initargs=(threads,)) as pool:
            futures = [pool.submit(write_artifact, fmt, self.entries, self.example, paths[fmt.name], self.default,
                                   self.tmp / LOG_FILE) for fmt in formats]
            try:
                return [self._validated(fmt, paths[fmt.name], future.result(), written=True)
                        for fmt, future in zip(formats, futures)]
            except BaseException:  # drop formats not started; wait for running ones before the directory goes
                pool.shutdown(cancel_futures=True)
                raise

    def _write(self, fmt: Format, path: Path) -> tuple[float, float]:
        self.bar.set_description(f"{fmt.name}: building {len(self.entries)} entry points")
        timing = write_artifact(fmt, self.entries, self.example, path, self.default, self.tmp / LOG_FILE,
                                on_entry=lambda name: self.bar.update(1))
        self.bar.update(1)
        return timing

    def _validated(self, fmt: Format, path: Path, timing: tuple[float, float], written: bool = False) -> _Built:
        if written:  # built in a worker: its steps count now
            self.bar.update(len(self.entries) + 1)
        with _converter_step(fmt, "validation", self.tmp / LOG_FILE):
            return _Built(fmt, path, *timing, validation=self.validate(fmt, path))

    def validate(self, fmt: Format, path: Path) -> dict[str, Any]:
        """Structure of every entry point, then its outputs (float32) or its accuracy (int8) on the runtime."""
        signatures = fmt.signatures(path)
        missing = [e.name for e in self.entries if e.name not in signatures]
        if missing:
            raise PamkitError(f"{fmt.name}: entry points {missing} are missing from {path.name}")
        for e in self.entries:
            _check_signature(fmt, e, signatures[e.name], self.example, [o.shape for o in self.references[e.name][0]])
        reason = fmt.cannot_run()
        if reason is not None:
            self.bar.update(len(self.entries))
            return {"status": "structure only", "reason": reason}
        run = fmt.runner(path, self.options.threads)
        if fmt.precision == "int8":
            return self._accuracy(fmt, run)
        errors = {}
        for e in self.entries:
            self.bar.set_description(f"{fmt.name}: validating {e.name}")
            errors[e.name] = max(self._parity(fmt, e, x, run(e.name, x[None].numpy(), e.output_names), expected)
                                 for x, expected in zip(self.inputs, self.references[e.name]))
            self.bar.update(1)
        return {"status": "passed", "max_abs_error": errors}

    def _parity(self, fmt: Format, entry: EntryPoint, x: torch.Tensor, outputs: list[np.ndarray],
                expected: list[np.ndarray]) -> float:
        """The largest difference from PyTorch; an error when any value is outside the tolerance."""
        atol, rtol = self.options.atol, self.options.rtol
        worst = 0.0
        for name, got, ref in zip(entry.output_names, outputs, expected):
            difference = np.abs(got - ref)
            worst = max(worst, float(difference.max()))
            if (difference > atol + rtol * np.abs(ref)).any():
                raise PamkitError(f"{fmt.name}: entry point {entry.name!r} output {name!r} differs from PyTorch by "
                                  f"{difference.max():.3g} (allowed {atol:g} + {rtol:g} x |output|); the runtime "
                                  "does not reproduce the model, nothing was written")
        return worst

    def _accuracy(self, fmt: Format, run: Runner) -> dict[str, Any]:
        """Each entry point's per-task score on test images against float32's; an error beyond the tolerance."""
        test = self.data.test
        images, labels = test.images[:self.options.int8_samples], test.labels[:self.options.int8_samples]
        tasks = {task.name: task for task in self.net.structure.tasks}
        reference = {name: float(score) for name, score in
                     evaluate_all(self.net, list(tasks[t] for t in self.net.task_names),
                                  Split(images, labels)).items()}
        scores = {}
        for e in self.entries:
            self.bar.set_description(f"{fmt.name}: accuracy of {e.name}")
            outputs = [run(e.name, x[None].numpy(), e.output_names) for x in images]
            scores[e.name] = {}
            for k, task in enumerate(e.tasks):
                got = torch.from_numpy(np.concatenate([o[k] for o in outputs]))
                score = float(tasks[task].correct(got, tasks[task].targets(labels)).mean())
                scores[e.name][task] = score
                if reference[task] - score > self.options.int8_tolerance:
                    raise PamkitError(f"{fmt.name}: task {task!r} scores {score:.4f} in entry point {e.name!r}, "
                                      f"{reference[task] - score:.4f} below float32 ({reference[task]:.4f}; allowed "
                                      f"{self.options.int8_tolerance:g}); int8 is not offered for this model: "
                                      f"export without {fmt.name}")
            self.bar.update(1)
        return {"status": "passed", "samples": len(images), "float_accuracy": reference, "accuracy": scores}


def _outputs(module: torch.nn.Module, inputs: torch.Tensor) -> list[list[np.ndarray]]:
    """A module's outputs for each input, run one at a time."""
    return [[t.numpy() for t in module(x[None])] for x in inputs]


def write_artifact(fmt: Format, entries: list[EntryPoint], example: torch.Tensor, path: Path, default: str,
                   log: Path, on_entry: Callable[[str], None] = lambda name: None) -> tuple[float, float]:
    """Write one artifact, converter output into ``log``; returns (seconds, seconds until the last entry was traced).

    Runs in the exporting process or in a worker process (everything it takes can be pickled).
    """
    started = traced = time.perf_counter()

    def entry_done(name: str) -> None:
        nonlocal traced
        traced = time.perf_counter()
        on_entry(name)
    with _converter_step(fmt, "export", log):
        fmt.write(entries, example, path, default, on_entry=entry_done)
    return time.perf_counter() - started, traced - started


def _check_signature(fmt: Format, entry: EntryPoint, signature: Signature, example: torch.Tensor,
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
                             "macs": cost.macs, "params": cost.params, "activation_bytes": cost.activation_bytes})
    files = [{"format": b.format.name, "precision": b.format.precision, "path": b.path.name, "size": size_of(b.path),
              "sha256": checksum(b.path),
              "entries": [e.name for e in entries], "export_seconds": round(b.seconds, 3),
              "trace_seconds": round(b.trace_seconds, 3),
              **({"min_os": "iOS 18 / macOS 15"} if b.format.name == "coreml" else {})} for b in built]
    legacy = next((b for b in built if isinstance(b.format, CoreMLFormat) and b.format.legacy_dir), None)
    if legacy is not None:  # one plain package per combination, for OS versions without multifunction models
        files += [{"format": "coreml", "precision": "float32", "path": f"{LEGACY_DIR}/{e.name}.mlpackage",
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
        with captured(log):
            yield
    except PamkitError:
        raise
    except Exception as exc:  # converter and runtime errors: name the format and where the details are
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300].rstrip(".")
        raise PamkitError(f"{fmt.name} {step} failed: {type(exc).__name__}: {first}. The model has an operation "
                          f"this format cannot take, or the toolchain is broken; export with --formats without "
                          f"{fmt.name} to skip it. Nothing was written.") from exc
