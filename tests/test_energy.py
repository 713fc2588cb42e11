"""Energy samplers on fake sources in their real formats, tool-output parsers, and the analytical estimate."""

import os
import time
from pathlib import Path

import pytest

from pamkit.bench.energy import (
    AndroidFuelGauge,
    NoSampler,
    PowermetricsSampler,
    RaplSampler,
    estimate_energy,
    host_sampler,
    parse_powermetrics,
)
from pamkit.bench.parsers import parse_benchmark_model, parse_sysfs_int
from pamkit.errors import PamkitError

# -- RAPL ---------------------------------------------------------------------------------------------------
MAX_RANGE = 262143328850  # a real package max_energy_range_uj


def rapl_zone(path: Path, name: str, energy_uj: int) -> Path:
    """One powercap zone directory as the kernel lays it out."""
    path.mkdir(parents=True)
    (path / "name").write_text(f"{name}\n")
    (path / "energy_uj").write_text(f"{energy_uj}\n")
    (path / "max_energy_range_uj").write_text(f"{MAX_RANGE}\n")
    (path / "enabled").write_text("1\n")
    return path


@pytest.fixture
def powercap(tmp_path):
    """Two packages, each with core/uncore or dram subzones, plus the mmio duplicate of package 0."""
    root = tmp_path / "powercap"
    pkg0 = rapl_zone(root / "intel-rapl:0", "package-0", MAX_RANGE - 1_000_000)  # wraps during the block
    rapl_zone(pkg0 / "intel-rapl:0:0", "core", 5_000_000)
    rapl_zone(pkg0 / "intel-rapl:0:1", "uncore", 6_000_000)
    pkg1 = rapl_zone(root / "intel-rapl:1", "package-1", 10_000_000)
    rapl_zone(pkg1 / "intel-rapl:1:0", "dram", 7_000_000)
    rapl_zone(root / "intel-rapl-mmio:0", "package-0", 123)
    (root / "intel-rapl").mkdir()  # the control-type directory, not a zone
    return root


def advance(zone: Path, microjoules: int) -> None:
    """Let a zone's counter run on by microjoules, wrapping at max_energy_range_uj like the hardware."""
    value = int((zone / "energy_uj").read_text()) + microjoules
    (zone / "energy_uj").write_text(f"{value % MAX_RANGE}\n")


def test_rapl_sums_packages_only_and_corrects_wraparound(powercap):
    sampler = RaplSampler(powercap)
    assert [z.name for z in sampler.zones()] == ["intel-rapl:0", "intel-rapl:1"]
    assert sampler.unavailable() is None
    with sampler.measure() as m:
        advance(powercap / "intel-rapl:0", 3_000_000)                   # 1 J to the wrap, 2 J after it
        advance(powercap / "intel-rapl:1", 1_500_000)
        advance(powercap / "intel-rapl:0" / "intel-rapl:0:0", 9_000_000)  # a subzone: already in package 0
        advance(powercap / "intel-rapl-mmio:0", 9_000_000)               # the same package through MMIO
    reading = m.reading
    assert reading.joules == pytest.approx(4.5)
    assert reading.samples == 2 and reading.seconds > 0
    assert reading.mean_watts == pytest.approx(4.5 / reading.seconds)
    assert "wrapped on intel-rapl:0" in reading.note and "package-1" in reading.note
    assert reading.to_dict()["joules"] == pytest.approx(4.5)
    assert host_sampler(powercap).name == "rapl"


def test_rapl_permission_denied_says_why_and_how_to_fix(powercap):
    def read(path: Path) -> str:
        if path.name == "energy_uj":
            raise PermissionError(13, "Permission denied", str(path))
        return path.read_text()

    reason = RaplSampler(powercap, read=read).unavailable()
    assert "permission denied" in reason and "intel-rapl:0/energy_uj" in reason and "root" in reason
    sampler = RaplSampler(powercap, read=read)
    with sampler.measure() as m:
        pass
    assert m.reading.joules is None and m.reading.note.startswith("not measured: cannot read")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode, so chmod 000 blocks nothing")
def test_rapl_unreadable_file_on_disk(powercap):
    (powercap / "intel-rapl:1" / "energy_uj").chmod(0)
    sampler = host_sampler(powercap)
    assert isinstance(sampler, NoSampler)
    assert "permission denied" in sampler.unavailable()


def test_host_sampler_without_powercap_is_not_measured(tmp_path):
    sampler = host_sampler(tmp_path / "powercap")
    with sampler.measure() as m:
        sum(range(1000))
    assert m.reading.joules is None and m.reading.mean_watts is None
    absent = f"{tmp_path / 'powercap'} is absent (no RAPL counters exposed on this machine)"
    assert m.reading.note == f"not measured: {absent}"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no intel-rapl:N zones" in host_sampler(empty).unavailable()


