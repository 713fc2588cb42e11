"""Training, evaluation, safe checkpoints and their refusals."""

import json
import pickle
import shutil

import pytest
import torch
from safetensors.torch import save_file

from pamkit.cli import main
from pamkit.errors import CheckpointError, PamkitError
from pamkit.io import load_artifact, save_artifact
from pamkit.tasks import get_suite
from pamkit.train import TrainConfig, evaluate, load_run, load_single_task, train_suite


def test_digits_training_reaches_sane_accuracy(digits_run, digits_data):
    _, trained = digits_run
    scores = {t.record.task.name: t.record.metrics["test"] for t in trained}
    assert scores["digit"] >= 0.9, scores
    assert scores["odd"] >= 0.9 and scores["high"] >= 0.9, scores
    for item in trained:  # the recorded score is the real score of the saved network
        assert evaluate(item.net, item.record.task, digits_data.test) == pytest.approx(item.record.metrics["test"])


def test_checkpoint_round_trip(digits_run, digits_data):
    out, trained = digits_run
    loaded = load_run(out)
    assert [t.record.task.name for t in loaded] == ["digit", "odd", "high"]
    x = digits_data.test.images[:32]
    for original, again in zip(trained, loaded, strict=True):
        assert torch.equal(original.net(x), again.net(x))
        assert again.record.task == original.record.task
        assert again.record.input_spec == digits_data.input_spec
        assert again.record.provenance["seed"] == original.record.provenance["seed"]
    sidecar = json.loads((out / "odd.json").read_text())
    assert sidecar["versions"]["torch"].startswith("2.13") and sidecar["arch"] == "lenet5"


