"""The comparison: report arithmetic on a known report, and a small end-to-end run on digits."""

import json
import shutil

import pytest

from pamkit.cli import main
from pamkit.compare import CompareOptions, combination_rows, compare, goals, markdown, unlearned
from pamkit.cost import cost_report
from pamkit.errors import PamkitError
from pamkit.network import load_multitask
from pamkit.prune import PruneOptions
from pamkit.tasks import get_suite


def _report(pam_macs, oracle=None, trivial=0.5):
    def method(macs):
        combos = [["a"], ["b"], ["a", "b"]]
        return {"pruned": [{"tasks": c, "macs": m, "params": m // 10} for c, m in zip(combos, macs, strict=True)],
                "val": {"a": 0.9, "b": 0.9}, "test": {"a": 0.9, "b": 0.9}, "stop_reason": "test"}
    report = {"suite": "s", "arch": "lenet5", "tasks": ["a", "b"], "command": "pamkit compare",
              "data": {"name": "d", "source": "here", "train": 1, "val": 1, "test": 1},
              "options": {"prune": {"criterion": "taylor", "tolerance": 0.01, "cost_aware": True}},
              "reference": {"val": {"a": 0.91, "b": 0.91}, "test": {"a": 0.91, "b": 0.91}},
              "trivial": {"test": {"a": trivial, "b": 0.5}},
              "methods": {"none": method([100, 60, 160]), "mtz": method([120, 120, 120]), "pam": method(pam_macs)}}
    if oracle:
        report["oracle"] = [{"tasks": c, "macs": m, "source": "x"}
                            for c, m in zip([["a"], ["b"], ["a", "b"]], oracle, strict=True)]
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
    assert "| a | 0.5000 | 0.9100 (0.9100) | 0.9000 (0.9000) |" in text and "(!)" not in text


def test_networks_that_learned_nothing_are_flagged_and_meet_no_goal():
    """digits-paper's trap: always answering "no" scores 0.9, as high as these networks; no goal is met."""
    report = _report([100, 50, 80], oracle=[100, 50, 79], trivial=0.9)
    assert unlearned(report) == {"none": ["a"], "mtz": ["a"], "pam": ["a"]}
    checks = goals(report)
    assert checks[0]["goal"].startswith("every task beats its trivial baseline") and not checks[0]["met"]
    assert "pam: a not above it" in checks[0]["measured"]
    assert not any(check["met"] for check in checks)
    assert all("not judged" in check["measured"] for check in checks[1:])
    text = markdown(report)
    assert "| a | 0.9000 | 0.9100 (0.9100) | 0.9000 (0.9000) (!) |" in text
    assert "**Warning: (!) marks scores no better than the trivial baseline**" in text
    assert "| yes |" not in text


@pytest.mark.slow
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
    test_labels = digits_data.test.labels
    assert saved["trivial"]["test"] == {t.name: pytest.approx(t.trivial_score(test_labels))
                                        for t in get_suite("digits").tasks}
    assert saved["unlearned"] == unlearned(report)
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
    with pytest.raises(PamkitError, match=r"methods \['pam'\] are listed twice"):
        CompareOptions(methods=("pam", "none", "pam"))
    run_dir, _ = digits_run
    shutil.copytree(run_dir, tmp_path / "single")
    with pytest.raises(PamkitError, match="not vgg for suite digits"):
        compare(get_suite("digits"), "vgg", digits_data, tmp_path, CompareOptions(methods=("none",)))
    assert main(["compare", "--suite", "digits", "--arch", "lenet5", "--methods", "none,zip",
                 "--out", str(tmp_path / "x")]) == 2
    assert "unknown methods ['zip']" in capsys.readouterr().err


def test_compare_out_is_owned_and_resumed_only_on_request(tmp_path, capsys):
    """The folder is checked before any data is loaded: a user's is never used, an earlier compare's needs
    --resume (unfinished) or --overwrite (finished)."""
    argv = ["compare", "--suite", "digits", "--arch", "lenet5", "--methods", "none", "--out", str(tmp_path)]
    (tmp_path / "notes.txt").write_text("mine")
    assert main(argv) == 2
    assert "files pamkit did not write" in capsys.readouterr().err
    (tmp_path / ".pamkit-output.json").write_text('{"writer": "compare", "complete": false}')
    assert main(argv) == 2
    assert "pass --resume to continue it or --overwrite" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="2"):
        main([*argv, "--resume", "--overwrite"])
    assert "not allowed with argument" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.slow
def test_compare_cli_flags_networks_that_learned_nothing_and_resumes(tmp_path, capsys):
    """One epoch on 100 digits learns nothing on digits-paper: the report says so. An interrupted run (no
    report, training half done, folder unfinished) is refused without --resume and continued with it, reusing
    what finished."""
    out = tmp_path / "cmp"
    argv = ["compare", "--suite", "digits-paper", "--arch", "lenet5", "--methods", "none", "--limit", "100",
            "--epochs", "1", "--batch-size", "32", "--finetune-samples", "0", "--no-oracle", "--out", str(out)]
    assert main(argv) == 0
    saved = json.loads((out / "report.json").read_text())
    assert saved["unlearned"] and "**Warning: (!) marks scores" in (out / "report.md").read_text()
    stamp = (out / "single" / "a.safetensors").stat().st_mtime_ns
    for name in ("report.json", "single/run.json", "single/b.json", "single/b.safetensors"):
        (out / name).unlink()
    (out / ".pamkit-output.json").write_text('{"writer": "compare", "complete": false}')
    capsys.readouterr()
    assert main(argv) == 2
    assert "pass --resume to continue it" in capsys.readouterr().err
    assert main([*argv, "--resume"]) == 0
    assert "resuming the comparison" in capsys.readouterr().out
    assert (out / "single" / "a.safetensors").stat().st_mtime_ns == stamp and (out / "single" / "b.json").is_file()
    assert json.loads((out / "report.json").read_text())["rows"] == saved["rows"]
    assert json.loads((out / ".pamkit-output.json").read_text())["complete"] is True
