"""Datasets for pamkit: offline-first lookup, IDX reading, seeded splits and the input description."""

from pamkit.data.datasets import (
    DATASETS,
    DatasetInfo,
    class_names,
    dataset_info,
    dataset_names,
    load_dataset,
    prepare_images,
)
from pamkit.data.idx import read_idx, write_idx
from pamkit.data.sources import LocatedFiles, locate_idx_files
from pamkit.data.spec import DatasetSplits, InputSpec, Split

__all__ = [
    "DATASETS",
    "DatasetInfo",
    "DatasetSplits",
    "InputSpec",
    "LocatedFiles",
    "Split",
    "class_names",
    "dataset_info",
    "dataset_names",
    "load_dataset",
    "locate_idx_files",
    "prepare_images",
    "read_idx",
    "write_idx",
]