def test_reading_survives_a_failing_block(tmp_path):
    sampler = NoSampler("nothing to read")
    with pytest.raises(ZeroDivisionError), sampler.measure() as m:
        _ = 1 / 0
    assert m.reading.note == "not measured: nothing to read"
    with pytest.raises(PamkitError, match="before start"):
        NoSampler("x").stop()


# -- Android fuel gauge -------------------------------------------------------------------------------------
DUMPSYS_USB = ("Current Battery Service state:\n  AC powered: false\n  USB powered: true\n  Wireless powered: false\n"
               "  Max charging current: 500000\n  status: 2\n  health: 2\n  present: true\n  level: 87\n"
               "  scale: 100\n  voltage: 4312\n  temperature: 301\n  technology: Li-ion\n")
DUMPSYS_BATTERY = ("Current Battery Service state:\n  AC powered: false\n  USB powered: false\n"
                   "  Wireless powered: false\n  Max charging current: 0\n  status: 3\n  health: 2\n  present: true\n"
                   "  level: 87\n  scale: 100\n  voltage: 3850\n  temperature: 301\n  technology: Li-ion\n")


class FakePhone:
    """``adb shell`` of a phone whose gauge reads -350 mA at 3.85 V (current sign as many vendors report it)."""

    def __init__(self, dumpsys: str, status: str) -> None:
        self.dumpsys, self.status, self.commands = dumpsys, status, []

    def shell(self, command: str) -> str:
        self.commands.append(command)
        if command == "dumpsys battery":
            return self.dumpsys
        if command == "cat /sys/class/power_supply/battery/status":
            return self.status
        if command == "cat /sys/class/power_supply/battery/current_now /sys/class/power_supply/battery/voltage_now":
            return "-350000\n3850000\n"
        raise AssertionError(f"unexpected command {command!r}")


def test_fuel_gauge_integrates_current_times_voltage():
    phone = FakePhone(DUMPSYS_BATTERY, "Discharging\n")
    gauge = AndroidFuelGauge(phone.shell, interval_s=0.01)
    assert gauge.charging_reason() is None
    started = time.perf_counter()
    with gauge.measure() as m:
        time.sleep(0.3)
    wall = time.perf_counter() - started
    reading = m.reading
    assert reading.samples >= 5  # polled in the background, not only at start and stop
    assert reading.mean_watts == pytest.approx(0.35 * 3.85)
    assert reading.joules == pytest.approx(0.35 * 3.85 * wall, rel=0.1)
    assert "trapezoid" in reading.note


def test_fuel_gauge_refuses_while_charging_over_usb():
    phone = FakePhone(DUMPSYS_USB, "Charging\n")
    gauge = AndroidFuelGauge(phone.shell)
    reason = gauge.charging_reason()
    assert "USB powered: true" in reason and "status: Charging" in reason
    with gauge.measure() as m:
        pass
    assert m.reading.joules is None
    assert m.reading.note.startswith("not measured: the phone is charging over USB/AC")
    assert m.reading.note.endswith("use adb over Wi-Fi or a power monitor")
    assert not any("current_now" in c for c in phone.commands)  # no sampling once charging is known


def test_fuel_gauge_powered_but_not_charging_still_refuses():
    dumpsys = DUMPSYS_BATTERY.replace("AC powered: false", "AC powered: true").replace("status: 3", "status: 4")
    assert "AC powered: true" in AndroidFuelGauge(FakePhone(dumpsys, "Not charging\n").shell).charging_reason()


def test_fuel_gauge_unreadable_says_why():
    def shell(command: str) -> str:
        if "current_now" in command:
            return "cat: /sys/class/power_supply/battery/current_now: Permission denied\n3850000\n"
        return DUMPSYS_BATTERY if command == "dumpsys battery" else "Discharging\n"

    reason = AndroidFuelGauge(shell).unavailable()
    assert reason.startswith("could not read the fuel gauge") and "Permission denied" in reason
    with pytest.raises(PamkitError, match="positive"):
        AndroidFuelGauge(shell, interval_s=0)


def test_parse_sysfs_int():
    assert parse_sysfs_int("-350000\n") == -350000
    with pytest.raises(PamkitError, match="expected one integer"):
        parse_sysfs_int("cat: No such file or directory")


