"""Registry of datasets and load_dataset: seeded train/val/test splits as normalised float tensors."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import torch
import torch.nn.functional as F

from pamkit.data import composite
from pamkit.data._checks import is_int, is_number
from pamkit.data.idx import read_idx
from pamkit.data.sources import locate_idx_files
from pamkit.data.spec import LABEL_KINDS, DatasetSplits, InputSpec, Split
from pamkit.errors import DataError

DIGITS_SPLIT = (0.70, 0.15, 0.15)  # digits has no official test set: one seeded permutation, train/val/test
SPLITS = ("train", "val", "test")


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
class SplitRequest:
    """What load_dataset asks of a dataset's loader: where to look, and how to split."""

    path: Path | None
    download: bool
    val_fraction: float
    limit: int | None
    gen: torch.Generator  # seeded; a loader draws every random choice from it, in a fixed order


@dataclass(frozen=True)
class RawSplits:
    """A dataset's three splits before scaling: per split, images [N, H, W] in 0..max_value and their labels."""

    splits: dict[str, tuple[np.ndarray, np.ndarray]]  # keyed by SPLITS
    max_value: float
    source: str


@dataclass(frozen=True)
class DatasetInfo:
    """Static facts about one dataset, enough to plan tasks without loading any image."""

    name: str
    class_names: tuple[str, ...]  # label names: the classes in label order, or the attributes in column order
    native_size: int
    channels: int
    mean: float  # of training pixels scaled to [0, 1]; fixed so every run normalises identically
    std: float
    load: Callable[[DatasetInfo, SplitRequest], RawSplits]
    files: tuple[str, ...] = ()  # the IDX file sets it is read from (keys of sources.SYSTEM_DIRS); () bundled
    label_kind: str = "classes"  # one of LABEL_KINDS: the tasks over it refer to classes or attributes
    max_value: float = 255.0  # its raw pixels run from 0 to this (8-bit images: 255)

    def __post_init__(self) -> None:
        """Catch a registry entry whose label kind no task understands."""
        if self.label_kind not in LABEL_KINDS:
            raise DataError(f"dataset {self.name}: label_kind {self.label_kind!r} is not one of {LABEL_KINDS}")


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


def _read_idx_set(info: DatasetInfo, path: Path | None, download: bool) -> RawData:
    """Read an MNIST-like dataset from its four IDX files, wherever sources finds them."""
    located = locate_idx_files(info.name, path=path, download=download)
    pools = []
    for prefix in ("train", "t10k"):
        img_file = located.files[f"{prefix}-images-idx3-ubyte"]
        lbl_file = located.files[f"{prefix}-labels-idx1-ubyte"]
        images, labels = read_idx(img_file), read_idx(lbl_file)
        _check_idx_pair(info, images, labels, img_file, lbl_file)
        pools.append((images, labels))
    (train_x, train_y), (test_x, test_y) = pools
    return RawData(train_x, train_y, test_x, test_y, max_value=info.max_value, source=located.source)


def _load_idx(info: DatasetInfo, request: SplitRequest) -> RawSplits:
    """Load an MNIST-like dataset: the official train file split into train and val, the test file as test."""
    raw = _read_idx_set(info, request.path, request.download)
    return _split(raw, request.val_fraction, request.limit, request.gen)


def _load_digits(info: DatasetInfo, request: SplitRequest) -> RawSplits:
    """Load scikit-learn's bundled 8x8 digits; always available, so the offline fallback."""
    if request.path is not None:
        raise DataError(
            f"{info.name} is bundled with scikit-learn and reads no files; drop the data folder "
            f"(--data / path={str(request.path)!r})"
        )
    from sklearn.datasets import load_digits  # slow import, only when digits is asked for

    bunch = load_digits()
    raw = RawData(bunch.images, bunch.target, None, None, max_value=info.max_value, source="scikit-learn bundled")
    return _split(raw, request.val_fraction, request.limit, request.gen)


