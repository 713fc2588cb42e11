"""Post-training int8 quantization shared by the int8 formats: PT2E capture, calibration on real images, convert."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ...errors import PamkitError


def quantize_pt2e(
    module: nn.Module, example: Tensor, quantizer, calibration: Tensor | None, fold_quantize: bool = True
) -> nn.Module:
    """``module`` with observers calibrated on ``calibration`` (one image at a time) and then quantized."""
    if calibration is None or not len(calibration):
        raise PamkitError("int8 export needs calibration images (the format's calibration); pass the model's data")
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    captured = torch.export.export(module, (example,), strict=False).module()
    prepared = prepare_pt2e(captured, quantizer)
    with torch.no_grad():
        for x in calibration:
            prepared(x[None])
    return convert_pt2e(prepared, fold_quantize=fold_quantize)
