"""The Ray executor: each job a Ray task with its CPU and GPU requests, on a local instance or a running cluster.

Results live in ``--out``, which every node must see at the same path (a shared filesystem): jobs read their
inputs and write their outputs there, as they do locally. ``open`` checks that on every node before any job
starts, with a timeout, and that every node runs the same pamkit and torch as this driver (the same seeds give
the same bytes only with the same versions).
"""

from __future__ import annotations

import importlib.util
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..errors import PamkitError
from ..versions import package_versions
from .execute import Outcome, RunContext, execute
from .executors import EXECUTORS, Executor
from .graph import Job

PROBE_FILE = ".ray-probe"  # written into the logs folder for a moment, read by every node


def sees(folder: str, token: str) -> dict[str, Any]:
    """On a node: whether it reads ``token`` in ``folder``'s probe file and can write beside it; its versions."""
    probe, visible = Path(folder) / PROBE_FILE, False
    try:
        visible = probe.read_text() == token
        scratch = probe.with_name(f"{PROBE_FILE}.{socket.gethostname()}.{secrets.token_hex(4)}")
        scratch.write_text(token)
        scratch.unlink()
    except OSError:
        visible = False
    versions = package_versions()
    return {
        "host": socket.gethostname(),
        "visible": visible,
        "versions": {k: versions.get(k) for k in ("pamkit", "torch")},
    }


@EXECUTORS.register
@dataclass
class RayExecutor(Executor):
    """Jobs as Ray tasks. ``address`` None starts a local Ray instance with ``cpus`` CPUs (default: this
    machine's); ``"auto"`` or ``"HOST:PORT"`` joins a running cluster, whose size is its own."""

    name: ClassVar[str] = "ray"
    address: str | None = None
    cpus: int | None = None
    probe_timeout: float = 60.0
    _running: dict[Any, str] = field(default_factory=dict, repr=False)
    _execute: Any = field(default=None, repr=False)  # ``execute`` as a Ray remote function, made once in ``open``
    _slots: int = field(default=1, repr=False)

    def __post_init__(self) -> None:
        if self.address is not None and self.cpus is not None:
            raise PamkitError(
                f"--jobs sizes a local Ray instance; the cluster at {self.address} has its own size: drop --jobs"
            )
        if self.cpus is not None and self.cpus < 1:
            raise PamkitError(f"ray executor: cpus must be at least 1, not {self.cpus}")
        if importlib.util.find_spec("ray") is None:  # before anything is written
            _ray()

    @property
    def slots(self) -> int:
        return self._slots

    def describe(self) -> str:
        where = "a local Ray instance" if self.address is None else f"the Ray cluster at {self.address}"
        return f"ray, on {where} ({self._slots} CPUs)"

    def open(self, out: Path) -> None:
        ray = _ray()
        if self.address is None:
            ray.init(address="local", num_cpus=self.cpus, include_dashboard=False, log_to_driver=False)
        else:
            try:
                ray.init(address=self.address, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise PamkitError(
                    f"cannot join the Ray cluster at {self.address} ({str(exc).splitlines()[0]}); start it with "
                    "`ray start --head` and give its address, or `ray` alone for a local instance"
                ) from None
        self._slots = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._execute = ray.remote(execute)
        self._check_nodes(ray, out)

    def _check_nodes(self, ray: Any, out: Path) -> None:
        """Every alive node must see ``out`` and run this driver's pamkit and torch; a silent node is an error."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        out.mkdir(parents=True, exist_ok=True)
        token, probe = secrets.token_hex(16), out / PROBE_FILE
        probe.write_text(token)
        try:
            remote = ray.remote(sees)
            nodes = [node for node in ray.nodes() if node.get("Alive")]
            refs = [
                remote.options(
                    num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
                ).remote(str(out), token)
                for node in nodes
            ]
            try:
                answers = ray.get(refs, timeout=self.probe_timeout)
            except ray.exceptions.GetTimeoutError:
                raise PamkitError(
                    f"{len(nodes)} Ray node(s) did not all answer within {self.probe_timeout:g} s; check that "
                    "every node's workers start (`ray status`) and try again"
                ) from None
        finally:
            probe.unlink(missing_ok=True)
        ours = {k: package_versions().get(k) for k in ("pamkit", "torch")}
        for answer in answers:
            if not answer["visible"]:
                raise PamkitError(
                    f"Ray node {answer['host']} cannot read and write {out}: every node must see --out at the same "
                    "path (a shared filesystem); give an --out on one"
                )
            if answer["versions"] != ours:
                raise PamkitError(
                    f"Ray node {answer['host']} runs {answer['versions']}, this driver {ours}: install the same "
                    "versions on every node (identical results need identical versions)"
                )

    def submit(self, job: Job, context: RunContext) -> None:
        task = self._execute.options(
            num_cpus=job.resources.cpus,
            num_gpus=job.resources.gpus,
            max_retries=0,  # the driver retries a job whose worker died, the same on every executor
            retry_exceptions=False,
            name=job.key,
        )
        self._running[task.remote(job, context)] = job.key

    def wait(self, timeout: float) -> list[Outcome]:
        ray = _ray()
        refs = list(self._running)
        if not refs:
            return []
        ready, _ = ray.wait(refs, num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        outcomes = []
        for ref in ready:
            key = self._running.pop(ref)
            try:
                outcomes.append(ray.get(ref))
            except ray.exceptions.RayTaskError as exc:  # raised outside the job's own code
                outcomes.append(Outcome(key, "failed", error=str(exc).splitlines()[0]))
            except ray.exceptions.RayError as exc:  # its worker or node died
                outcomes.append(Outcome(key, "died", error=f"{type(exc).__name__}: {str(exc).splitlines()[0]}"))
        return outcomes

    def close(self) -> None:
        ray = _ray()
        for ref in self._running:
            ray.cancel(ref, force=True)
        self._running.clear()
        if ray.is_initialized():
            ray.shutdown()


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise PamkitError(
            "the ray executor needs Ray, an optional extra: pip install 'pamkit[ray]'; or use --executor local"
        ) from None
    return ray
