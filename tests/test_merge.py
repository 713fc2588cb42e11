"""Merge methods end to end: PAM's regrouping on a network with a known answer, MTZ, shared, bad input."""

import shutil

import pytest
import torch
from torch import nn

from helpers import source_nets
from pamkit.cli import main
from pamkit.data import InputSpec
from pamkit.errors import PamkitError
from pamkit.merge import MergeOptions, load_sources, merge
from pamkit.merge.api import options_for
from pamkit.merge.assemble import assemble, source_origins, source_template
from pamkit.merge.pam import merge_pam, zip_label_groups
from pamkit.merge.sources import candidate_weights
from pamkit.cost import cost_report
from pamkit.network import load_multitask
from pamkit.tasks import Task
from pamkit.train import SingleTaskRecord, TrainedTask


class Probe(nn.Module):
    """A one-layer network over 3 input channels: A's label signal, B's label signal, noise."""

    def __init__(self, weight, bias):
        super().__init__()
        self.backbone = nn.Sequential(nn.Flatten(), nn.Linear(3, len(weight)), nn.ReLU())
        self.head = nn.Linear(len(weight), 1)
        with torch.no_grad():
            self.backbone[1].weight.copy_(torch.tensor(weight))
            self.backbone[1].bias.copy_(torch.tensor(bias))

    def forward(self, x):
        return self.head(self.backbone(x))


def _constructed_sources():
    spec = InputSpec("digits", 3, 1, None, None)
    tasks = [Task(name, "binary", ((name, (1,)),), 2, "01") for name in ("a", "b")]
    # neuron 0: A only; 1: A and B; 2: noise only; 3: dead (constant)
    weights = {"a": ([[4, 0, 0], [3, 3, 0], [0, 0, 1], [0, 0, 0]], [5.0, 9.0, 5.0, 1.0]),
               "b": ([[0, 4, 0], [3, 3, 0], [0, 0, 1], [0, 0, 0]], [5.0, 9.0, 5.0, 1.0])}
    return [TrainedTask(Probe(*weights[t.name]), SingleTaskRecord("probe", {}, t, spec), f"{t.name}.json")
            for t in tasks]


def test_pam_regrouping_finds_the_known_answer():
    generator = torch.Generator().manual_seed(0)
    n = 128
    label_a, label_b = torch.randint(0, 2, (n,), generator=generator), torch.randint(0, 2, (n,), generator=generator)
    signal = torch.stack([label_a * 2.0 - 1, label_b * 2.0 - 1, torch.randn(n, generator=generator)], dim=1)
    images = (signal + 0.05 * torch.randn(n, 3, generator=generator)).reshape(n, 3, 1, 1)
    net, report = merge_pam(load_sources(_constructed_sources()), images, [label_a[:, None], label_b[:, None]],
                            progress=False)
    where = {neuron["origin"]: neuron["tasks"] for neuron in report["1"]["neurons"]}
    assert where["a:0"] == ["a"] and where["b:0"] == ["b"]            # one task's label only: private
    assert where["a:1"] == ["a", "b"] and where["b:1"] == ["a", "b"]  # both labels: shared
    assert where["a:2"] == where["b:2"] == []                         # noise: dropped
    assert where["a:3"] == where["b:3"] == []                         # dead: dropped
    groups = {tuple(net.structure.task_names[t] for t in g.label): sorted(g.origins)
              for g in net.structure.groups[1]}
    assert groups == {("a", "b"): ["a:1", "b:1"], ("a",): ["a:0"], ("b",): ["b:0"]}


def test_pam_lattice_on_three_tasks(digits_run, digits_data):
    _, trained = digits_run
    net, report = merge(trained, "pam", digits_data, MergeOptions(samples=96, grouping="lattice"), progress=False)
    assert net.task_names == ("digit", "odd", "high")
    assert len(report["2"]["neurons"]) == 3 * 16  # conv2's 16 channels per network, each with 2x2 features
    for space, groups in net.structure.groups.items():
        labels = [g.label for g in groups]
        assert len(labels) == len(set(labels)) and all(labels), space
    for entry in report.values():  # every kept neuron is in the group its relevance says
        kept = {o: tuple(net.structure.task_names[t] for t in g.label)
                for g in net.structure.groups[int(next(k for k, v in report.items() if v is entry))] for o in g.origins}
        for neuron in entry["neurons"]:
            if neuron["origin"] in kept:
                assert kept[neuron["origin"]] == tuple(neuron["tasks"])


