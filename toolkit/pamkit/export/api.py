"""``export``: one artifact per format with one entry point per task combination, validated, then a manifest.

Everything is built in a hidden folder beside the output (``outputs.staged_output``) and moved into place
only after every entry point of every format has passed validation, so a failure or an interrupt leaves no
partial output, and ``overwrite`` replaces only an earlier export, never the model's folder or a user's.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ..cost import combination_cost
from ..data import DatasetSplits, Split, dataset_info
from ..errors import PamkitError
from ..io import read_json, write_json
from ..network import MultitaskNet
from ..outputs import staged_output
from ..train import evaluate_all
from ..train.run import current_command
from ..values import check_number
from ..versions import package_versions
from .console import guarded, terminal_stream
from .entries import INPUT_NAME, EntryPoint, entry_points, parse_combinations
from .formats import DEFAULT_FORMATS, FORMATS, CoreMLFormat, Format, Runner, Signature
from .manifest import MANIFEST, checksum, input_section, size_of, task_section, validate_manifest
from .swift import DEFAULT_TYPE as DEFAULT_SWIFT_TYPE
from .swift import check_type_name, swift_source

LOG_FILE = "export.log"
LEGACY_DIR = "coreml-ios15"
WRITER = "export"
MAX_THREADS = 256


class Int8Refused(PamkitError):
    """An int8 artifact scored more than ``int8_tolerance`` below float32 on a task: the export ran, but int8 is
    not offered for this model (exit status 1, nothing written); the float formats alone still export."""

    exit_code = 1


@dataclass(frozen=True)
class ExportOptions:
    """What to export and how strictly to check it."""

    formats: tuple[str, ...] = DEFAULT_FORMATS  # add "executorch-int8" for an int8 .pte
    combinations: str | tuple[tuple[str, ...], ...] = "all"  # "all", "a+b,a", or task tuples
    stem: str = "model"  # file names: model.pte, model.mlpackage, model.tflite
    coreml_legacy: bool = False  # also one plain .mlpackage per combination (iOS 15 / macOS 12)
    parity_samples: int = 32  # real test images each entry point is run on
    atol: float = 1e-4  # parity: |runtime - torch| <= atol + rtol * |torch|, elementwise
    rtol: float = 1e-3
    threads: int = 1  # runtime threads during validation
    calibration_samples: int = 64  # int8: training images the activation ranges are calibrated on (static)
    int8_samples: int = 1000  # int8: test images each entry point's accuracy is measured on
    int8_tolerance: float = 0.01  # int8: largest allowed accuracy drop of any task against float32
    overwrite: bool = False
    jobs: int = 0  # formats built in parallel processes (0: one per format, up to the cores)
    # fuse an entry's groups into one op per layer where that adds at most this share of its MACs (None: never;
    # fused layers hold their own copy of the weights, so the artifact grows)
    fuse_extra_macs: float | None = None
    swift_type: str = DEFAULT_SWIFT_TYPE  # the generated Swift file's struct (and file) name, for ios_export/

    def __post_init__(self) -> None:
        """Refuse a bad option by name (NaN too: it would switch a check off), before anything is built."""
        check_type_name(self.swift_type)
        for name in ("parity_samples", "calibration_samples", "int8_samples"):
            check_number(name, getattr(self, name), low=1, integer=True)
        check_number("threads", self.threads, low=1, high=MAX_THREADS, integer=True)
        check_number("jobs", self.jobs, low=0, integer=True)
        check_number("atol", self.atol, low=0)
        check_number("rtol", self.rtol, low=0)
        check_number("int8_tolerance", self.int8_tolerance, low=0, high=1)
        if self.fuse_extra_macs is not None:
            check_number("fuse_extra_macs", self.fuse_extra_macs, low=0)
        if not isinstance(self.stem, str) or Path(self.stem).name != self.stem or self.stem in ("", ".", ".."):
            raise PamkitError(f"stem must be a plain file name like 'model', got {self.stem!r}")
        if isinstance(self.formats, str) or not all(isinstance(f, str) for f in self.formats):
            raise PamkitError(f"formats must be a tuple of format names, got {self.formats!r}")
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown or not self.formats:
            raise PamkitError(f"unknown export formats {unknown or '(none given)'}; choose from {', '.join(FORMATS)}")
        if self.coreml_legacy and "coreml" not in self.formats:
            raise PamkitError(
                "coreml_legacy (--coreml-legacy) adds plain Core ML packages beside the coreml "
                "artifact: add coreml to the formats, or drop it"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass
class _Built:
    format: Format
    path: Path
    seconds: float  # writing the artifact
    trace_seconds: float  # of which: until the last entry point was traced / converted
    validation: dict[str, Any] = field(default_factory=dict)


def export(
    net: MultitaskNet,
    data: DatasetSplits,
    out: str | Path,
    options: ExportOptions = ExportOptions(),
    model_path: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Export ``net`` to ``out``: the artifacts, ``manifest.json``, the typed Swift file and ``export.log``.

    Returns the manifest.

    ``data`` supplies real inputs: its test split for the parity check and each task's accuracy,
    its training split for int8 calibration.
    """
    formats = _check(net, data, options)
    combos = parse_combinations(net.task_names, options.combinations)
    entries = entry_points(net, combos, options.fuse_extra_macs)
    default = entries[-1].name if len(entries[-1].tasks) == len(net.task_names) else entries[0].name
    inputs = [model_path] if model_path else []
    with staged_output(out, WRITER, inputs=inputs, overwrite=options.overwrite) as tmp:
        total = len(formats) * (2 * len(entries) + 1)
        with (
            terminal_stream() as stream,
            tqdm(total=total, desc="export", unit="step", file=stream, disable=not progress or None) as bar,
        ):
            built = _Session(net, data, entries, default, tmp, options, bar).build(formats)
        path = write_json(tmp / MANIFEST, _manifest(net, data, entries, default, built, options, model_path))
        manifest = read_json(path, "this is a bug in pamkit export")  # exactly what an app will read
        validate_manifest(manifest)
        (tmp / manifest["swift"]["path"]).write_text(swift_source(manifest, options.swift_type))
    return manifest