# -- powermetrics -------------------------------------------------------------------------------------------
POWERMETRICS = """Machine model: Mac14,2
OS version: 23E224
Boot arguments:
Boot time: Mon Apr 15 09:12:21 2024



*** Sampled system activity (Mon Apr 15 12:39:54 2024 +0200) (102.48ms elapsed) ***


**** Processor usage ****

E-Cluster HW active frequency: 1248 MHz
E-Cluster HW active residency:  77.43% (600 MHz:   0% 912 MHz:  54% 2424 MHz: 8.7%)
E-Cluster idle residency:  22.57%
CPU 0 frequency: 1359 MHz

P-Cluster HW active frequency: 3204 MHz
P-Cluster HW active residency:  96.23% (660 MHz:   0% 3504 MHz:  81%)
P-Cluster idle residency:   3.77%
CPU 4 frequency: 3228 MHz

CPU Power: 1234 mW
GPU Power: 56 mW
ANE Power: 0 mW
Combined Power (CPU + GPU + ANE): 1290 mW

**** GPU usage ****

GPU HW active frequency: 389 MHz
GPU HW active residency:   3.64% (389 MHz: 3.6% 486 MHz:   0%)
GPU SW requested state: (P1 : 100% P2 :   0% P3 :   0%)
GPU idle residency:  96.36%
GPU Power: 56 mW


*** Sampled system activity (Mon Apr 15 12:39:54 2024 +0200) (97.52ms elapsed) ***


**** Processor usage ****

CPU Power: 2100 mW
GPU Power: 40 mW
ANE Power: 650 mW
Combined Power (CPU + GPU + ANE): 2790 mW

**** GPU usage ****

GPU HW active frequency: 389 MHz
GPU idle residency:  97.10%
GPU Power: 40 mW
"""


def test_parse_powermetrics_samples():
    samples = parse_powermetrics(POWERMETRICS)
    assert samples == [
        {"elapsed_ms": 102.48, "cpu_mw": 1234.0, "gpu_mw": 56.0, "ane_mw": 0.0, "combined_mw": 1290.0},
        {"elapsed_ms": 97.52, "cpu_mw": 2100.0, "gpu_mw": 40.0, "ane_mw": 650.0, "combined_mw": 2790.0}]
    without_combined = POWERMETRICS.replace("Combined Power (CPU + GPU + ANE): 2790 mW\n", "")
    assert parse_powermetrics(without_combined)[1]["combined_mw"] == 2790.0
    assert parse_powermetrics("sudo: a password is required\n") == []


class FakePowermetrics:
    """What ``run`` returns: a process that wrote POWERMETRICS to its stdout file and stops on SIGINT."""

    def __init__(self, argv, out):
        self.argv, self.signals = argv, []
        out.write(POWERMETRICS)

    def send_signal(self, sig):
        self.signals.append(sig)

    def wait(self, timeout=None):
        return 0


def test_powermetrics_sampler_integrates_combined_power():
    started = []
    sampler = PowermetricsSampler(run=lambda argv, out: started.append(FakePowermetrics(argv, out)) or started[-1])
    sampler.unavailable = lambda: None  # this test runs on Linux; the checks it skips are tested below
    with sampler.measure() as m:
        time.sleep(0.05)
    assert "--samplers" in started[0].argv and "cpu_power,gpu_power,ane_power" in started[0].argv
    assert started[0].signals  # stopped with SIGINT
    mean_w = (1.290 * 102.48 + 2.790 * 97.52) / (102.48 + 97.52)
    assert m.reading.samples == 2
    assert m.reading.mean_watts == pytest.approx(mean_w)
    assert m.reading.joules == pytest.approx(mean_w * m.reading.seconds)


@pytest.mark.skipif(os.uname().sysname == "Darwin", reason="checks what powermetrics says off macOS")
def test_powermetrics_unavailable_off_macos():
    sampler = PowermetricsSampler()
    assert "only on macOS" in sampler.unavailable()
    with sampler.measure() as m:
        pass
    assert m.reading.joules is None and m.reading.note.startswith("not measured: powermetrics exists only on macOS")


# -- benchmark_model ----------------------------------------------------------------------------------------
BENCHMARK_MODEL = """INFO: STARTING!
INFO: Log parameter values verbosely: [0]
INFO: Min num runs: [50]
INFO: Num threads: [4]
INFO: Min warmup runs: [5]
INFO: Graph: [/data/local/tmp/pamkit/digits.tflite]
INFO: Signature to run: [digit_odd]
INFO: #threads used for CPU inference: [4]
INFO: Loaded model /data/local/tmp/pamkit/digits.tflite
INFO: Created TensorFlow Lite XNNPACK delegate for CPU.
INFO: XNNPACK delegate created.
INFO: Explicitly applied XNNPACK delegate, and the model graph will be completely executed by the delegate.
INFO: The input model file size (MB): 0.0349
INFO: Initialized session in 1.5ms.
INFO: Running benchmark for at least 5 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
INFO: count=4104 first=300 curr=118 min=104 max=455 avg=120.5 std=11 p5=108 median=119 p95=137

INFO: Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
INFO: count=9020 first=121 curr=109 min=101 max=2.1234e+03 avg=110.2 std=9 p5=103 median=109 p95=125

INFO: Inference timings in us: Init: 1500, First inference: 300, Warmup (avg): 120.5, Inference (avg): 110.2
INFO: Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the \
actual memory footprint of the model at runtime. Take the information at your discretion.
INFO: Memory footprint delta from the start of the tool (MB): init=2.90234 overall=3.24609
"""


