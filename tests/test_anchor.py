"""The anchor pruner (Torch-Pruning under pamkit's rule) on the tiny digits LeNet-5 networks."""

import pytest
import torch

from pamkit.cost import combination_cost
from pamkit.errors import PamkitError
from pamkit.merge import merge
from pamkit.prune import PruneOptions
from pamkit.prune.anchor import AnchorConfig, anchor_prune, module_macs, torch_pruning_macs
from pamkit.train import evaluate_all

pytest.importorskip("torch_pruning")

SMALL = PruneOptions(finetune_samples=256, final_epochs=2, batch_size=32, seed=0)


@pytest.fixture(scope="module")
def pruned(digits_run, digits_data):
    """The first network ('digit') pruned by Torch-Pruning within 1 point, on a small budget."""
    item = digits_run[1][0]
    return item, anchor_prune(item.net, item.record.task, digits_data, SMALL, progress=False)


def test_macs_agree_with_pamkit_and_torch_pruning(digits_run, digits_data):
    """pamkit's cost model on the plain module = on the merged network = Torch-Pruning's conv/linear count."""
    trained = digits_run[1]
    merged = merge(trained, "none", None, progress=False)[0]
    for item in trained:
        task = item.record.task
        macs = module_macs(item.net, task, digits_data.input_spec)
        assert macs == combination_cost(merged, (task.name,)).macs
        counts = torch_pruning_macs(item.net, digits_data.train.images[:1])
        assert counts["conv_linear"] == macs < counts["all"]


@pytest.mark.slow
def test_prunes_within_tolerance(pruned, digits_data):
    """Fewer MACs, a module that still runs with the head's outputs, and within the tolerance after the final tune."""
    item, result = pruned
    task = item.record.task
    assert result.macs < result.start_macs
    assert result.macs == module_macs(result.net, task, digits_data.input_spec)
    assert result.net(digits_data.val.images[:5]).shape == (5, task.num_outputs)
    assert result.net.head.out_features == task.num_outputs
    assert sum(p.numel() for p in result.net.parameters()) < sum(p.numel() for p in item.net.parameters())
    val = evaluate_all(result.net, [task], digits_data.val)
    assert val == pytest.approx(result.val)  # the network handed back is the one the scores were measured on
    assert val[task.name] >= result.reference[task.name] - SMALL.tolerance - 1e-9
    assert result.trajectory[0]["phase"] == "start" and result.trajectory[-1]["phase"] == "final"
    final = [p for p in result.trajectory if p["phase"] == "candidate" and p["macs"] == result.macs]
    assert final and "cheapest within the tolerance" in result.stop_reason


@pytest.mark.slow
def test_target_macs_and_magnitude(digits_run, digits_data):
    """To a cost with magnitude importance: within one Torch-Pruning step below the target, the input untouched."""
    item = digits_run[1][1]
    before = {k: v.clone() for k, v in item.net.state_dict().items()}
    options = PruneOptions(target_macs=0.5, finetune_samples=256, final_epochs=1, batch_size=32)
    result = anchor_prune(item.net, item.record.task, digits_data, options, AnchorConfig("magnitude"), progress=False)
    assert result.macs <= 0.5 * result.start_macs
    assert result.macs > 0.25 * result.start_macs
    assert all(torch.equal(before[k], v) for k, v in item.net.state_dict().items())


def test_bad_config():
    with pytest.raises(PamkitError, match="unknown Torch-Pruning importance 'lamp'"):
        AnchorConfig("lamp")
    with pytest.raises(PamkitError, match="max_pruning_ratio"):
        AnchorConfig(max_pruning_ratio=0)
