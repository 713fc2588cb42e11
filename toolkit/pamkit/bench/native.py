"""Native ExecuTorch benchmarking: build runner/pamkit_runner.cpp against an executorch wheel, run it, parse its events.

The runner links the C++ runtime that the executorch wheel ships (lib/ and include/), so no ExecuTorch source build is
needed: the host build uses the installed wheel, an aarch64 build the same version's aarch64 wheel from PyPI, and an
aarch64 binary runs here under qemu-aarch64 user-mode emulation (slow: only for checking it works, never for timings).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

from pamkit.data.sources import cache_root
from pamkit.errors import PamkitError

RUNNER_SOURCE = Path(__file__).parent / "runner" / "pamkit_runner.cpp"
ARCHES = ("x86_64", "aarch64")
ORDERS = ("interleaved", "sequential")
AARCH64_SYSROOT = Path("/usr/aarch64-linux-gnu")  # Debian's cross glibc (libc6-arm64-cross), qemu's -L prefix
# Linked whole (--no-as-needed): the runner calls none of their symbols, their static constructors register the
# XNNPACK delegate and the CPU kernels (the quantized ones for int8 programs' quantize/dequantize ops).
REGISTRATION_LIBS = ("executorch_backend_xnnpack", "executorch_kernels_optimized", "executorch_kernels_quantized")


@dataclass(frozen=True)
class RunnerOutput:
    """What one pamkit_runner run reported, complete or cut short (timeout, crash, bad input)."""

    start: dict
    loads: dict[str, dict]
    samples: dict[str, list[float]]
    complete: bool
    error: str | None
    stderr: str


def _check_arch(arch: str) -> None:
    """Reject architectures we have no wheel or toolchain naming for, before any download or compile."""
    if arch not in ARCHES:
        raise PamkitError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHES)}")


def executorch_sdk(arch: str) -> Path:
    """Root (lib/, include/) of the executorch wheel for arch: the installed one on the host, else a cached download."""
    _check_arch(arch)
    version = importlib.metadata.version("executorch")
    if arch == platform.machine():
        spec = importlib.util.find_spec("executorch")
        root = Path(next(iter(spec.submodule_search_locations or []), "")) if spec else None
        if root is None or not (root / "lib" / "libexecutorch.so").is_file():
            raise PamkitError(
                f"the installed executorch {version} has no lib/libexecutorch.so; reinstall it "
                "(scripts/setup.sh) from a wheel that ships the C++ runtime"
            )
        return root
    root = cache_root() / f"executorch-{arch}" / version
    if not (root / "lib" / "libexecutorch.so").is_file():
        _download_sdk(arch, version, root)
    return root


def _download_sdk(arch: str, version: str, root: Path) -> None:
    """Fetch executorch==version for arch with pip and unpack its lib/ and include/ into root (atomically)."""
    root.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        f"executorch=={version}",
        "--no-deps",
        "--only-binary=:all:",
        "--platform",
        f"manylinux_2_28_{arch}",
        "--python-version",
        f"{sys.version_info[0]}.{sys.version_info[1]}",
        "--quiet",
        "-d",
    ]
    with tempfile.TemporaryDirectory(dir=root.parent) as tmp:
        proc = subprocess.run([*cmd, tmp], capture_output=True, text=True)
        wheels = sorted(Path(tmp).glob("executorch-*.whl"))
        if proc.returncode or not wheels:
            reason = (proc.stderr.strip().splitlines() or ["no wheel was saved"])[-1]
            raise PamkitError(
                f"could not download the {arch} executorch {version} wheel ({reason}); it needs pip and "
                f"access to PyPI, or run '{' '.join([*cmd, 'DIR'])}' elsewhere and unzip the wheel's "
                f"executorch/lib and executorch/include into {root}"
            )
        with _open_wheel(wheels[0]) as wheel:
            members = [name for name in wheel.namelist() if name.startswith(("executorch/lib/", "executorch/include/"))]
            wheel.extractall(tmp, members)
        try:
            (Path(tmp) / "executorch").rename(root)
        except OSError as exc:
            if not (root / "lib" / "libexecutorch.so").is_file():  # not a concurrent download that got there first
                raise PamkitError(
                    f"cannot unpack the {arch} wheel into {root} ({exc}); remove that directory and "
                    "run the command again"
                ) from exc


def _open_wheel(path: Path) -> zipfile.ZipFile:
    """Open a downloaded wheel; a broken download becomes a PamkitError that says to retry."""
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise PamkitError(f"the downloaded wheel {path.name} is corrupt ({exc}); run the command again") from exc


def _compiler(arch: str) -> str:
    """The g++ that targets arch (the host's or Debian's cross compiler); a PamkitError naming the package if absent."""
    name = "g++" if arch == platform.machine() else f"{arch}-linux-gnu-g++"
    if shutil.which(name) is None:
        package = "g++" if name == "g++" else f"g++-{arch}-linux-gnu"
        raise PamkitError(f"{name} not found: install {package}: apt-get install -y {package}")
    return name


def _flags(sdk: Path) -> list[str]:
    """Compile and link flags against one wheel's headers and libraries; rpath: the runner's own dir, then the wheel."""
    include = sdk / "include"
    lib = sdk / "lib"
    return [
        "-std=c++17",
        "-O2",
        "-DC10_USING_CUSTOM_GENERATED_MACROS",
        "-DET_EVENT_TRACER_ENABLED",
        "-isystem",
        str(include),
        "-isystem",
        str(include / "executorch/runtime/core/portable_type/c10"),
        f"-L{lib}",
        f"-Wl,-rpath,$ORIGIN:{lib}",
        "-lexecutorch",
        "-Wl,--no-as-needed",
        *(f"-l{name}" for name in REGISTRATION_LIBS),
        "-lexecutorch_threadpool",
        "-Wl,--as-needed",
    ]


def build_runner(arch: str = "x86_64") -> Path:
    """Compile pamkit_runner for arch once per source/wheel/compiler/flags combination and return the cached binary."""
    _check_arch(arch)
    compiler = _compiler(arch)
    sdk = executorch_sdk(arch)
    flags = _flags(sdk)
    compiler_version = subprocess.run([compiler, "-dumpfullversion"], capture_output=True, text=True).stdout.strip()
    key = hashlib.sha256(RUNNER_SOURCE.read_bytes())
    for part in (importlib.metadata.version("executorch"), compiler, compiler_version, *flags):
        key.update(b"\0" + part.encode())
    binary = cache_root() / "runner" / f"{arch}-{key.hexdigest()[:16]}" / "pamkit_runner"
    if binary.is_file():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.with_name(f".pamkit_runner.{os.getpid()}")
    proc = subprocess.run([compiler, str(RUNNER_SOURCE), "-o", str(partial), *flags], capture_output=True, text=True)
    if proc.returncode:
        partial.unlink(missing_ok=True)
        lines = proc.stderr.splitlines()
        first = next((i for i, line in enumerate(lines) if "error" in line), 0)
        raise PamkitError(
            f"compiling pamkit_runner for {arch} with {compiler} failed:\n" + "\n".join(lines[first : first + 12])
        )
    os.replace(partial, binary)
    return binary


def qemu_wrapper(sdk: Path) -> list[str]:
    """Command prefix that runs an aarch64 runner under qemu-aarch64 with the cross glibc and sdk's libraries."""
    if shutil.which("qemu-aarch64") is None:
        raise PamkitError("qemu-aarch64 not found: install qemu-user: apt-get install -y qemu-user")
    if not (AARCH64_SYSROOT / "lib" / "ld-linux-aarch64.so.1").is_file():
        raise PamkitError(f"no aarch64 glibc under {AARCH64_SYSROOT}: apt-get install -y g++-aarch64-linux-gnu")
    return ["qemu-aarch64", "-L", str(AARCH64_SYSROOT), "-E", f"LD_LIBRARY_PATH={sdk / 'lib'}"]


