"""The multitask representation: exactness, extraction, the connectivity rule, storage, tracing errors."""

import json

import pytest
import torch
from torch import nn

from helpers import poisoned_outside, random_lattice, source_nets
from pamkit.cost import all_combinations
from pamkit.errors import CheckpointError, ModelError, PamkitError
from pamkit.merge import load_sources, side_by_side
from pamkit.network import load_multitask, save_multitask, trace_architecture
from pamkit.network.structure import source_networks

ARCHS = [("lenet5", 12, {}), ("vgg", 16, {"width": 0.125}),
         pytest.param("resnet18", 8, {}, marks=pytest.mark.slow), ("mobilenet_v2", 8, {"width": 0.25})]


@pytest.mark.parametrize("arch, size, kwargs", ARCHS)
def test_none_reproduces_every_source_exactly(arch, size, kwargs):
    nets = source_nets(arch, size, **kwargs)
    merged = side_by_side(load_sources(nets), {}).eval()
    x = torch.randn(3, 1, size, size)
    outputs = merged(x)
    for item in nets:
        assert torch.equal(outputs[item.record.task.name], item.net(x))


@pytest.mark.parametrize("arch, size, kwargs", ARCHS)
def test_extract_equals_full_network_on_every_combination(arch, size, kwargs):
    net = random_lattice(source_nets(arch, size, **kwargs))
    x = torch.randn(2, 1, size, size)
    for combo in all_combinations(net.task_names):
        full, alone = net(x, combo), net.extract(combo)(x)
        assert list(alone) == list(combo)
        for task in combo:
            assert torch.allclose(full[task], alone[task], atol=1e-5), (combo, task)


@pytest.mark.slow
def test_combination_runs_only_its_groups():
    """Poison every group a combination does not use: its outputs must not change (connectivity rule)."""
    net = random_lattice(source_nets("resnet18", 8), seed=3)
    x = torch.randn(2, 1, 8, 8)
    for combo in all_combinations(net.task_names):
        reference = net(x, combo)
        for task, out in poisoned_outside(net, combo)(x, combo).items():
            assert torch.equal(out, reference[task]), combo


def test_source_networks_of_an_origin():
    """An origin names one network, or every network zipped into the neuron; a task name may hold a colon."""
    assert source_networks("a:3") == {"a"}
    assert source_networks("a:3+b:7") == {"a", "b"}
    assert source_networks("cars:front:2+b:0+cars:front:5") == {"cars:front", "b"}


def test_connectivity_rule_in_every_layer():
    net = random_lattice(source_nets("mobilenet_v2", 8, width=0.25), seed=1)
    s = net.structure
    for op in s.ops:
        if op.kind in ("conv", "linear"):
            inputs = s.groups[s.space_of(op.inputs[0])]
            for group, reads, layer in zip(s.groups[op.space], s.reads(op), net.layers[op.name], strict=True):
                assert all(set(group.label) <= set(inputs[h].label) for h in reads)
                assert sorted(reads) == [h for h, g in enumerate(inputs) if set(group.label) <= set(g.label)]
                assert layer.weight.shape[1] > 0


def test_extracted_network_exports_and_has_no_inactive_weights():
    net = random_lattice(source_nets("lenet5", 12))
    combo = ("odd",)
    sub = net.extract(combo)
    x = torch.randn(1, 1, 12, 12)
    exported = torch.export.export(sub, (x,))
    assert torch.allclose(exported.module()(x)["odd"], net(x, combo)["odd"], atol=1e-6)
    odd = net.structure.task_names.index("odd")
    for space, groups in sub.structure.groups.items():
        assert all(odd in g.label for g in groups), space


def test_save_and_load_round_trip(tmp_path):
    net = random_lattice(source_nets("vgg", 16, width=0.125))
    path = save_multitask(tmp_path / "model", net)
    again, record = load_multitask(path)
    x = torch.randn(2, 1, 16, 16)
    for task, out in net(x).items():
        assert torch.equal(out, again(x)[task])
    assert record["structure"]["provenance"]["method"] == "random"


def test_load_refuses_weights_of_another_structure(tmp_path):
    a = save_multitask(tmp_path / "a", random_lattice(source_nets("lenet5", 12), seed=0))
    save_multitask(tmp_path / "b", random_lattice(source_nets("lenet5", 12), seed=1))
    sidecar = json.loads(a.read_text())
    checksum = json.loads((tmp_path / "b.json").read_text())["weights_sha256"]
    sidecar.update(weights="b.safetensors", weights_sha256=checksum)
    a.write_text(json.dumps(sidecar))
    with pytest.raises(CheckpointError, match="do not fit the structure"):
        load_multitask(a)


def test_user_module_of_supported_layers_is_traced():
    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                          nn.Flatten())
            self.head = nn.Linear(4, 2)

        def forward(self, x):
            return self.head(self.backbone(x))

    arch = trace_architecture(Tiny(), (1, 8, 8))
    assert [op.kind for op in arch.ops] == ["input", "conv", "bn", "fn", "fn", "flatten", "head"]
    assert arch.space_sizes == {1: 4}


@pytest.mark.parametrize("layer, message", [
    (lambda: nn.Conv2d(4, 4, 3, padding=1, groups=2), "groups=2"),
    (lambda: nn.LocalResponseNorm(2), "LocalResponseNorm"),
])
def test_unsupported_layers_are_named(layer, message):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(1, 4, 3, padding=1)
            self.odd = layer()
            self.head = nn.Linear(4, 2)

        def forward(self, x):
            return self.head(self.odd(self.stem(x)).mean((2, 3)))

    with pytest.raises(ModelError, match=f"layer 'odd'.*{message}.*supported"):
        trace_architecture(Net(), (1, 8, 8))


