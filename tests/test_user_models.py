"""A user's own networks (issue 14): named by import path, built for each task, imported from weights, and
taken through every verb in separate processes from another working directory."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from pamkit._compat import import_torchvision
from pamkit.cli import main
from pamkit.errors import ModelError, PamkitError
from pamkit.models import build_single_task, min_input_size
from pamkit.network import task_head, trace_architecture
from pamkit.train import load_single_task

USER_NETS = Path(__file__).parent / "user_nets"


@pytest.fixture
def mynets(monkeypatch):
    """The user's module, importable in this process as it would be with its folder on PYTHONPATH."""
    monkeypatch.syspath_prepend(str(USER_NETS))
    import_torchvision()  # mynets imports torchvision, which needs pamkit's fix on this CPU build
    import mynets

    return mynets


def test_the_task_head_is_the_linear_layer_producing_the_output(mynets):
    assert task_head(mynets.SmallNet()) == "classifier"
    assert task_head(mynets.gray_mobilenet_v2()) == "classifier.1"  # torchvision's head, after its dropout
    assert task_head(build_single_task("lenet5", 1, 28, 3)) == "head"
    with pytest.raises(ModelError, match=r"comes from call_function softmax, not from an nn\.Linear"):
        task_head(mynets.SoftmaxNet())


def test_a_builder_taking_num_classes_is_given_the_tasks_outputs(mynets):
    net = build_single_task("mynets:SmallNet", 1, 8, 5, width=4)
    assert isinstance(net, mynets.SmallNet) and net.classifier.out_features == 5 and net.conv1.out_channels == 4
    assert trace_architecture(net, (1, 8, 8)).ops[-1].source == "classifier"
    with pytest.raises(ModelError, match="head 'classifier' with 3 outputs, not the 5 asked for by num_classes"):
        build_single_task("mynets:IgnoresNumClasses", 1, 8, 5)
    with pytest.raises(ModelError, match="num_classes=7 contradicts the task's 5 outputs"):
        build_single_task("mynets:SmallNet", 1, 8, 5, num_classes=7)


def test_a_builder_without_num_classes_gets_its_head_replaced(mynets):
    net = build_single_task("mynets:gray_mobilenet_v2", 1, 8, 1)
    head = net.classifier[1]
    assert head.out_features == 1 and head.in_features == 1280 and head.bias is not None
    assert net(torch.zeros(3, 1, 8, 8)).shape == (3, 1)
    assert min_input_size("mynets:gray_mobilenet_v2") == 1


@pytest.mark.parametrize(("arch", "message"), [
    ("mynets:Nope", "module 'mynets' has no 'Nope'"),
    ("mynets", "unknown architecture 'mynets'"),
    ("mynets:SmallNet:x", "not an import path of the form package.module:Class"),
    ("mynets:torch", "is a module, not a class or function"),
])
def test_a_wrong_import_path_says_what_is_wrong(mynets, arch, message):
    with pytest.raises(ModelError, match=message):
        build_single_task(arch, 1, 8, 2)


