"""Bench: real runs on the host runtimes, the native runner and the emulated arm64 device; results and reports."""

import dataclasses
import json
import platform
import re
import shutil
from pathlib import Path

import pytest

from helpers import random_lattice, source_nets
from pamkit.bench import BenchOptions, Settings, bench, load_results, markdown, ratio_rows, summarize
from pamkit.bench.adb import parse_devices
from pamkit.bench.targets import HostRunner, InProcess
from pamkit.cli import main
from pamkit.errors import PamkitError
from pamkit.export import ExportOptions, checksum, export

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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_native_runner_on_the_host(exported):
    results = bench({"pam": exported}, BenchOptions(runner="native", settings=FAST), progress=False)
    assert results["complete"] and "pamkit_runner" in results["target"]["runner"]
    for case in results["cases"]:
        assert len(case["samples_ms"]) == 5 and case["load_ms"] > 0


@pytest.mark.slow
def test_emulated_arm64_runs_the_device_path(exported):
    if not shutil.which("qemu-aarch64") or not shutil.which("aarch64-linux-gnu-g++"):
        pytest.skip("qemu-user and g++-aarch64-linux-gnu are not installed (scripts/setup.sh installs them as root)")
    settings = Settings(warmup=0, runs=1, seed=1)
    results = bench({"pam": exported}, BenchOptions(target="emulated-arm64", combinations="digit", settings=settings),
                    progress=False)
    assert results["target"]["emulated"] and "not device speed" in results["target"]["timing_note"]
    assert results["complete"] and len(results["cases"][0]["samples_ms"]) == 1
    assert results["cases"][0]["energy"]["note"].startswith("not measured: an emulated device")


@pytest.mark.slow
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
    assert main(["bench", "report", str(out), "--out", str(tmp_path / "report")]) == 2  # not without --overwrite
    assert "pass --overwrite" in capsys.readouterr().err
    assert main(["bench", "report", str(out), "--out", str(tmp_path / "report"), "--overwrite"]) == 0
    assert main(["bench", f"pam={exported}", "--runs", "1", "--warmup", "0", "--no-energy", "--out", str(out)]) == 0
    capsys.readouterr()  # bench results are replaced by new ones; nothing else is


@pytest.mark.slow
@pytest.mark.parametrize("change, message", [
    (lambda r: r["cases"][0].pop("stats"), "cases/0: 'stats' is a required property"),
    (lambda r: r.update(cases=[]), "cases: .* should be non-empty"),
    (lambda r: r["cases"][0]["stats"].update(median="fast"), "'fast' is not of type"),
    (lambda r: r["cases"][0].update(load_ms=float("nan")), "non-finite number NaN"),
])
def test_a_broken_results_file_leaves_no_report(exported, tmp_path, capsys, change, message):
    results = bench({"pam": exported}, BenchOptions(settings=Settings(warmup=0, runs=1), energy=False),
                    progress=False)
    change(results)
    (tmp_path / "broken.json").write_text(json.dumps(results))
    assert main(["bench", "report", str(tmp_path / "broken.json"), "--out", str(tmp_path / "report")]) == 2
    assert re.search(message, capsys.readouterr().err)
    assert [p.name for p in tmp_path.iterdir()] == ["broken.json"]


@pytest.mark.slow
@pytest.mark.parametrize("options, message", [
    ({"target": "android"}, "no Android device attached|'adb' not found"),
    ({"target": "android:R58M123", "runner_binary": "runner"}, "not attached|'adb' not found"),
    ({"target": "android", "format": "tflite"}, "benchmark_model"),
    ({"target": "apple"}, "only on macOS"),
    ({"target": "watch"}, "unknown target 'watch'"),
    ({"format": "executorch-int8"}, "has no executorch-int8 artifact"),
    ({"combinations": "odd"}, r"no entry points \['odd'\]"),
    ({"settings": Settings(pin="99")}, r"--pin 99: CPUs \[99\] do not exist"),
    ({"runner": "native", "format": "tflite"}, "runs ExecuTorch .pte files, not tflite"),
    ({"target": "emulated-arm64", "runner": "native"}, "applies to --target host only"),
    ({"benchmark_model": "benchmark_model"}, "applies to --target android with --format tflite only"),
])
def test_bad_requests_are_clear_errors(exported, options, message, monkeypatch):
    monkeypatch.setattr(InProcess, "measure", measuring_is_too_late)
    with pytest.raises(PamkitError, match=message):
        bench({"pam": exported}, BenchOptions(**options), progress=False)


def measuring_is_too_late(*args, **kwargs):
    raise AssertionError("bad input must be refused before anything is measured")


