"""ExecuTorch ``.pte``: one method per combination, lowered to XNNPACK; identical constants are stored once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from ..console import DISCARD, captured
from ..entries import EntryPoint
from .base import Entry, Format, Loader, Signature
from .quantize import quantize_pt2e


class ExecuTorchFormat(Format):
    name, suffix, runtime = "executorch", ".pte", "executorch"

    def write(
        self,
        entries: list[EntryPoint],
        example: Tensor,
        path: Path,
        default: str,
        on_entry: Callable[[str], None] = lambda name: None,
    ) -> None:
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        from executorch.exir import to_edge_transform_and_lower

        programs = {}
        for e in entries:
            programs[e.name] = self.capture(e.module(), example)
            on_entry(e.name)
        lowered = to_edge_transform_and_lower(programs, partitioner=[XnnpackPartitioner()]).to_executorch()
        path.write_bytes(lowered.buffer)

    def capture(self, module: nn.Module, example: Tensor) -> torch.export.ExportedProgram:
        """The exported program of one entry point, as lowering takes it."""
        return torch.export.export(module, (example,), strict=False)

    def signatures(self, path: Path) -> dict[str, Signature]:
        program = _program(path)
        out = {}
        for name in program.method_names:
            meta = program.metadata(name)
            out[name] = Signature(
                tuple((None, tuple(meta.input_tensor_meta(i).sizes())) for i in range(meta.num_inputs())),
                tuple((None, tuple(meta.output_tensor_meta(i).sizes())) for i in range(meta.num_outputs())),
            )
        return out

    def open(self, path: Path, threads: int = 1) -> Loader:
        from executorch.extension.pybindings.portable_lib import _unsafe_reset_threadpool

        with captured(DISCARD):  # the runtime logs the reset on stderr
            _unsafe_reset_threadpool(threads)  # XNNPACK's threads (process-wide)
        program = _program(path)

        def load(name: str, output_names: tuple[str, ...]) -> Entry:
            method = program.load_method(name)
            return lambda x: [t.numpy() for t in method.execute([torch.from_numpy(x)])]

        return load


class ExecuTorchInt8Format(ExecuTorchFormat):
    """Int8 ``.pte``: PT2E post-training quantization with the XNNPACK quantizer (per-channel symmetric weights).

    Weight scales depend on the weights alone, so shared groups still quantize identically in
    every method and are stored once; activation scales are calibrated per method.
    """

    name, suffix, precision = "executorch-int8", ".int8.pte", "int8"

    def capture(self, module: nn.Module, example: Tensor) -> torch.export.ExportedProgram:
        from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
            XNNPACKQuantizer,
            get_symmetric_quantization_config,
        )

        quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
        return super().capture(quantize_pt2e(module, example, quantizer, self.calibration), example)


def _program(path: Path):
    from executorch.runtime import Runtime

    return Runtime.get().load_program(str(path))