def test_parse_benchmark_model_complete_output():
    parsed = parse_benchmark_model(BENCHMARK_MODEL)
    assert parsed["init_us"] == 1500 and parsed["first_us"] == 300
    assert parsed["warmup_avg_us"] == 120.5 and parsed["avg_us"] == 110.2
    assert parsed["count"] == 9020  # the timed run, not the warm-up
    assert (parsed["min_us"], parsed["max_us"], parsed["std_us"]) == (101, 2123.4, 9)
    assert parsed["signature"] == "digit_odd" and parsed["threads"] == 4
    assert parsed["model"] == "/data/local/tmp/pamkit/digits.tflite"
    assert parsed["model_size_mb"] == 0.0349
    assert (parsed["mem_init_mb"], parsed["mem_overall_mb"]) == (2.90234, 3.24609)


def test_parse_benchmark_model_variants():
    # logcat prefixes, exponent notation and an all-equal warm-up run ("count=1 curr=..")
    logcat = "\n".join(f"06-01 12:00:00.000  4242  4242 I tflite  : {line}" for line in [
        "Initialized session in 17.187ms.",
        "Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.",
        "count=1 curr=3512391",
        "Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.",
        "count=50 first=2990275 curr=2913402 min=2727568 max=3189954 avg=2.95034e+06 std=109798",
        "Inference timings in us: Init: 17187, First inference: 3512391, Warmup (avg): 3.51239e+06, "
        "Inference (avg): 2.95034e+06"])
    parsed = parse_benchmark_model(logcat)
    assert parsed["avg_us"] == 2.95034e6 and parsed["count"] == 50 and parsed["signature"] is None
    # an older build's "Timings (microseconds):" statistics line, and the init time from "Initialized session"
    old = ("Initialized session in 2.25ms.\n"
           "Timings (microseconds): count=50 first=130 curr=120 min=115 max=140 avg=121 std=5\n")
    parsed = parse_benchmark_model(old)
    assert (parsed["init_us"], parsed["avg_us"], parsed["count"], parsed["first_us"]) == (2250, 121, 50, None)


def test_parse_benchmark_model_without_timings_fails_clearly():
    garbage = ("ERROR: Could not open '/data/local/tmp/missing.tflite'.\n"
               "ERROR: Failed to mmap model /data/local/tmp/missing.tflite\n")
    with pytest.raises(PamkitError, match=r"benchmark_model printed no timings; its output was: ERROR: Could not open"):
        parse_benchmark_model(garbage)
    with pytest.raises(PamkitError, match=r"its output was: \(nothing\)"):
        parse_benchmark_model("")


# -- analytical estimate ------------------------------------------------------------------------------------
def test_estimate_energy_is_labelled_and_linear_in_macs():
    one = estimate_energy(1_000_000, 40_000, 10_000)
    two = estimate_energy(2_000_000, 40_000, 10_000)
    assert one["kind"] == "estimate" and one["source"] == "Horowitz ISSCC 2014, 45 nm" and one["assumptions"]
    assert one["breakdown"]["compute_j"] == pytest.approx(1e6 * (3.7 + 0.9) * 1e-12)
    assert one["breakdown"]["weights_dram_j"] == pytest.approx(10_000 * 640e-12)
    assert one["breakdown"]["activations_sram_j"] == pytest.approx(2 * 2_500 * 5e-12)
    assert two["breakdown"]["compute_j"] == pytest.approx(2 * one["breakdown"]["compute_j"])
    assert two["joules"] - one["joules"] == pytest.approx(one["breakdown"]["compute_j"])
    assert one["joules"] == pytest.approx(sum(one["breakdown"].values()))
    int8 = estimate_energy(1_000_000, 0, 0, precision="int8")
    assert int8["joules"] == pytest.approx(1e6 * 0.23e-12)
    with pytest.raises(PamkitError, match="precision 'int4'"):
        estimate_energy(1, 1, 1, precision="int4")
    with pytest.raises(PamkitError, match="macs must be zero or more"):
        estimate_energy(-1, 1, 1)
