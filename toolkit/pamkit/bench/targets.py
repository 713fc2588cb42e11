"""Where entry points run: in this process, through the native runner on the host, under qemu, or on a phone."""

from __future__ import annotations

import os
import platform
import random
import shutil
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..errors import PamkitError
from ..export.console import guarded
from ..export.formats import FORMATS, Entry, Loader
from ..values import check_number
from ..versions import package_versions
from .adb import DEVICE_DIR, Adb
from .cases import Case
from .energy import AndroidFuelGauge, EnergySampler, NoSampler, PowermetricsSampler, host_sampler
from .native import ORDERS, build_runner, executorch_sdk, qemu_wrapper, run_runner
from .parsers import parse_benchmark_model

MAX_THREADS = 256
MAX_SEED = 2**32 - 1  # the native runner seeds a 32-bit generator
MAX_CPUS = 8192  # Linux's largest CONFIG_NR_CPUS
LOAD_FIX = (
    "the artifact is corrupt or does not match its manifest (the export folder was edited); re-run `pamkit export`"
)


@dataclass(frozen=True)
class Settings:
    """How to time: warm-up and timed runs per entry point, threads, order, pauses, pinning."""

    warmup: int = 5
    runs: int = 30
    threads: int = 1
    order: str = "interleaved"  # interleaved: every round runs every case once, shuffled; sequential: case by case
    cooldown_ms: float = 0.0  # pause between entry points
    pin: str | None = None  # CPUs to run on, e.g. "0" or "2-3"
    thermal_limit_c: float = 45.0
    thermal_wait_s: float = 120.0
    energy_runs: int = 50  # inferences per entry point under the energy sampler
    timeout_s: float = 600.0
    seed: int = 0

    def __post_init__(self) -> None:
        """Refuse a bad setting by name; NaN too (``t > nan`` is never true: it would switch the thermal gate off)."""
        check_number("warmup", self.warmup, low=0, integer=True)
        for name in ("runs", "energy_runs"):
            check_number(name, getattr(self, name), low=1, integer=True)
        check_number("threads", self.threads, low=1, high=MAX_THREADS, integer=True)
        check_number("cooldown_ms", self.cooldown_ms, low=0)
        check_number("thermal_limit_c", self.thermal_limit_c, low=0, low_open=True)
        check_number("thermal_wait_s", self.thermal_wait_s, low=0)
        check_number("timeout_s", self.timeout_s, low=0, low_open=True)
        check_number("seed", self.seed, low=0, high=MAX_SEED, integer=True)
        if self.order not in ORDERS:
            raise PamkitError(f"unknown order {self.order!r}; choose {' or '.join(ORDERS)}")
        if self.pin is not None:
            cpu_list(self.pin)


class Target(ABC):
    """A place to run artifacts; fills each case's load time, first inference and samples."""

    kind: str
    emulated = False
    pins_host_cpus = True  # --pin names CPUs of this machine (False: of a phone)

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """CPU, OS and runtime versions, for the results file."""

    def check(self, fmt: str, settings: Settings) -> None:
        """Refuse, before anything is measured, what this target cannot do here (CPUs to pin that do not exist)."""
        if self.pins_host_cpus:
            check_host_cpus(settings.pin)

    @abstractmethod
    def measure(self, fmt: str, cases: list[Case], settings: Settings, progress: bool) -> str | None:
        """Time every case; returns an error message when the run stopped early (partial results are kept)."""

    def sampler(self) -> EnergySampler:
        """The energy source on this target."""
        return NoSampler(f"no energy counter is read on the {self.kind} target")

    def temperature(self) -> float | None:
        """Current temperature in °C where a sensor can be read (for the thermal gate), else None."""
        return None

    def energy(self, fmt: str, case: Case, settings: Settings, sampler: EnergySampler) -> None:
        """Joules per inference of one case, from ``energy_runs`` inferences in a row under the sampler."""
        case.energy = {
            "source": sampler.name,
            "joules": None,
            "note": f"not measured: the {self.kind} target cannot run {fmt} under an energy sampler",
        }


