"""Bench: real runs on the host runtimes, the native runner and the emulated arm64 device; results and reports."""

import dataclasses
import json
import shutil

import pytest

from helpers import random_lattice, source_nets
from pamkit.bench import BenchOptions, Settings, bench, load_results, markdown, ratio_rows, summarize
from pamkit.bench.adb import parse_devices
from pamkit.cli import main
from pamkit.errors import PamkitError
from pamkit.export import ExportOptions, export

pytestmark = pytest.mark.slow
FAST = Settings(warmup=1, runs=5, seed=1)


@pytest.fixture(scope="module")
def exported(digits_data, tmp_path_factory):
    """A tiny 3-task artifact in ExecuTorch and TFLite with two entry points."""
    net = random_lattice(source_nets("lenet5", 16), seed=5)
    data = dataclasses.replace(digits_data, input_spec=net.structure.input_spec)
    out = tmp_path_factory.mktemp("bench") / "export"
    export(net, data, out, ExportOptions(formats=("executorch", "tflite"), combinations="digit,digit+odd+high",
                                         parity_samples=2), progress=False)
    return out


@pytest.mark.parametrize("fmt", ["executorch", "tflite"])
def test_host_runtimes_time_every_entry_point(exported, fmt):
    results = bench({"pam": exported}, BenchOptions(format=fmt, settings=FAST), progress=False)
    assert results["complete"] and results["target"]["kind"] == "host" and not results["target"]["emulated"]
    assert [c["entry"] for c in results["cases"]] == ["digit", "digit__odd__high"]
    for case in results["cases"]:
        assert len(case["samples_ms"]) == 5 and case["stats"]["count"] == 5
        assert 0 < case["stats"]["min"] <= case["stats"]["median"] <= case["stats"]["p90"] <= case["stats"]["p99"]
        assert case["load_ms"] > 0 and case["first_ms"] > 0
        assert case["warning"] is None or "spread" in case["warning"]
        assert case["energy_estimate"]["kind"] == "estimate" and case["energy_estimate"]["joules"] > 0
        if case["energy"]["joules"] is None:
            assert case["energy"]["note"].startswith("not measured")
    by = {c["entry"]: c for c in results["cases"]}
    assert by["digit"]["energy_estimate"]["joules"] < by["digit__odd__high"]["energy_estimate"]["joules"]


def test_two_artifacts_are_interleaved_and_compared(exported, tmp_path):
    other = tmp_path / "copy"
    shutil.copytree(exported, other)
    results = bench({"none": exported, "pam": other}, BenchOptions(settings=FAST), progress=False)
    assert len(results["cases"]) == 4 and all(len(c["samples_ms"]) == 5 for c in results["cases"])
    rows = ratio_rows(results)
    assert [(r["entry"], r["artifact"], r["baseline"]) for r in rows] == [("digit", "pam", "none"),
                                                                         ("digit__odd__high", "pam", "none")]
    assert all(r["macs_ratio"] == 1.0 and r["latency_ratio"] > 0 for r in rows)
    assert "Ratios against `none`" in markdown([results])


def test_native_runner_on_the_host(exported):
    results = bench({"pam": exported}, BenchOptions(runner="native", settings=FAST), progress=False)
    assert results["complete"] and "pamkit_runner" in results["target"]["runner"]
    for case in results["cases"]:
        assert len(case["samples_ms"]) == 5 and case["load_ms"] > 0


def test_emulated_arm64_runs_the_device_path(exported):
    if not shutil.which("qemu-aarch64") or not shutil.which("aarch64-linux-gnu-g++"):
        pytest.skip("qemu-user and g++-aarch64-linux-gnu are not installed (scripts/setup.sh installs them as root)")
    settings = Settings(warmup=0, runs=1, seed=1)
    results = bench({"pam": exported}, BenchOptions(target="emulated-arm64", combinations="digit", settings=settings),
                    progress=False)
    assert results["target"]["emulated"] and "not device speed" in results["target"]["timing_note"]
    assert results["complete"] and len(results["cases"][0]["samples_ms"]) == 1
    assert results["cases"][0]["energy"]["note"].startswith("not measured: an emulated device")


def test_cli_bench_and_report(exported, tmp_path, capsys):
    out = tmp_path / "results.json"
    assert main(["bench", f"pam={exported}", "--runs", "3", "--warmup", "0", "--format", "tflite",
                 "--out", str(out)]) == 0
    assert "| pam | digit |" in capsys.readouterr().out
    results = load_results(out)
    assert results["format"] == "tflite" and results["settings"]["settings"]["runs"] == 3
    assert main(["bench", "report", str(out), "--out", str(tmp_path / "report")]) == 0
    assert (tmp_path / "report" / "latency.png").stat().st_size > 1000
    assert (tmp_path / "report" / "latency_vs_macs.png").exists()
    broken = json.loads(out.read_text())
    del broken["cases"][0]["stats"]
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    assert main(["bench", "report", str(tmp_path / "broken.json")]) == 2
    assert "cases/0" in capsys.readouterr().err


@pytest.mark.parametrize("options, message", [
    (BenchOptions(target="android"), "no Android device attached|'adb' not found"),
    (BenchOptions(target="android:R58M123", runner_binary="runner"), "not attached|'adb' not found"),
    (BenchOptions(target="android", format="tflite"), "benchmark_model"),
    (BenchOptions(target="apple"), "only on macOS"),
    (BenchOptions(target="watch"), "unknown target 'watch'"),
    (BenchOptions(format="coreml"), "has no coreml artifact"),
    (BenchOptions(combinations="odd"), r"no entry points \['odd'\]"),
    (BenchOptions(settings=Settings(runs=0)), "at least 1"),
])
def test_bad_requests_are_clear_errors(exported, options, message):
    with pytest.raises(PamkitError, match=message):
        bench({"pam": exported}, options, progress=False)


def test_adb_device_list_parsing():
    text = ("List of devices attached\n0A1B2C3D\tdevice\nemulator-5554\toffline\n"
            "R58M123\tunauthorized\n192.168.1.7:5555\tdevice product:raven model:Pixel_6_Pro\n\n")
    assert parse_devices(text) == ["0A1B2C3D", "192.168.1.7:5555"]
    assert parse_devices("List of devices attached\n\n") == []


def test_statistics():
    stats = summarize([5.0, 1.0, 2.0, 3.0, 4.0, 100.0, 3.0, 2.0, 4.0, 3.0])
    assert stats["min"] == 1.0 and stats["median"] == 3.0 and stats["count"] == 10
    assert stats["trimmed_mean"] == pytest.approx(3.25)  # without 1.0 and 100.0
    assert stats["mean"] == pytest.approx(12.7) and stats["p99"] > stats["p90"]
    assert summarize([])["median"] is None


def test_a_hung_run_is_stopped_and_keeps_its_partial_results(exported):
    settings = Settings(warmup=0, runs=10**7, timeout_s=2, cooldown_ms=1)  # would take hours
    results = bench({"pam": exported}, BenchOptions(runner="native", settings=settings, energy=False),
                    progress=False)
    assert not results["complete"] and "timed out after 2 s" in results["error"]
    assert all(0 < len(c["samples_ms"]) < 10**7 for c in results["cases"])
    assert results["cases"][0]["energy"]["note"] == "not measured: energy not requested (--no-energy)"
