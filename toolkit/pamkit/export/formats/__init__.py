"""The export formats, by their ``--formats`` name."""

from .base import Format, Runner, Signature
from .coreml import CoreMLFormat
from .executorch import ExecuTorchFormat
from .tflite import TFLiteFormat

FORMATS: dict[str, type[Format]] = {f.name: f for f in (ExecuTorchFormat, CoreMLFormat, TFLiteFormat)}

__all__ = ["FORMATS", "CoreMLFormat", "ExecuTorchFormat", "Format", "Runner", "Signature", "TFLiteFormat"]