def test_a_module_in_the_working_directory_but_not_importable_is_named(tmp_path, monkeypatch):
    (tmp_path / "herenets.py").write_text("from torch import nn\nNet = nn.Linear\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError, match=r"herenets is in the working directory.*PYTHONPATH="):
        build_single_task("herenets:Net", 1, 8, 2)
    with pytest.raises(ModelError, match="pip install its package, or add its folder to PYTHONPATH"):
        build_single_task("elsewherenets:Net", 1, 8, 2)


def test_wrong_input_channels_are_refused_when_the_network_is_built(mynets):
    with pytest.raises(ModelError, match="fails on 3-channel 8x8 images"):
        build_single_task("mynets:SmallNet", 3, 8, 2)


def import_cli(weights: Path, out: Path, task: str = "digit", *extra: str) -> int:
    return main(["import", "--arch", "mynets:SmallNet", "--weights", str(weights), "--suite", "digits",
                 "--task", task, "--out", str(out), "--limit", "300", *extra])


def test_import_writes_a_run_that_scores_as_the_network_does(mynets, tmp_path, capsys):
    torch.manual_seed(0)
    net = mynets.SmallNet(num_classes=10)
    for module in net.modules():  # non-trivial statistics, so that a mix-up shows in the scores
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.normal_()
    # a torch.save file as training scripts write them: nested under "state_dict", with DataParallel's prefix
    torch.save({"state_dict": {f"module.{k}": v for k, v in net.state_dict().items()}, "epoch": 3},
               tmp_path / "digit.pt")
    assert import_cli(tmp_path / "digit.pt", tmp_path / "imported") == 0
    printed = capsys.readouterr().out
    assert "task head: classifier" in printed
    loaded, record = load_single_task(tmp_path / "imported" / "digit.json")
    assert record.arch == "mynets:SmallNet" and record.provenance["imported"]["weights"] == "digit.pt"
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), net.state_dict().values(), strict=True))
    assert main(["eval", str(tmp_path / "imported"), "--split", "val", "--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)["models"]
    assert result["combinations"][0]["scores"]["digit"] == pytest.approx(record.metrics["val"])
    if record.metrics["val"] <= record.metrics["trivial_val"]:
        assert "no better than always giving the most frequent answer" in printed


def test_import_refuses_weights_that_do_not_fit_the_task_or_the_network(mynets, tmp_path, capsys):
    save_file(mynets.SmallNet(num_classes=7).state_dict(), tmp_path / "seven.safetensors")
    assert import_cli(tmp_path / "seven.safetensors", tmp_path / "out") == 2
    assert "task head 'classifier' has 7 outputs but task 'digit' has 10" in capsys.readouterr().err
    save_file(mynets.SmallNet(num_classes=10, width=4).state_dict(), tmp_path / "narrow.safetensors")
    assert import_cli(tmp_path / "narrow.safetensors", tmp_path / "out") == 2
    assert "conv1.weight is (4, 1, 3, 3), mynets:SmallNet has (8, 1, 3, 3)" in capsys.readouterr().err
    assert import_cli(tmp_path / "narrow.safetensors", tmp_path / "out", "digit", "--arch-arg", "width=4") == 0
    torch.save(mynets.SmallNet(), tmp_path / "whole.pt")  # the model object: would need unpickling
    assert import_cli(tmp_path / "whole.pt", tmp_path / "out2") == 2
    assert "holds Python objects beyond tensors" in capsys.readouterr().err
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    assert import_cli(tmp_path / "list.pt", tmp_path / "out2") == 2
    assert "holds a list, not a state dict of tensors" in capsys.readouterr().err
    assert not (tmp_path / "out2").exists() and not list(tmp_path.glob(".out2*"))


def pamkit(*args: str, cwd: Path) -> str:
    """One pamkit command in its own process, with the user's module importable only through PYTHONPATH."""
    env = {**os.environ, "PYTHONPATH": str(USER_NETS), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "pamkit", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, f"pamkit {' '.join(args)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize(("arch", "methods", "merge_options"), [
    ("mynets:SmallNet", ("none", "pam", "mtz"), ()),
    ("mynets:gray_mobilenet_v2", ("none", "mtz", "pam"), ("--finetune-epochs", "0")),  # 52 layers: no fine-tunes
])
def test_a_users_network_goes_through_every_verb_in_its_own_process(tmp_path, arch, methods, merge_options):
    """train, merge, prune, export and bench, each a new process started in another folder than the last."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    pamkit("train", "--suite", "digits", "--tasks", "digit,odd", "--arch", arch, "--epochs", "2", "--limit", "300",
           "--out", str(tmp_path / "run"), cwd=first)
    for method in methods:
        extra = merge_options if method != "none" else ()
        pamkit("merge", str(tmp_path / "run"), "--method", method, *extra, "--out", f"merged-{method}", cwd=second)
    merged = second / f"merged-{methods[-1]}"
    pamkit("prune", str(merged), "--target-macs", "0.7", "--max-steps", "3", "--finetune-samples", "128",
           "--limit", "300", "--out", str(tmp_path / "pruned"), cwd=first)
    exported = pamkit("export", str(tmp_path / "pruned"), "--formats", "executorch,tflite", "--parity-samples", "8",
                      "--out", "export", cwd=second)
    assert "written to export" in exported
    manifest = json.loads((second / "export" / "manifest.json").read_text())
    assert {entry["entry"] for entry in manifest["combinations"]} == {"digit", "odd", "digit__odd"}
    assert {r["status"] for r in manifest["validation"]["results"].values()} == {"passed"}
    benched = pamkit("bench", str(second / "export"), "--runs", "3", "--warmup", "1", "--no-energy",
                     "--out", str(tmp_path / "bench.json"), cwd=first)
    assert "digit__odd" in benched
    cases = json.loads((tmp_path / "bench.json").read_text())["cases"]
    assert {case["entry"] for case in cases} == {"digit", "odd", "digit__odd"}


def test_modules_in_hand_merge_in_a_few_lines(mynets, digits_data, tmp_path):
    from pamkit.cost import combination_cost
    from pamkit.merge import merge_modules
    from pamkit.network import load_multitask, save_multitask
    from pamkit.prune import PruneOptions, prune
    from pamkit.tasks import get_suite
    from pamkit.train import evaluate_all

    suite = get_suite("digits")
    torch.manual_seed(0)
    modules = {"digit": mynets.SmallNet(num_classes=10).eval(), "odd": mynets.SmallNet(num_classes=1).eval()}
    net = merge_modules(modules, suite, digits_data, method="none", progress=False)
    images = digits_data.test.images[:16]
    outputs = net(images)
    for name, module in modules.items():  # side by side: each task answers exactly as its own network
        assert torch.allclose(outputs[name], module(images), atol=1e-5)
    assert "sources" not in net.structure.provenance
    assert net.structure.provenance["arch"]["name"] == "mynets:SmallNet"
    pam = merge_modules(modules, suite, digits_data, method="pam", progress=False)
    assert set(pam(images)) == {"digit", "odd"}
    # the README's lines on: prune with the modules as teachers, save, load, and the model is whole
    reference = {t: evaluate_all(n, [suite.task(t)], digits_data.val)[t] for t, n in modules.items()}
    options = PruneOptions(target_macs=0.8, max_iterations=2, finetune_samples=128)
    pruned = prune(pam, digits_data, reference, options, progress=False, teachers=modules).net
    save_multitask(tmp_path / "pruned" / "model", pruned)
    loaded, _ = load_multitask(tmp_path / "pruned")
    assert torch.allclose(loaded(images)["odd"], pruned.eval()(images)["odd"], atol=1e-6)
    assert combination_cost(loaded.structure, ("odd",)).macs < combination_cost(pam.structure, ("odd",)).macs
    with pytest.raises(PamkitError, match="task 'odd' has 10 outputs but the task has 1"):
        merge_modules({"digit": modules["digit"], "odd": mynets.SmallNet(num_classes=10)}, suite, digits_data)


def test_a_model_moved_away_from_its_sources_keeps_their_data_split(tmp_path, capsys):
    import shutil

    run, merged, moved = tmp_path / "run", tmp_path / "merged", tmp_path / "elsewhere" / "moved"
    assert main(["train", "--suite", "digits", "--arch", "lenet5", "--tasks", "digit,odd", "--epochs", "1",
                 "--seed", "3", "--val-fraction", "0.3", "--out", str(run)]) == 0
    assert main(["merge", str(run), "--method", "none", "--out", str(merged)]) == 0
    shutil.copytree(merged, moved)
    shutil.rmtree(run)  # the sources are gone: only the model says how its data was split
    capsys.readouterr()
    scores = []
    for model in (merged, moved):
        assert main(["eval", str(model), "--split", "val", "--json"]) == 0
        scores.append(json.loads(capsys.readouterr().out)["models"][0]["combinations"])
    assert scores[0] == scores[1]
    from pamkit.network import load_multitask
    from pamkit.train import model_data

    structure = load_multitask(moved)[0].structure
    assert structure.provenance["data_options"]["val_fraction"] == 0.3
    from pamkit.data import load_dataset

    size = structure.input_spec.size
    val = model_data(structure.input_spec, structure.provenance).val.labels
    assert torch.equal(val, load_dataset("digits", size=size, seed=3, val_fraction=0.3).val.labels)
    assert not torch.equal(val, load_dataset("digits", size=size).val.labels)  # what it got before


def test_a_source_replaced_after_the_merge_is_refused_by_prune(tmp_path, capsys):
    import shutil

    for seed in ("0", "1"):
        assert main(["train", "--suite", "digits", "--arch", "lenet5", "--tasks", "digit,odd", "--epochs", "1",
                     "--seed", seed, "--out", str(tmp_path / f"run{seed}")]) == 0
    assert main(["merge", str(tmp_path / "run0"), "--method", "none", "--out", str(tmp_path / "merged")]) == 0
    for suffix in (".json", ".safetensors"):  # another network, a valid checkpoint, where the merged one was
        shutil.copy(tmp_path / "run1" / f"odd{suffix}", tmp_path / "run0" / f"odd{suffix}")
    capsys.readouterr()
    assert main(["prune", str(tmp_path / "merged"), "--target-macs", "0.9", "--out", str(tmp_path / "p")]) == 2
    assert "is not the network the model was merged from" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()
