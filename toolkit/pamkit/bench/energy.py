"""Energy of a block of work, from whatever power source the machine exposes, or an honest "not measured".

Use any sampler around the work::

    with sampler.measure() as m:
        work()
    m.reading            # EnergyReading: joules, or joules=None and note="not measured: <why>"

(``sampler.start()`` then ``reading = sampler.stop()`` does the same.) Sources: Linux RAPL package counters
(:class:`RaplSampler`), an Android phone's fuel gauge over adb (:class:`AndroidFuelGauge`) and macOS
``powermetrics`` on Apple silicon (:class:`PowermetricsSampler`). Perfetto's ``android.power`` rails (Pixel 6 and
later) are not read. :func:`estimate_energy` is an analytical estimate from per-operation energies, never a
measurement, and is always labelled so.
"""

from __future__ import annotations

import itertools
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from ..errors import PamkitError
from .parsers import parse_sysfs_int

POWERCAP = Path("/sys/class/powercap")
BATTERY = "/sys/class/power_supply/battery"
CHARGING_FIX = "use adb over Wi-Fi or a power monitor"


@dataclass(frozen=True)
class EnergyReading:
    """What one measured block cost; ``joules`` is None when it was not measured, and ``note`` says why."""

    source: str
    joules: float | None
    seconds: float
    mean_watts: float | None
    samples: int
    note: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def not_measured(source: str, seconds: float, reason: str) -> EnergyReading:
    """A reading that says why there is no number."""
    return EnergyReading(source, None, seconds, None, 0, f"not measured: {reason}")


def measured(source: str, joules: float, seconds: float, samples: int, note: str) -> EnergyReading:
    """A reading with its mean power filled in."""
    return EnergyReading(source, joules, seconds, joules / seconds if seconds > 0 else None, samples, note)


@dataclass
class Measurement:
    """Handle that ``measure()`` yields; ``reading`` is set when the block exits."""

    reading: EnergyReading | None = None

    def result(self) -> EnergyReading:
        """The reading, once the ``measure()`` block has ended."""
        if self.reading is None:
            raise PamkitError("an energy reading was asked for before its measure() block ended")
        return self.reading


class EnergySampler(ABC):
    """A power source around a block of work: ``unavailable()`` says why it cannot measure, ``measure()`` measures.

    Samplers that read a source override ``_begin`` (start sampling; return a reason when that fails) and ``_end``
    (finish into a reading); the base class times the block and turns every reason into "not measured".
    """

    name = "none"
    _started: float | None = None  # perf_counter() at start(), None when not measuring
    _reason: str | None = None  # why the current block is not measured

    @abstractmethod
    def unavailable(self) -> str | None:
        """Why this sampler cannot measure here, or None when it can."""

    def _begin(self) -> str | None:
        """Start sampling (after ``unavailable()`` said yes); a reason when that failed."""
        return None

    def _end(self, seconds: float) -> EnergyReading:
        """Finish sampling the block that lasted ``seconds`` into a reading."""
        raise NotImplementedError(f"{type(self).__name__} reads no source; its unavailable() must give a reason")

    def start(self) -> None:
        """Begin measuring: check availability, note the time, start the source."""
        reason = self.unavailable()
        self._started = time.perf_counter()
        self._reason = reason or self._begin()

    def stop(self) -> EnergyReading:
        """End measuring; the reading for the time since ``start()``."""
        started = self._started
        if started is None:
            raise PamkitError(
                f"{type(self).__name__}.stop() called before start(); wrap the work in "
                "`with sampler.measure() as m:` instead"
            )
        seconds, self._started = time.perf_counter() - started, None
        return not_measured(self.name, seconds, self._reason) if self._reason else self._end(seconds)

    @contextmanager
    def measure(self) -> Iterator[Measurement]:
        """``with sampler.measure() as m: work()`` sets ``m.reading`` (also when the work raises)."""
        handle = Measurement()
        self.start()
        try:
            yield handle
        finally:
            handle.reading = self.stop()


class NoSampler(EnergySampler):
    """Stands in where nothing can be measured, so every reading says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def unavailable(self) -> str:
        return self.reason


# -- Linux RAPL ---------------------------------------------------------------------------------------------
def _read_text(path: Path) -> str:
    """A sysfs file's text (the default reader; tests inject their own)."""
    return path.read_text()


