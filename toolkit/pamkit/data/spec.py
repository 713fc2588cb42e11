"""The data containers every other module sees: input description, one split, a dataset's three splits."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch

from pamkit.data._checks import is_int, is_number
from pamkit.errors import DataError

# What a dataset's labels are: one class index per image ([N]), or a 0/1 row of attributes per image ([N, A]).
LABEL_KINDS = ("classes", "attributes")


@dataclass(frozen=True)
class InputSpec:
    """What a network's input looks like; recorded in every checkpoint and export manifest."""

    dataset: str
    channels: int
    size: int  # square images: H == W == size
    mean: float | None  # normalisation applied: x = (pixel01 - mean) / std; None when not normalised
    std: float | None

    def __post_init__(self) -> None:
        """Reject specs no network could have been trained on, naming the bad field."""
        if not isinstance(self.dataset, str) or not self.dataset:
            raise DataError(
                f"InputSpec.dataset must be a non-empty string, got {self.dataset!r}; give the dataset name"
            )
        for name in ("channels", "size"):
            value = getattr(self, name)
            if not is_int(value) or value <= 0:
                raise DataError(f"InputSpec.{name} must be a positive integer, got {value!r}; fix the spec")
        if (self.mean is None) != (self.std is None):
            raise DataError(
                f"InputSpec mean and std must both be numbers or both None, got mean={self.mean!r} std={self.std!r}; "
                "set both (normalised input) or neither"
            )
        if self.mean is not None and not is_number(self.mean):
            raise DataError(f"InputSpec.mean must be a finite number or None, got {self.mean!r}; fix the spec")
        if self.std is not None and (not is_number(self.std) or self.std <= 0):
            raise DataError(f"InputSpec.std must be a positive finite number or None, got {self.std!r}; fix the spec")

    @property
    def shape(self) -> tuple[int, int, int]:
        """Return one input's (C, H, W)."""
        return (self.channels, self.size, self.size)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict; from_dict inverts it."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InputSpec:
        """Rebuild a spec from to_dict output (e.g. a checkpoint sidecar), rejecting missing or unknown keys."""
        if not isinstance(d, dict):
            raise DataError(f"input spec must be a mapping, got {type(d).__name__}; pass InputSpec.to_dict() output")
        expected = {f.name for f in fields(cls)}
        missing, unknown = expected - d.keys(), d.keys() - expected
        if missing or unknown:
            raise DataError(
                f"input spec keys are wrong (missing: {sorted(missing) or 'none'}, unknown: "
                f"{sorted(map(str, unknown)) or 'none'}); it needs exactly {sorted(expected)}"
            )
        return cls(**d)


@dataclass(frozen=True)
class Split:
    """One split of a dataset: float32 images [N, C, H, W], int64 class indices [N] or 0/1 attributes [N, A]."""

    images: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        """Catch mismatched images and labels at construction rather than deep inside training."""
        if self.images.ndim != 4 or self.labels.ndim not in (1, 2) or len(self.images) != len(self.labels):
            raise DataError(
                f"Split needs images [N, C, H, W] and labels [N] (classes) or [N, A] (attributes), got "
                f"{tuple(self.images.shape)} and {tuple(self.labels.shape)}; pass matching tensors"
            )

    def __len__(self) -> int:
        """Return the number of samples."""
        return len(self.labels)


@dataclass(frozen=True)
class DatasetSplits:
    """A loaded dataset: train/val/test splits, label names, input description and data provenance."""

    name: str
    class_names: tuple[str, ...]  # the classes in label order, or the attributes in column order
    train: Split
    val: Split
    test: Split
    input_spec: InputSpec
    source: str  # where the files were found ("/usr/share/datasets/fashion-mnist", "scikit-learn bundled", ...)
