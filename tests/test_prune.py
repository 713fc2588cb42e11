"""Pruning: membership costs and importance, relabel surgery, recipes, the target and tolerance modes on digits."""

import json
import math
from dataclasses import dataclass

import pytest
import torch

from helpers import random_lattice, source_nets
from pamkit.cli import main
from pamkit.cost import all_combinations, combination_cost, combination_weights, cost_report, membership_costs
from pamkit.errors import PamkitError
from pamkit.merge import MergeOptions, merge
from pamkit.network import INPUT_SPACE, MultitaskNet, load_multitask, save_multitask, stack
from pamkit.prune import (
    CRITERIA,
    RECIPES,
    Distill,
    Labels,
    PruneOptions,
    PruneResult,
    expected_macs,
    finetune,
    membership_importance,
    prune,
    prune_separately,
    reference_scores,
    save_pruned,
    teacher_outputs,
)
from pamkit.prune.api import JOINT_SEARCH_ONLY, _at_boundary, _cliff, _held, _held_moves, _on, _plan, _relabelled
from pamkit.prune.importance import Magnitude, Taylor, _cut_effects
from pamkit.prune.state import Checkpoint, Checkpoints
from pamkit.train import evaluate_all

FAST = PruneOptions(batch_size=32, finetune_samples=None, importance_batches=2, step=0.2, final_epochs=2,
                    explore_past=0.03, max_iterations=12)
POINT_KEYS = {"phase", "expected_macs", "macs", "val", "test"}


def _flat_labels(net):
    return {space: [g.label for g in groups for _ in range(g.size)] for space, groups in net.structure.groups.items()
            if space != INPUT_SPACE}