def _check(net: MultitaskNet, data: DatasetSplits | None, options: ExportOptions) -> list[Format]:
    if not isinstance(net, MultitaskNet):
        raise PamkitError(
            f"export takes a pamkit MultitaskNet (the output of `pamkit merge` or `pamkit prune`), "
            f"not a {type(net).__name__}; merge single-task networks first"
        )
    if data is None or data.input_spec != net.structure.input_spec:
        got = None if data is None else data.input_spec.to_dict()
        raise PamkitError(
            f"export validates on real inputs of the model's dataset "
            f"{net.structure.input_spec.to_dict()}, got {got}; load that dataset (pamkit export --data)"
        )
    calibration = data.train.images[: options.calibration_samples]
    return [
        FORMATS[name](calibration if FORMATS[name].precision == "int8" else None)
        for name in dict.fromkeys(options.formats)
    ]


class _Session:
    """One export run: the entry points, PyTorch's reference outputs, the temporary directory, the progress bar."""

    def __init__(
        self,
        net: MultitaskNet,
        data: DatasetSplits,
        entries: list[EntryPoint],
        default: str,
        tmp: Path,
        options: ExportOptions,
        bar: tqdm,
    ) -> None:
        self.net, self.data, self.entries, self.default = net, data, entries, default
        self.tmp, self.options, self.bar = tmp, options, bar
        self.example = data.test.images[:1].contiguous()
        self.inputs = data.test.images[: options.parity_samples]
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
        with _workers(jobs, max(1, torch.get_num_threads() // jobs)) as pool:
            futures = [
                pool.submit(
                    write_artifact, fmt, self.entries, self.example, paths[fmt.name], self.default, self.tmp / LOG_FILE
                )
                for fmt in formats
            ]
            return [
                self._validated(fmt, paths[fmt.name], future.result(), written=True)
                for fmt, future in zip(formats, futures, strict=True)
            ]

    def _write(self, fmt: Format, path: Path) -> tuple[float, float]:
        self.bar.set_description(f"{fmt.name}: building {len(self.entries)} entry points")
        timing = write_artifact(
            fmt,
            self.entries,
            self.example,
            path,
            self.default,
            self.tmp / LOG_FILE,
            on_entry=lambda name: self.bar.update(1),
        )
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
            errors[e.name] = max(
                self._parity(fmt, e, x, run(e.name, x[None].numpy(), e.output_names), expected)
                for x, expected in zip(self.inputs, self.references[e.name], strict=True)
            )
            self.bar.update(1)
        return {"status": "passed", "max_abs_error": errors}

    def _parity(
        self, fmt: Format, entry: EntryPoint, x: torch.Tensor, outputs: list[np.ndarray], expected: list[np.ndarray]
    ) -> float:
        """The largest difference from PyTorch; an error when any value is outside the tolerance or not finite.

        NaN compares false with everything, so a NaN output would pass a plain ``difference > tolerance`` test.
        """
        atol, rtol = self.options.atol, self.options.rtol
        worst = 0.0
        for name, got, ref in zip(entry.output_names, outputs, expected, strict=True):
            where = f"{fmt.name}: entry point {entry.name!r} output {name!r}"
            if not np.isfinite(ref).all():
                raise PamkitError(
                    f"{where}: PyTorch's own output is NaN or infinite: the model's weights are "
                    "broken; re-create the model, nothing was written"
                )
            if np.shape(got) != np.shape(ref):
                raise PamkitError(
                    f"{where} has shape {np.shape(got)}, PyTorch's {np.shape(ref)}; the runtime does "
                    "not reproduce the model, nothing was written"
                )
            if not np.isfinite(got).all():
                raise PamkitError(
                    f"{where} is NaN or infinite where PyTorch's is finite; the runtime does not "
                    "reproduce the model, nothing was written"
                )
            difference = np.abs(got - ref)
            worst = max(worst, float(difference.max()))
            if (difference > atol + rtol * np.abs(ref)).any():
                raise PamkitError(
                    f"{where} differs from PyTorch by {difference.max():.3g} (allowed {atol:g} + "
                    f"{rtol:g} x |output|); the runtime does not reproduce the model, nothing was "
                    "written"
                )
        return worst

    def _accuracy(self, fmt: Format, run: Runner) -> dict[str, Any]:
        """Each entry point's per-task score on test images against float32's; an error beyond the tolerance."""
        test = self.data.test
        images, labels = test.images[: self.options.int8_samples], test.labels[: self.options.int8_samples]
        tasks = {task.name: task for task in self.net.structure.tasks}
        reference = {
            name: float(score)
            for name, score in evaluate_all(
                self.net, list(tasks[t] for t in self.net.task_names), Split(images, labels)
            ).items()
        }
        scores: dict[str, dict[str, float]] = {}
        for e in self.entries:
            self.bar.set_description(f"{fmt.name}: accuracy of {e.name}")
            outputs = [run(e.name, x[None].numpy(), e.output_names) for x in images]
            scores[e.name] = {}
            for k, task in enumerate(e.tasks):
                got = torch.from_numpy(np.concatenate([o[k] for o in outputs]))
                score = float(tasks[task].correct(got, tasks[task].targets(labels)).mean())
                scores[e.name][task] = score
                if reference[task] - score > self.options.int8_tolerance:
                    raise Int8Refused(
                        f"{fmt.name}: task {task!r} scores {score:.4f} in entry point {e.name!r}, "
                        f"{reference[task] - score:.4f} below float32 ({reference[task]:.4f}; allowed "
                        f"{self.options.int8_tolerance:g}); int8 is not offered for this model: "
                        f"export without {fmt.name}"
                    )
            self.bar.update(1)
        return {"status": "passed", "samples": len(images), "float_accuracy": reference, "accuracy": scores}


def _outputs(module: torch.nn.Module, inputs: torch.Tensor) -> list[list[np.ndarray]]:
    """A module's outputs for each input, run one at a time."""
    return [[t.numpy() for t in module(x[None])] for x in inputs]


def write_artifact(
    fmt: Format,
    entries: list[EntryPoint],
    example: torch.Tensor,
    path: Path,
    default: str,
    log: Path,
    on_entry: Callable[[str], None] = lambda name: None,
) -> tuple[float, float]:
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


def _check_signature(
    fmt: Format, entry: EntryPoint, signature: Signature, example: torch.Tensor, output_shapes: list[tuple[int, ...]]
) -> None:
    expected_in = [(INPUT_NAME, tuple(example.shape))]
    expected_out = list(zip(entry.output_names, (tuple(s) for s in output_shapes), strict=True))
    problems = []
    for kind, declared, expected in (
        ("input", signature.inputs, expected_in),
        ("output", signature.outputs, expected_out),
    ):
        named = all(name is not None for name, _ in declared)
        as_declared = sorted(declared) if named else [shape for _, shape in declared]
        as_expected = sorted(expected) if named else [shape for _, shape in expected]
        if as_declared != as_expected:
            problems.append(f"{kind}s {as_declared} instead of {as_expected}")
    if problems:
        raise PamkitError(f"{fmt.name}: entry point {entry.name!r} declares " + "; ".join(problems))


def _manifest(
    net: MultitaskNet,
    data: DatasetSplits,
    entries: list[EntryPoint],
    default: str,
    built: list[_Built],
    options: ExportOptions,
    model_path: str | Path | None,
) -> dict[str, Any]:
    s, spec = net.structure, net.structure.input_spec
    info = dataset_info(spec.dataset)
    accuracy = evaluate_all(net, [s.tasks[t] for t in s.heads], data.test)
    tasks = [
        task_section(task, info, {"split": "test", "score": accuracy[task.name], "samples": len(data.test)})
        for task in (s.tasks[t] for t in s.heads)
    ]
    combinations = []
    for e in entries:
        cost = combination_cost(e.net, e.tasks)  # what the entry point computes, fused zero blocks included
        combinations.append(
            {
                "tasks": list(e.tasks),
                "entry": e.name,
                "outputs": list(e.output_names),
                "macs": cost.macs,
                "params": cost.params,
                "activation_bytes": cost.activation_bytes,
                "fused_spaces": e.fused_spaces,
            }
        )
    files = [
        {
            "format": b.format.name,
            "precision": b.format.precision,
            "path": b.path.name,
            "size": size_of(b.path),
            "sha256": checksum(b.path),
            "entries": [e.name for e in entries],
            "export_seconds": round(b.seconds, 3),
            "trace_seconds": round(b.trace_seconds, 3),
            **({"min_os": "iOS 18 / macOS 15"} if b.format.name == "coreml" else {}),
        }
        for b in built
    ]
    legacy = next((b.format.legacy_dir for b in built if isinstance(b.format, CoreMLFormat)), None)
    if legacy is not None:  # one plain package per combination, for OS versions without multifunction models
        files += [
            {
                "format": "coreml",
                "precision": "float32",
                "path": f"{LEGACY_DIR}/{e.name}.mlpackage",
                "size": size_of(legacy / f"{e.name}.mlpackage"),
                "sha256": checksum(legacy / f"{e.name}.mlpackage"),
                "entries": [e.name],
                "export_seconds": 0.0,
                "min_os": "iOS 15 / macOS 12",
            }
            for e in entries
        ]
    return {
        "schema": "pamkit-export-manifest",
        "schema_version": 1,
        "model": {
            "path": str(model_path) if model_path else "",
            "method": s.provenance.get("method"),
            "architecture": s.provenance.get("arch", {}).get("name"),
        },
        "tasks": tasks,
        "input": input_section(spec, info),
        "combinations": combinations,
        "default_combination": default,
        "files": files,
        "swift": {"path": f"{options.swift_type}.swift", "type": options.swift_type},
        "validation": {
            "inputs": f"the first {len(data.test.images[: options.parity_samples])} images of the "
            f"{spec.dataset} test split, one at a time",
            "tolerance": f"|runtime - pytorch| <= {options.atol:g} + {options.rtol:g} * |pytorch| for "
            "every output value",
            "results": {b.format.name: b.validation for b in built},
        },
        "options": options.to_dict(),
        "versions": package_versions(),
        "created": {"command": current_command(), "time": datetime.now(UTC).isoformat(timespec="seconds")},
    }


@contextmanager
def _workers(jobs: int, threads: int) -> Iterator[ProcessPoolExecutor]:
    """Worker processes that never outlive the export.

    On any failure or interrupt (Ctrl-C, SIGTERM) they are stopped at once, before the temporary folder
    they write into is removed; and on Linux the kernel kills them if this process dies without unwinding.
    """
    pool = ProcessPoolExecutor(
        jobs, mp_context=get_context("spawn"), initializer=_worker_setup, initargs=(threads, os.getpid())
    )
    try:
        yield pool
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown()


def _stop(pool: ProcessPoolExecutor) -> None:
    """Terminate a pool's worker processes (a conversion can run for minutes) and wait until they are gone."""
    processes = list((pool._processes or {}).values())  # the executor offers no public way to stop running work
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
            process.join()
    pool.shutdown(cancel_futures=True)


def _worker_setup(threads: int, parent: int) -> None:
    """In each worker: its share of the threads; Ctrl-C is left to the parent, which stops the workers itself."""
    torch.set_num_threads(threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)


def _die_with_parent(parent: int) -> None:
    """Linux: have the kernel SIGKILL this process when its parent dies, even by SIGKILL (no cleanup ran)."""
    if not sys.platform.startswith("linux"):
        return
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _converter_step(fmt: Format, step: str, log: Path) -> AbstractContextManager[None]:
    """Send the converters' console output to the log; turn their failures into one clear error."""
    return guarded(
        f"{fmt.name} {step}",
        f"the model has an operation this format cannot take, or the toolchain is "
        f"broken; export with --formats without {fmt.name} to skip it. Nothing was written",
        log,
    )
