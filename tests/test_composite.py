"""The composite dataset (2x2 frames of garments and digits, 20 attributes) and the suites over it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pamkit.cli import main
from pamkit.data import InputSpec, load_dataset, locate_idx_files, read_idx
from pamkit.data.composite import Tiles, compose
from pamkit.errors import DataError
from pamkit.models import build_single_task
from pamkit.tasks import get_suite
from pamkit.train import TrainConfig, evaluate, fit, load_run, suite_data
from test_data import make_idx_set

TILE = 28


@pytest.fixture(scope="module")
def sources() -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """The four source files composite reads, (name, 'train' | 't10k') -> (images, labels); skip if missing."""
    files = {}
    for name in ("fashion-mnist", "mnist"):
        try:
            located = locate_idx_files(name, download=False)
        except DataError:
            pytest.skip(f"composite needs {name} installed (`make setup` installs it)")
        for prefix in ("train", "t10k"):
            images, labels = (located.files[f"{prefix}-{kind}-ubyte"] for kind in ("images-idx3", "labels-idx1"))
            files[name, prefix] = (read_idx(images), read_idx(labels))
    return files


@pytest.fixture(scope="module")
def small(sources):
    """300 unnormalised frames per split (pixels in [0, 1]), read from the installed sources only."""
    return load_dataset("composite", limit=300, normalize=False, download=False)


def _cells(images: torch.Tensor) -> np.ndarray:
    """[N, 1, 56, 56] frames in [0, 1] -> [N, 4, 28, 28] uint8 tiles, cells in row-major order."""
    pixels = (images[:, 0] * 255).round().to(torch.uint8).numpy()
    n = len(pixels)
    return pixels.reshape(n, 2, TILE, 2, TILE).transpose(0, 1, 3, 2, 4).reshape(n, 4, TILE, TILE)


def _index(images: np.ndarray) -> dict[bytes, int]:
    """Each source image's bytes -> its index (the sources hold no duplicate images)."""
    return {image.tobytes(): i for i, image in enumerate(images)}


def test_frames_are_deterministic_per_seed(small):
    assert small.train.images.shape == (300, 1, 56, 56) and small.train.labels.shape == (300, 20)
    assert small.train.labels.dtype == torch.int64 and set(small.train.labels.unique().tolist()) == {0, 1}
    again = load_dataset("composite", limit=300, normalize=False, download=False)
    other = load_dataset("composite", limit=300, normalize=False, download=False, seed=1)
    for split in ("train", "val", "test"):
        a, b, c = (getattr(d, split) for d in (small, again, other))
        assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
        assert not torch.equal(a.images, c.images)


def test_limit_keeps_the_first_frames_of_each_split(small):
    fewer = load_dataset("composite", limit=40, normalize=False, download=False)
    for split in ("train", "val", "test"):
        part, whole = getattr(fewer, split), getattr(small, split)
        assert len(part) == 40 and torch.equal(part.images, whole.images[:40])
        assert torch.equal(part.labels, whole.labels[:40])


def test_each_frame_holds_two_garments_and_two_digits_of_its_own_split(small, sources):
    index = {key: _index(images) for key, (images, _) in sources.items()}
    used = {}
    for split, prefix in (("train", "train"), ("val", "train"), ("test", "t10k")):
        data = getattr(small, split)
        garments, digits = index["fashion-mnist", prefix], index["mnist", prefix]
        used[split] = set()
        for cells, row in zip(_cells(data.images), data.labels.tolist(), strict=True):
            found = [(name, table[cell.tobytes()]) for cell in cells
                     for name, table in (("fashion-mnist", garments), ("mnist", digits)) if cell.tobytes() in table]
            assert len(found) == 4  # every cell is a tile of this split's source files (train files for val)
            assert sorted(name for name, _ in found) == ["fashion-mnist", "fashion-mnist", "mnist", "mnist"]
            assert len(set(found)) == 4  # four different tiles
            expected = [0] * 20
            for name, i in found:
                expected[int(sources[name, prefix][1][i]) + (10 if name == "mnist" else 0)] = 1
            assert row == expected
            used[split].update(found)
    assert not used["train"] & used["val"]  # the tiles were split before any frame was built


