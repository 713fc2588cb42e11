"""The settings of a merge: one frozen, checked value that every merge method reads its own part of."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import PamkitError
from ..values import check_number
from .pam import GROUPINGS


@dataclass(frozen=True)
class MergeOptions:
    """Settings of every method (each uses its own); recorded in the merged network's provenance."""

    samples: int = 128  # held-out inputs PAM measures relevance on, and MTZ its Hessians
    grouping: str = "paper"  # PAM: "paper" (shared + one private group per task) or "lattice"
    alpha: float | None = None  # PAM: absolute MI threshold (None: calibrated per layer and task)
    relative_alpha: float | None = None  # PAM: calibration factor (None: the relevance module's default)
    zip_groups: bool = True  # PAM: zip the source networks' channels inside each label group (False: the paper's)
    zip_fraction: float = 1.0  # MTZ, zipped PAM: share of each layer's (group's) neurons to pair (1 = full zip)
    finetune_epochs: int = 1  # MTZ and zipped PAM: after each layer; shared: joint training
    lr: float = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        if self.grouping not in GROUPINGS:
            raise PamkitError(f"unknown grouping {self.grouping!r}; use one of {', '.join(GROUPINGS)}")
        check_number("samples (held-out inputs)", self.samples, low=2, integer=True)
        check_number("alpha (PAM's mutual-information threshold)", self.alpha, low=0, optional=True)
        check_number("relative_alpha", self.relative_alpha, low=0, optional=True)
        if self.alpha is not None and self.relative_alpha is not None:
            raise PamkitError(
                "alpha and relative_alpha exclude each other: alpha is the threshold itself, "
                "relative_alpha calibrates it per layer; give one of them"
            )
        check_number("zip_fraction", self.zip_fraction, low=0, low_open=True, high=1)
        check_number("finetune_epochs", self.finetune_epochs, low=0, integer=True)
        check_number("lr (learning rate)", self.lr, low=0, low_open=True)
        check_number("seed", self.seed, low=0, integer=True)
