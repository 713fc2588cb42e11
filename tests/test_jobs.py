"""The job graph and its executors: one conformance run over every executor (a job that fails, the jobs that
need it, a job whose process dies, resuming), then a small sweep on two executors giving the same bytes."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import job_functions as fn
from pamkit.compare.cli import command_of_record
from pamkit.errors import PamkitError
from pamkit.jobs import JOBS_FILE, EXECUTORS, InlineExecutor, Job, JobGraph, JobsFailed, LocalExecutor, run_jobs
from pamkit.jobs.ray_executor import PROBE_FILE, sees

ROOT = Path(__file__).resolve().parents[1]
PAMKIT = [sys.executable, "-m", "pamkit"]


def test_graph_order_and_refusals():
    a, b, c = Job("a", fn.write), Job("b", fn.write, needs=("a",)), Job("c", fn.write, needs=("b", "a"))
    graph = JobGraph([c, b, a])
    assert [job.key for job in graph.order] == ["a", "b", "c"]
    assert graph.dependents("a") == {"b", "c"} and graph.dependents("c") == set()
    with pytest.raises(PamkitError, match="two jobs are named 'a'"):
        JobGraph([a, a])
    with pytest.raises(PamkitError, match=r"job 'b' needs \['a'\], which are not in the graph"):
        JobGraph([b])
    with pytest.raises(PamkitError, match="jobs form a cycle: x -> y -> x"):
        JobGraph([Job("x", fn.write, needs=("y",)), Job("y", fn.write, needs=("x",))])


def _graph(folder: Path, dies: bool) -> JobGraph:
    """a and d feed e; b fails until fixed, and c needs b; d kills its own process once (not inline)."""
    f = {name: str(folder / name) for name in ("a", "b", "c", "d", "e", "fixed", "marker")}
    jobs = [
        Job("a", fn.write, {"path": f["a"], "text": "A"}, outputs=(folder / "a",)),
        Job("b", fn.fail_unless, {"fixed": f["fixed"], "path": f["b"]}, outputs=(folder / "b",)),
        Job("c", fn.join, {"inputs": [f["b"]], "path": f["c"]}, needs=("b",), outputs=(folder / "c",)),
        Job("d", fn.die_once if dies else fn.write, {"marker": f["marker"], "path": f["d"]} if dies else
            {"path": f["d"], "text": "D"}, outputs=(folder / "d",)),
        Job("e", fn.join, {"inputs": [f["a"], f["d"]], "path": f["e"]}, needs=("a", "d"), outputs=(folder / "e",)),
    ]
    return JobGraph(jobs)


EXECUTOR_CASES = {
    "inline": lambda: InlineExecutor(),
    "local": lambda: LocalExecutor(jobs=2),
    "ray": lambda: EXECUTORS.create("ray", cpus=2),
}


@pytest.mark.parametrize("name", list(EXECUTOR_CASES))
def test_executor_conformance(name, tmp_path, capsys, monkeypatch):
    """Every executor: a failing job is reported while the others finish; what needs it does not start; a job
    whose process died runs again; a second run skips what finished and runs the rest."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(Path(fn.__file__).parent), os.environ.get("PYTHONPATH", "")]))
    dies = name != "inline"  # inline runs jobs in this very process
    with pytest.raises(JobsFailed, match=r"1 job\(s\) failed: b: ValueError: fixed is missing \(1 job\(s\) that "
                                         r"need them did not run\).*run again with --resume"):
        run_jobs(_graph(tmp_path, dies), EXECUTOR_CASES[name](), tmp_path, "pamkit test", retries=1, heartbeat=1)
    first = json.loads((tmp_path / JOBS_FILE).read_text())["jobs"]
    assert {k: v["status"] for k, v in first.items()} == {"a": "done", "b": "failed", "c": "blocked", "d": "done",
                                                         "e": "done"}
    assert first["b"]["attempts"] == 1  # an error is not retried
    assert first["d"]["attempts"] == (2 if dies else 1)
    assert (tmp_path / "e").read_text().startswith("A+" + ("after a death" if dies else "D"))
    out = capsys.readouterr().out
    assert "FAILED b: ValueError: fixed is missing" in out
    assert ("retrying d: its process" in out or "retrying d: WorkerCrashedError" in out) == dies
    if name != "inline":  # job output went to each job's log, with the traceback of the failure
        assert "ValueError: fixed is missing" in (tmp_path / "logs" / "b.log").read_text()

    (tmp_path / "fixed").write_text("")
    report = run_jobs(_graph(tmp_path, dies), EXECUTOR_CASES[name](), tmp_path, "pamkit test", retries=1)
    assert report.status == {"a": "finished before", "d": "finished before", "e": "finished before",
                             "b": "done", "c": "done"}
    assert "5 jobs on" in capsys.readouterr().out and (tmp_path / "c").read_text() == "fixed"