@pytest.mark.parametrize("setting, value, message", [
    ("thermal_limit_c", float("nan"), "thermal_limit_c must be a finite number"),  # would switch the gate off
    ("cooldown_ms", float("inf"), "cooldown_ms must be a finite number"),
    ("timeout_s", 0, "timeout_s must be above 0"),
    ("runs", 0, "runs must be at least 1"),
    ("warmup", 1.5, "warmup must be an integer"),
    ("seed", -1, "seed must be at least 0"),
    ("pin", "2-1", "cannot read CPU list '2-1'"),
    ("order", "random", "unknown order 'random'"),
])
def test_bad_settings_are_named(setting, value, message):
    with pytest.raises(PamkitError, match=message):
        Settings(**{setting: value})


@pytest.mark.skipif(platform.system() == "Darwin", reason="Core ML runs on macOS")
def test_coreml_off_macos_is_refused_at_once():
    with pytest.raises(PamkitError, match=r"--format coreml cannot be benchmarked here.*only on macOS"):
        BenchOptions(format="coreml")


def crafted(exported, tmp_path, change) -> Path:
    """A copy of the export whose manifest ``change`` edited."""
    copy = tmp_path / "crafted"
    shutil.copytree(exported, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    change(copy, manifest)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


def recompute(copy: Path, manifest: dict, name: str) -> None:
    item = next(f for f in manifest["files"] if f["path"] == name)
    item.update(sha256=checksum(copy / name), size=(copy / name).stat().st_size)


def truncated(copy: Path, manifest: dict) -> None:
    data = (copy / "model.pte").read_bytes()
    (copy / "model.pte").write_bytes(data[:len(data) // 2])
    recompute(copy, manifest, "model.pte")


def garbage_tflite(copy: Path, manifest: dict) -> None:
    (copy / "model.tflite").write_bytes(b"\0" * 256)
    recompute(copy, manifest, "model.tflite")


def ghost_entry(copy: Path, manifest: dict) -> None:
    manifest["combinations"].append({**manifest["combinations"][0], "entry": "ghost"})


def escaping_path(copy: Path, manifest: dict) -> None:
    (copy.parent / "elsewhere.pte").write_bytes((copy / "model.pte").read_bytes())  # a valid file, but outside
    manifest["files"][0]["path"] = "../elsewhere.pte"


@pytest.mark.slow
@pytest.mark.parametrize("change, fmt, message", [
    (truncated, "executorch", "reading .*model.pte with the executorch runtime failed"),
    (garbage_tflite, "tflite", "reading .*model.tflite with the tflite runtime failed"),
    (ghost_entry, "executorch", "model.pte has no entry point 'ghost', which its manifest lists"),
    (ghost_entry, "tflite", "model.tflite has no entry point 'ghost'"),
    (escaping_path, "executorch", "lies outside its folder"),
])
@pytest.mark.parametrize("runner", ["python", "native"])
def test_crafted_exports_are_refused_before_measuring(exported, tmp_path, monkeypatch, change, fmt, message,
                                                      runner):
    if runner == "native" and fmt != "executorch":
        pytest.skip("the native runner runs .pte files only")
    monkeypatch.setattr(InProcess, "measure", measuring_is_too_late)
    monkeypatch.setattr(HostRunner, "measure", measuring_is_too_late)
    with pytest.raises(PamkitError, match=message):
        bench({"pam": crafted(exported, tmp_path, change)}, BenchOptions(format=fmt, runner=runner), progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("out, message", [("mine", "is a folder"), ("notes.txt", "was not written by pamkit"),
                                          ("notes.txt/results.json", "which is a file")])
def test_results_path_is_checked_before_measuring(exported, tmp_path, monkeypatch, capsys, out, message):
    (tmp_path / "mine").mkdir()
    (tmp_path / "notes.txt").write_text("mine")
    monkeypatch.setattr(InProcess, "measure", measuring_is_too_late)
    assert main(["bench", str(exported), "--out", str(tmp_path / out)]) == 2
    assert message in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "mine" and list((tmp_path / "mine").iterdir()) == []


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


@pytest.mark.slow
def test_a_hung_run_is_stopped_and_keeps_its_partial_results(exported):
    settings = Settings(warmup=0, runs=10**7, timeout_s=2, cooldown_ms=1)  # would take hours
    results = bench({"pam": exported}, BenchOptions(runner="native", settings=settings, energy=False),
                    progress=False)
    assert not results["complete"] and "timed out after 2 s" in results["error"]
    assert all(0 < len(c["samples_ms"]) < 10**7 for c in results["cases"])
    assert results["cases"][0]["energy"]["note"] == "not measured: energy not requested (--no-energy)"
