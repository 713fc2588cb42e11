"""The comparison: report arithmetic on a known report, and a small end-to-end run on digits."""

import json
import shutil

import pytest

from pamkit.cli import main
from pamkit.compare import CompareOptions, combination_rows, compare, goals, markdown
from pamkit.cost import cost_report
from pamkit.errors import PamkitError
from pamkit.network import load_multitask
from pamkit.prune import PruneOptions
from pamkit.tasks import get_suite


def _report(pam_macs, oracle=None):
    def method(macs):
        combos = [["a"], ["b"], ["a", "b"]]
        return {"pruned": [{"tasks": c, "macs": m, "params": m // 10} for c, m in zip(combos, macs)],
                "val": {"a": 0.9, "b": 0.9}, "test": {"a": 0.9, "b": 0.9}, "stop_reason": "test"}
    report = {"suite": "s", "arch": "lenet5", "tasks": ["a", "b"], "command": "pamkit compare",
              "data": {"name": "d", "source": "here", "train": 1, "val": 1, "test": 1},
              "options": {"prune": {"criterion": "taylor", "tolerance": 0.01, "cost_aware": True}},
              "reference": {"val": {"a": 0.91, "b": 0.91}, "test": {"a": 0.91, "b": 0.91}},
              "methods": {"none": method([100, 60, 160]), "mtz": method([120, 120, 120]), "pam": method(pam_macs)}}
    if oracle:
        report["oracle"] = [{"tasks": c, "macs": m, "source": "x"} for c, m in zip([["a"], ["b"], ["a", "b"]], oracle)]
    return report


def test_rows_and_goals_of_a_known_report():
    report = _report([100, 50, 80], oracle=[100, 50, 79])
    rows = combination_rows(report)
    assert rows[2]["vs_none"]["pam"] == pytest.approx(2.0) and rows[1]["vs_mtz"]["pam"] == pytest.approx(2.4)
    met = {g["goal"]: g["met"] for g in goals(report)}
    assert all(met.values()), met
    worse = {g["goal"]: g["met"] for g in goals(_report([101, 50, 100], oracle=[100, 50, 80]))}
    assert not worse["PAM costs at most none on every combination"]
    assert not worse["all tasks: at least 1.90x below none"]
    assert not worse["within 10% of the oracle on every combination"]
    assert worse["at least 2.01x below MTZ on some combination"]
    text = markdown(report)
    assert "| a+b | 160 | 120 | 80 | 79 | 2.00x | 1.50x |" in text


def test_compare_end_to_end_and_resume(digits_run, digits_data, tmp_path):
    run_dir, _ = digits_run
    shutil.copytree(run_dir, tmp_path / "single")
    options = CompareOptions(methods=("none", "pam"), oracle=False,
                             prune=PruneOptions(batch_size=32, finetune_samples=None, importance_batches=2,
                                                max_iterations=3, patience=2, final_lr_factors=()))
    report = compare(get_suite("digits"), "lenet5", digits_data, tmp_path, options)
    for name in ("report.json", "report.md", "cost.png"):
        assert (tmp_path / name).stat().st_size > 0
    saved = json.loads((tmp_path / "report.json").read_text())
    for method in ("none", "pam"):
        net, record = load_multitask(tmp_path / method / "pruned" / "model.json")
        assert [c["macs"] for c in cost_report(net)["combinations"]] == [r["macs"][method] for r in saved["rows"]]
        assert record["pruning"]["reference"] == report["reference"]["val"]
    stamp = (tmp_path / "pam" / "pruned" / "model.safetensors").stat().st_mtime_ns
    again = compare(get_suite("digits"), "lenet5", digits_data, tmp_path, options)
    assert (tmp_path / "pam" / "pruned" / "model.safetensors").stat().st_mtime_ns == stamp
    assert combination_rows(again) == combination_rows(report)


def test_compare_refuses_bad_input(digits_run, digits_data, tmp_path, capsys):
    with pytest.raises(PamkitError, match="unknown methods"):
        CompareOptions(methods=("pam", "magic"))
    run_dir, _ = digits_run
    shutil.copytree(run_dir, tmp_path / "single")
    with pytest.raises(PamkitError, match="not vgg for suite digits"):
        compare(get_suite("digits"), "vgg", digits_data, tmp_path, CompareOptions(methods=("none",)))
    assert main(["compare", "--suite", "digits", "--arch", "lenet5", "--methods", "none,zip",
                 "--out", str(tmp_path / "x")]) == 2
    assert "unknown methods ['zip']" in capsys.readouterr().err