def test_mtz_of_identical_networks_keeps_their_function():
    nets = source_nets("lenet5", 12, suite="digits-paper")
    twin = TrainedTask(nets[0].net, SingleTaskRecord("lenet5", {}, nets[1].record.task, nets[0].record.input_spec),
                       "twin.json")
    sources = [nets[0], twin]
    x = torch.randn(64, 1, 12, 12)

    class Data:  # only the held-out inputs are used without fine-tuning
        input_spec = nets[0].record.input_spec
        val = type("Split", (), {"images": x, "labels": torch.zeros(64, dtype=torch.long), "__len__": lambda s: 64})()

    net, report = merge(sources, "mtz", Data(), MergeOptions(samples=64, finetune_epochs=0), progress=False)
    assert all(len(groups) == 1 and groups[0].label == (0, 1) for groups in net.structure.groups.values())
    assert all(cost == pytest.approx(0, abs=1e-6) for entry in report.values() for cost in entry["zip_costs"])
    reference = nets[0].net(x)
    for out in net(x).values():
        assert torch.allclose(out, reference, atol=1e-4)


def test_zipping_the_label_groups_of_identical_networks_keeps_their_function():
    """Two copies of one trunk, every channel relevant to both tasks (the plain construction: each copy reads only
    its own inputs): zipping the shared group pairs each channel with its copy at no cost, and the network is
    one trunk wide computing what the source computed."""
    nets = source_nets("lenet5", 12, suite="digits-paper")
    twin = TrainedTask(nets[0].net, SingleTaskRecord("lenet5", {}, nets[1].record.task, nets[0].record.input_spec),
                       "twin.json")
    sources = load_sources([nets[0], twin])
    both = {space: [(0, 1)] * (2 * size) for space, size in sources.arch.space_sizes.items()}
    plain = assemble(source_template(sources, {"method": "pam"}), candidate_weights(sources), both,
                     source_origins(sources)).eval()
    x = torch.randn(64, 1, 12, 12)
    net, costs = zip_label_groups(plain, x, progress=False)
    for space, size in sources.arch.space_sizes.items():
        assert [(g.label, g.size) for g in net.structure.groups[space]] == [((0, 1), size)], space
    assert all(cost == pytest.approx(0, abs=1e-6) for entry in costs.values() for cost in entry["zip_costs"])
    reference = nets[0].net(x)
    for out in net.eval()(x).values():
        assert torch.allclose(out, reference, atol=1e-4)


def test_zipped_pam_keeps_every_label_and_starts_one_network_wide(digits_run, digits_data):
    _, trained = digits_run
    options = MergeOptions(samples=96, finetune_epochs=0)
    plain, _ = merge(trained, "pam", digits_data, MergeOptions(samples=96, zip_groups=False), progress=False)
    zipped, report = merge(trained, "pam", digits_data, options, progress=False)
    assert zipped.structure.provenance["zip_groups"] and "zip_costs" in report["1"]
    for space, groups in plain.structure.groups.items():
        if space == 0:
            continue
        after = {g.label: g.size for g in zipped.structure.groups[space]}
        assert set(after) == {g.label for g in groups}, space  # the relevance labels stay
        for g in groups:  # a full zip leaves as many channels as the largest network's share of the group
            per_source = [sum(o.startswith(f"{name}:") for o in g.origins) for name in plain.task_names]
            assert after[g.label] == max(per_source), (space, g.label)
    none = cost_report(merge(trained, "none", None, progress=False)[0])["combinations"]
    for z, n in zip(cost_report(zipped)["combinations"], none, strict=True):
        assert z["macs"] <= 1.25 * max(c["macs"] for c in none if len(c["tasks"]) == 1), z
    assert cost_report(zipped)["combinations"][-1]["macs"] <= none[-1]["macs"]
    x = digits_data.test.images[:32]
    for combo in [("digit",), ("odd", "high"), zipped.task_names]:  # each combination's subnetwork is exact
        full, alone = zipped.eval()(x, combo), zipped.extract(combo).eval()(x)
        assert all(torch.allclose(full[t], alone[t], atol=1e-5) for t in combo)