def test_mismatched_sources_are_refused():
    lenet, vgg = source_nets("lenet5", 16), source_nets("vgg", 16, width=0.125)
    with pytest.raises(PamkitError, match="must share one architecture"):
        load_sources([lenet[0], vgg[1]])
    with pytest.raises(PamkitError, match="at least two"):
        load_sources(lenet[:1])
    with pytest.raises(PamkitError, match="task names repeat"):
        load_sources([lenet[0], lenet[0]])


def test_unknown_or_empty_task_selection():
    net = random_lattice(source_nets("lenet5", 12))
    with pytest.raises(PamkitError, match="unknown tasks \\['shoe'\\]"):
        net(torch.randn(1, 1, 12, 12), ["shoe"])
    with pytest.raises(PamkitError, match="non-empty list"):
        net.extract([])


def test_wrong_input_shape_is_named_at_the_boundary():
    net = random_lattice(source_nets("lenet5", 12))
    for bad in (torch.randn(2, 1, 16, 16), torch.randn(1, 12, 12), torch.randn(2, 3, 12, 12)):
        with pytest.raises(PamkitError, match=r"takes a batch of images of shape \[N, 1, 12, 12\].*got shape"):
            net(bad)
    with pytest.raises(PamkitError, match="got list"):
        net([[0.0]])


def _merged_none(tmp_path, digits_run):
    _, trained = digits_run
    from pamkit.merge import merge
    net, _ = merge(trained, "none", None)
    return net, save_multitask(tmp_path / "merged" / "model", net)


def test_sources_are_recorded_relative_to_the_model_file(tmp_path, digits_run, monkeypatch):
    _, path = _merged_none(tmp_path, digits_run)
    run = digits_run[0]
    recorded = json.loads(path.read_text())["structure"]["provenance"]["sources"]
    assert all(not p.startswith("/") for p in recorded)
    assert [(path.parent / p).resolve() for p in recorded] == [(run / f"{t}.json").resolve()
                                                               for t in ("digit", "odd", "high")]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # resolved from the model file, not from the working directory
    again, _ = load_multitask(path)
    assert again.structure.provenance["sources"] == [str((run / f"{t}.json").resolve())
                                                     for t in ("digit", "odd", "high")]


@pytest.mark.parametrize("sources, message", [(["/etc/passwd"], "absolute path"), ("odd.json", "must be a list"),
                                              ([3], "must be a list")])
def test_sources_of_another_form_are_refused(tmp_path, digits_run, sources, message):
    _, path = _merged_none(tmp_path, digits_run)
    sidecar = json.loads(path.read_text())
    sidecar["structure"]["provenance"]["sources"] = sources
    path.write_text(json.dumps(sidecar))
    with pytest.raises(CheckpointError, match=message):
        load_multitask(path)


def test_a_model_folder_stands_for_its_model_json(tmp_path, digits_run):
    net, path = _merged_none(tmp_path, digits_run)
    folder_net, _ = load_multitask(path.parent)
    assert folder_net.task_names == net.task_names
    with pytest.raises(CheckpointError, match="training run"):
        load_multitask(digits_run[0])
    with pytest.raises(CheckpointError, match=r"without model\.json"):
        load_multitask(tmp_path)


def test_a_derived_network_has_its_own_provenance():
    net = side_by_side(load_sources(source_nets("lenet5", 12)), {"method": "none", "sources": ["a.json"]})
    child = net.extract(["odd"])
    child.structure.provenance["method"] = "edited"
    child.structure.provenance["sources"].append("b.json")
    assert net.structure.provenance == {"arch": net.structure.provenance["arch"], "method": "none",
                                        "sources": ["a.json"]}


def test_a_models_card_says_what_it_is_and_refuses_reuse_with_other_options(tmp_path, digits_run, digits_data):
    from dataclasses import asdict

    from pamkit.errors import CheckpointError
    from pamkit.merge import MergeOptions, merge
    from pamkit.card import check_reusable, read_card

    run_dir, trained = digits_run
    trained_card = read_card(run_dir / "odd.json")
    assert (trained_card.stage, trained_card.architecture, trained_card.method) == ("trained", "lenet5", None)
    assert trained_card.reference == {"odd": trained[1].record.metrics["val"]}
    options = MergeOptions(samples=64, finetune_epochs=0)
    net, _ = merge(trained, "mtz", digits_data, options, progress=False)
    save_multitask(tmp_path / "m" / "model", net)
    card = read_card(tmp_path / "m")
    assert (card.stage, card.method, [t.name for t in card.tasks]) == ("merged", "mtz", ["digit", "odd", "high"])
    with pytest.raises(TypeError):
        card.options["merge"]["samples"] = 1  # read-only, all the way down
    check_reusable(tmp_path / "m", "merge", asdict(options))  # the same options: reused
    with pytest.raises(CheckpointError, match=r"merge options differ from the ones asked for \(samples\)"):
        check_reusable(tmp_path / "m", "merge", asdict(MergeOptions(samples=128, finetune_epochs=0)))
    # settings that cannot change what the stage made are left out of the comparison when the caller says so
    check_reusable(tmp_path / "m", "merge", asdict(MergeOptions(samples=128, finetune_epochs=0)), ignored=("samples",))
    with pytest.raises(CheckpointError, match=r"\(finetune_epochs\)"):
        check_reusable(tmp_path / "m", "merge", asdict(MergeOptions(samples=128, finetune_epochs=1)),
                       ignored=("samples",))
