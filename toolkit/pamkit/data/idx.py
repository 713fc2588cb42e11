"""Read and write the IDX array format used by MNIST and Fashion-MNIST (gzipped or plain)."""

from __future__ import annotations

import gzip as gzip_lib
import zlib
from pathlib import Path

import numpy as np

from pamkit.errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
# IDX type code -> big-endian numpy dtype, as defined by the format (LeCun's MNIST page).
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_FIX = "replace the file with a good copy (delete it and re-download, or reinstall the dataset)"


def _read_bytes(path: Path) -> bytes:
    """Return the file's content, decompressed when it starts with the gzip magic (whatever its name)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"IDX file {path} does not exist; check the path or install the dataset") from None
    except OSError as exc:
        raise DataError(f"cannot read IDX file {path} ({exc}); check its permissions or {_FIX}") from None
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip_lib.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"IDX file {path} is a corrupt gzip stream ({exc}); {_FIX}") from None


def read_idx(path: str | Path) -> np.ndarray:
    """Load one IDX file as a native-endian numpy array, validating header and payload length."""
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise DataError(f"IDX file {path} is {len(data)} bytes, too short for the 4-byte header; {_FIX}")
    if data[0] != 0 or data[1] != 0 or data[2] not in IDX_DTYPES:
        raise DataError(
            f"{path} is not an IDX file: magic bytes {data[:4].hex()} should be 00 00 <type> <ndim> with type "
            f"one of {', '.join(f'{code:02x}' for code in IDX_DTYPES)}; pass the right file or {_FIX}"
        )
    dtype, ndim = IDX_DTYPES[data[2]], data[3]
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise DataError(
            f"IDX file {path} is truncated inside its header: {ndim} dimensions need {header_len} bytes, "
            f"found {len(data)}; {_FIX}"
        )
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header_len
    if actual < expected:
        raise DataError(
            f"IDX file {path} is truncated: dims {dims} need {expected} payload bytes, found {actual}; {_FIX}"
        )
    if actual > expected:
        raise DataError(
            f"IDX file {path} has {actual - expected} trailing bytes after the {expected} payload bytes its "
            f"dims {dims} need; the file is corrupt or not IDX, {_FIX}"
        )
    array = np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize, offset=header_len)
    return array.reshape(dims).astype(dtype.newbyteorder("="))


def write_idx(path: str | Path, array: np.ndarray, gzip: bool = False) -> Path:
    """Write an array as an IDX file (gzipped on request), e.g. to build test fixtures or share data."""
    path = Path(path)
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise DataError(
            f"IDX cannot store dtype {array.dtype}; convert first, e.g. array.astype(numpy.uint8), to one of "
            f"{', '.join(str(dt.newbyteorder('=')) for dt in IDX_DTYPES.values())}"
        )
    if not 1 <= array.ndim <= 255:
        raise DataError(f"IDX stores 1 to 255 dimensions, got {array.ndim}; reshape the array first")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    path.write_bytes(gzip_lib.compress(payload, mtime=0) if gzip else payload)
    return path
