"""The native C++ runner: built against the executorch wheel, run on a tiny 2-method XNNPACK program, host and qemu."""

import json
import platform
import shutil
import subprocess

import pytest
import torch

from pamkit.bench.native import build_runner, executorch_sdk, qemu_wrapper, run_runner

pytestmark = pytest.mark.slow

X = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def tiny_pte(tmp_path_factory):
    """A .pte with methods a (conv) and b (linear), both lowered to XNNPACK, and their expected output shapes."""
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    torch.manual_seed(0)
    nets = {"a": torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()).eval(),
            "b": torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(192, 5)).eval()}
    programs = {name: torch.export.export(net, (X,)) for name, net in nets.items()}
    pte = tmp_path_factory.mktemp("native") / "tiny.pte"
    pte.write_bytes(to_edge_transform_and_lower(programs, partitioner=[XnnpackPartitioner()]).to_executorch().buffer)
    with torch.no_grad():
        return pte, {name: [list(net(X).shape)] for name, net in nets.items()}


@pytest.fixture(scope="module")
def host_runner():
    """The runner for this machine, built (or taken from the cache) once for the module."""
    return build_runner(platform.machine())


def test_host_run_reports_loads_and_samples(host_runner, tiny_pte):
    pte, shapes = tiny_pte
    out = run_runner(host_runner, pte, warmup=1, runs=3)
    assert out.complete and out.error is None
    assert out.start["methods"] == ["a", "b"] and out.start["runs"] == 3 and out.start["order"] == "interleaved"
    assert set(out.loads) == set(out.samples) == {"a", "b"}
    for name in ("a", "b"):
        assert out.loads[name]["outputs"] == shapes[name]
        assert out.loads[name]["load_ms"] > 0 and out.loads[name]["first_ms"] > 0
        assert len(out.samples[name]) == 3 and all(ms > 0 for ms in out.samples[name])


@pytest.mark.parametrize("order", ["interleaved", "sequential"])
def test_event_stream_follows_the_order(host_runner, tiny_pte, order):
    pte, _ = tiny_pte
    proc = subprocess.run([str(host_runner), "--model", str(pte), "--warmup", "0", "--runs", "3", "--order", order,
                           "--seed", "7"], capture_output=True, text=True, check=True)
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [e["event"] for e in events] == ["start", "load", "load"] + ["sample"] * 6 + ["done"]
    samples = [(e["round"], e["method"]) for e in events[3:-1]]
    if order == "interleaved":  # each round runs every method once, in a shuffled order
        assert [r for r, _ in samples] == [0, 0, 1, 1, 2, 2]
        assert all({m for r, m in samples if r == k} == {"a", "b"} for k in range(3))
    else:
        assert samples == [(r, m) for m in ("a", "b") for r in range(3)]


def test_threads_resize_the_pool(host_runner, tiny_pte):
    out = run_runner(host_runner, tiny_pte[0], methods=["b"], warmup=0, runs=1, threads=1)
    assert out.complete and out.start["threads"] == 1 and out.start["pool_threads"] == 1


def test_errors_are_reported_not_raised(host_runner, tiny_pte, tmp_path):
    pte, _ = tiny_pte
    out = run_runner(host_runner, pte, methods=["a", "nope"], warmup=0, runs=1)
    assert not out.complete and "unknown method nope" in out.error and "unknown method nope" in out.stderr
    out = run_runner(host_runner, tmp_path / "missing.pte", warmup=0, runs=1)
    assert not out.complete and "missing.pte" in out.error


def test_timeout_keeps_partial_samples(host_runner, tiny_pte):
    pte, _ = tiny_pte
    out = run_runner(host_runner, pte, methods=["b"], warmup=0, runs=10**7, cooldown_ms=10, timeout=2)  # ~200 runs
    assert not out.complete and "timed out" in out.error
    assert out.loads["b"]["outputs"] and len(out.samples["b"]) > 0


def test_build_is_cached(host_runner):
    mtime = host_runner.stat().st_mtime_ns
    again = build_runner(platform.machine())
    assert again == host_runner and again.stat().st_mtime_ns == mtime


def test_emulated_aarch64_run(tiny_pte):
    missing = [tool for tool in ("qemu-aarch64", "aarch64-linux-gnu-g++") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed (apt-get install g++-aarch64-linux-gnu qemu-user)")
    pte, shapes = tiny_pte
    runner = build_runner("aarch64")
    out = run_runner(runner, pte, warmup=0, runs=1, timeout=300, wrapper=qemu_wrapper(executorch_sdk("aarch64")))
    assert out.complete, out.error
    assert {name: load["outputs"] for name, load in out.loads.items()} == shapes
    assert all(len(ms) == 1 for ms in out.samples.values())