# -- in this process -------------------------------------------------------------------------------------
class InProcess(Target):
    """The official runtimes in this process: ExecuTorch ``Runtime``, LiteRT ``Interpreter``, Core ML on macOS."""

    kind = "host"

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "runner": "python (in-process official runtimes)", **host_description()}

    def sampler(self) -> EnergySampler:
        return host_sampler()

    def temperature(self) -> float | None:
        return host_temperature()

    def measure(self, fmt: str, cases: list[Case], settings: Settings, progress: bool) -> str | None:
        if settings.pin:
            os.sched_setaffinity(0, cpu_list(settings.pin))
        loaders = {path: self._open(fmt, path, settings.threads) for path in {c.file for c in cases}}
        entries: dict[str, Entry] = {}
        inputs: dict[str, np.ndarray] = {}
        self.entries, self.inputs = entries, inputs  # the energy phase runs the same loaded entry points
        for case in cases:
            with guarded(f"running entry point {case.entry!r} of {case.file}", LOAD_FIX):
                started = time.perf_counter()
                entries[case.key] = loaders[case.file](case.entry, case.outputs)
                case.load_ms = (time.perf_counter() - started) * 1e3
                inputs[case.key] = random_input(case, settings.seed)
                started = time.perf_counter()
                entries[case.key](inputs[case.key])
                case.first_ms = (time.perf_counter() - started) * 1e3
                for _ in range(settings.warmup):
                    entries[case.key](inputs[case.key])
        rng = random.Random(settings.seed)
        with tqdm(
            total=settings.runs * len(cases), desc=f"bench {fmt} on host", unit="run", disable=not progress or None
        ) as bar:
            for i, case in enumerate(schedule(cases, settings, rng)):
                if i % len(cases) == 0:  # once per round: reading sensors is kept out of the timed loop's rhythm
                    thermal_gate(self.temperature, settings)
                run, x = entries[case.key], inputs[case.key]
                started = time.perf_counter()
                run(x)
                case.samples_ms.append((time.perf_counter() - started) * 1e3)
                bar.update(1)
                if settings.cooldown_ms:
                    time.sleep(settings.cooldown_ms / 1e3)
        return None

    def _open(self, fmt: str, path: Path, threads: int) -> Loader:
        """An artifact opened on its runtime; its console chatter held back, its failure named by file."""
        with guarded(f"loading {path} on the {fmt} runtime", LOAD_FIX):
            return FORMATS[fmt]().open(path, threads)

    def energy(self, fmt: str, case: Case, settings: Settings, sampler: EnergySampler) -> None:
        run, x = self.entries[case.key], self.inputs[case.key]
        with sampler.measure() as measurement:
            for _ in range(settings.energy_runs):
                run(x)
        case.energy = per_inference(measurement.result().to_dict(), settings.energy_runs)


class Apple(InProcess):
    """Core ML functions through coremltools, on macOS only (the phone path is documented in ios_export/)."""

    kind = "apple"

    def __init__(self) -> None:
        if platform.system() != "Darwin":
            raise PamkitError(
                f"the apple target runs Core ML, which predicts only on macOS (this is "
                f"{platform.system()}); on Linux benchmark the same model with --target host "
                "--format executorch or tflite"
            )

    def sampler(self) -> EnergySampler:
        return PowermetricsSampler()


# -- through the native runner -------------------------------------------------------------------------
class NativeRunner(Target):
    """The C++ runner (ExecuTorch ``Module``) on a device: push the runner and artifact, run, collect JSON lines."""

    arch: str

    def __init__(self) -> None:
        self.wrapper: list[str] = []  # command prefix that runs a program on the device
        self.pushed: dict[Path, str] = {}

    def push(self, path: Path) -> str:
        """Make a file available on the device; its path there."""
        return str(path)

    def remote(self, path: Path) -> str:
        """The file's path on the device, pushed on first use only (the runner and artifacts serve many runs)."""
        if path not in self.pushed:
            self.pushed[path] = self.push(path)
        return self.pushed[path]

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "runner": "pamkit_runner (C++, ExecuTorch Module API)",
            "arch": self.arch,
            **host_description(),
        }

    def measure(self, fmt: str, cases: list[Case], settings: Settings, progress: bool) -> str | None:
        runner = self.remote(self.binary())
        files = sorted({c.file for c in cases})
        blocks = min(settings.runs, 5) if len(files) > 1 else 1  # several artifacts: alternate in blocks
        rng = random.Random(settings.seed)
        prefix = self.command_prefix(settings.pin)
        for block in tqdm(range(blocks), desc=f"bench on {self.kind}", unit="block", disable=not progress or None):
            runs = settings.runs // blocks + (1 if block < settings.runs % blocks else 0)
            for file in rng.sample(files, len(files)):
                thermal_gate(self.temperature, settings)
                mine = {c.entry: c for c in cases if c.file == file}
                out = run_runner(
                    runner,
                    self.remote(file),
                    methods=list(mine),
                    warmup=settings.warmup if block == 0 else 1,
                    runs=runs,
                    threads=settings.threads,
                    order=settings.order,
                    cooldown_ms=round(settings.cooldown_ms),
                    seed=settings.seed + block,
                    timeout=settings.timeout_s,
                    wrapper=prefix,
                )
                for name, case in mine.items():
                    if block == 0 and name in out.loads:
                        case.load_ms, case.first_ms = out.loads[name]["load_ms"], out.loads[name]["first_ms"]
                    case.samples_ms.extend(out.samples.get(name, []))
                if not out.complete:
                    return f"{file.name}: {out.error}"
        return None

    def binary(self) -> Path:
        """The runner built for this device."""
        return build_runner(self.arch)

    def command_prefix(self, pin: str | None) -> list[str]:
        """What runs the runner on the device, pinned to CPUs when asked (taskset runs on this machine)."""
        return (["taskset", "-c", pin] if pin else []) + self.wrapper

    def energy(self, fmt: str, case: Case, settings: Settings, sampler: EnergySampler) -> None:
        runner, model = self.remote(self.binary()), self.remote(case.file)
        with sampler.measure() as measurement:  # includes loading the method once: a small overestimate
            run_runner(
                runner,
                model,
                methods=[case.entry],
                warmup=0,
                runs=settings.energy_runs,
                threads=settings.threads,
                order="sequential",
                timeout=settings.timeout_s,
                wrapper=self.wrapper,
            )
        case.energy = per_inference(measurement.result().to_dict(), settings.energy_runs)