def test_membership_costs_equal_the_saving_of_taking_the_task_off():
    net = random_lattice(source_nets("lenet5", 12), seed=3)
    weights = {("digit",): 3.0, ("digit", "odd"): 1.0, ("odd", "high"): 2.0}
    resolved = combination_weights(all_combinations(net.task_names), weights)
    costs = membership_costs(net.structure, weights)
    before = expected_macs(net, resolved)
    checked = 0
    for space, labels in _flat_labels(net).items():
        for c in (0, len(labels) // 2, len(labels) - 1):
            for t in labels[c]:
                relabelled = dict(_flat_labels(net))
                relabelled[space] = list(labels)
                relabelled[space][c] = tuple(x for x in labels[c] if x != t)
                after = expected_macs(net.relabel(relabelled), resolved)
                assert costs[space][c, t].item() == pytest.approx(before - after, rel=1e-6, abs=1e-6)
                checked += 1
            for t in set(range(3)) - set(labels[c]):
                assert math.isnan(costs[space][c, t].item())
            relabelled = dict(_flat_labels(net))
            relabelled[space] = [() if k == c else label for k, label in enumerate(labels)]
            whole = before - expected_macs(net.relabel(relabelled), resolved)
            assert costs[space][c, -1].item() == pytest.approx(whole, rel=1e-6, abs=1e-6)
    assert checked > 10


def test_relabel_keeps_outputs_and_removal_matches_select():
    net = random_lattice(source_nets("vgg", 16, width=0.125), seed=4)
    x = torch.randn(2, 1, 16, 16)
    same = net.relabel(_flat_labels(net))
    for task, out in net(x).items():
        assert torch.equal(out, same(x)[task])
    labels = _flat_labels(net)
    space = next(iter(labels))
    labels[space] = [() if c % 3 == 0 else label for c, label in enumerate(labels[space])]
    removed = net.relabel(labels)
    kept = net.select({space: [c for c in range(len(labels[space])) if c % 3]})
    for task, out in kept(x).items():
        assert torch.allclose(out, removed(x)[task], atol=1e-6)


def test_combination_weights_are_checked():
    combos = all_combinations(("a", "b"))
    assert combination_weights(combos, {("b", "a"): 1.0})[("a", "b")] == 1.0
    with pytest.raises(PamkitError, match="unknown task 'c'"):
        combination_weights(combos, {("a", "c"): 1.0})
    with pytest.raises(PamkitError, match="two weights"):
        combination_weights(combos, {("a", "b"): 1.0, ("b", "a"): 2.0})
    with pytest.raises(PamkitError, match="names a twice"):
        combination_weights(combos, {("a", "a"): 1.0})
    for bad in (float("nan"), float("inf"), -1.0):
        with pytest.raises(PamkitError, match="weight of combination a"):
            combination_weights(combos, {("a",): bad})
    with pytest.raises(PamkitError, match="zero"):
        combination_weights(combos, {("a",): 0.0})


@pytest.mark.parametrize("criterion", ["taylor", "magnitude"])
def test_importance_is_per_membership(digits_run, digits_data, criterion):
    _, trained = digits_run
    net, _ = merge(trained, "none", None)
    tasks = list(net.structure.tasks)
    scores = membership_importance(net, criterion, tasks, digits_data.train, batches=2, batch_size=32)
    for space, labels in _flat_labels(net).items():
        member = torch.zeros(len(labels), 3, dtype=torch.bool)
        for c, label in enumerate(labels):
            member[c, list(label)] = True
        per_task = scores[space][:, :3]
        assert per_task.isnan().equal(~member)
        assert (per_task[member] >= 0).all() and per_task[member].sum() > 0
        assert not scores[space][:, -1].isnan().any()


def test_taylor_cut_effect_is_the_directional_derivative_along_the_cut_weights():
    """A move's effect (before squaring) is d/de L(cut weights x (1 + e)) at 0, checked through the dense form."""
    net = random_lattice(source_nets("lenet5", 12), seed=5).double()
    tasks = list(net.structure.tasks)
    x, labels = torch.randn(16, 1, 12, 12, dtype=torch.float64), torch.randint(0, 10, (16,))

    def loss(model):
        out = model(x)
        return sum(t.loss(out[t.name], t.targets(labels).to(out[t.name].dtype) if t.kind != "multiclass"
                          else t.targets(labels)) for t in tasks)

    net.zero_grad()
    loss(net).backward()
    effects = _cut_effects(net)
    s = net.structure
    dense = {k: v.double() for k, v in net.to_dense().items()}
    space = s.op("backbone_conv2").space
    labels_flat = [g.label for g in s.groups[space] for _ in range(g.size)]
    checked = 0
    for c in range(0, len(labels_flat), 5):
        for t in (*labels_flat[c], -1):
            def scaled(e, c=c, t=t):
                d = {k: v.clone() for k, v in dense.items()}
                for op in s.ops:
                    if not op.inputs or s.space_of(op.inputs[0]) != space or op.kind not in ("linear", "conv", "head"):
                        continue
                    exp = op.attrs.get("expansion", 1)
                    cols = slice(c * exp, (c + 1) * exp)
                    if op.kind == "head":
                        for u in s.heads:
                            if t in (u, -1):
                                d[f"{op.name}.{s.task_names[u]}.weight"][:, cols] *= 1 + e
                        continue
                    rows = [r for g, span in zip(s.groups[op.space], s.spans(op.space), strict=True)
                            if t == -1 or t in g.label for r in range(*span)]
                    d[f"{op.name}.weight"][rows, cols] *= 1 + e
                return MultitaskNet.build(s, {k: v.float() for k, v in d.items()}).double()
            h = 1e-3
            numeric = (loss(scaled(h)) - loss(scaled(-h))).item() / (2 * h)
            assert effects[space][c, t].item() == pytest.approx(numeric, rel=1e-3, abs=1e-6), (c, t)
            checked += 1
    assert checked > 5


def test_taylor_scores_zero_for_a_channel_nothing_reads(digits_run, digits_data):
    _, trained = digits_run
    net, _ = merge(trained, "none", None)
    first = net.layers["backbone_conv2"][0]  # digit's conv2 group reads digit's conv1 channels
    with torch.no_grad():
        first.weight[:, 0] = 0  # nothing reads digit's conv1 channel 0 any more
    scores = membership_importance(net, "taylor", list(net.structure.tasks), digits_data.train, 2, 32)
    conv1 = net.structure.op("backbone_conv1").space
    assert scores[conv1][0, 0].item() == 0 and scores[conv1][0, -1].item() == 0
    assert scores[conv1][1, 0].item() > 0


def test_criteria_and_recipes_are_registered_classes():
    assert CRITERIA == {"taylor": Taylor, "magnitude": Magnitude}
    assert RECIPES == {"labels": Labels, "distill": Distill}
    assert PruneOptions().recipe == Distill() and PruneOptions(recipe="labels").recipe == Labels()
    options = PruneOptions(recipe=Distill(weight=0.8, temperature=4.0))
    assert options.to_dict()["recipe"] == {"name": "distill", "weight": 0.8, "temperature": 4.0}
    with pytest.raises(PamkitError, match="unknown fine-tuning recipe 'kd'; use one of labels, distill"):
        PruneOptions(recipe="kd")
    with pytest.raises(PamkitError, match="distill weight .* got 1.5"):
        Distill(weight=1.5)


def test_distillation_lowers_the_gap_to_the_teacher(digits_run, digits_data):
    """Half a network's channels cut, then fine-tuned: distilling tracks the teacher more closely than labels alone."""
    _, trained = digits_run
    teacher = merge(trained, "none", None)[0].extract(["digit"])
    task = teacher.structure.tasks[teacher.structure.heads[0]]
    labels = _flat_labels(teacher)
    student = teacher.relabel({space: [() if c % 2 else label for c, label in enumerate(space_labels)]
                               for space, space_labels in labels.items()})
    soft = teacher_outputs({"digit": teacher}, [task], digits_data.train)

    def gap(recipe):
        net = student.relabel(_flat_labels(student))  # a copy
        finetune(net, [task], digits_data.train, recipe, soft, lr=3e-3, epochs=3, batch_size=32, seed=0)
        with torch.no_grad():
            x = digits_data.val.images
            t, s = teacher(x)["digit"], net(x)["digit"]
            return torch.nn.functional.kl_div(s.log_softmax(1), t.log_softmax(1), log_target=True,
                                              reduction="batchmean").item()

    plain, distilled = gap(Labels()), gap(Distill())
    assert plain > 0.1, "plain fine-tuning should leave a gap on this case"
    assert distilled < 0.85 * plain


@pytest.fixture(scope="module")
def pam_case(digits_run, digits_data):
    _, trained = digits_run
    # the paper's plain PAM: exact at the start, so these tests see the pruner's own behaviour (zipped merges lose
    # accuracy that 10 batches an epoch of digits do not restore; they are pruned end to end in test_compare)
    merged, _ = merge(trained, "pam", digits_data, MergeOptions(samples=128, zip_groups=False))
    return merged, reference_scores(trained, digits_data.val)


@pytest.fixture(scope="module")
def pruned_pam(pam_case, digits_data, tmp_path_factory):
    merged, reference = pam_case
    out = tmp_path_factory.mktemp("pruned_pam")
    result = prune(merged, digits_data, reference, FAST, progress=False)
    save_pruned(out, result, FAST)
    return merged, reference, result, out


@pytest.mark.slow
def test_tolerance_search_returns_a_network_within_the_tolerance_from_its_saved_file(pruned_pam, digits_data):
    merged, reference, result, out = pruned_pam
    net, _ = load_multitask(out / "model.json")
    tasks = [net.structure.tasks[t] for t in net.structure.heads]
    again = evaluate_all(net, tasks, digits_data.val)
    assert again == pytest.approx(result.val, abs=1e-9)
    assert all(again[t] >= reference[t] - FAST.tolerance - 1e-9 for t in reference)
    assert expected_macs(net, _uniform(net)) < 0.8 * expected_macs(merged, _uniform(merged))
    phases = [p["phase"] for p in result.trajectory]
    assert phases[0] == "start" and phases[-1] == "final" and "prune" in phases and "candidate" in phases
    prunes = [p["expected_macs"] for p in result.trajectory if p["phase"] in ("start", "prune")]
    assert prunes == sorted(prunes, reverse=True) and len(set(prunes)) == len(prunes)
    final = result.trajectory[-1]
    candidates = [p for p in result.trajectory if p["phase"] == "candidate"]
    assert final["expected_macs"] == min(p["expected_macs"] for p in candidates
                                         if all(p["val"][t] >= reference[t] - FAST.tolerance - 1e-9 for t in reference))
    assert "cheapest within the tolerance" in result.stop_reason


@pytest.mark.slow
def test_trajectory_is_recorded_in_pruning_json(pruned_pam):
    merged, reference, result, out = pruned_pam
    record = json.loads((out / "pruning.json").read_text())
    assert record["trajectory"] == result.trajectory and record["options"]["recipe"]["name"] == "distill"
    combos = {"+".join(c) for c in all_combinations(merged.task_names)}
    for point in record["trajectory"]:
        assert set(point) == POINT_KEYS and isinstance(point["phase"], str)
        assert set(point["macs"]) == combos and all(isinstance(v, int) for v in point["macs"].values())
        assert set(point["val"]) == set(point["test"]) == set(reference)
        assert isinstance(point["expected_macs"], float)
    net, _ = load_multitask(out / "model.json")
    final = record["trajectory"][-1]
    assert final["macs"] == {"+".join(c): combination_cost(net, c).macs for c in all_combinations(net.task_names)}
    assert set(record["round_to_round"]) == set(reference)


@pytest.mark.slow
def test_pruning_never_raises_cost_and_the_network_stays_valid(pruned_pam, tmp_path):
    merged, _, result, _ = pruned_pam
    net = result.net
    before, after = cost_report(merged)["combinations"], cost_report(net)["combinations"]
    assert all(b["macs"] >= a["macs"] and b["params"] >= a["params"] for b, a in zip(before, after, strict=True))
    x = torch.randn(2, 1, 16, 16)
    for combo in all_combinations(net.task_names):
        sub = net.extract(combo)
        assert combination_cost(sub, combo).macs == combination_cost(net, combo).macs
        for task, out in sub(x).items():
            assert torch.allclose(out, net(x, combo)[task], atol=1e-5)
    exported = torch.export.export(net.extract(net.task_names), (x,))
    assert torch.allclose(exported.module()(x)["digit"], net(x)["digit"], atol=1e-5)


@pytest.mark.slow
def test_same_seed_byte_identical_other_seed_different(pruned_pam, digits_data, tmp_path):
    merged, reference, _, out = pruned_pam
    for seed, same in ((0, True), (1, False)):
        options = PruneOptions(**{**vars(FAST), "seed": seed})
        save_pruned(tmp_path / str(seed), prune(merged, digits_data, reference, options, progress=False), options)
        identical = (tmp_path / str(seed) / "model.safetensors").read_bytes() == (out / "model.safetensors").read_bytes()
        assert identical == same, seed


def _uniform(net):
    return combination_weights(all_combinations(net.task_names), None)


@pytest.mark.slow
def test_target_macs_lands_within_one_move_of_the_target(pam_case, digits_data, tmp_path):
    merged, reference = pam_case
    options = PruneOptions(**{**vars(FAST), "target_macs": 0.35, "step": 0.3})
    checkpoint = Checkpoint(tmp_path / "joint", resume=False)
    result = prune(merged, digits_data, reference, options, progress=False, checkpoint=checkpoint)
    weights = _uniform(merged)
    target = 0.35 * expected_macs(merged, weights)
    final = expected_macs(result.net, weights)
    steps = [p for p in result.trajectory if p["phase"] == "prune"]
    before_last, _ = load_multitask(tmp_path / f"joint-point{len(steps) - 1}.json")
    largest_move = max(c[~c.isnan()].max().item() for c in membership_costs(before_last.structure, weights).values())
    assert target - largest_move <= final <= target
    assert expected_macs(before_last, weights) > target
    assert result.trajectory[-1]["phase"] == "final" and "reached the target" in result.stop_reason
    assert "the tolerance" in result.stop_reason  # reports whether the scores reached are within it


class _Interrupted(Exception):
    pass


@dataclass(frozen=True)
class _BreakingCheckpoint(Checkpoint):
    """Saves like a checkpoint, then stops the prune (as Ctrl-C would) at its ``at``-th save."""

    at: int = 1
    saves: list = None

    def save(self, state):
        super().save(state)
        self.saves.append(1)
        if len(self.saves) == self.at:
            raise _Interrupted


@pytest.mark.slow
def test_prune_resumes_where_it_stopped_and_ends_as_if_never_stopped(pruned_pam, digits_data, tmp_path, capsys):
    merged, reference, whole, _ = pruned_pam
    steps = sum(1 for p in whole.trajectory if p["phase"] == "prune")
    stem = tmp_path / "progress" / "joint"
    assert steps >= 3
    for resume, at in ((False, 3), (True, steps - 1)):  # after step 2; after the first candidate's fine-tune
        with pytest.raises(_Interrupted):
            prune(merged, digits_data, reference, FAST, progress=False,
                  checkpoint=_BreakingCheckpoint(stem, resume, at, []))
    saved = json.loads(stem.with_suffix(".json").read_text())["prune_state"]
    assert saved["stop_reason"] is None and saved["tried"]
    resumed = prune(merged, digits_data, reference, FAST, progress=False, checkpoint=Checkpoint(stem, True))
    assert f"continues after step {steps}" in capsys.readouterr().out
    assert resumed.trajectory == whole.trajectory and resumed.val == whole.val
    state, other = whole.net.state_dict(), resumed.net.state_dict()
    assert state.keys() == other.keys() and all(torch.equal(state[k], other[k]) for k in state)
    again = prune(merged, digits_data, reference, FAST, progress=False, checkpoint=Checkpoint(stem, True))
    assert "finished already" in capsys.readouterr().out and again.val == resumed.val


def test_separate_pruning_stacks_single_task_networks(digits_run, digits_data):
    _, trained = digits_run
    merged, _ = merge(trained, "none", None)
    reference = reference_scores(trained, digits_data.val)
    options = PruneOptions(**{**vars(FAST), "max_iterations": 2, "final_epochs": 1})
    result = prune_separately(merged, digits_data, reference, options, progress=False)
    assert {p["task"] for p in result.trajectory} == set(merged.task_names)
    assert all(set(p) == POINT_KEYS | {"task"} and list(p["macs"]) == [p["task"]] for p in result.trajectory)
    with pytest.raises(PamkitError, match="absolute cost"):
        prune_separately(merged, digits_data, reference, PruneOptions(target_macs=1e5), progress=False)
    report = {tuple(c["tasks"]): c for c in cost_report(result.net)["combinations"]}
    for combo, cost in report.items():
        assert cost["macs"] == sum(report[(t,)]["macs"] for t in combo)
    for space, groups in result.net.structure.groups.items():
        assert all(len(g.label) == 1 for g in groups) or space == INPUT_SPACE
    x = digits_data.test.images[:4]
    restacked = stack([result.net.extract([t]) for t in result.net.task_names])
    for task, out in result.net(x).items():
        assert torch.allclose(out, restacked(x)[task], atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [({"tolerance": 1.5}, "tolerance .* at most 1, got 1.5"),
                                             ({"tolerance": -0.1}, "tolerance .* got -0.1"),
                                             ({"tolerance": float("nan")}, "tolerance .* finite"),
                                             ({"criterion": "random"}, "unknown pruning criterion"),
                                             ({"step": 0}, "step .* got 0"),
                                             ({"lr": float("inf")}, "lr .* finite"),
                                             ({"max_iterations": 1.5}, "max_iterations must be an integer"),
                                             ({"final_epochs": -1}, "final_epochs"),
                                             ({"target_macs": 0}, "target_macs .* above 0"),
                                             ({"explore_past": 2}, "explore_past"),
                                             ({"fine_step": 0}, "fine_step"),
                                             ({"search_window": -1}, "search_window"),
                                             ({"max_candidates": 0}, "max_candidates"),
                                             ({"recipe": 3}, "recipe must be"),
                                             ({"combination_weights": {("a",): float("nan")}}, "weight of combination"),
                                             ({"finetune_samples": 10}, "below one batch")])
def test_bad_options(kwargs, message):
    with pytest.raises(PamkitError, match=message):
        PruneOptions(**kwargs)


def test_bad_prune_inputs(digits_run, digits_data):
    _, trained = digits_run
    net, _ = merge(trained, "none", None)
    reference = reference_scores(trained, digits_data.val)
    with pytest.raises(PamkitError, match="pruning needs data"):
        prune(net, None, reference, FAST)
    with pytest.raises(PamkitError, match="no reference accuracy"):
        prune(net, digits_data, {"digit": 0.9}, FAST)
    with pytest.raises(PamkitError, match="needs training data"):
        membership_importance(net, "taylor")
    with pytest.raises(PamkitError, match="unknown pruning criterion 'random'"):
        membership_importance(net, "random")
    with pytest.raises(PamkitError, match="no single-task network for tasks"):
        prune(net, digits_data, reference, FAST, teachers={})


def test_prune_cli(digits_run, tmp_path, capsys):
    run_dir, _ = digits_run
    assert main(["merge", "--method", "none", str(run_dir), "--out", str(tmp_path / "none")]) == 0
    model = str(tmp_path / "none" / "model.json")
    assert main(["prune", model, "--out", str(tmp_path / "p"), "--combination-weights", "digit+nope=1"]) == 2
    assert "unknown task 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()
    assert main(["prune", model, "--out", str(tmp_path / "p"), "--recipe", "labels", "--temperature", "3"]) == 2
    assert "--temperature apply only to --recipe distill" in capsys.readouterr().err
    assert main(["prune", model, "--out", str(tmp_path / "p"), "--batch-size", "32", "--finetune-samples", "0",
                 "--step", "0.3", "--max-steps", "2", "--final-epochs", "1", "--criterion", "magnitude",
                 "--distill-weight", "0.7"]) == 0
    out = capsys.readouterr().out
    assert "MACs vs base" in out and "pruned model written" in out and "test scores: digit" in out
    record = json.loads((tmp_path / "p" / "pruning.json").read_text())
    assert record["options"]["criterion"] == "magnitude" and record["history"][0]["event"] == "start"
    assert record["options"]["recipe"] == {"name": "distill", "weight": 0.7, "temperature": 2.0}
    assert {p["task"] for p in record["trajectory"]} == {"digit", "odd", "high"}
    assert load_multitask(tmp_path / "p" / "model.json")[1]["pruning"]["reference"].keys() == {"digit", "odd", "high"}


def test_separate_prune_resumes_skipping_finished_tasks(digits_run, digits_data, tmp_path, capsys):
    _, trained = digits_run
    merged, _ = merge(trained, "none", None)
    reference = reference_scores(trained, digits_data.val)
    options = PruneOptions(**{**vars(FAST), "max_iterations": 1, "final_epochs": 0})
    checkpoints = Checkpoints(tmp_path / "progress", resume=True)
    first = prune(merged.extract(["digit"]), digits_data, reference, options, progress=False,
                  checkpoint=checkpoints.named("task0"))  # as if the run stopped after the first task
    result = prune_separately(merged, digits_data, reference, options, progress=False, checkpoints=checkpoints)
    assert "prune digit finished already, skipped" in capsys.readouterr().out
    assert result.val["digit"] == first.val["digit"]
    checkpoints.clear()
    assert not (tmp_path / "progress").exists()


def test_prune_that_removes_nothing_fails_and_writes_nothing(digits_run, tmp_path, capsys, monkeypatch):
    run_dir, _ = digits_run
    assert main(["merge", "--method", "none", str(run_dir), "--out", str(tmp_path / "none")]) == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the model's sources are found from the model file, not the working directory
    monkeypatch.setattr("pamkit.prune.cli.prune_separately", lambda net, data, reference, options, **_:
                        PruneResult(net, reference, reference, "every step broke the tolerance"))
    command = ["prune", str(tmp_path / "none"), "--out", str(tmp_path / "p")]
    assert main(command) == 1
    assert "removed nothing (every step broke" in capsys.readouterr().err and not (tmp_path / "p").exists()
    assert main([*command, "--allow-no-change"]) == 0
    assert cost_report(load_multitask(tmp_path / "p")[0]) == cost_report(load_multitask(tmp_path / "none")[0])
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == [".pamkit-output.json", "model.json",
                                                                  "model.safetensors", "pruning.json"]


def test_prune_cli_resumes_an_interrupted_prune(digits_run, tmp_path, capsys, monkeypatch):
    run_dir, _ = digits_run
    assert main(["merge", "--method", "none", str(run_dir), "--out", str(tmp_path / "none")]) == 0
    command = ["prune", str(tmp_path / "none"), "--out", str(tmp_path / "p"), "--batch-size", "32",
               "--finetune-samples", "0", "--step", "0.3", "--max-steps", "1", "--final-epochs", "1",
               "--criterion", "magnitude"]
    save = Checkpoint.save

    def save_then_stop(self, state):
        save(self, state)
        if state.stop_reason is not None:  # the first task finished: stop as Ctrl-C would
            raise KeyboardInterrupt

    monkeypatch.setattr(Checkpoint, "save", save_then_stop)
    assert main(command) == 130
    assert json.loads((tmp_path / "p" / ".pamkit-output.json").read_text())["complete"] is False
    assert (tmp_path / "p" / "progress" / "task0.json").is_file() and not (tmp_path / "p" / "model.json").exists()
    monkeypatch.setattr(Checkpoint, "save", save)
    assert main(command) == 2 and "pass --resume" in capsys.readouterr().err
    assert main([*command, "--resume"]) == 0
    assert "resuming: prune digit finished already, skipped" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == [".pamkit-output.json", "model.json",
                                                                  "model.safetensors", "pruning.json"]
    assert json.loads((tmp_path / "p" / ".pamkit-output.json").read_text())["complete"] is True


def _cost_ranked(net, weights):
    """A ranking as cost-aware pruning makes it when every membership is equally important: dearest first."""
    from pamkit.prune.api import Ranking

    costs = membership_costs(net.structure, weights)
    return Ranking({space: 1 / c for space, c in costs.items()}, costs, expected_macs(net, weights))


@pytest.mark.parametrize("step", [0.03, 0.09, 0.3])
@pytest.mark.parametrize("tasks", [["digit"], ["digit", "odd", "high"]])
def test_a_step_removes_about_its_share_while_moves_remain(step, tasks):
    """Near the boundary one channel of a wide early layer can cost more than a step: it must not stall the steps."""
    net = random_lattice(source_nets("lenet5", 16), seed=5).extract(tasks)
    weights = _uniform(net)
    start = expected_macs(net, weights)
    steps, banned = 0, set()
    while expected_macs(net, weights) > 0.1 * start and steps < 60:
        ranking = _cost_ranked(net, weights)
        labels, moves = _plan(net, ranking, step, banned)
        if not moves:
            break
        after = _relabelled(net, labels)
        if after is None:  # as a prune does: these moves together cut a task off
            banned |= moves
            continue
        removed = ranking.total - expected_macs(after, weights)
        assert removed >= 0.4 * step * ranking.total, (steps, removed, step * ranking.total)  # sizes overlap a little
        net, steps = after, steps + 1
    assert steps >= 3
    assert expected_macs(net, weights) <= 0.1 * start or not _plan(net, _cost_ranked(net, weights), step, banned)[1]


def test_search_looks_past_one_noisy_failure_and_stays_bounded():
    from pamkit.prune.search import cheapest_within

    truth = {k: k <= 20 and k != 14 for k in range(30)}  # point 14: a noisy "outside"
    asked = []

    def is_within(k):
        assert k not in asked  # each candidate fine-tuned once
        asked.append(k)
        return truth[k]

    best, tuned = cheapest_within(30, is_within, window=3, max_candidates=12)
    assert best == 20 and tuned == len(asked) <= 12
    assert cheapest_within(30, truth.__getitem__, window=0, max_candidates=12)[0] == 13  # plain bisection stops early
    assert cheapest_within(30, truth.__getitem__, window=3, max_candidates=3) == (7, 3)
    assert cheapest_within(5, lambda k: True) == (4, 1)
    assert cheapest_within(1, lambda k: True) == (0, 0)


@pytest.mark.slow
def test_a_cliff_is_backed_off_and_the_step_made_again_without_its_most_damaging_move(pam_case, digits_data, tmp_path):
    merged, reference = pam_case
    # every step that leaves the tolerance counts as a cliff, so the digits case backs off
    options = PruneOptions(**{**vars(FAST), "backoff_drop": 1e-6, "max_backoffs": 1})
    result = prune(merged, digits_data, reference, options, progress=False,
                   checkpoint=Checkpoint(tmp_path / "joint", resume=False))
    backoffs = [entry for entry in result.history if entry["event"].startswith("backed off")]
    assert backoffs and "backed off" in result.stop_reason
    limits = {name: score - options.tolerance - options.backoff_drop for name, score in reference.items()}
    points = ("start", "recovery fine-tune", "step")
    scores = {entry["iteration"]: entry["val"] for entry in result.history if entry["event"].startswith(points)}
    for entry in backoffs:
        before = scores[entry["iteration"] - 1]  # only from a point at the boundary: the exploration stays short
        assert all(before[name] >= limit - 1e-9 for name, limit in limits.items()), (entry["iteration"], before)
        space, origin, t = entry["banned"]
        assert entry["damage"] > 0  # the banned move was the one that hurt most alone: it hurts
        before, _ = load_multitask(tmp_path / f"joint-point{entry['iteration'] - 1}.json")
        after, _ = load_multitask(tmp_path / f"joint-point{entry['iteration']}.json")
        for net in (before, after):  # the step made in its place left the banned move undone
            labels = {o: g.label for g in net.structure.groups[space] for o in g.origins}
            assert origin in labels and (t < 0 or t in labels[origin])
        for moved in _flat_labels(before):  # ... and took no layer's channels beyond the step's share
            old, new = ({o: g.label for g in net.structure.groups[moved] for o in g.origins} for net in (before, after))
            changed = sum(1 for o, label in old.items() if new.get(o) != label)
            assert changed <= max(1, math.floor(entry["step"] * len(old))), (moved, changed, len(old))
    without = prune(merged, digits_data, reference, PruneOptions(**{**vars(options), "max_backoffs": 0}),
                    progress=False)
    assert not any(entry["event"].startswith("backed off") for entry in without.history)


@pytest.mark.slow
def test_a_point_that_would_end_the_exploration_gets_a_full_fine_tune_first(pam_case, digits_data):
    merged, reference = pam_case
    # explore_past 0: the first step ending outside the tolerance would end the exploration
    options = PruneOptions(**{**vars(FAST), "explore_past": 0.0, "confirmations": 1})
    result = prune(merged, digits_data, reference, options, progress=False)
    confirms = [entry for entry in result.history if entry["event"].startswith("confirm")]
    assert len(confirms) == 1 and [p["phase"] for p in result.trajectory].count("confirm") == 1
    k = int(confirms[0]["event"].split()[1].rstrip(":"))
    limits = {name: score - options.tolerance for name, score in reference.items()}
    recovered = all(confirms[0]["val"][name] >= limit for name, limit in limits.items())
    assert confirms[0]["event"].endswith("recovered" if recovered else "still past")
    last_step = max(entry["iteration"] for entry in result.history if entry["event"].startswith("step"))
    assert last_step > k if recovered else last_step == k  # recovered: the exploration went on from that point
    without = prune(merged, digits_data, reference, PruneOptions(**{**vars(options), "confirmations": 0}),
                    progress=False)
    assert not any(entry["event"].startswith("confirm") for entry in without.history)
    assert max(entry["iteration"] for entry in without.history if entry["event"].startswith("step")) == k


def test_a_cliff_is_a_fall_far_below_the_limit_and_only_from_the_boundary():
    limits, drop = {"a": 0.90, "b": 0.80}, 0.01
    at = {"a": 0.905, "b": 0.85}
    assert _cliff(at, {"a": 0.86, "b": 0.85}, limits, drop) == "a 0.9050 -> 0.8600"  # 4.5 points down, 4 below
    assert _cliff(at, {"a": 0.895, "b": 0.85}, limits, drop) is None  # just outside: the next fine-tune may undo it
    assert _cliff(at, {"a": 0.91, "b": 0.70}, limits, drop) == "b 0.8500 -> 0.7000"
    assert _cliff({"a": 0.885, "b": 0.85}, {"a": 0.88, "b": 0.85}, limits, drop) is None  # already outside
    assert _at_boundary(at, limits, drop) and _at_boundary({"a": 0.8901, "b": 0.80}, limits, drop)
    assert not _at_boundary({"a": 0.88, "b": 0.85}, limits, drop)  # 2 points below a's limit: exploring
    assert _at_boundary({"a": 0.88, "b": 0.85}, {"b": 0.80}, drop)  # a retired: only b decides


def test_a_task_outside_its_limit_is_held_while_another_is_within():
    net = random_lattice(source_nets("lenet5", 12), seed=3)
    names = net.task_names
    limits = {name: 0.9 for name in names}
    hold = PruneOptions(hold=True)
    digit, odd = names.index("digit"), names.index("odd")
    assert _held(net, {"digit": 0.89, "odd": 0.95, "high": 0.91}, limits, hold) == {digit}
    assert _held(net, {name: 0.8 for name in names}, limits, hold) == set()  # all outside: every task pruned again
    assert _held(net, {name: 0.95 for name in names}, limits, hold) == set()
    for options in (PruneOptions(), PruneOptions(hold=True, target_macs=0.5)):
        assert _held(net, {"digit": 0.89, "odd": 0.95, "high": 0.91}, limits, options) == set()
    on_digit = _on(net, digit)
    label = {(space, o): g.label for space, groups in net.structure.groups.items() for g in groups for o in g.origins}
    lenient, strict = _held_moves(net, {digit}, False), _held_moves(net, {digit}, True)
    assert lenient == {(space, o, t) for space, o in on_digit for t in (digit, -1)}  # digit off it, or it removed
    assert strict == {(space, o, t) for space, o in on_digit for t in (*label[space, o], -1)}  # any move on it
    weights = _uniform(net)

    def step(banned):
        after = _relabelled(net, _plan(net, _cost_ranked(net, weights), 0.3, banned)[0])
        assert after is not None and expected_macs(after, weights) < expected_macs(net, weights)
        return after

    assert _on(step(set()), digit) < on_digit  # unheld, the step takes some of digit's channels
    # taking other tasks off digit's shared channels leaves channels below with nothing to read: they go too
    assert _on(step(lenient), digit) < on_digit
    held = step(strict)
    assert _on(held, digit) == on_digit and _on(held, odd) < _on(net, odd)  # the others are pruned, digit is not


@pytest.mark.slow
def test_a_held_task_keeps_its_channels_while_the_others_are_pruned(pam_case, digits_data, tmp_path):
    merged, reference = pam_case
    # high's limit half a point below its score: the first steps take it outside while the others have room
    tight = {**reference, "high": reference["high"] + 0.005}
    held_options = PruneOptions(**{**vars(FAST), "hold": True})
    result = prune(merged, digits_data, tight, held_options, progress=False,
                   checkpoint=Checkpoint(tmp_path / "j", resume=False))
    held = [e for e in result.history if e["event"].startswith("step (held: ")]
    assert held, [e["event"] for e in result.history]
    for entry in held:
        before, _ = load_multitask(tmp_path / f"j-point{entry['iteration'] - 1}.json")
        after, _ = load_multitask(tmp_path / f"j-point{entry['iteration']}.json")
        for name in entry["event"].removeprefix("step (held: ").rstrip(")").split(", "):
            task = before.task_names.index(name)
            assert _on(after, task) == _on(before, task), (entry["iteration"], name)
        assert entry["expected_macs"] < result.history[0]["expected_macs"]
    free = prune(merged, digits_data, tight, FAST, progress=False)  # off by default
    assert not any("held" in e["event"] for e in free.history)


def test_switches_added_later_are_recorded_only_when_on():
    assert "retire" not in PruneOptions().to_dict()  # a record made before retire existed still matches
    assert PruneOptions(retire=True).to_dict()["retire"] is True
    assert "sequential" not in PruneOptions().to_dict()
    assert PruneOptions(sequential=True).to_dict()["sequential"] is True and PruneOptions(sequential=True).retires
    assert set(JOINT_SEARCH_ONLY) <= {f for f in vars(PruneOptions())}


@pytest.mark.slow
def test_a_task_past_its_limit_is_retired_at_its_best_point_and_the_others_go_on(pam_case, digits_data, tmp_path):
    merged, reference = pam_case
    # high's limit half a point below its score, explored no further than its limit: high ends its exploration
    # while digit still has room
    tight = {**reference, "high": reference["high"] + 0.005}
    options = PruneOptions(**{**vars(FAST), "retire": True, "explore_past": 0.0, "confirmations": 0})
    result = prune(merged, digits_data, tight, options, progress=False,
                   checkpoint=Checkpoint(tmp_path / "j", resume=False))
    events = [e["event"] for e in result.history]
    retirements = [e for e in result.history if e["event"].startswith("retired ")]
    assert retirements, events
    first = retirements[0]
    names, index = first["event"].removeprefix("retired ").split(" (")[0].split(" at point ")
    retired, index = names.split(", "), int(index)
    assert "high" in retired and "digit" not in retired, first["event"]
    steps_after = [e for e in result.history[result.history.index(first):] if e["event"].startswith("step")]
    assert steps_after, events  # the others were pruned on after the retirement
    state = json.loads((tmp_path / "j.json").read_text())["prune_state"]
    assert state["retired"][: len(retired)] == retired and state["base"] >= index
    kept, _ = load_multitask(tmp_path / f"j-point{index}.json")
    for k in range(index, state["points"]):  # from their best point on, retired tasks keep every channel they are on
        point, _ = load_multitask(tmp_path / f"j-point{k}.json")
        for name in retired:
            assert _on(point, merged.task_names.index(name)) == _on(kept, merged.task_names.index(name)), (k, name)
    assert f"after retiring {', '.join(state['retired'])}" in result.stop_reason
    limits = {name: score - options.tolerance for name, score in tight.items()}
    assert all(result.val[name] >= limit - 1e-9 for name, limit in limits.items()), result.val
    assert expected_macs(result.net, _uniform(result.net)) <= expected_macs(kept, _uniform(kept))


def test_a_sequential_step_is_a_share_of_the_cost_of_the_task_it_prunes():
    from pamkit.prune.api import _Run, _step_weights

    weights = {("a",): 0.25, ("b",): 0.25, ("a", "b"): 0.5}
    run = _Run([], None, {"a": 0.9, "b": 0.9}, weights, PruneOptions(sequential=True), None, None, None)
    assert _step_weights(run, {"a": 0.8}) == {("a",): 1.0}  # normalised: the budget is a share of a's whole cost
    assert _step_weights(run, {"a": 0.8, "b": 0.8}) == weights
    racing = _Run([], None, {"a": 0.9, "b": 0.9}, weights, PruneOptions(retire=True), None, None, None)
    assert _step_weights(racing, {"a": 0.8}) == weights  # the joint search counts every combination, retired or not


@pytest.mark.slow
def test_sequential_prunes_one_task_at_a_time_in_task_order(pam_case, digits_data, tmp_path):
    merged, reference = pam_case
    # the first task's limit a fifth of a point above its score, explored no further than its limit: its turn ends
    # at its first step that loses a sample
    tight = {**reference, merged.task_names[0]: reference[merged.task_names[0]] + 0.012}
    options = PruneOptions(**{**vars(FAST), "sequential": True, "explore_past": 0.0, "confirmations": 0,
                              "max_iterations": 24})
    result = prune(merged, digits_data, tight, options, progress=False,
                   checkpoint=Checkpoint(tmp_path / "j", resume=False))
    events = [e["event"] for e in result.history]
    state = json.loads((tmp_path / "j.json").read_text())["prune_state"]
    assert state["retired"], events
    assert state["retired"][0] == merged.task_names[0], events  # the first task's turn came first
    pruned = [name for name in merged.task_names if name not in state["retired"]][:1]  # the task pruned last
    kept, _ = load_multitask(tmp_path / f"j-point{state['base']}.json")
    for k in range(state["base"], state["points"]):  # since the last turn began, only that task gave anything up
        point, _ = load_multitask(tmp_path / f"j-point{k}.json")
        for t, name in enumerate(merged.task_names):
            if name not in pruned:
                assert _on(point, t) == _on(kept, t), (k, name)
    assert any(e.startswith("step") for e in events[events.index(next(e for e in events if e.startswith("retired"))):])
    limits = {name: score - options.tolerance for name, score in tight.items()}
    assert all(result.val[name] >= limit - 1e-9 for name, limit in limits.items()), result.val
    assert expected_macs(result.net, _uniform(result.net)) < expected_macs(merged, _uniform(merged))


@pytest.mark.slow
def test_a_sequential_turn_with_nothing_left_to_remove_passes_to_the_next_task(pam_case, digits_data, tmp_path):
    merged, reference = pam_case
    first = merged.task_names[0]
    # the first task's limit far below any score: its turn never leaves the tolerance, so it ends with nothing left
    # for that task to give up, and the next task's turn begins instead of the prune ending
    loose = {**reference, first: -1.0}
    options = PruneOptions(**{**vars(FAST), "sequential": True, "step": 0.5, "confirmations": 0,
                              "max_iterations": 40})
    result = prune(merged, digits_data, loose, options, progress=False,
                   checkpoint=Checkpoint(tmp_path / "j", resume=False))
    events = [e["event"] for e in result.history]
    retirements = [k for k, e in enumerate(events) if e.startswith("retired")]
    assert retirements and events[retirements[0]].startswith(f"retired {first} "), events
    assert any(e.startswith("step") for e in events[retirements[0]:]), events  # the second task's turn ran
    assert len(_on(result.net, 0)) <= len(_on(merged, 0)) // 2, "the first task should have given up most channels"


def test_a_prune_state_reads_back_its_retirements_and_a_state_saved_before_them():
    from pamkit.prune.state import PruneState

    state = PruneState([], {"a": 0.9}, [{"event": "start"}], [], iteration=7, retired=["b"], base=4)
    record = json.loads(json.dumps(state.to_dict()))
    again = PruneState.from_dict([], None, record)
    assert (again.retired, again.base, again.iteration) == (["b"], 4, 7)
    del record["retired"], record["base"]  # a checkpoint written before retire existed
    old = PruneState.from_dict([], None, record)
    assert (old.retired, old.base) == ([], 0)
