"""ExecuTorch ``.pte``: one method per combination, lowered to XNNPACK; identical constants are stored once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..entries import EntryPoint
from .base import Format, Runner, Signature


class ExecuTorchFormat(Format):
    name, suffix, runtime = "executorch", ".pte", "executorch"

    def write(self, entries: list[EntryPoint], example: Tensor, path: Path, default: str,
              on_entry: Callable[[str], None] = lambda name: None) -> None:
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        from executorch.exir import to_edge_transform_and_lower

        programs = {}
        for e in entries:
            programs[e.name] = torch.export.export(e.module(), (example,), strict=False)
            on_entry(e.name)
        lowered = to_edge_transform_and_lower(programs, partitioner=[XnnpackPartitioner()]).to_executorch()
        path.write_bytes(lowered.buffer)

    def signatures(self, path: Path) -> dict[str, Signature]:
        program = _program(path)
        out = {}
        for name in program.method_names:
            meta = program.metadata(name)
            out[name] = Signature(tuple((None, tuple(meta.input_tensor_meta(i).sizes()))
                                        for i in range(meta.num_inputs())),
                                  tuple((None, tuple(meta.output_tensor_meta(i).sizes()))
                                        for i in range(meta.num_outputs())))
        return out

    def runner(self, path: Path, threads: int = 1) -> Runner:
        program, methods = _program(path), {}

        def run(name: str, x: np.ndarray, output_names: tuple[str, ...]) -> list[np.ndarray]:
            if name not in methods:
                methods[name] = program.load_method(name)
            return [t.numpy() for t in methods[name].execute([torch.from_numpy(x)])]
        return run


def _program(path: Path):
    from executorch.runtime import Runtime

    return Runtime.get().load_program(str(path))
