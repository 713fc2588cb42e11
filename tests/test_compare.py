"""The comparison: report arithmetic on a known report, and a small end-to-end run on digits."""

import dataclasses
from dataclasses import replace
import json
import shutil

import pytest

from pamkit.cli import main
from pamkit.compare import (
    CompareOptions,
    DataRequest,
    aggregate,
    at_tolerance,
    combination_rows,
    compare,
    compare_through,
    curve_lines,
    curve_points,
    differences,
    goals,
    markdown,
    plot_curves,
    unlearned,
    write_seed_report,
)
from pamkit.cost import cost_report
from pamkit.demo import where_the_macs_go
from pamkit.errors import PamkitError
from pamkit.network import load_multitask
from pamkit.prune import PruneOptions
from pamkit.tasks import get_suite


DIGITS = DataRequest(get_suite("digits"), "lenet5", size=16)  # what the digits_data fixture holds


def fast_prune(**settings):
    """Quick pruning options for tests: a few steps, short final fine-tunes (only the settings this pruner has)."""
    quick = {"batch_size": 32, "finetune_samples": None, "importance_batches": 2, "max_iterations": 3,
             "patience": 2, "final_lr_factors": (), "final_epochs": 1, **settings}
    known = {f.name for f in dataclasses.fields(PruneOptions)}
    return PruneOptions(**{k: v for k, v in quick.items() if k in known})