class RaplSampler(EnergySampler):
    """Sums the top-level RAPL zones (``intel-rapl:N``, one per package) between start and stop.

    Subzones (``intel-rapl:N:M``: core, uncore, dram) are parts of their package and not added again; nor is
    ``intel-rapl-mmio:N`` (a second interface to the same package counter) or a ``psys`` zone (the platform
    total, which contains the packages). A counter that wrapped between start and stop gets one
    ``max_energy_range_uj`` added back; a block long enough to wrap twice (hours at typical power) is undercounted.
    """

    name = "rapl"

    def __init__(self, root: Path = POWERCAP, read: Callable[[Path], str] = _read_text) -> None:
        self.root, self.read = Path(root), read

    def zones(self) -> list[Path]:
        """The package zones to sum, in index order."""
        found = sorted(
            (p for p in self.root.glob("intel-rapl:*") if re.fullmatch(r"intel-rapl:\d+", p.name)),
            key=lambda p: int(p.name.split(":")[1]),
        )
        packages = [p for p in found if self._zone_name(p) != "psys"]
        return packages or found

    def unavailable(self) -> str | None:
        if not self.root.is_dir():
            return f"{self.root} is absent (no RAPL counters exposed on this machine)"
        if not self.zones():
            return (
                f"{self.root} has no intel-rapl:N zones (the intel_rapl_msr driver is not loaded, or this is "
                "not an x86 machine with RAPL)"
            )
        try:
            self._counters()
        except PamkitError as err:
            return str(err)
        return None

    def _begin(self) -> str | None:
        try:
            self._before = self._counters()
        except PamkitError as err:
            return str(err)
        return None

    def _end(self, seconds: float) -> EnergyReading:
        try:
            after = self._counters()
        except PamkitError as err:
            return not_measured(self.name, seconds, str(err))
        total, wrapped = 0, []
        for zone, (start, _) in self._before.items():
            end, span = after[zone]
            if end < start:
                wrapped.append(zone.name)
                end += span
            total += end - start
        names = ", ".join(f"{z.name} ({self._zone_name(z)})" for z in after)
        note = f"RAPL {names}: CPU package energy only (no display, disk or PSU losses)"
        if wrapped:
            note += f"; counter wrapped on {', '.join(wrapped)} and was corrected with max_energy_range_uj"
        return measured(self.name, total / 1e6, seconds, 2, note)

    def _zone_name(self, zone: Path) -> str:
        """A zone's ``name`` (``package-0``, ``psys``), or its directory name when unreadable."""
        try:
            return self.read(zone / "name").strip()
        except OSError:
            return zone.name

    def _counters(self) -> dict[Path, tuple[int, int]]:
        """(energy_uj, max_energy_range_uj) of every zone; PamkitError saying which file failed and how to fix it."""
        values = {}
        for zone in self.zones():
            try:
                values[zone] = (
                    parse_sysfs_int(self.read(zone / "energy_uj")),
                    parse_sysfs_int(self.read(zone / "max_energy_range_uj")),
                )
            except PermissionError as err:
                raise PamkitError(
                    f"cannot read {err.filename or zone / 'energy_uj'}: permission denied (energy_uj is readable by "
                    "root only on Linux since the 2020 PLATYPUS fix, CVE-2020-8694); run as root or grant read "
                    f"access: sudo chmod a+r {self.root}/intel-rapl:*/energy_uj"
                ) from None
            except OSError as err:
                raise PamkitError(f"cannot read RAPL zone {zone}: {err.strerror or err}") from None
        return values


def host_sampler(root: Path = POWERCAP) -> EnergySampler:
    """RAPL when its counters can be read here, else a NoSampler that says why."""
    rapl = RaplSampler(root)
    reason = rapl.unavailable()
    return NoSampler(reason) if reason else rapl


