"""Bad data options: a data folder that is a file, empty, incomplete or corrupt; sizes, limits, fractions."""

from __future__ import annotations

from .case import Case
from .cases_tasks import writes

FASHION = ("compare", "--suite", "fashion4", "--arch", "lenet5", "--methods", "none", "--out", "{case}/cmp")
DIGITS = ("compare", "--suite", "digits", "--arch", "lenet5", "--methods", "none", "--out", "{case}/cmp")
TRAIN = ("train", "--suite", "digits", "--arch", "lenet5", "--out", "{case}/run")
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def idx_folder(content: bytes, files: tuple[str, ...] = IDX_FILES):
    """A setup: a folder ``d`` in the case's folder holding ``files``, each with ``content``."""
    setups = [writes(f"d/{name}", content) for name in files]

    def setup(case_dir, ws) -> None:
        for each in setups:
            each(case_dir, ws)
    return setup


CASES = [
    Case("data-folder-is-a-file", (*FASHION, "--data", "{user_file}"), "notes.txt (a file, not a folder)"),
    Case("data-folder-without-the-dataset", (*FASHION, "--data", "{user_dir}"),
         "does not hold the fashion-mnist files"),
    Case("data-folder-missing", (*FASHION, "--data", "{case}/nowhere"), "nowhere (no such directory)"),
    Case("data-folder-incomplete", (*FASHION, "--data", "{case}/d"), "incomplete: missing t10k-images-idx3-ubyte",
         setup=idx_folder(b"\0\0\x08\x01\0\0\0\0", IDX_FILES[:2])),
    Case("data-files-not-idx", (*FASHION, "--data", "{case}/d"), "is not an IDX file: magic bytes",
         setup=idx_folder(b"PNG, not IDX")),
    Case("data-files-truncated", (*FASHION, "--data", "{case}/d"), "is truncated",
         setup=idx_folder(b"\0\0\x08\x01\0\0\0\x10abc")),
    Case("data-folder-for-bundled-digits", (*DIGITS, "--data", "{user_dir}"), "drop the data folder (--data"),
    Case("data-size-zero", (*DIGITS, "--size", "0"), "--size: 0 is out of range: it must be at least 1"),
    Case("data-size-below-arch-minimum", (*DIGITS, "--size", "8"), "lenet5 needs inputs of at least 12x12"),
    Case("data-limit-negative", (*DIGITS, "--limit", "-1"), "--limit: -1 is out of range"),
    Case("data-limit-not-integer", (*DIGITS, "--limit", "1e3"), "--limit: '1e3' is not an integer"),
    # train's data options; the expected text holds in both places a fraction is checked (CLI and loader)
    Case("data-val-fraction-above-one", (*TRAIN, "--val-fraction", "1.5"), "fraction"),
    Case("data-val-fraction-nan", (*TRAIN, "--val-fraction", "nan"), "fraction"),
]