def _report(pam_macs, oracle=None, trivial=0.5):
    def method(macs):
        combos = [["a"], ["b"], ["a", "b"]]
        return {"pruned": [{"tasks": c, "macs": m, "params": m // 10} for c, m in zip(combos, macs, strict=True)],
                "merged": [{"tasks": c, "macs": 1000, "params": 100} for c in combos], "iterations": 3,
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
def test_compare_end_to_end_and_resume(digits_run, digits_data, tmp_path, capsys):
    run_dir, _ = digits_run
    shutil.copytree(run_dir, tmp_path / "single")
    options = CompareOptions(methods=("none", "pam"), oracle=False, prune=fast_prune())
    report = compare(DIGITS, tmp_path, options)
    for name in ("report.json", "report.md", "cost.png", "curves.png"):
        assert (tmp_path / name).stat().st_size > 0
    saved = json.loads((tmp_path / "report.json").read_text())
    for method in ("none", "pam"):  # each method's curve, and its reading at the tolerance beside the saved model
        assert saved["methods"][method]["curve"]["points"], saved["methods"][method]["curve"]
        assert [r["tasks"] for r in saved["methods"][method]["at_tolerance"]] == [r["tasks"] for r in saved["rows"]]
    test_labels = digits_data.test.labels
    assert saved["trivial"]["test"] == {t.name: pytest.approx(t.trivial_score(test_labels))
                                        for t in get_suite("digits").tasks}
    assert saved["unlearned"] == unlearned(report)
    for method in ("none", "pam"):
        net, record = load_multitask(tmp_path / method / "pruned" / "model.json")
        assert [c["macs"] for c in cost_report(net)["combinations"]] == [r["macs"][method] for r in saved["rows"]]
        assert record["pruning"]["reference"] == report["reference"]["val"]
    capsys.readouterr()
    where_the_macs_go(tmp_path)  # the demo's layer-by-layer table reads this layout
    shown = capsys.readouterr().out
    assert shown.count("difference") == 7 and f"{saved['rows'][-1]['macs']['pam']:,}" in shown
    stamp = (tmp_path / "pam" / "pruned" / "model.safetensors").stat().st_mtime_ns
    again = compare(DIGITS, tmp_path, options)
    assert (tmp_path / "pam" / "pruned" / "model.safetensors").stat().st_mtime_ns == stamp
    assert combination_rows(again) == combination_rows(report)


def test_compare_through_a_stage_stops_there_and_compare_goes_on_from_it(digits_run, tmp_path):
    """The demo shows the merges before it prunes them: compare's jobs through merging, then compare reuses them."""
    run_dir, _ = digits_run
    shutil.copytree(run_dir, tmp_path / "single")
    options = CompareOptions(methods=("none", "pam"), oracle=False, prune=fast_prune()).with_seed(3)
    with pytest.raises(PamkitError, match="'prune': compare runs through 'train' or 'merge' alone"):
        compare_through("prune", DIGITS, tmp_path, options)
    compare_through("merge", DIGITS, tmp_path, options)
    merged = {m: tmp_path / m / "merged" / "model.safetensors" for m in options.methods}
    stamps = {m: path.stat().st_mtime_ns for m, path in merged.items()}
    assert not [p for m in options.methods for p in (tmp_path / m).iterdir() if p.name != "merged"]
    assert not (tmp_path / "report.json").exists()
    report = compare(DIGITS, tmp_path, replace(options, methods=("pam",)))
    assert {m: path.stat().st_mtime_ns for m, path in merged.items()} == stamps  # reused, not merged again
    assert report["methods"]["pam"]["pruned"] and (tmp_path / "pam" / "pruned" / "model.json").is_file()


@pytest.mark.slow
def test_an_interrupted_prune_resumes_from_its_last_step(digits_run, digits_data, tmp_path, capsys, monkeypatch):
    """A comparison cut off inside a prune keeps the prune's state; resumed, it continues from that step."""
    import pamkit.prune.api as prune_api

    run_dir, _ = digits_run
    shutil.copytree(run_dir, tmp_path / "single")
    options = CompareOptions(methods=("none",), oracle=False, prune=fast_prune(max_iterations=4))
    step, calls, cut = prune_api._step, [], {"at": ("odd", 2)}  # the second task's third step

    def counted(loop, run, share):
        if (run.tasks[0].name, loop.iteration) == cut["at"]:
            raise KeyboardInterrupt
        calls.append((run.tasks[0].name, loop.iteration))
        return step(loop, run, share)

    monkeypatch.setattr(prune_api, "_step", counted)
    with pytest.raises(KeyboardInterrupt):
        compare(DIGITS, tmp_path, options)
    stage = tmp_path / "none" / "pruned"
    first, second = (json.loads((stage / "progress" / f"task{t}.json").read_text())["prune_state"] for t in (0, 1))
    assert first["stop_reason"] and (second["iteration"], second["stop_reason"]) == (2, None)
    assert not (stage / "model.json").exists()
    cut["at"] = None
    calls.clear()
    capsys.readouterr()
    report = compare(DIGITS, tmp_path, options)
    out = capsys.readouterr().out
    assert "resuming: prune digit finished already, skipped" in out and "resuming: prune odd continues after step 2" in out
    assert [c for c in calls if c[0] != "high"] == [("odd", 2), ("odd", 3)]  # nothing done before was done again
    history = json.loads((stage / "pruning.json").read_text())["history"]
    odd = [{k: v for k, v in entry.items() if k != "task"} for entry in history if entry["task"] == "odd"]
    assert odd[: len(second["history"])] == second["history"]
    assert not (stage / "progress").exists() and report["methods"]["none"]["iterations"] == 12


def test_compare_refuses_bad_input(digits_run, digits_data, tmp_path, capsys):
    with pytest.raises(PamkitError, match="unknown methods"):
        CompareOptions(methods=("pam", "magic"))
    with pytest.raises(PamkitError, match=r"methods \['pam'\] are listed twice"):
        CompareOptions(methods=("pam", "none", "pam"))
    run_dir, _ = digits_run
    shutil.copytree(run_dir, tmp_path / "single")
    with pytest.raises(PamkitError, match="not vgg for suite digits"):
        compare(replace(DIGITS, arch="vgg"), tmp_path, CompareOptions(methods=("none",)))
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
    (tmp_path / ".pamkit-output.json").write_text('{"writer": "compare", "complete": true}')
    assert main(argv) == 2
    assert "pass --resume to extend it (its finished stages are reused) or --overwrite" in capsys.readouterr().err
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
    stamp = (out / "seed-0" / "single" / "a.safetensors").stat().st_mtime_ns
    for name in ("report.json", "seed-0/single/run.json", "seed-0/single/b.json", "seed-0/single/b.safetensors"):
        (out / name).unlink()
    (out / ".pamkit-output.json").write_text('{"writer": "compare", "complete": false}')
    capsys.readouterr()
    assert main(argv) == 2
    assert "pass --resume to continue it" in capsys.readouterr().err
    assert main([*argv, "--resume"]) == 0
    assert "resuming the comparison" in capsys.readouterr().out
    single = out / "seed-0" / "single"
    assert (single / "a.safetensors").stat().st_mtime_ns == stamp and (single / "b.json").is_file()
    assert json.loads((out / "report.json").read_text())["rows"] == saved["rows"]
    assert json.loads((out / ".pamkit-output.json").read_text())["complete"] is True


# -- seeds ------------------------------------------------------------------------------------------------


def _seed_reports():
    """Three seeds of a known comparison: PAM's MACs move from seed to seed, none's and MTZ's do not."""
    reports = {}
    for seed, pam in zip((0, 1, 2), ([100, 50, 80], [110, 70, 90], [90, 40, 70]), strict=True):
        report = _report(pam, oracle=[100, 50, 75 + seed])
        report["options"]["prune"]["seed"] = seed
        report["methods"]["pam"]["test"] = {"a": 0.9 + 0.01 * seed, "b": 0.9}
        report["methods"]["pam"]["stop_reason"] = f"seed {seed} stopped"
        reports[seed] = report
    return reports


def test_aggregate_over_seeds_gives_mean_std_and_each_seed():
    report = aggregate(_seed_reports())
    assert report["seeds"] == [0, 1, 2] and report["options"]["prune"]["seed"] == [0, 1, 2]
    pam = report["methods"]["pam"]
    assert pam["pruned"][0]["macs"] == {"mean": pytest.approx(100.0), "std": pytest.approx(10.0),
                                        "seeds": [100, 110, 90]}
    assert pam["pruned"][2]["macs"]["seeds"] == [80, 90, 70] and pam["pruned"][2]["params"]["seeds"] == [8, 9, 7]
    assert report["methods"]["none"]["pruned"][2]["macs"] == {"mean": 160.0, "std": 0.0, "seeds": [160, 160, 160]}
    assert pam["test"]["a"]["mean"] == pytest.approx(0.91) and pam["test"]["a"]["std"] == pytest.approx(0.01)
    assert report["reference"]["val"]["a"]["seeds"] == [0.91] * 3
    assert pam["stop_reason"] == ["seed 0 stopped", "seed 1 stopped", "seed 2 stopped"]
    assert report["oracle"][2]["macs"]["seeds"] == [75, 76, 77] and report["oracle"][2]["source"] == ["x"] * 3
    rows = combination_rows(report)
    assert rows[2]["vs_none"]["pam"] == pytest.approx(2.0)  # of the means: 160 / 80
    assert rows[2]["vs_none_seeds"]["pam"] == pytest.approx([2.0, 160 / 90, 160 / 70])


def test_a_difference_is_real_only_when_it_holds_on_every_seed():
    report = aggregate(_seed_reports())
    found = {("+".join(d["tasks"]), d["cheaper"], d["than"]): d for d in differences(report)}
    assert found["a+b", "pam", "mtz"]["real"] and found["a+b", "pam", "mtz"]["seeds_cheaper"] == 3
    assert found["a+b", "pam", "none"]["real"]
    tie = found["a", "none", "pam"]  # pam is cheaper on seed 2, dearer on seed 1, equal on seed 0
    assert (tie["seeds_cheaper"], tie["seeds_dearer"], tie["real"]) == (1, 1, False)
    assert found["b", "pam", "none"]["seeds_cheaper"] == 2 and not found["b", "pam", "none"]["real"]
    one = aggregate({0: _seed_reports()[0]})  # one seed calls nothing real
    assert not any(d["real"] for d in differences(one))
    text = markdown(report)
    assert "pam < mtz on a+b on 3/3 seeds" in text and "pam < none on a+b on 3/3 seeds" in text
    assert "pam < none on b on 3/3" not in text
    assert ("| a+b | 160 ± 0 (160, 160, 160) | 120 ± 0 (120, 120, 120) | 80 ± 10 (80, 90, 70) | 76 ± 1 (75, 76, 77) "
            "| 2.00x | 1.50x |") in text
    assert "| 0.9100 ± 0.0100 (0.9000, 0.9100, 0.9200) (0.9000) |" in text
    assert "- pam, seed 1: seed 1 stopped" in text


def test_goals_over_seeds_are_judged_on_means_and_say_which_seed_loses_by_more_than_5pct():
    checks = {c["goal"]: c for c in goals(aggregate(_seed_reports()))}
    at_most = checks["PAM costs at most none on every combination"]
    assert at_most["met"]  # means: pam 100 = none 100 on a
    assert at_most["seeds"] == pytest.approx([1.0, 60 / 70, 100 / 90])
    assert not at_most["no_seed_losing_by_more_than_5pct"]  # seed 1: 70 against 60 on b
    all_tasks = checks["all tasks: at least 1.90x below none"]
    assert all_tasks["met"] and all_tasks["measured"] == "2.00x"
    assert not all_tasks["no_seed_losing_by_more_than_5pct"]  # seed 1: 160 / 90 = 1.78x, more than 5% short of 1.9x
    mtz = checks["at least 2.01x below MTZ on some combination"]
    assert mtz["met"] and mtz["seeds"] == pytest.approx([2.4, 120 / 70, 3.0])  # means: b, 120 / 53.3 = 2.25x
    assert not mtz["no_seed_losing_by_more_than_5pct"]  # seed 1: 1.71x, more than 5% short of 2.01x
    oracle = checks["within 10% of the oracle on every combination"]
    assert oracle["met"] and oracle["seeds"] == pytest.approx([80 / 75, 70 / 50, 70 / 77])
    assert not oracle["no_seed_losing_by_more_than_5pct"]  # seed 1: 1.40x the oracle on b, beyond 1.10 x 1.05
    text = markdown(aggregate(_seed_reports()))
    assert ("| PAM costs at most none on every combination | worst ratio 1.00x on a | 1.00, 0.86, 1.11 | yes | "
            "**no** |") in text


def test_a_spread_of_the_single_task_scores_near_the_tolerance_is_noted():
    """Each limit is its network's score minus the tolerance: seeds whose networks differ by that much are noisy."""
    quiet = aggregate(_seed_reports())  # every seed's networks score 0.91
    assert "Note: the single-task networks' validation scores vary" not in markdown(quiet)
    reports = _seed_reports()
    for seed, score in zip(reports, (0.905, 0.91, 0.9135), strict=True):
        reports[seed]["reference"]["val"]["b"] = score
    noisy = markdown(aggregate(reports))
    assert "vary over the seeds by up to 0.0085 (b), 85% of the tolerance (0.01)" in noisy
    for seed, score in zip(reports, (0.906, 0.91, 0.9095), strict=True):  # a spread of 0.004: below half of it
        reports[seed]["reference"]["val"]["b"] = score
    assert "vary over the seeds" not in markdown(aggregate(reports))


# -- accuracy-cost curves -----------------------------------------------------------------------------------


def _point(phase, a, b, ab, val_a, val_b, task=None):
    macs = {"a": a, "b": b, "a+b": ab} if task is None else {task: a}
    val = {"a": val_a, "b": val_b} if task is None else {task: val_a}
    point = {"phase": phase, "expected_macs": (a + b + ab) / 3, "macs": macs, "val": val,
             "test": {t: s - 0.01 for t, s in val.items()}}
    return {**point, "task": task} if task else point


REFERENCE = {"a": 0.95, "b": 0.95}


def test_every_seed_is_read_at_one_limit_from_the_mean_single_task_score():
    """Seed 0's networks score 0.90, seed 1's 0.92: each run was held to its own limit, the common reading to 0.90."""
    reports = {}
    for seed, (ref, points) in enumerate([
        (0.90, [_point("prune", 100, 100, 150, 0.905, 0.905), _point("prune", 80, 80, 120, 0.899, 0.899)]),
        (0.92, [_point("prune", 90, 90, 140, 0.915, 0.915), _point("prune", 70, 70, 110, 0.901, 0.901)]),
    ]):
        report = _report([80, 80, 120])
        report["reference"]["val"] = {"a": ref, "b": ref}
        report["methods"]["pam"]["curve"] = {"source": "trajectory", "note": None, "points": points}
        reports[seed] = report
    common = aggregate(reports)["common_limit"]
    assert common["reference"] == {"a": pytest.approx(0.91), "b": pytest.approx(0.91)}
    pam = {"+".join(r["tasks"]): r for r in common["methods"]["pam"]}
    assert pam["a"]["macs"]["seeds"] == [100, 70] and pam["a+b"]["macs"]["seeds"] == [150, 110]  # own limits: 80, 90
    assert common["methods"]["none"][0]["macs"] is None  # no curve: no reading
    text = markdown(aggregate(reports))
    assert "## At one limit for every seed" in text and "(a 0.9100, b 0.9100)" in text
    assert "| a+b | - | - | 130 ± 28 (150, 110) | - | - |" in text
    assert "## At one limit" not in markdown(aggregate({s: _seed_reports()[s] for s in (0, 1)}))  # no curves
    assert "common_limit" not in aggregate({0: reports[0]})  # one seed: its own limit is the common one


def test_the_result_at_the_tolerance_is_the_cheapest_point_within_it():
    trajectory = [
        _point("start", 100, 100, 180, 0.95, 0.95),
        _point("step", 60, 70, 120, 0.945, 0.948),
        _point("step", 40, 50, 80, 0.93, 0.95),  # a is 2 points down: outside the 1-point tolerance
        _point("final", 45, 55, 90, 0.9401, 0.946),
        _point("final", 50, 52, 95, 0.95, 0.96),
    ]
    points, source, note = curve_points({"trajectory": trajectory})
    assert source == "trajectory" and note is None and len(points) == 5
    reading = at_tolerance(points, REFERENCE, 0.01, ["a", "b"])
    assert reading["macs"] == 90 and reading["val"] == {"a": 0.9401, "b": 0.946}
    assert reading["test"]["a"] == pytest.approx(0.9301) and reading["phase"] == "final"
    assert at_tolerance(points, REFERENCE, 0.01, ["a"])["macs"] == 45
    assert at_tolerance(points, REFERENCE, 0.01, ["b"])["macs"] == 52  # per combination: its own cheapest point
    assert at_tolerance(points, REFERENCE, 0.03, ["a", "b"])["macs"] == 80
    assert at_tolerance(points, REFERENCE, 0.0, ["a", "b"])["macs"] == 95  # no drop at all: the last point
    assert at_tolerance(points, {"a": 0.99, "b": 0.99}, 0.01, ["a", "b"]) is None


def test_separately_pruned_curves_read_per_task_and_sum():
    trajectory = [
        _point("start", 100, 0, 0, 0.95, 0, task="a"), _point("step", 40, 0, 0, 0.945, 0, task="a"),
        _point("step", 20, 0, 0, 0.90, 0, task="a"),
        _point("start", 80, 0, 0, 0.95, 0, task="b"), _point("step", 30, 0, 0, 0.941, 0, task="b"),
    ]
    points, source, note = curve_points({"trajectory": trajectory})
    assert source == "trajectory" and "one curve per task" in note
    assert at_tolerance(points, REFERENCE, 0.01, ["a"])["macs"] == 40
    both = at_tolerance(points, REFERENCE, 0.01, ["a", "b"])
    assert both["macs"] == 70 and both["val"] == {"a": 0.945, "b": 0.941}
    assert at_tolerance(points, REFERENCE, 0.01, ["a", "c"]) is None


def test_curves_fall_back_to_the_history_of_older_pruners():
    separate = {"history": [  # today's no-merging record: expected MACs of each task's own network, val only
        {"event": "start", "expected_macs": 100.0, "val": {"a": 0.95}, "task": "a"},
        {"event": "accepted", "expected_macs": 50.0, "val": {"a": 0.945}, "task": "a"},
        {"event": "rejected", "expected_macs": 30.0, "val": {"a": 0.95}, "task": "a"},  # undone: not on the path
        {"event": "final fine-tune lr x0.1: kept", "expected_macs": 50.0, "val": {"a": 0.946}, "task": "a"},
        {"event": "start", "expected_macs": 80.0, "val": {"b": 0.95}, "task": "b"},
    ]}
    points, source, note = curve_points(separate)
    assert source == "history" and len(points) == 4 and "validation scores" in note
    assert at_tolerance(points, REFERENCE, 0.01, ["a"])["macs"] == 50
    assert at_tolerance(points, REFERENCE, 0.01, ["a", "b"])["macs"] == 130
    merged = {"history": [{"event": "start", "expected_macs": 100.0, "val": {"a": 0.95, "b": 0.95}}]}
    assert curve_points(merged)[:2] == ([], None) and "not each combination's" in curve_points(merged)[2]
    assert curve_points({"stop_reason": "x"}) == ([], None, "its pruning.json has neither a trajectory nor a history")
    bad = {"trajectory": [{"phase": "x", "macs": {"a": float("nan")}, "val": {"a": 1}}, "junk",
                          _point("start", 1, 1, 2, 0.9, 0.9)]}
    points, source, note = curve_points(bad)
    assert len(points) == 1 and note.startswith("2 trajectory point(s)")


def test_curves_png_and_the_reading_beside_the_saved_model(tmp_path):
    reports = _seed_reports()
    trajectory = [_point("start", 100, 100, 180, 0.95, 0.95), _point("final", 45, 55, 90, 0.9401, 0.946)]
    for report in reports.values():
        for method, entry in report["methods"].items():
            points, source, note = curve_points({"trajectory": trajectory} if method != "mtz" else {"history": []})
            entry["curve"] = {"source": source, "note": note, "points": points}
            entry["at_tolerance"] = [{"tasks": c["tasks"], **(at_tolerance(points, REFERENCE, 0.01, c["tasks"])
                                                                or {"macs": None})} for c in entry["pruned"]]
    report = aggregate(reports)
    assert report["methods"]["pam"]["at_tolerance"][2]["macs"]["seeds"] == [90, 90, 90]
    assert report["methods"]["mtz"]["at_tolerance"][2] == {"tasks": ["a", "b"], "macs": None, "worst_test": None,
                                                           "missing_seeds": [0, 1, 2]}
    paths = write_seed_report(report, reports, tmp_path)
    assert paths["curves"].stat().st_size > 0 and plot_curves({0: reports[0]}, tmp_path / "one.png").is_file()
    text = paths["markdown"].read_text()
    assert ("| a+b | 160 ± 0 (160, 160, 160) | 90 ± 0 (90, 90, 90) | 120 ± 0 (120, 120, 120) | - | "
            "80 ± 10 (80, 90, 70) | 90 ± 0 (90, 90, 90) |") in text
    assert "- mtz: its pruning.json has neither a trajectory nor a history" in text
    assert json.loads(paths["json"].read_text())["differences"]


def test_curve_lines_print_the_path_cheapest_last_with_the_reading_at_the_tolerance_starred():
    report = _seed_reports()[0]
    trajectory = [_point("start", 100, 100, 180, 0.95, 0.95)] + [
        _point("step", 100 - k, 100 - k, 180 - 10 * k, 0.95 - k / 1000, 0.95) for k in range(1, 12)
    ]
    for method, entry in report["methods"].items():
        points, source, note = curve_points({"trajectory": trajectory} if method != "mtz" else {"history": []})
        entry["curve"] = {"source": source, "note": note, "points": points}
        entry["at_tolerance"] = [{"tasks": c["tasks"], **(at_tolerance(points, REFERENCE, 0.01, c["tasks"])
                                                            or {"macs": None})} for c in entry["pruned"]]
    lines = dict(line.split(":", 1) for line in curve_lines(report, ["a", "b"], points=4))
    pam = [step.split() for step in lines["     pam (test)"].split(" -> ")]
    assert pam[0] == ["180", "0.9400"] and pam[-1] == ["70", "0.9290"]  # start first, the cheapest point last
    assert ["*80", "0.9300"] in pam and len(pam) == 5  # 4 evenly spaced points and the reading at the tolerance
    macs = [int(step[0].lstrip("*")) for step in pam]
    assert macs == sorted(macs, reverse=True)
    assert "no curve (its pruning.json has neither a trajectory nor a history)" in lines["     mtz"]
    separate = [_point("start", 100, 0, 0, 0.95, 0, task="a"), _point("step", 40, 0, 0, 0.945, 0, task="a"),
                _point("start", 80, 0, 0, 0.95, 0, task="b"), _point("step", 30, 0, 0, 0.941, 0, task="b")]
    none = report["methods"]["none"]
    points, source, note = curve_points({"trajectory": separate})
    none["curve"] = {"source": source, "note": note, "points": points}
    none["at_tolerance"] = [{"tasks": c["tasks"], **at_tolerance(points, REFERENCE, 0.01, c["tasks"])}
                            for c in none["pruned"]]
    line = curve_lines(report, ["a", "b"])[0]
    assert line == "    none: each task pruned alone; at the tolerance *70 0.9310 (the sum of its tasks' readings)"


@pytest.mark.slow
def test_compare_over_two_seeds_end_to_end(tmp_path, capsys):
    """`--seeds 0,1`: one folder per seed, each with its own single-task networks (different per seed), the
    report over both; resuming reuses every finished stage of every seed and redoes only what is missing."""
    out = tmp_path / "cmp"
    argv = ["compare", "--suite", "digits-paper", "--arch", "lenet5", "--methods", "none,pam", "--limit", "150",
            "--epochs", "2", "--batch-size", "32", "--finetune-samples", "0", "--seeds", "0,1", "--out", str(out)]
    assert main(argv) == 0
    for seed in (0, 1):
        folder = out / f"seed-{seed}"
        for part in ("single/run.json", "none/pruned/model.json", "pam/pruned/pruning.json", "report.json"):
            assert (folder / part).is_file(), folder / part
        assert json.loads((folder / "report.json").read_text())["options"]["train"]["seed"] == seed
    assert (out / "seed-0" / "single" / "a.safetensors").read_bytes() != (out / "seed-1" / "single" /
                                                                           "a.safetensors").read_bytes()
    for name in ("report.json", "report.md", "cost.png", "curves.png"):
        assert (out / name).stat().st_size > 0
    saved = json.loads((out / "report.json").read_text())
    assert saved["seeds"] == [0, 1] and saved["seed_reports"] == {"0": "seed-0/report.json", "1": "seed-1/report.json"}
    per_seed = [json.loads((out / f"seed-{s}" / "report.json").read_text()) for s in (0, 1)]
    for method in ("none", "pam"):
        entry = saved["methods"][method]
        for i, combo in enumerate(entry["pruned"]):
            assert set(combo["macs"]) == {"mean", "std", "seeds"}
            assert combo["macs"]["seeds"] == [r["methods"][method]["pruned"][i]["macs"] for r in per_seed]
        assert entry["test"]["a"]["seeds"] == [r["methods"][method]["test"]["a"] for r in per_seed]
        assert all(source in ("trajectory", "history") for source in entry["curve"]["sources"])
        assert [r["tasks"] for r in entry["at_tolerance"]] == [r["tasks"] for r in saved["rows"]]
    assert [set(o["macs"]) for o in saved["oracle"]] == [{"mean", "std", "seeds"}] * 3
    assert saved["goals"] and saved["differences"] and "vs_none_seeds" in saved["rows"][0]
    text = (out / "report.md").read_text()
    assert "Seeds: 0, 1" in text and " ± " in text and "## Differences between methods" in text
    single = (out / "seed-0" / "single" / "a.safetensors").stat().st_mtime_ns
    pruned = (out / "seed-0" / "pam" / "pruned" / "model.safetensors").stat().st_mtime_ns
    shutil.rmtree(out / "seed-1" / "pam" / "pruned")  # as if interrupted while pruning seed 1's PAM merge
    (out / "report.json").unlink()
    (out / ".pamkit-output.json").write_text('{"writer": "compare", "complete": false}')
    capsys.readouterr()
    assert main([*argv, "--resume"]) == 0
    assert (out / "seed-0" / "single" / "a.safetensors").stat().st_mtime_ns == single
    assert (out / "seed-0" / "pam" / "pruned" / "model.safetensors").stat().st_mtime_ns == pruned
    assert (out / "seed-1" / "pam" / "pruned" / "model.json").is_file()
    again = json.loads((out / "report.json").read_text())
    assert again["seeds"] == [0, 1] and again["rows"][0]["macs"]["none"] == saved["rows"][0]["macs"]["none"]
    # a finished comparison given one more method: --resume extends it, reusing every finished stage
    assert main([*argv[:6], "none,pam,mtz", *argv[7:], "--resume"]) == 0
    assert (out / "seed-0" / "pam" / "pruned" / "model.safetensors").stat().st_mtime_ns == pruned
    extended = json.loads((out / "report.json").read_text())
    assert list(extended["methods"]) == ["none", "pam", "mtz"] and extended["seeds"] == [0, 1]
    assert extended["rows"][0]["macs"]["pam"] == again["rows"][0]["macs"]["pam"]
