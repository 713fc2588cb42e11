"""LiteRT / TFLite ``.tflite`` through litert-torch: one signature per combination, constants merged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from torch import Tensor, nn

from ..entries import INPUT_NAME, EntryPoint
from .base import Entry, Format, Loader, Signature
from .quantize import quantize_pt2e


class TFLiteFormat(Format):
    name, suffix, runtime = "tflite", ".tflite", "ai-edge-litert"

    def write(
        self,
        entries: list[EntryPoint],
        example: Tensor,
        path: Path,
        default: str,
        on_entry: Callable[[str], None] = lambda name: None,
    ) -> None:
        import litert_torch

        converter = litert_torch
        for e in entries:  # a named input and dict outputs give the signatures real tensor names
            converter = converter.signature(
                e.name, self.prepare(e.module(named=True), example), sample_kwargs={INPUT_NAME: example}
            )
            on_entry(e.name)
        converter.convert(**self.convert_options()).export(str(path))

    def prepare(self, module: nn.Module, example: Tensor) -> nn.Module:
        """The module one signature is converted from."""
        return module

    def convert_options(self) -> dict:
        """Extra arguments of litert-torch's ``convert``."""
        return {}

    def signatures(self, path: Path) -> dict[str, Signature]:
        interpreter = _interpreter(path, 1)
        out = {}
        for name in interpreter.get_signature_list():
            runner = interpreter.get_signature_runner(name)
            out[name] = Signature(
                *(
                    tuple(
                        (key, tuple(int(d) for d in detail["shape"]))
                        for key, detail in sorted(details.items(), key=lambda item: item[1]["index"])
                    )
                    for details in (runner.get_input_details(), runner.get_output_details())
                )
            )
        return out

    def open(self, path: Path, threads: int = 1) -> Loader:
        interpreter = _interpreter(path, threads)

        def load(name: str, output_names: tuple[str, ...]) -> Entry:
            runner = interpreter.get_signature_runner(name)

            def run(x: np.ndarray) -> list[np.ndarray]:
                outputs = runner(**{INPUT_NAME: x})
                return [outputs[key] for key in output_names]

            return run

        return load


class TFLiteInt8Format(TFLiteFormat):
    """Int8 ``.tflite``: litert-torch's PT2E quantizer in dynamic-range mode.

    Weights are int8 (per-channel symmetric, so shared groups are still stored once); activations
    are quantized at run time, so input and outputs stay float32 like the float model's (static
    quantization would make the app feed int8 input with its scale and zero point).
    """

    name, suffix, precision = "tflite-int8", ".int8.tflite", "int8"

    def __init__(self, calibration: Tensor | None = None) -> None:
        super().__init__(calibration)
        self._quantizer = None

    def prepare(self, module: nn.Module, example: Tensor) -> nn.Module:
        return quantize_pt2e(_Positional(module), example, self.quantizer(), self.calibration, fold_quantize=False)

    def convert_options(self) -> dict:
        from litert_torch.quantize.quant_config import QuantConfig

        return {"quant_config": QuantConfig(pt2e_quantizer=self.quantizer())}

    def quantizer(self):
        from litert_torch.quantize import pt2e_quantizer

        if self._quantizer is None:
            self._quantizer = pt2e_quantizer.PT2EQuantizer().set_global(
                pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=True, is_dynamic=True)
            )
        return self._quantizer


class _Positional(nn.Module):
    """Calls a module by keyword, so that the captured graph keeps the input's name."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, image: Tensor):
        return self.module(image=image)


def _interpreter(path: Path, threads: int):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=str(path), num_threads=threads)