# -- Android fuel gauge -------------------------------------------------------------------------------------
class AndroidFuelGauge(EnergySampler):
    """Whole-phone power from the battery fuel gauge (``current_now`` µA x ``voltage_now`` µV), polled over adb.

    A background thread reads both files every ``interval_s`` (one ``adb shell cat`` each time) while the block
    runs; |I|·V is integrated with the trapezoid rule (the sign of current_now differs between vendors). The gauge
    reads the battery's net current, which means nothing while a charger feeds the phone: then, and when the
    charging state cannot be read, the reading is "not measured". It includes the screen and idle draw (subtract
    an idle baseline), and gauges refresh about once a second, so blocks shorter than ~10 s are rough.
    """

    name = "android-fuel-gauge"

    def __init__(self, shell: Callable[[str], str], interval_s: float = 0.1) -> None:
        if interval_s <= 0:
            raise PamkitError(f"the fuel gauge polling interval must be positive, got {interval_s} s; use e.g. 0.1")
        self.shell, self.interval_s = shell, interval_s

    def charging_reason(self) -> str | None:
        """Why the gauge cannot be trusted now (a charger is connected, or that is unknown); None on battery."""
        evidence, failures = [], []
        try:
            dumpsys = self.shell("dumpsys battery")
            evidence += [
                f"{kind} powered: true" for kind in re.findall(r"^\s*(\w+) powered: true\s*$", dumpsys, re.MULTILINE)
            ]
            code = re.search(r"^\s*status: (\d+)\s*$", dumpsys, re.MULTILINE)
            if code and code.group(1) in ("2", "5"):  # BatteryManager.BATTERY_STATUS_CHARGING, _FULL
                evidence.append(f"dumpsys status: {code.group(1)}")
        except PamkitError as err:
            failures.append(f"dumpsys battery: {err}")
        try:
            status = self.shell(f"cat {BATTERY}/status").strip()
            if status in ("Charging", "Full"):
                evidence.append(f"status: {status}")
        except PamkitError as err:
            failures.append(f"{BATTERY}/status: {err}")
        if evidence:
            return f"the phone is charging over USB/AC ({', '.join(evidence)}); {CHARGING_FIX}"
        if len(failures) == 2:
            return f"cannot tell whether the phone is charging ({'; '.join(failures)}); {CHARGING_FIX}"
        return None

    def unavailable(self) -> str | None:
        reason = self.charging_reason()
        if reason:
            return reason
        try:
            self._sample()
        except PamkitError as err:
            return str(err)
        return None

    def _begin(self) -> str | None:
        try:
            self._samples = [self._sample()]
        except PamkitError as err:
            return str(err)
        self._error: Exception | None = None
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="fuel-gauge", daemon=True)
        self._thread.start()
        return None

    def _poll(self) -> None:
        """Background loop: one sample per interval until halted; the first error stops it and is kept."""
        while not self._halt.wait(self.interval_s):
            try:
                self._samples.append(self._sample())
            except Exception as err:  # re-raised or reported by _end, in the caller's thread
                self._error = err
                return

    def _end(self, seconds: float) -> EnergyReading:
        self._halt.set()
        self._thread.join()
        if isinstance(self._error, PamkitError):
            return not_measured(self.name, seconds, f"the fuel gauge stopped answering mid-block: {self._error}")
        if self._error is not None:
            raise self._error
        reason = self.charging_reason()
        if reason:
            return not_measured(self.name, seconds, f"a charger was connected during the block: {reason}")
        try:
            samples = [*self._samples, self._sample()]
        except PamkitError as err:
            return not_measured(self.name, seconds, str(err))
        span = samples[-1][0] - samples[0][0]
        area = sum((t1 - t0) * (w0 + w1) / 2 for (t0, w0), (t1, w1) in itertools.pairwise(samples))
        mean_w = area / span if span > 0 else samples[-1][1]
        note = (
            f"fuel gauge |I|·V, trapezoid over {len(samples)} samples scaled to the block; whole-phone power "
            "(screen and idle included: subtract an idle baseline); gauges refresh about once a second"
        )
        return measured(self.name, mean_w * seconds, seconds, len(samples), note)

    def _sample(self) -> tuple[float, float]:
        """(time, watts) from one read of current_now and voltage_now; time is the middle of the adb round trip."""
        before = time.perf_counter()
        text = self.shell(f"cat {BATTERY}/current_now {BATTERY}/voltage_now")
        moment = (before + time.perf_counter()) / 2
        values = text.split()
        if len(values) != 2:
            raise PamkitError(
                f"could not read the fuel gauge: `cat {BATTERY}/current_now {BATTERY}/voltage_now` "
                f"printed {text.strip()[:200]!r}; this phone may not expose them (use a power monitor)"
            )
        microamps, microvolts = (parse_sysfs_int(v) for v in values)
        return moment, abs(microamps) * microvolts * 1e-12