class HostRunner(NativeRunner):
    """The native runner on this machine, built on demand against the executorch wheel."""

    kind, arch = "host", platform.machine()

    def sampler(self) -> EnergySampler:
        return host_sampler()

    def temperature(self) -> float | None:
        return host_temperature()


class EmulatedArm64(NativeRunner):
    """The aarch64 runner under qemu-aarch64 user-mode emulation: the device path without a device; not for timing."""

    kind, arch, emulated = "emulated-arm64", "aarch64", True

    def __init__(self) -> None:
        super().__init__()
        self.device = Path(tempfile.mkdtemp(prefix="pamkit-arm64-device-"))
        self.wrapper = qemu_wrapper(executorch_sdk("aarch64"))

    def push(self, path: Path) -> str:
        """A copy in the emulated device's directory (the step adb push does on a phone)."""
        target = self.device / path.name
        shutil.copy2(path, target)
        return str(target)

    def sampler(self) -> EnergySampler:
        return NoSampler("an emulated device has no energy of its own (qemu runs on the host's CPU)")


class AndroidRunner(NativeRunner):
    """The runner on an attached phone through adb; the arm64 runner is built with the NDK and given by path."""

    kind, arch, pins_host_cpus = "android", "arm64-v8a", False

    def __init__(self, serial: str | None, runner: Path | None) -> None:
        super().__init__()
        self.adb = Adb(serial)
        if runner is None:
            raise PamkitError(
                "the android target needs the runner built for the phone: pass --runner-binary PATH to "
                "an arm64 pamkit_runner built with the Android NDK from toolkit/pamkit/bench/runner/ "
                "against ExecuTorch's Android libraries (push its .so files beside it)"
            )
        self.runner = runner
        self.wrapper = [*self.adb.wrapper(), f"LD_LIBRARY_PATH={DEVICE_DIR}"]

    def push(self, path: Path) -> str:
        return self.adb.push(path, f"{DEVICE_DIR}/{path.name}")

    def binary(self) -> Path:
        return self.runner

    def command_prefix(self, pin: str | None) -> list[str]:
        return self.wrapper + (["taskset", cpu_mask(pin)] if pin else [])  # the phone's taskset takes a mask

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "serial": self.adb.serial,
            "runner": "pamkit_runner (arm64)",
            **android_description(self.adb),
        }

    def sampler(self) -> EnergySampler:
        return AndroidFuelGauge(self.adb.shell)

    def temperature(self) -> float | None:
        return android_temperature(self.adb)


