"""Interrupted export: SIGTERM (timeout, a CI cancel, a scheduler) leaves no worker process and no temporary folder;
a parent killed outright (SIGKILL, no cleanup possible) still takes its workers with it (Linux)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import random_lattice, source_nets
from pamkit.export.formats import ExecuTorchFormat, TFLiteFormat
from pamkit.network import save_multitask

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")]


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """A small saved 3-task LeNet-5 (the digits at 16 px)."""
    return save_multitask(tmp_path_factory.mktemp("signals") / "model", random_lattice(source_nets("lenet5", 16)))


def children(pid: int) -> dict[int, str]:
    """Live (non-zombie) processes whose parent is ``pid``, with their command lines."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, ppid = stat.read_text().rsplit(")", 1)[1].split()[:2]
            if int(ppid) == pid and state != "Z":
                found[int(stat.parent.name)] = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError, IndexError):
            continue  # the process ended while being read
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped counts as ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


class Hung:
    """A conversion that would run for an hour (a large model): the export must stop it, not wait for it."""

    def write(self, entries, example, path: Path, *args, **kwargs) -> None:
        path.with_name(path.name + ".started").touch()  # in the export's temporary folder
        time.sleep(3600)


class HungExecuTorch(Hung, ExecuTorchFormat):
    pass


class HungTFLite(Hung, TFLiteFormat):
    pass


def start_export(model: Path, out: Path) -> tuple[subprocess.Popen, list[int]]:
    """``pamkit export --jobs 2`` in a subprocess (conversions hung), returned once its two worker processes run.

    The workers import this module to unpickle the hung formats (spawn passes them the parent's sys.path).
    """
    script = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import test_signals; "
              "from pamkit.export.formats import FORMATS; FORMATS['tflite'] = test_signals.HungTFLite; "
              "FORMATS['executorch'] = test_signals.HungExecuTorch; "
              "from pamkit.cli import main; sys.exit(main(sys.argv[1:]))")
    proc = subprocess.Popen([sys.executable, "-c", script, "export", str(model), "--out", str(out), "--formats",
                             "executorch,tflite", "--jobs", "2", "--parity-samples", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    workers: list[int] = []

    def converting() -> bool:
        workers[:] = [pid for pid, cmd in children(proc.pid).items() if "spawn_main" in cmd]
        return len(workers) == 2 and len(list(out.parent.glob(f".{out.name}.partial-*/*.started"))) == 2
    if not wait_for(converting, 120):
        proc.kill()
        pytest.fail(f"the export never ran two conversions: {proc.communicate()}")
    return proc, workers


def test_sigterm_stops_the_workers_and_removes_the_temporary_folder(model, tmp_path):
    out = tmp_path / "export"
    proc, workers = start_export(model, out)
    descendants = list(children(proc.pid))
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)  # not the hour the hung conversion would take
    assert proc.returncode == 143, err
    assert err.startswith("pamkit: terminated") and "Traceback" not in err
    assert wait_for(lambda: not any(alive(pid) for pid in descendants), 10), [children(pid) for pid in workers]
    assert list(tmp_path.iterdir()) == []


def test_workers_die_with_a_killed_parent(model, tmp_path):
    out = tmp_path / "export"
    proc, workers = start_export(model, out)
    proc.kill()  # SIGKILL: no Python code runs; the kernel must end the workers (PR_SET_PDEATHSIG)
    proc.communicate(timeout=30)
    assert wait_for(lambda: not any(alive(pid) for pid in workers), 10)