def run_runner(
    binary: Path | str,
    model: Path | str,
    methods: list[str] | None = None,
    warmup: int = 5,
    runs: int = 20,
    threads: int = 0,
    order: str = "interleaved",
    cooldown_ms: int = 0,
    seed: int = 0,
    timeout: float = 600,
    wrapper: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> RunnerOutput:
    """Run pamkit_runner on model and collect its events; a timeout or failure keeps the samples already reported.

    env adds to (does not replace) this process's environment; wrapper is prepended to the command (e.g. qemu_wrapper).
    """
    if order not in ORDERS:
        raise PamkitError(f"unknown order {order!r}; choose one of {', '.join(ORDERS)}")
    cmd = [
        *(wrapper or []),
        str(binary),
        "--model",
        str(model),
        "--warmup",
        str(warmup),
        "--runs",
        str(runs),
        "--threads",
        str(threads),
        "--order",
        order,
        "--cooldown-ms",
        str(cooldown_ms),
        "--seed",
        str(seed),
    ]
    for method in methods or []:
        cmd += ["--method", method]
    try:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}
        )
    except OSError as exc:
        raise PamkitError(f"cannot start {cmd[0]}: {exc}") from exc
    events: list[dict] = []
    stderr: list[str] = []
    out, err = proc.stdout, proc.stderr  # pipes, as asked above
    assert out is not None and err is not None
    readers = [
        threading.Thread(target=_read_events, args=(out, events)),
        threading.Thread(target=lambda: stderr.append(err.read())),
    ]
    for reader in readers:
        reader.start()
    try:
        returncode = proc.wait(timeout=timeout)
        error = None
    except subprocess.TimeoutExpired:
        proc.kill()
        returncode = proc.wait()
        error = f"timed out after {timeout:g} s"
    except BaseException:  # Ctrl-C, SIGTERM: the runner must not outlive pamkit
        proc.kill()
        proc.wait()
        raise
    for reader in readers:
        reader.join()
    return _collect(events, returncode, error, "".join(stderr))