def test_same_seed_same_network(digits_data, tmp_path):
    suite = get_suite("digits").select(["odd"])
    config = TrainConfig(epochs=2)
    first = train_suite(suite, "lenet5", digits_data, tmp_path / "a", config)[0]
    second = train_suite(suite, "lenet5", digits_data, tmp_path / "b", config)[0]
    for (name, p), q in zip(first.net.state_dict().items(), second.net.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    other = train_suite(suite, "lenet5", digits_data, tmp_path / "c", TrainConfig(epochs=2, seed=1))[0]
    assert not torch.equal(first.net.head.weight, other.net.head.weight)


def _copy(out, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(out, target)
    return target


def test_pickle_files_are_refused(tmp_path, digits_run):
    _, trained = digits_run
    path = tmp_path / "model.pt"
    torch.save(trained[0].net.state_dict(), path)
    with pytest.raises(CheckpointError, match="refuses to load: unpickling can execute arbitrary code"):
        load_single_task(path)
    disguised = tmp_path / "model.safetensors"  # a pickle under a safe name is still refused
    disguised.write_bytes(pickle.dumps({"a": 1}))
    (tmp_path / "model.json").write_text(json.dumps({"format": "pamkit"}))
    with pytest.raises(CheckpointError, match="pickle"):
        load_single_task(disguised)


def test_safetensors_whose_header_length_starts_like_a_pickle_load(tmp_path):
    """A safetensors header length with low byte 0x80 (pickle's first opcode) is not mistaken for a pickle."""
    for n in range(300):
        tensors = {"w" * (n + 1): torch.zeros(2)}
        path = save_artifact(tmp_path / "weights", tensors, "probe", {})
        if (tmp_path / "weights.safetensors").read_bytes()[:1] == b"\x80":
            break
    else:
        pytest.fail("no header length ending in 0x80 found")
    loaded, record = load_artifact(path, "probe")
    assert loaded.keys() == tensors.keys() and record["kind"] == "probe"


def test_tampered_weights_are_refused(tmp_path, digits_run):
    run = _copy(digits_run[0], tmp_path)
    save_file({"head.weight": torch.zeros(1, 84)}, run / "odd.safetensors")
    with pytest.raises(CheckpointError, match="does not match the checksum"):
        load_single_task(run / "odd.json")


def test_mismatched_sidecar_is_refused(tmp_path, digits_run):
    run = _copy(digits_run[0], tmp_path)
    sidecar = json.loads((run / "odd.json").read_text())
    sidecar["arch"] = "vgg"
    (run / "odd.json").write_text(json.dumps(sidecar))
    with pytest.raises(CheckpointError, match="do not fit the sidecar's architecture vgg"):
        load_single_task(run / "odd.json")
    sidecar.update(arch="lenet5", task=json.loads((run / "digit.json").read_text())["task"])
    (run / "odd.json").write_text(json.dumps(sidecar))
    with pytest.raises(CheckpointError, match="with 10 outputs"):
        load_single_task(run / "odd.json")


@pytest.mark.parametrize("damage, message", [
    (lambda s: "{not json", "not valid JSON"),
    (lambda s: json.dumps({**s, "format_version": 99}), "format version 99"),
    (lambda s: json.dumps({**s, "kind": "multitask"}), "not a 'single-task'"),
    (lambda s: json.dumps({k: v for k, v in s.items() if k != "task"}), "lacks 'task'"),
])
def test_corrupt_sidecars_are_refused(tmp_path, digits_run, damage, message):
    run = _copy(digits_run[0], tmp_path)
    sidecar = json.loads((run / "odd.json").read_text())
    (run / "odd.json").write_text(damage(sidecar))
    with pytest.raises(CheckpointError, match=message):
        load_single_task(run / "odd.json")


def test_missing_files_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_single_task(tmp_path / "nothing.json")
    with pytest.raises(CheckpointError, match="not a pamkit run directory"):
        load_run(tmp_path)


def test_bad_training_settings():
    with pytest.raises(PamkitError, match="epochs must be at least 1, got 0"):
        TrainConfig(epochs=0)
    with pytest.raises(PamkitError, match="learning rate"):
        TrainConfig(lr=0)


def test_bad_training_settings_nan_and_types():
    for kwargs, message in [({"lr": float("nan")}, "finite"), ({"lr": float("inf")}, "finite"),
                            ({"batch_size": 32.0}, "batch_size must be an integer"), ({"seed": -1}, "seed"),
                            ({"weight_decay": float("nan")}, "weight_decay")]:
        with pytest.raises(PamkitError, match=message):
            TrainConfig(**kwargs)


@pytest.mark.parametrize("checkpoint, message", [("../elsewhere/odd.json", "outside its folder"),
                                                 ("/etc/passwd", "not a path relative"),
                                                 (None, "not a path relative")])
def test_run_json_checkpoints_must_stay_inside_the_run(tmp_path, digits_run, checkpoint, message):
    run = _copy(digits_run[0], tmp_path)
    (tmp_path / "elsewhere").mkdir()
    shutil.copy(run / "odd.json", tmp_path / "elsewhere")  # a real checkpoint, but outside the run: still refused
    summary = json.loads((run / "run.json").read_text())
    summary["tasks"]["odd"]["checkpoint"] = checkpoint
    (run / "run.json").write_text(json.dumps(summary))
    with pytest.raises(CheckpointError, match=message):
        load_run(run)


TRAIN = ["train", "--suite", "digits", "--arch", "lenet5", "--tasks", "odd,high", "--epochs", "1", "--limit", "100",
         "--size", "16"]


def _interrupt_after_first_task(out):
    """What an interrupted `pamkit train` leaves: the marker unfinished, the first checkpoint, no run.json."""
    marker = json.loads((out / ".pamkit-output.json").read_text())
    (out / ".pamkit-output.json").write_text(json.dumps({**marker, "complete": False}))
    for name in ("high.json", "high.safetensors", "run.json"):
        (out / name).unlink()


def test_train_resumes_skipping_finished_tasks(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TRAIN, "--out", str(out)]) == 0
    whole = {name: (out / name).read_bytes() for name in ("odd.safetensors", "high.safetensors")}
    _interrupt_after_first_task(out)
    odd_written = (out / "odd.safetensors").stat().st_mtime_ns
    assert main([*TRAIN, "--out", str(out)]) == 2  # no silent restart over the unfinished run
    assert "pass --resume to continue it" in capsys.readouterr().err
    assert main([*TRAIN, "--epochs", "2", "--out", str(out), "--resume"]) == 2  # other settings would mix results
    assert "other settings (train.epochs)" in capsys.readouterr().err
    assert main([*TRAIN, "--out", str(out), "--resume"]) == 0
    assert "resuming: odd was trained already" in capsys.readouterr().out
    assert (out / "odd.safetensors").stat().st_mtime_ns == odd_written
    assert whole == {name: (out / name).read_bytes() for name in whole}  # the same networks as without the break
    assert [item.record.task.name for item in load_run(out)] == ["odd", "high"]


def test_train_never_mixes_runs(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TRAIN, "--out", str(out)]) == 0
    assert main([*TRAIN[:6], "odd", *TRAIN[7:], "--out", str(out)]) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert main([*TRAIN[:6], "odd", *TRAIN[7:], "--out", str(out), "--overwrite"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [".pamkit-output.json", "odd.json", "odd.safetensors", "run.json"]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "odd.json").write_text("{}")  # someone's folder: never trained into, not even with --overwrite
    assert main([*TRAIN, "--out", str(mine), "--overwrite"]) == 2
    assert "did not write" in capsys.readouterr().err and [p.name for p in mine.iterdir()] == ["odd.json"]
