"""Registry of datasets and load_dataset: seeded train/val/test splits as normalised float tensors."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import torch
import torch.nn.functional as F

from pamkit.data._checks import is_int, is_number
from pamkit.data.idx import read_idx
from pamkit.data.sources import locate_idx_files
from pamkit.data.spec import DatasetSplits, InputSpec, Split
from pamkit.errors import DataError

DIGITS_SPLIT = (0.70, 0.15, 0.15)  # digits has no official test set: one seeded permutation, train/val/test


@dataclass(frozen=True)
class RawData:
    """A dataset as read from disk, before splitting: images [N, H, W] with pixel values in 0..max_value."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray | None  # None: no official test set, all three splits come from train_*
    test_labels: np.ndarray | None
    max_value: float
    source: str


@dataclass(frozen=True)
class DatasetInfo:
    """Static facts about one dataset, enough to plan tasks without loading any image."""

    name: str
    class_names: tuple[str, ...]
    native_size: int
    channels: int
    mean: float  # of training pixels scaled to [0, 1]; fixed so every run normalises identically
    std: float
    load: Callable[[DatasetInfo, Path | None, bool], RawData]  # (info, path, download) -> RawData


def _check_idx_pair(info: DatasetInfo, images: np.ndarray, labels: np.ndarray, img_file: Path, lbl_file: Path) -> None:
    """Reject an images/labels file pair whose shapes, counts or label values do not fit the dataset."""
    size = info.native_size
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (size, size):
        raise DataError(
            f"{img_file}: expected uint8 images of shape [N, {size}, {size}] for {info.name}, got {images.dtype} "
            f"{list(images.shape)}; point pamkit at the right {info.name} files"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(
            f"{lbl_file}: expected a 1-D uint8 label file, got {labels.dtype} {list(labels.shape)}; "
            f"point pamkit at the right {info.name} files"
        )
    if len(images) != len(labels):
        raise DataError(
            f"{img_file} holds {len(images)} images but {lbl_file} holds {len(labels)} labels; "
            "the pair must come from the same release: replace both files"
        )
    if len(labels) and int(labels.max()) >= len(info.class_names):
        raise DataError(
            f"{lbl_file}: label {int(labels.max())} is out of range for {info.name}'s {len(info.class_names)} "
            f"classes; point pamkit at the right {info.name} files"
        )


def _load_idx(info: DatasetInfo, path: Path | None, download: bool) -> RawData:
    """Load an MNIST-like dataset from its four IDX files, wherever sources finds them."""
    located = locate_idx_files(info.name, path=path, download=download)
    pools = []
    for prefix in ("train", "t10k"):
        img_file = located.files[f"{prefix}-images-idx3-ubyte"]
        lbl_file = located.files[f"{prefix}-labels-idx1-ubyte"]
        images, labels = read_idx(img_file), read_idx(lbl_file)
        _check_idx_pair(info, images, labels, img_file, lbl_file)
        pools.append((images, labels))
    (train_x, train_y), (test_x, test_y) = pools
    return RawData(train_x, train_y, test_x, test_y, max_value=255.0, source=located.source)


def _load_digits(info: DatasetInfo, path: Path | None, download: bool) -> RawData:
    """Load scikit-learn's bundled 8x8 digits; always available, so the offline fallback."""
    if path is not None:
        raise DataError(
            f"{info.name} is bundled with scikit-learn and reads no files; drop the data folder "
            f"(--data / path={str(path)!r})"
        )
    from sklearn.datasets import load_digits  # slow import, only when digits is asked for

    bunch = load_digits()
    return RawData(bunch.images, bunch.target, None, None, max_value=16.0, source="scikit-learn bundled")


_DIGIT_NAMES = tuple(str(d) for d in range(10))
DATASETS: Mapping[str, DatasetInfo] = MappingProxyType(
    {
        info.name: info
        for info in (
            DatasetInfo(
                "fashion-mnist",
                (
                    "t-shirt/top",
                    "trouser",
                    "pullover",
                    "dress",
                    "coat",
                    "sandal",
                    "shirt",
                    "sneaker",
                    "bag",
                    "ankle-boot",
                ),
                native_size=28,
                channels=1,
                mean=0.2860,
                std=0.3530,
                load=_load_idx,  # official 60k train images
            ),
            DatasetInfo("mnist", _DIGIT_NAMES, native_size=28, channels=1, mean=0.1307, std=0.3081, load=_load_idx),
            # digits: stats over all 1,797 images (there is no fixed training set; splits depend on the seed)
            DatasetInfo("digits", _DIGIT_NAMES, native_size=8, channels=1, mean=0.3053, std=0.3760, load=_load_digits),
        )
    }
)


def dataset_names() -> list[str]:
    """Return the names load_dataset accepts."""
    return list(DATASETS)


def dataset_info(name: str) -> DatasetInfo:
    """Return a dataset's registry entry, or a DataError listing the known names."""
    if not isinstance(name, str) or name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; use one of: {', '.join(DATASETS)}")
    return DATASETS[name]


def class_names(name: str) -> tuple[str, ...]:
    """Return a dataset's class names in label order, without loading any image."""
    return dataset_info(name).class_names


def _check_options(size: int | None, val_fraction: float, seed: int, limit: int | None) -> None:
    """Reject impossible load_dataset options, naming the argument and its valid range."""
    if size is not None and (not is_int(size) or size <= 0):
        raise DataError(f"size must be a positive integer (or None for native size), got {size!r}")
    if not is_number(val_fraction) or not 0 < val_fraction < 1:
        raise DataError(f"val_fraction must be a number strictly between 0 and 1 (e.g. 0.1), got {val_fraction!r}")
    if not is_int(seed):
        raise DataError(f"seed must be an integer, got {seed!r}")
    if limit is not None and (not is_int(limit) or limit <= 0):
        raise DataError(f"limit must be a positive integer (samples per split) or None for all, got {limit!r}")


def _split_indices(
    raw: RawData, val_fraction: float, limit: int | None, gen: torch.Generator
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Choose each split's (images pool, labels pool, indices) from one seeded generator."""
    n = len(raw.train_labels)
    perm = torch.randperm(n, generator=gen).numpy()
    if raw.test_images is None or raw.test_labels is None:
        n_train, n_val = round(DIGITS_SPLIT[0] * n), round(DIGITS_SPLIT[1] * n)
        cuts = {"train": perm[:n_train], "val": perm[n_train : n_train + n_val], "test": perm[n_train + n_val :]}
        pools = dict.fromkeys(cuts, (raw.train_images, raw.train_labels))
    else:
        n_val = round(val_fraction * n)
        if not 0 < n_val < n:
            raise DataError(
                f"val_fraction={val_fraction} of {n} training samples leaves an empty train or val split; "
                "choose a val_fraction nearer 0.1"
            )
        test_idx = np.arange(len(raw.test_labels))
        if limit is not None:
            test_idx = torch.randperm(len(test_idx), generator=gen).numpy()
        cuts = {"train": perm[n_val:], "val": perm[:n_val], "test": test_idx}
        pools = {
            "train": (raw.train_images, raw.train_labels),
            "val": (raw.train_images, raw.train_labels),
            "test": (raw.test_images, raw.test_labels),
        }
    return {key: (*pools[key], idx[:limit]) for key, idx in cuts.items()}


def _to_tensor(images: np.ndarray, max_value: float, size: int, spec: InputSpec) -> torch.Tensor:
    """Scale [N, H, W] pixels to [0, 1], resize to size x size (bilinear) and normalise per spec."""
    x = torch.from_numpy(np.asarray(images, dtype=np.float32)).div_(max_value).unsqueeze(1)
    if x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=size < x.shape[-1])
    if spec.mean is not None and spec.std is not None:
        x = x.sub_(spec.mean).div_(spec.std)
    return x.contiguous()


def load_dataset(
    name: str,
    *,
    path: str | Path | None = None,
    size: int | None = None,
    normalize: bool = True,
    val_fraction: float = 0.1,
    seed: int = 0,
    limit: int | None = None,
    download: bool = True,
) -> DatasetSplits:
    """Load a dataset as deterministic train/val/test splits of float32 [N, C, H, W] tensors.

    fashion-mnist/mnist: the official train file is split into train and val (val_fraction of it,
    seeded permutation); the official test file is the test split. digits has no official test set:
    one seeded permutation gives 70% train / 15% val / 15% test, and val_fraction is not used.
    limit keeps at most that many seeded-random samples per split, for fast runs.
    """
    info = dataset_info(name)
    _check_options(size, val_fraction, seed, limit)
    size = info.native_size if size is None else size
    spec = InputSpec(name, info.channels, size, info.mean if normalize else None, info.std if normalize else None)
    raw = info.load(info, None if path is None else Path(path), download)
    gen = torch.Generator().manual_seed(seed)
    splits = {
        key: Split(_to_tensor(images[idx], raw.max_value, size, spec), torch.from_numpy(labels[idx].astype(np.int64)))
        for key, (images, labels, idx) in _split_indices(raw, val_fraction, limit, gen).items()
    }
    return DatasetSplits(name, info.class_names, splits["train"], splits["val"], splits["test"], spec, raw.source)