# -- TFLite's benchmark_model on a phone ----------------------------------------------------------------
class AndroidBenchmarkModel(Target):
    """TFLite signatures through the official ``benchmark_model`` binary, pushed to the phone."""

    kind, pins_host_cpus = "android", False

    def __init__(self, serial: str | None, binary: Path) -> None:
        self.adb = Adb(serial)
        self.binary = self.adb.push(binary, f"{DEVICE_DIR}/benchmark_model")
        self.adb.shell(f"chmod +x {self.binary}")

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "serial": self.adb.serial,
            "runner": "benchmark_model (TFLite)",
            **android_description(self.adb),
        }

    def sampler(self) -> EnergySampler:
        return AndroidFuelGauge(self.adb.shell)

    def measure(self, fmt: str, cases: list[Case], settings: Settings, progress: bool) -> str | None:
        remote = {f: self.adb.push(f, f"{DEVICE_DIR}/{f.name}") for f in {c.file for c in cases}}
        pin = f"taskset {cpu_mask(settings.pin)} " if settings.pin else ""
        for case in tqdm(cases, desc="bench tflite on android", disable=not progress or None):
            text = self.adb.shell(
                f"{pin}{self.binary} --graph={remote[case.file]} --signature_to_run_for={case.entry}"
                f" --num_threads={settings.threads} --warmup_runs={settings.warmup}"
                f" --num_runs={settings.runs}",
                timeout=settings.timeout_s,
            )
            parsed = parse_benchmark_model(text)
            case.reported = parsed
            case.load_ms = parsed["init_us"] / 1e3 if parsed.get("init_us") is not None else None
            case.first_ms = parsed["first_us"] / 1e3 if parsed.get("first_us") is not None else None
        return None


# -- helpers -----------------------------------------------------------------------------------------------
def schedule(cases: list[Case], settings: Settings, rng: random.Random) -> list[Case]:
    """The order of timed runs: shuffled rounds of every case (interleaved) or each case's runs together."""
    if settings.order == "sequential":
        return [case for case in cases for _ in range(settings.runs)]
    return [case for _ in range(settings.runs) for case in rng.sample(cases, len(cases))]


def thermal_gate(read: Callable[[], float | None], settings: Settings) -> None:
    """Wait (up to ``thermal_wait_s``) while a readable temperature is above the limit."""
    deadline = time.monotonic() + settings.thermal_wait_s
    while (t := read()) is not None and t > settings.thermal_limit_c and time.monotonic() < deadline:
        time.sleep(1.0)


def random_input(case: Case, seed: int) -> np.ndarray:
    """A deterministic float32 input of the case's shape (timing does not depend on the values)."""
    return np.random.default_rng(seed).standard_normal(case.input_shape).astype(np.float32)


def per_inference(reading: dict[str, Any], runs: int) -> dict[str, Any]:
    """An energy reading with joules per inference added (None where not measured)."""
    joules = reading.get("joules")
    return {**reading, "inferences": runs, "joules_per_inference": None if joules is None else joules / runs}


def cpu_list(spec: str) -> set[int]:
    """``"0,2-3"`` -> {0, 2, 3}; PamkitError for anything else (a reversed range, a negative number, nothing)."""
    cpus: set[int] = set()
    for part in spec.split(","):
        low, _, high = part.partition("-")
        try:
            first, last = int(low), int(high or low)
        except ValueError:
            first, last = -1, -1
        if first < 0 or last < first or last >= MAX_CPUS:
            raise PamkitError(f"cannot read CPU list {spec!r}; write it like 0 or 0,2-3 (--pin)")
        cpus.update(range(first, last + 1))
    return cpus


def check_host_cpus(spec: str | None) -> None:
    """Refuse, before anything is measured, a ``--pin`` naming CPUs this process cannot run on."""
    if not spec:
        return
    usable = os.sched_getaffinity(0)
    missing = sorted(cpu_list(spec) - usable)
    if missing:
        raise PamkitError(
            f"--pin {spec}: CPUs {missing} do not exist or are not available to this process; pick "
            f"from {','.join(map(str, sorted(usable)))}"
        )


def cpu_mask(spec: str) -> str:
    """A CPU list as the hexadecimal mask Android's ``taskset`` takes."""
    return format(sum(1 << c for c in cpu_list(spec)), "x")


def host_description() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    versions = package_versions()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "os": platform.platform(),
        "runtimes": {k: versions[k] for k in ("executorch", "ai-edge-litert", "coremltools", "torch")},
    }


def host_temperature() -> float | None:
    temps = [
        int(t) / 1000
        for t in (_read(p).strip() for p in map(str, Path("/sys/class/thermal").glob("thermal_zone*/temp")))
        if t.isdigit()
    ]
    return max(temps) if temps else None


def android_description(adb: Adb) -> dict[str, Any]:
    props = {
        key: adb.shell(f"getprop {key}").strip()
        for key in ("ro.product.manufacturer", "ro.product.model", "ro.build.version.release", "ro.soc.model")
    }
    return {"device": props, "abi": adb.shell("uname -m").strip()}


def android_temperature(adb: Adb) -> float | None:
    """Battery temperature (tenths of °C in ``dumpsys battery``)."""
    for line in adb.shell("dumpsys battery").splitlines():
        if line.strip().startswith("temperature:"):
            return int(line.split(":")[1]) / 10
    return None


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""
