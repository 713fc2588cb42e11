"""Bad input common to every verb: the parser, numbers, output paths."""

from .case import Case

CASES = [
    Case("unknown-verb", ("frobnicate",), "invalid choice"),
    Case("no-verb", (), "required"),
    Case("export-atol-nan", ("export", "{none_model}", "--atol", "nan", "--out", "{case}/x"), "not a finite"),
]
