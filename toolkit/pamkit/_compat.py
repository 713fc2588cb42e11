"""Guarded compatibility steps for the pinned package set on CPU-only machines."""

from __future__ import annotations

import sys
from types import ModuleType

_TORCHVISION_SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}
_fragment = None  # keeps the torch.library registration alive for the process


def import_torchvision() -> ModuleType:
    """Import torchvision; if it is a CUDA build on a CPU torch, declare its missing op schemas first.

    PyPI's torchvision 0.28.0 is a CUDA build whose compiled ops cannot load with torch's
    CPU build, so ``import torchvision`` dies with ``operator torchvision::nms does not exist``.
    Declaring the two schemas lets the model zoo import (detection ops stay unavailable).
    Where torchvision imports normally, nothing is changed.
    """
    global _fragment
    try:
        import torchvision

        return torchvision
    except RuntimeError as exc:
        if "torchvision::nms" not in str(exc):
            raise
    import torch

    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    _fragment = torch.library.Library("torchvision", "FRAGMENT")
    for schema in _TORCHVISION_SCHEMAS.values():
        _fragment.define(schema)
    import torchvision

    return torchvision
