"""Core ML multifunction ``.mlpackage`` (iOS 18 / macOS 15): one function per combination, weights deduplicated.

Each combination is converted on its own (``jit.trace``, so the input and outputs get our names),
then the packages are joined with ``MultiFunctionDescriptor``. Prediction needs macOS; elsewhere
the artifact is checked by its structure only.
"""

from __future__ import annotations

import platform
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..entries import INPUT_NAME, EntryPoint
from .base import Entry, Format, Loader, Signature


class CoreMLFormat(Format):
    name, suffix, runtime = "coreml", ".mlpackage", "coremltools"
    legacy_dir: Path | None = None  # also write one plain package per combination (iOS 15+) here

    def write(
        self,
        entries: list[EntryPoint],
        example: Tensor,
        path: Path,
        default: str,
        on_entry: Callable[[str], None] = lambda name: None,
    ) -> None:
        import coremltools as ct

        with tempfile.TemporaryDirectory(prefix="pamkit-coreml-") as tmp:
            descriptor = ct.utils.MultiFunctionDescriptor()
            for e in entries:
                single = Path(tmp) / f"{e.name}.mlpackage"
                convert(e, example, ct.target.iOS18).save(str(single))
                descriptor.add_function(str(single), src_function_name="main", target_function_name=e.name)
                if self.legacy_dir is not None:
                    self.legacy_dir.mkdir(exist_ok=True)
                    convert(e, example, ct.target.iOS15).save(str(self.legacy_dir / f"{e.name}.mlpackage"))
                on_entry(e.name)
            descriptor.default_function_name = default
            ct.utils.save_multifunction(descriptor, str(path))

    def signatures(self, path: Path) -> dict[str, Signature]:
        import coremltools as ct

        description = ct.models.MLModel(str(path), skip_model_load=True).get_spec().description
        functions = description.functions or [description]  # a plain package: one function, "main"
        return {getattr(f, "name", "") or "main": Signature(_specs(f.input), _specs(f.output)) for f in functions}

    def cannot_run(self) -> str | None:
        if platform.system() != "Darwin":
            return f"Core ML prediction runs only on macOS (this is {platform.system()})"
        return None

    def open(self, path: Path, threads: int = 1) -> Loader:
        import coremltools as ct

        def load(name: str, output_names: tuple[str, ...]) -> Entry:
            model = ct.models.MLModel(str(path), function_name=name, compute_units=ct.ComputeUnit.CPU_ONLY)

            def run(x: np.ndarray) -> list[np.ndarray]:
                outputs = model.predict({INPUT_NAME: x})
                return [np.asarray(outputs[key]) for key in output_names]

            return run

        return load


def convert(entry: EntryPoint, example: Tensor, target):
    """One combination as a Core ML ML program in float32, input and outputs named."""
    import coremltools as ct

    traced = torch.jit.trace(entry.module(), (example,))
    return ct.convert(
        traced,
        inputs=[ct.TensorType(name=INPUT_NAME, shape=tuple(example.shape))],
        outputs=[ct.TensorType(name=name) for name in entry.output_names],
        convert_to="mlprogram",
        minimum_deployment_target=target,
        compute_precision=ct.precision.FLOAT32,
    )


def _specs(features) -> tuple:
    return tuple((f.name, tuple(int(d) for d in f.type.multiArrayType.shape)) for f in features)