# -- macOS powermetrics -------------------------------------------------------------------------------------
_SAMPLE_HEADER = re.compile(r"^\*\*\* Sampled system activity .*?\((\d+(?:\.\d+)?)ms elapsed\) \*\*\*$", re.MULTILINE)
_POWER_LINE = re.compile(
    r"^(CPU|GPU|ANE|Combined) Power(?: \(CPU \+ GPU \+ ANE\))?: (\d+(?:\.\d+)?) (mW|W)\s*$", re.MULTILINE
)


def parse_powermetrics(text: str) -> list[dict[str, float]]:
    """Per sample of ``powermetrics`` text: ``elapsed_ms`` and ``cpu_mw``, ``gpu_mw``, ``ane_mw``, ``combined_mw``.

    A sample starts at its ``*** Sampled system activity (...) (1002.90ms elapsed) ***`` header; a figure printed
    twice in one sample (GPU Power also appears in the GPU section) counts once; ``combined_mw`` is the sum of the
    parts when the Combined line is missing. Samples with no power line are left out.
    """
    parts = _SAMPLE_HEADER.split(text)
    samples = []
    for elapsed, body in zip(parts[1::2], parts[2::2], strict=True):
        sample: dict[str, float] = {}
        for kind, value, unit in _POWER_LINE.findall(body):
            sample.setdefault(f"{kind.lower()}_mw", float(value) * (1000 if unit == "W" else 1))
        if sample:
            sample.setdefault("combined_mw", sum(sample.values()))
            samples.append({"elapsed_ms": float(elapsed), **sample})
    return samples


def _popen(argv: list[str], out: IO[str]) -> subprocess.Popen:
    """Start powermetrics writing to ``out`` (a file, so a long block cannot fill a pipe and stall it)."""
    return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, text=True)


class PowermetricsSampler(EnergySampler):
    """Apple silicon CPU + GPU + ANE power from ``sudo powermetrics``, which runs for the length of the block.

    ``run(argv, out)`` starts the process with stdout on ``out`` (default: subprocess.Popen). The figures are
    Apple's own model, not a meter, and leave out DRAM, display and the rest of the machine.
    """

    name = "powermetrics"

    def __init__(
        self, run: Callable[[list[str], IO[str]], subprocess.Popen] | None = None, interval_ms: int = 100
    ) -> None:
        if interval_ms <= 0:
            raise PamkitError(f"the powermetrics interval must be positive, got {interval_ms} ms; use e.g. 100")
        self.run, self.interval_ms = run or _popen, interval_ms

    def argv(self) -> list[str]:
        """The command line: powermetrics with the three power samplers, line-buffered, under ``sudo -n`` if needed."""
        sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
        return [
            *sudo,
            "powermetrics",
            "--samplers",
            "cpu_power,gpu_power,ane_power",
            "-i",
            str(self.interval_ms),
            "--buffer-size",
            "1",
        ]

    def unavailable(self) -> str | None:
        if sys.platform != "darwin":
            return f"powermetrics exists only on macOS (this is {platform.system()})"
        if platform.machine() != "arm64":
            return f"powermetrics reports CPU/GPU/ANE power only on Apple silicon (this Mac is {platform.machine()})"
        if shutil.which("powermetrics") is None:
            return "powermetrics is not on PATH (it ships with macOS in /usr/bin)"
        if os.geteuid() != 0 and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode != 0:
            return (
                "powermetrics needs root and sudo asks for a password; run pamkit under sudo, or run `sudo -v` "
                "just before, or allow it without a password in sudoers"
            )
        return None

    def _begin(self) -> str | None:
        self._out = tempfile.TemporaryFile("w+")  # noqa: SIM115 -- open from _begin until _end closes it
        try:
            self._proc = self.run(self.argv(), self._out)
        except OSError as err:
            self._out.close()
            return f"could not start powermetrics: {err}"
        return None

    def _end(self, seconds: float) -> EnergyReading:
        self._proc.send_signal(signal.SIGINT)
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._out.seek(0)
        text = self._out.read()
        self._out.close()
        samples = parse_powermetrics(text)
        if not samples:
            head = " | ".join(line.strip() for line in text.splitlines() if line.strip())[:300] or "(nothing)"
            return not_measured(
                self.name,
                seconds,
                f"powermetrics printed no power samples (a block shorter than "
                f"its {self.interval_ms} ms interval?); its output: {head}",
            )
        sampled_s = sum(s["elapsed_ms"] for s in samples) / 1e3
        sampled_j = sum(s["combined_mw"] * s["elapsed_ms"] for s in samples) / 1e6
        note = (
            f"powermetrics CPU+GPU+ANE (Apple's model, not a meter; DRAM and display excluded), {len(samples)} "
            f"samples covering {sampled_s:.2f} s of the {seconds:.2f} s block, scaled to the block"
        )
        return measured(self.name, sampled_j / sampled_s * seconds, seconds, len(samples), note)


