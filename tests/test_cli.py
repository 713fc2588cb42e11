"""The command line: verbs run end to end, bad input gives one clear line and exit status 2."""

import json

import pytest

from pamkit.cli import main


def test_train_then_eval_on_digits(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--suite", "digits", "--arch", "lenet5", "--tasks", "odd", "--epochs", "2",
                 "--limit", "300", "--out", str(out)]) == 0
    assert "Trained 1 networks on digits" in capsys.readouterr().out
    summary = json.loads((out / "run.json").read_text())
    assert list(summary["tasks"]) == ["odd"]
    assert summary["suite"]["tasks"][0]["name"] == "odd" and summary["versions"]["torch"].startswith("2.13")
    assert main(["eval", str(out), "--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)["models"]
    assert result["kind"] == "single-task" and result["model"].endswith("odd.json")
    assert result["combinations"] == [{"tasks": ["odd"], "scores": {"odd": summary["tasks"]["odd"]["metrics"]["test"]}}]


def test_bad_input_is_one_clear_line(tmp_path, capsys):
    assert main(["train", "--suite", "nope", "--arch", "lenet5", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pamkit: error: unknown suite 'nope'") and "Traceback" not in err
    assert main(["train", "--suite", "digits", "--arch", "alexnet", "--out", str(tmp_path / "x")]) == 2
    assert "unknown architecture 'alexnet'" in capsys.readouterr().err
    assert main(["train", "--suite", "digits", "--arch", "lenet5", "--size", "8", "--out", str(tmp_path / "x")]) == 2
    assert "resize the data with --size" in capsys.readouterr().err
    assert main(["train", "--suite", "digits", "--arch", "lenet5", "--arch-arg", "width", "--out",
                 str(tmp_path / "x")]) == 2
    assert "is not KEY=VALUE" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_info_verbs(capsys):
    assert main(["suites"]) == 0 and "fashion-paper" in capsys.readouterr().out
    assert main(["suites", "fashion4"]) == 0 and "long-sleeve" in capsys.readouterr().out
    assert main(["archs"]) == 0 and "mobilenet_v2" in capsys.readouterr().out
    assert main(["datasets"]) == 0 and "digits" in capsys.readouterr().out


def test_merge_cost_inspect(digits_run, tmp_path, capsys):
    run, _ = digits_run
    out = tmp_path / "pam"
    assert main(["merge", str(run), "--method", "pam", "--samples", "64", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "pam merge of digit, odd, high" in printed and "digit+odd+high" in printed
    assert main(["cost", str(out), "--json"]) == 0  # a merge folder stands for its model.json
    report = json.loads(capsys.readouterr().out)
    assert report["tasks"] == ["digit", "odd", "high"] and len(report["combinations"]) == 7
    assert all(c["macs"] > 0 and c["params"] > 0 for c in report["combinations"])
    assert main(["merge", str(run), "--method", "none", "--out", str(tmp_path / "none")]) == 0
    capsys.readouterr()
    assert main(["cost", str(out / "model.json"), "--baseline", str(tmp_path / "none" / "model.json")]) == 0
    assert "MACs vs base" in capsys.readouterr().out
    assert main(["cost", str(out), "--baseline", str(tmp_path / "none"), "--json"]) == 0
    assert all(c["macs_vs_baseline"] > 0 for c in json.loads(capsys.readouterr().out)["combinations"])
    layers = ["cost", str(out), "--layers", "--baseline", str(tmp_path / "none"), "--combinations", "high+odd"]
    assert main(layers) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["odd+high", "MACs", "baseline", "difference"] and table[-1].startswith("total")
    assert main([*layers[:-2], "--json"]) == 0
    for c in json.loads(capsys.readouterr().out)["combinations"]:
        assert sum(c["layers"].values()) == c["macs"]
        assert sum(c["baseline_layers"].values()) == pytest.approx(c["macs"] * c["macs_vs_baseline"])
    assert main(["inspect", str(out / "model.json"), "--neurons", "--layer", "backbone_pool1"]) == 0
    shown = capsys.readouterr().out
    assert "digit:0" in shown and "MI [" in shown


def test_inspect_layers_are_named_as_its_table_prints(digits_run, tmp_path, capsys):
    run, _ = digits_run
    out = tmp_path / "mtz"
    assert main(["merge", str(run), "--method", "mtz", "--samples", "64", "--finetune-epochs", "0", "--out",
                 str(out)]) == 0
    capsys.readouterr()
    assert main(["inspect", str(out)]) == 0
    card, table = capsys.readouterr().out.split("\n\n", 1)  # the model's card, then its layers
    assert "merged lenet5 (mtz merge)" in card and "tasks: digit (multiclass, 10 out)" in card
    rows = [line.split()[0] for line in table.splitlines() if line.strip()]
    assert rows == ["backbone_conv1", "backbone_conv2", "backbone_fc1", "backbone_fc2"]
    assert main(["inspect", str(out), "--neurons", "--layer", rows[1]]) == 0  # an MTZ merge: origins and groups
    shown = capsys.readouterr().out
    assert "digit:0+odd:" in shown and "backbone_fc1" not in shown
    assert main(["inspect", str(out), "--layer", "conv2"]) == 2
    assert "use one the table prints: backbone_conv1, backbone_conv2" in capsys.readouterr().err


def test_eval_scores_every_combination_of_a_multitask_model(digits_run, digits_data, tmp_path, capsys):
    run, trained = digits_run
    out = tmp_path / "none"
    assert main(["merge", str(run), "--method", "none", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["eval", str(out), "--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)["models"]
    assert result["kind"] == "multitask" and len(result["combinations"]) == 7
    single = {item.record.task.name: item.record.metrics["test"] for item in trained}
    for combination in result["combinations"]:  # side by side: each task scores as its own network
        assert list(combination["scores"]) == combination["tasks"]
        assert combination["scores"] == pytest.approx({task: single[task] for task in combination["tasks"]})
    assert main(["eval", str(out / "model.json"), str(run / "odd.json")]) == 0
    table = capsys.readouterr().out
    assert "digit+odd+high" in table and "odd            test score" in table


def test_merge_refuses_a_single_network(digits_run, tmp_path, capsys):
    run, _ = digits_run
    assert main(["merge", str(run / "odd.json"), "--out", str(tmp_path / "x")]) == 2
    assert "at least two" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_no_module_imports_a_stage_cli():
    """A stage's cli.py is its command line only: what other stages need lives in its api (or below it).

    Only the dispatcher (``pamkit/cli.py``) imports the stages' command lines.
    """
    import ast
    from pathlib import Path

    import pamkit

    root = Path(pamkit.__file__).parent
    offenders = []
    for path in sorted(set(root.rglob("*.py")) - {root / "cli.py"}):
        package = ["pamkit", *path.relative_to(root).parent.parts]
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            stage = target.split(".")
            if len(stage) == 3 and stage[2] == "cli" and stage[1] != path.parent.name:
                offenders.append(f"{path.relative_to(root)} imports {target}")
    assert not offenders, offenders
