"""The export formats, by their ``--formats`` name."""

from .base import Entry, Format, Loader, Runner, Signature
from .coreml import CoreMLFormat
from .executorch import ExecuTorchFormat, ExecuTorchInt8Format
from .tflite import TFLiteFormat, TFLiteInt8Format

FORMATS: dict[str, type[Format]] = {
    f.name: f for f in (ExecuTorchFormat, CoreMLFormat, TFLiteFormat, ExecuTorchInt8Format, TFLiteInt8Format)
}
DEFAULT_FORMATS = ("executorch", "coreml", "tflite")

__all__ = [
    "DEFAULT_FORMATS",
    "FORMATS",
    "CoreMLFormat",
    "Entry",
    "ExecuTorchFormat",
    "ExecuTorchInt8Format",
    "Format",
    "Loader",
    "Runner",
    "Signature",
    "TFLiteFormat",
    "TFLiteInt8Format",
]