# -- analytical estimate ------------------------------------------------------------------------------------
# Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014, 45 nm at 0.9 V, in pJ:
# (multiply, add) per precision.
OP_PJ = {"float32": (3.7, 0.9), "float16": (1.1, 0.4), "int8": (0.2, 0.03)}
# Per 32 bits: Horowitz gives 10 pJ for a 64-bit read from an 8 KB cache and 1.3-2.6 nJ for a 64-bit DRAM access;
# the 32-bit figures 5 pJ and 640 pJ are as tabulated from it by Han et al., NIPS 2015.
SRAM_PJ_PER_32BIT = 5.0
DRAM_PJ_PER_32BIT = 640.0
CITATIONS = (
    'M. Horowitz, "Computing\'s energy problem (and what we can do about it)", ISSCC 2014, pp. 10-14',
    'S. Han, J. Pool, J. Tran, W. Dally, "Learning both weights and connections for efficient neural '
    'networks", NIPS 2015 (its energy table: 32-bit SRAM 5 pJ and DRAM 640 pJ, from Horowitz)',
)


def estimate_energy(macs: int, weight_bytes: int, activation_bytes: int, precision: str = "float32") -> dict[str, Any]:
    """An ANALYTICAL ESTIMATE of one inference's energy from 45 nm per-operation energies; never a measurement."""
    if precision not in OP_PJ:
        raise PamkitError(f"no per-operation energies for precision {precision!r}; choose one of {', '.join(OP_PJ)}")
    for label, value in (("macs", macs), ("weight_bytes", weight_bytes), ("activation_bytes", activation_bytes)):
        if value < 0:
            raise PamkitError(f"{label} must be zero or more, got {value}; pass the counts `pamkit cost` reports")
    multiply, add = OP_PJ[precision]
    breakdown = {
        "compute_j": macs * (multiply + add) * 1e-12,
        "weights_dram_j": weight_bytes / 4 * DRAM_PJ_PER_32BIT * 1e-12,
        "activations_sram_j": 2 * activation_bytes / 4 * SRAM_PJ_PER_32BIT * 1e-12,
    }
    assumptions = (
        f"45 nm, 0.9 V figures (newer processes spend less per operation: read this as an order of "
        f"magnitude, not a forecast); each MAC is one {precision} multiply ({multiply} pJ) and one add "
        f"({add} pJ) at the same width (int8 kernels usually accumulate in int32, 0.1 pJ per add); weights "
        f"read once from DRAM and activations written once and read once through an 8 KB SRAM, both "
        f"scaled per byte from the 32-bit figures ({DRAM_PJ_PER_32BIT:g} pJ, {SRAM_PJ_PER_32BIT:g} pJ; "
        f"writes cost as much as reads); no cache reuse of weights, no instruction, control, "
        f"register-file or static (leakage) energy"
    )
    return {
        "kind": "estimate",
        "joules": sum(breakdown.values()),
        "breakdown": breakdown,
        "precision": precision,
        "assumptions": assumptions,
        "source": "Horowitz ISSCC 2014, 45 nm",
        "citations": list(CITATIONS),
    }