def _read_events(stream, events: list[dict]) -> None:
    """Parse JSON lines as the runner flushes them; a line cut off by a kill (or any non-JSON line) is skipped,
    and so is one holding NaN or Infinity, which no results file may hold."""
    for line in stream:
        try:
            event = json.loads(line, parse_constant=_not_finite)
        except ValueError:  # json.JSONDecodeError too
            continue
        if isinstance(event, dict):
            events.append(event)


def _not_finite(name: str) -> None:
    raise ValueError(f"non-finite number {name}")


def _collect(events: list[dict], returncode: int, error: str | None, stderr: str) -> RunnerOutput:
    """Fold the events into a RunnerOutput; complete only for a clean exit that reported done."""
    start: dict = {}
    loads: dict[str, dict] = {}
    samples: dict[str, list[float]] = {}
    done = False
    for event in events:
        kind = event.get("event")
        if kind == "start":
            start = event
            samples = {name: [] for name in event.get("methods", [])}
        elif kind == "load":
            loads[event["method"]] = event
        elif kind == "sample":
            samples.setdefault(event["method"], []).append(event["ms"])
        elif kind == "error":
            error = error or event.get("message", "unknown error")
        elif kind == "done":
            done = True
    if error is None and returncode < 0:
        error = f"pamkit_runner was killed by signal {-returncode}"
    elif error is None and returncode > 0:
        tail = stderr.strip().splitlines()[-1:] or ["no message"]
        error = f"pamkit_runner exited with status {returncode}: {tail[0]}"
    elif error is None and not done:
        error = "pamkit_runner ended without reporting done"
    return RunnerOutput(start, loads, samples, error is None, error, stderr)
