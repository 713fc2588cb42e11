"""One contract over every registered merge method, as scikit-learn checks every estimator: a method joins
the suite by being registered (``pamkit.merge.register_merger``)."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from helpers import poisoned_outside
from pamkit.cost import all_combinations, combination_cost
from pamkit.errors import PamkitError
from pamkit.merge import MERGERS, MergeOptions, Merger, get_merger, merge, register_merger
from pamkit.network import load_multitask, save_multitask


@pytest.fixture(scope="module", params=list(MERGERS))
def merged(request, digits_run, digits_data):
    """Each registered method's merge of the three trained digits networks (merged once per module)."""
    net, _ = merge(digits_run[1], request.param, digits_data, MergeOptions(samples=128), progress=False)
    return request.param, net.eval()


def test_the_merged_network_answers_every_task(merged, digits_data, digits_run):
    method, net = merged
    x = digits_data.test.images[:8]
    outputs = net(x)
    assert list(outputs) == [item.record.task.name for item in digits_run[1]]
    for item in digits_run[1]:
        assert outputs[item.record.task.name].shape == (8, item.record.task.num_outputs)
        assert torch.isfinite(outputs[item.record.task.name]).all()
    assert net.structure.provenance["method"] == method


def test_extract_equals_the_full_network_on_every_combination(merged, digits_data):
    _, net = merged
    x = digits_data.test.images[:8]
    full = net(x)
    for combo in all_combinations(net.task_names):
        with torch.no_grad():
            alone = net.extract(combo)(x)
        assert list(alone) == list(combo)
        for task in combo:
            assert torch.allclose(alone[task], full[task], atol=1e-5), combo


def test_groups_a_combination_does_not_use_change_nothing_when_poisoned(merged, digits_data):
    """Every group outside a combination is set to NaN and the whole network runs: its tasks' outputs stand."""
    _, net = merged
    x = digits_data.test.images[:8]
    reference = net(x)
    for combo in all_combinations(net.task_names):
        outputs = poisoned_outside(net, combo)(x)
        for task in combo:
            assert torch.equal(outputs[task], reference[task]), (combo, task)


def test_save_and_load_round_trip(merged, digits_data, tmp_path):
    _, net = merged
    save_multitask(tmp_path / "model", net)
    loaded, _ = load_multitask(tmp_path / "model.json")
    x = digits_data.test.images[:8]
    for task, out in net(x).items():
        assert torch.equal(loaded(x)[task], out)
    assert loaded.structure.to_dict() == net.structure.to_dict() | {"provenance": loaded.structure.provenance}


def test_macs_match_torchs_flop_counter_on_every_combination(merged, digits_data):
    _, net = merged
    x = digits_data.test.images[:1]
    for combo in all_combinations(net.task_names):
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            net.extract(combo)(x)
        assert 2 * combination_cost(net.structure, combo).macs == counter.get_total_flops(), combo


def test_no_merging_reproduces_every_source_exactly(digits_run, digits_data):
    net, _ = merge(digits_run[1], "none", None)
    x = digits_data.test.images[:16]
    outputs = net.eval()(x)
    for item in digits_run[1]:
        assert torch.equal(outputs[item.record.task.name], item.net(x))


def test_a_registered_method_is_offered_and_a_name_is_taken_once(digits_run, digits_data):
    @register_merger
    class Twice(Merger):
        """A test method: no merging, under another name (it joins the contract once registered)."""

        name = "contract-test"
        needs_data = False

        def merge(self, sources, data, options, provenance, progress):
            return MERGERS["none"]().merge(sources, data, options, provenance, progress)

    try:
        net, _ = merge(digits_run[1], "contract-test", None)
        assert net.structure.provenance["method"] == "contract-test" and isinstance(get_merger("contract-test"), Twice)

        class Impostor(Merger):
            name = "pam"

        with pytest.raises(PamkitError, match="'pam' is already registered"):
            register_merger(Impostor)
    finally:
        del MERGERS["contract-test"]
    with pytest.raises(PamkitError, match="unknown merge method 'contract-test'"):
        get_merger("contract-test")