def test_partial_zip_leaves_private_groups(digits_run, digits_data):
    nets = digits_run[1][:2]
    net, _ = merge(nets, "mtz", digits_data, MergeOptions(zip_fraction=0.5, finetune_epochs=0), progress=False)
    conv1 = net.structure.groups[1]
    assert [g.label for g in conv1] == [(0, 1), (0,), (1,)] and [g.size for g in conv1] == [3, 3, 3]


def test_shared_trunk_is_one_group_trained_jointly(digits_run, digits_data):
    nets = digits_run[1]
    net, _ = merge(nets, "shared", digits_data, MergeOptions(finetune_epochs=2), progress=False)
    assert all(len(g) == 1 and len(g[0].label) == 3 for g in net.structure.groups.values())
    from pamkit.train import evaluate_all
    scores = evaluate_all(net, [t.record.task for t in nets], digits_data.test)
    assert min(scores.values()) > 0.5, scores


def test_bad_merge_requests(digits_run, digits_data):
    nets = digits_run[1]
    with pytest.raises(PamkitError, match="unknown merge method 'average'"):
        merge(nets, "average", digits_data)
    with pytest.raises(PamkitError, match="needs data"):
        merge(nets, "pam", None)
    with pytest.raises(PamkitError, match="fewer than samples=100000"):
        merge(nets, "pam", digits_data, MergeOptions(samples=100000))
    with pytest.raises(PamkitError, match="unknown grouping"):
        MergeOptions(grouping="tree")


@pytest.mark.parametrize("kwargs, message", [({"alpha": -0.1}, "alpha"), ({"alpha": float("nan")}, "finite"),
                                             ({"relative_alpha": float("inf")}, "finite"),
                                             ({"alpha": 0.1, "relative_alpha": 0.1}, "exclude each other"),
                                             ({"samples": 1}, "samples"), ({"samples": 64.0}, "an integer"),
                                             ({"zip_fraction": 0}, "zip_fraction"), ({"lr": 0}, "lr"),
                                             ({"finetune_epochs": -1}, "finetune_epochs")])
def test_bad_merge_options(kwargs, message):
    with pytest.raises(PamkitError, match=message):
        MergeOptions(**kwargs)


def test_options_of_another_method_are_refused():
    assert options_for("pam", {"alpha": 0.1}).alpha == 0.1
    with pytest.raises(PamkitError, match="alpha does not apply to --method none"):
        options_for("none", {"alpha": 0.1})
    with pytest.raises(PamkitError, match="--zip-groups does not apply to --method mtz"):
        options_for("mtz", {"zip_groups": False}, lambda name: "--" + name.replace("_", "-"))
    assert options_for("pam", {"zip_fraction": 0.5}).zip_fraction == 0.5


def _listing(folder):
    return sorted((str(p.relative_to(folder)), p.stat().st_mtime_ns) for p in folder.rglob("*"))


def test_merge_replaces_only_its_own_folder_and_leaves_nothing_stale(digits_run, tmp_path, capsys):
    run, _ = digits_run
    out = tmp_path / "merged"
    mtz = ["merge", str(run), "--method", "mtz", "--samples", "64", "--finetune-epochs", "0", "--out", str(out)]
    assert main(mtz) == 0 and (out / "regrouping.json").is_file()
    before = _listing(out)
    none = ["merge", str(run), "--method", "none", "--out", str(out)]
    assert main(none) == 2 and "pass --overwrite" in capsys.readouterr().err
    assert _listing(out) == before
    assert main([*none, "--overwrite"]) == 0
    assert not (out / "regrouping.json").exists()  # the old merge's report does not describe the new model
    assert load_multitask(out)[0].structure.provenance["method"] == "none"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left beside it


def test_merge_never_writes_into_or_above_its_input(digits_run, tmp_path, capsys):
    run = tmp_path / "runs" / "run"
    shutil.copytree(digits_run[0], run)
    before = _listing(tmp_path)
    for out in (run, run.parent, tmp_path):
        assert main(["merge", str(run), "--method", "none", "--out", str(out), "--overwrite"]) == 2
        assert "folder of the input" in capsys.readouterr().err
    assert _listing(tmp_path) == before