def test_a_job_that_keeps_dying_fails_after_its_retries(tmp_path):
    marker = tmp_path / "marker"
    job = Job("d", fn.die_once, {"marker": str(marker), "path": str(tmp_path / "d")})

    class AlwaysDies(LocalExecutor):
        def submit(self, job, context):
            marker.unlink(missing_ok=True)  # every attempt is a first one
            super().submit(job, context)

    with pytest.raises(JobsFailed, match="d: its process ended with exit code -9"):
        run_jobs(JobGraph([job]), AlwaysDies(jobs=1), tmp_path, "pamkit test", retries=2)
    assert json.loads((tmp_path / JOBS_FILE).read_text())["jobs"]["d"]["attempts"] == 3


def test_ray_nodes_must_see_out(tmp_path):
    """The probe every Ray node runs before any job: it must read the driver's token in --out and write there."""
    (tmp_path / PROBE_FILE).write_text("token")
    assert sees(str(tmp_path), "token")["visible"]
    assert not sees(str(tmp_path), "another")["visible"]
    assert not sees(str(tmp_path / "elsewhere"), "token")["visible"]
    assert set(sees(str(tmp_path), "token")["versions"]) == {"pamkit", "torch"}


def test_the_command_of_record_leaves_out_where_jobs_ran():
    words = ["compare", "--suite", "digits", "--executor", "ray:auto", "--jobs=4", "--retries", "1", "--out", "x"]
    assert command_of_record(words) == "pamkit compare --suite digits --out x"


SWEEP = ["compare", "--suite", "digits", "--arch", "lenet5", "--methods", "none,pam", "--limit", "500",
         "--epochs", "2", "--seeds", "0,1", "--step", "0.3", "--max-backoffs", "0", "--confirmations", "0",
         "--out", "sweep"]


def _sweep(cwd: Path, *options: str) -> subprocess.Popen:
    cwd.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([*PAMKIT, *SWEEP, *options], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, preexec_fn=_interruptible)


def _interruptible() -> None:
    """Ctrl-C must reach the sweep even when these tests run in the background: a non-interactive shell starts
    background commands with SIGINT ignored, and a Python started so never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _files(folder: Path) -> dict[str, bytes]:
    """Every result file of a sweep (not its job account or logs)."""
    skip = {JOBS_FILE, ".pamkit-output.json"}
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name not in skip and "logs" not in p.relative_to(folder).parts
            and p.name != "run.json" and not (p.suffix == ".json" and p.parent.name == "single")}


@pytest.mark.slow
def test_a_sweep_gives_the_same_bytes_on_ray_and_local_and_resumes_after_an_interrupt(tmp_path):
    local, ray = _sweep(tmp_path / "local", "--jobs", "1"), None
    out, _ = local.communicate(timeout=600)
    assert local.returncode == 0, out
    ray = _sweep(tmp_path / "ray", "--executor", "ray", "--jobs", "2")
    out, _ = ray.communicate(timeout=600)
    assert ray.returncode == 0, out
    assert "executor: ray, on a local Ray instance (2 CPUs)" in out
    expected = _files(tmp_path / "local" / "sweep")
    assert {"report.json", "report.md", "cost.png", "curves.png", "seed-1/pam/pruned/model.safetensors"} <= set(expected)
    got = _files(tmp_path / "ray" / "sweep")
    assert sorted(got) == sorted(expected)
    assert [name for name in expected if got[name] != expected[name]] == []

    # Interrupted after a few jobs, then resumed: only the unfinished jobs run, and the results are the same.
    cut = _sweep(tmp_path / "cut", "--jobs", "2")
    account = tmp_path / "cut" / "sweep" / JOBS_FILE
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        done = json.loads(account.read_text())["jobs"] if account.is_file() else {}
        if sum(job["status"] == "done" for job in done.values()) >= 6:
            break
        time.sleep(0.5)
    cut.send_signal(signal.SIGINT)
    out, _ = cut.communicate(timeout=120)
    assert cut.returncode == 130, out
    finished = {k for k, job in json.loads(account.read_text())["jobs"].items() if job["status"] == "done"}
    assert len(finished) >= 6
    shutil.move(tmp_path / "cut", tmp_path / "resume")  # the same relative --out, resumed
    resumed = subprocess.run([*PAMKIT, *SWEEP, "--jobs", "2", "--resume"], cwd=tmp_path / "resume", text=True,
                             capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    jobs = json.loads((tmp_path / "resume" / "sweep" / JOBS_FILE).read_text())["jobs"]
    assert {k for k, job in jobs.items() if job["status"] == "finished before"} >= finished
    assert all(job["status"] in ("finished before", "done") for job in jobs.values())
    assert f"{len(jobs)} jobs on local, " in resumed.stdout
    again = _files(tmp_path / "resume" / "sweep")
    differing = [name for name in expected if again[name] != expected[name]]
    assert differing and all(name.endswith(("report.json", "report.md")) for name in differing), differing
    for name in differing:  # the reports differ only in the command, which records --resume
        assert _without_command(again[name]) == _without_command(expected[name]), name


def _without_command(report: bytes) -> list[str]:
    return [line for line in report.decode().splitlines() if "pamkit compare --suite" not in line]