def test_compose_by_construction():
    """Constant tiles whose value tells the class: every frame's cells and attributes agree, cells vary."""
    labels = np.arange(40) % 10
    garments = Tiles(np.repeat(labels[:, None, None] + 10, TILE * TILE).reshape(40, TILE, TILE).astype(np.uint8),
                     labels)
    digits = Tiles((garments.images + 100).astype(np.uint8), labels)
    frames, attributes = compose(garments, digits, 500, None, torch.Generator().manual_seed(3))
    assert frames.shape == (500, 56, 56) and attributes.shape == (500, 20)
    cells = frames.reshape(500, 2, TILE, 2, TILE).transpose(0, 1, 3, 2, 4).reshape(500, 4, -1)
    assert (cells == cells[..., :1]).all()  # each cell is one whole tile
    values = cells[..., 0].astype(int)
    is_digit = values >= 110
    assert (is_digit.sum(axis=1) == 2).all()
    expected = np.zeros((500, 20), dtype=np.uint8)
    rows = np.repeat(np.arange(500), 4)
    expected[rows, np.where(is_digit, values - 110 + 10, values - 10).ravel()] = 1
    assert np.array_equal(attributes, expected)
    assert len({tuple(row) for row in is_digit}) == 6  # all placements of two digits in four cells occur
    first, _ = compose(garments, digits, 500, 7, torch.Generator().manual_seed(3))
    assert np.array_equal(first, frames[:7])


def test_too_few_tiles_or_no_sources_is_a_data_error(tmp_path):
    for name in ("fashion-mnist", "mnist"):
        make_idx_set(tmp_path / name, n_train=40, n_test=1)
    with pytest.raises(DataError, match="the test split has fewer than two garment or digit tiles"):
        load_dataset("composite", path=tmp_path)
    with pytest.raises(DataError, match="composite is built from fashion-mnist and mnist: the data folder"):
        load_dataset("composite", path=tmp_path / "nowhere")


def test_related_suites_share_ten_minus_k_attributes():
    a0 = get_suite("related-k0").task("a")
    for k in (0, 2, 5, 8, 10):
        suite = get_suite(f"related-k{k}")
        a, b = suite.task("a"), suite.task("b")
        assert suite.dataset == "composite" and a == a0
        for task in (a, b):
            assert (task.kind, task.encoding, task.label_kind) == ("multilabel", "01", "attributes")
        assert [c for _, (c,) in a.outputs] == list(range(10))  # A: the ten garments
        columns = [c for _, (c,) in b.outputs]  # B_k: k of them swapped for digits
        assert sum(c >= 10 for c in columns) == k and len(set(columns)) == 10
        assert len(set(a.output_names) & set(b.output_names)) == 10 - k
    domains = get_suite("domains")
    assert [c for _, (c,) in domains.task("a").outputs] == list(range(10))
    assert [c for _, (c,) in domains.task("b").outputs] == list(range(10, 20))
    assert get_suite("related-k10").task("b").outputs == domains.task("b").outputs  # the end of the sweep


def test_lenet5_beats_the_trivial_score_on_related_k5(sources):
    """About 250 steps on 1,024 frames (about 15 s on one core)."""
    suite = get_suite("related-k5")
    data = suite_data(suite, "lenet5", limit=1024, download=False)
    assert data.input_spec == InputSpec("composite", 1, 56, 0.2082, 0.3403)
    task = suite.task("b")
    torch.manual_seed(0)
    net = build_single_task("lenet5", 1, 56, task.num_outputs)
    fit(net, task, data.train, data.val, TrainConfig(epochs=8, batch_size=32, lr=3e-3, patience=8), log=False)
    assert evaluate(net, task, data.test) > task.trivial_score(data.test.labels) + 0.03


def test_cli_trains_evaluates_and_merges_on_composite(sources, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--suite", "related-k5", "--arch", "lenet5", "--limit", "512", "--epochs", "1",
                 "--out", str(run)]) == 0
    assert "Trained 2 networks on composite" in capsys.readouterr().out
    trained = load_run(run)
    assert [t.record.task for t in trained] == list(get_suite("related-k5").tasks)  # label kind survives the record
    assert main(["eval", str(run), "--json"]) == 0
    scores = [c["scores"] for r in json.loads(capsys.readouterr().out)["models"] for c in r["combinations"]]
    assert [list(s) for s in scores] == [["a"], ["b"]] and all(0 < v <= 1 for s in scores for v in s.values())
    # PAM reads the attribute labels (Task.discrete_labels); alpha 0 keeps these barely trained networks' neurons
    assert main(["merge", str(run), "--method", "pam", "--samples", "64", "--alpha", "0", "--out",
                 str(tmp_path / "pam")]) == 0
    assert "a+b" in capsys.readouterr().out
    assert main(["datasets"]) == 0
    assert "composite      20 attributes, 56 px" in capsys.readouterr().out


@pytest.mark.slow
def test_full_default_splits_and_normalisation_constants(sources):
    data = load_dataset("composite", download=False)
    assert (len(data.train), len(data.val), len(data.test)) == (54000, 6000, 10000)
    pixels = data.train.images
    assert abs(pixels.mean().item()) < 1e-3 and abs(pixels.std().item() - 1) < 1e-3
    on = data.train.labels.float().mean(dim=0)  # two tiles of ten classes: about 1 - 0.9^2 = 0.19 each
    assert on.shape == (20,) and ((on > 0.16) & (on < 0.22)).all()
