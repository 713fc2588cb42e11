"""LiteRT / TFLite ``.tflite`` through litert-torch: one signature per combination, constants merged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from torch import Tensor

from ..entries import INPUT_NAME, EntryPoint
from .base import Format, Runner, Signature


class TFLiteFormat(Format):
    name, suffix, runtime = "tflite", ".tflite", "ai-edge-litert"

    def write(self, entries: list[EntryPoint], example: Tensor, path: Path, default: str,
              on_entry: Callable[[str], None] = lambda name: None) -> None:
        import litert_torch

        converter = litert_torch
        for e in entries:  # a named input and dict outputs give the signatures real tensor names
            converter = converter.signature(e.name, e.module(named=True), sample_kwargs={INPUT_NAME: example})
            on_entry(e.name)
        converter.convert().export(str(path))

    def signatures(self, path: Path) -> dict[str, Signature]:
        interpreter = _interpreter(path, 1)
        out = {}
        for name in interpreter.get_signature_list():
            runner = interpreter.get_signature_runner(name)
            out[name] = Signature(*(tuple((key, tuple(int(d) for d in detail["shape"])) for key, detail in
                                          sorted(details.items(), key=lambda item: item[1]["index"]))
                                    for details in (runner.get_input_details(), runner.get_output_details())))
        return out

    def runner(self, path: Path, threads: int = 1) -> Runner:
        interpreter, runners = _interpreter(path, threads), {}

        def run(name: str, x: np.ndarray, output_names: tuple[str, ...]) -> list[np.ndarray]:
            if name not in runners:
                runners[name] = interpreter.get_signature_runner(name)
            outputs = runners[name](**{INPUT_NAME: x})
            return [outputs[key] for key in output_names]
        return run


def _interpreter(path: Path, threads: int):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=str(path), num_threads=threads)