def _load_composite(info: DatasetInfo, request: SplitRequest) -> RawSplits:
    """Compose 2x2 frames of garments and digits (see composite.py), each split from that split's tiles only.

    The sources are split first, as load_dataset splits each of them: train and val tiles from the
    official train files, test tiles from the test files. A split has as many frames as its garment
    tiles (54,000 / 6,000 / 10,000 by default). With a data folder, the sources are its
    ``fashion-mnist/`` and ``mnist/`` subfolders.
    """
    pools = []
    for name in info.files:  # garments, then digits
        folder = None if request.path is None else request.path / name
        try:
            raw = _read_idx_set(DATASETS[name], folder, request.download)
        except DataError as exc:
            raise DataError(f"{info.name} is built from {' and '.join(info.files)}: {exc}") from None
        pools.append(_split(raw, request.val_fraction, None, request.gen))
    splits = {}
    for key in SPLITS:
        garments, digits = (composite.Tiles(*pool.splits[key]) for pool in pools)
        if min(len(garments.labels), len(digits.labels)) < 2:
            raise DataError(
                f"{info.name}: the {key} split has fewer than two garment or digit tiles to compose "
                "frames from; use the full source files"
            )
        splits[key] = composite.compose(garments, digits, len(garments.labels), request.limit, request.gen)
    return RawSplits(splits, max_value=info.max_value, source=" + ".join(pool.source for pool in pools))


_DIGIT_NAMES = tuple(str(d) for d in range(10))
_FASHION_NAMES = (
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
)
DATASETS: Mapping[str, DatasetInfo] = MappingProxyType(
    {
        info.name: info
        for info in (
            DatasetInfo(
                "fashion-mnist",
                _FASHION_NAMES,
                native_size=28,
                channels=1,
                mean=0.2860,
                std=0.3530,
                load=_load_idx,  # official 60k train images
                files=("fashion-mnist",),
            ),
            DatasetInfo(
                "mnist",
                _DIGIT_NAMES,
                native_size=28,
                channels=1,
                mean=0.1307,
                std=0.3081,
                load=_load_idx,
                files=("mnist",),
            ),
            # digits: stats over all 1,797 images (there is no fixed training set; splits depend on the seed)
            DatasetInfo(
                "digits",
                _DIGIT_NAMES,
                native_size=8,
                channels=1,
                mean=0.3053,
                std=0.3760,
                load=_load_digits,
                max_value=16,
            ),
            # composite: stats of the 54,000 training frames of load_dataset("composite", normalize=False)
            # (seed 0, val_fraction 0.1); other seeds draw other frames from the same tiles and differ by < 0.0005
            DatasetInfo(
                "composite",
                _FASHION_NAMES + composite.DIGIT_NAMES,
                native_size=composite.SIZE,
                channels=1,
                mean=0.2082,
                std=0.3403,
                load=_load_composite,
                files=("fashion-mnist", "mnist"),
                label_kind="attributes",
            ),
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
    """Return a dataset's label names (classes in label order, or attributes), without loading any image."""
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


def _split(raw: RawData, val_fraction: float, limit: int | None, gen: torch.Generator) -> RawSplits:
    """Choose each split's samples (at most limit, seeded-random) with one seeded generator."""
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
    splits = {key: (pools[key][0][idx[:limit]], pools[key][1][idx[:limit]]) for key, idx in cuts.items()}
    return RawSplits(splits, raw.max_value, raw.source)


def prepare_images(images: np.ndarray, max_value: float, size: int, spec: InputSpec) -> torch.Tensor:
    """Scale [N, H, W] pixels to [0, 1], resize to size x size (bilinear) and normalise per spec.

    The reference for the manifest's ``input.preprocessing`` steps: the Android and iOS sides are tested
    against its output for the same pixels (tests/app_fixtures).
    """
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
    composite: frames built from Fashion-MNIST and MNIST tiles split that way (see _load_composite);
    its labels are 0/1 attribute rows [N, 20] instead of class indices [N].
    limit keeps at most that many seeded-random samples per split, for fast runs.
    """
    info = dataset_info(name)
    _check_options(size, val_fraction, seed, limit)
    size = info.native_size if size is None else size
    spec = InputSpec(name, info.channels, size, info.mean if normalize else None, info.std if normalize else None)
    request = SplitRequest(
        None if path is None else Path(path), download, val_fraction, limit, torch.Generator().manual_seed(seed)
    )
    raw = info.load(info, request)
    splits = {
        key: Split(prepare_images(images, raw.max_value, size, spec), torch.from_numpy(labels.astype(np.int64)))
        for key, (images, labels) in raw.splits.items()
    }
    return DatasetSplits(name, info.class_names, splits["train"], splits["val"], splits["test"], spec, raw.source)
