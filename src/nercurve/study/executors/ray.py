"""The Ray executor: a study's jobs on a Ray cluster, driven by the job driver.

The driver (this process, :mod:`nercurve.study.executors.driver`) alone touches the study
store. It claims a job, hands it to an idle *slot* — a long-lived Ray actor
(:class:`~nercurve.study.executors.ray_worker.JobRunner`)
holding one job's resources (``num_cpus``, a ``1/runs_per_gpu`` share of a GPU for arms
that want one, memory) — and records each reply as it streams back. Actors keep their
imports, CUDA context and the study data for their whole life; the data reaches the
cluster once, through Ray's object store (``ray.put``).

Guarantees, the driver's as with every executor: it renews the leases of the jobs it
holds; a job that raises is recorded as failed with its error; a job over ``timeout_s``
has its actor killed and is recorded as failed; Ctrl-C and SIGTERM kill the actors and
put their jobs back to pending; a driver killed outright leaves leases that the next run
takes back. A job whose actor, worker process or node died is run again up to
``max_retries`` times (each try counts in the store's ``attempts``), then recorded as
failed with every cause. A cluster that cannot be reached is an error before any job.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nercurve.errors import ConfigError, NercurveError
from nercurve.study.executors.driver import DriveRules, Report, Seat, drive
from nercurve.study.executors.protocol import ProgressCallback
from nercurve.study.jobs import StudyData
from nercurve.study.store import ClaimedJob

if TYPE_CHECKING:
    from nercurve.study.config import StudyConfig

#: Seconds allowed to open a TCP connection to a cluster's address before giving up.
CONNECT_TIMEOUT_S = 10.0

#: How often the driver reads the cluster's nodes and resources (seconds).
CLUSTER_EVERY_S = 2.0


@dataclass(frozen=True)
class Shape:
    """The Ray resources one job's slot holds."""

    cpus: float
    gpus: float = 0.0
    memory_mb: int | None = None

    def options(self) -> dict[str, Any]:
        """Ray actor options for a slot of this shape."""
        opts: dict[str, Any] = {"num_cpus": self.cpus, "num_gpus": self.gpus,
                                "max_restarts": 0, "max_task_retries": 0}
        if self.memory_mb is not None:
            opts["memory"] = self.memory_mb * 2**20
        return opts

    def fits_on(self, resources: dict[str, float]) -> int:
        """How many slots of this shape a node with ``resources`` holds."""
        need = {"CPU": self.cpus, "GPU": self.gpus}
        if self.memory_mb is not None:
            need["memory"] = self.memory_mb * 2**20
        counts = [math.floor(resources.get(k, 0.0) / v + 1e-9) for k, v in need.items() if v]
        return min(counts) if counts else 0

    def describe(self) -> str:
        """The resources in words."""
        words = [f"{self.cpus:g} CPU"]
        if self.gpus:
            words.append(f"{self.gpus:g} GPU")
        if self.memory_mb is not None:
            words.append(f"{self.memory_mb} MiB memory")
        return ", ".join(words)


def slots_per_shape(shape: Shape, nodes: list[dict[str, Any]]) -> int:
    """How many slots of ``shape`` the alive nodes (``ray.nodes()`` entries) hold together."""
    return sum(shape.fits_on(n.get("Resources", {})) for n in nodes if n.get("Alive"))


@dataclass
class RayExecutor:
    """Runs a study's pending jobs on a Ray cluster.

    ``address``: ``"auto"``, ``"host:port"`` of a running cluster, or None for a private
    Ray on this machine (with ``workers`` CPUs, default all cores). ``workers`` also caps
    how many jobs run at once. ``gpu_arms`` are the arms whose backend wants a GPU: on a
    cluster with GPUs their slots hold ``1 / runs_per_gpu`` of one; with
    ``runs_per_gpu > 1`` each such arm's first run is measured alone and k runs are packed
    only when they fit (:func:`~nercurve.study.gpu_packing.check_packing`).
    """

    address: str | None = None
    workers: int | None = None
    timeout_s: float = 3600.0
    cpus_per_job: float = 1.0
    memory_mb_per_job: int | None = None
    gpu_arms: frozenset[str] = frozenset()
    runs_per_gpu: int = 1
    max_retries: int = 2
    poll_s: float = 0.2
    lock_patience_s: float = 600.0

    def execute(
        self, store_path: Path, data: StudyData, on_progress: ProgressCallback | None = None
    ) -> None:
        """Run every pending job; on Ctrl-C (or SIGTERM turned into KeyboardInterrupt by the
        caller) kill the actors and return their jobs to pending."""
        with connected(self.address, self.workers) as ray:
            nodes = ray.nodes()
            shapes = self._shapes(nodes)
            for shape in set(shapes.values()):
                if slots_per_shape(shape, nodes) == 0:
                    raise ConfigError(
                        f"no node of the Ray cluster has the resources one job asks for "
                        f"({shape.describe()}); the nodes have: "
                        + "; ".join(_node_words(n) for n in nodes if n.get("Alive")),
                        hint="lower run.cpus_per_job or run.memory_mb_per_job, or add nodes",
                    )
            pool = RayActors(self, ray, ray.put(data), shapes)
            rules = DriveRules(timeout_s=self.timeout_s, max_retries=self.max_retries,
                               gpu_arms=self.gpu_arms, runs_per_gpu=self.runs_per_gpu,
                               poll_s=self.poll_s, lock_patience_s=self.lock_patience_s)
            drive(pool, store_path, rules, on_progress)

    def _shapes(self, nodes: list[dict[str, Any]]) -> dict[bool, Shape]:
        """The slot shape of CPU jobs (False) and of jobs of GPU arms (True)."""
        cpu = Shape(self.cpus_per_job, 0.0, self.memory_mb_per_job)
        has_gpu = any(n.get("Resources", {}).get("GPU", 0) > 0 for n in nodes if n.get("Alive"))
        gpu = Shape(self.cpus_per_job, 1.0 / self.runs_per_gpu, self.memory_mb_per_job)
        return {False: cpu, True: gpu if has_gpu and self.gpu_arms else cpu}


def _node_words(node: dict[str, Any]) -> str:
    res = node.get("Resources", {})
    words = [f"{res.get('CPU', 0):g} CPU", f"{res.get('GPU', 0):g} GPU",
             f"{res.get('memory', 0) / 2**20:.0f} MiB memory"]
    return f"{node.get('NodeManagerAddress', '?')}: " + ", ".join(words)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(
            'run.executor = "ray" needs Ray',
            hint='pip install "nercurve[ray]" (or set run.executor = "local")',
        ) from None
    return ray


def _check_reachable(address: str) -> None:
    """A clear error when nothing listens at a ``host:port`` address (Ray would wait)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as err:
        raise NercurveError(
            f"cannot reach the Ray cluster at {address}: {err.strerror or err}",
            hint="start it (`ray start --head` on the head node), check run.ray_address / "
            "--ray-address, or leave the address unset to run on a private Ray on this machine",
        ) from None


@contextlib.contextmanager
def connected(address: str | None, workers: int | None) -> Iterator[Any]:
    """The ``ray`` module, connected to the cluster at ``address`` (or to a private Ray with
    ``workers`` CPUs); disconnected (and a private Ray stopped) on the way out. A process
    already connected to Ray is used as it is. The caller's SIGTERM handler is kept."""
    ray = _import_ray()
    if ray.is_initialized():
        yield ray
        return
    if address:
        _check_reachable(address)
    kept = signal.getsignal(signal.SIGTERM)
    quiet = {"log_to_driver": False, "logging_level": "ERROR", "include_dashboard": False}
    try:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level="ERROR")
        else:
            ray.init(num_cpus=workers or os.cpu_count() or 1, _node_ip_address="127.0.0.1",
                     **quiet)
    except Exception as err:  # Ray raises ConnectionError, RuntimeError, ValueError, ...
        raise NercurveError(
            f"cannot connect to the Ray cluster at {address or '(a private local Ray)'}: "
            f"{str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__}",
            hint="check run.ray_address / --ray-address (\"auto\" finds the cluster this "
            "machine belongs to) and that this machine's Ray version matches the cluster's",
        ) from None
    finally:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, kept)  # ray.init installs its own
    try:
        yield ray
    finally:
        ray.shutdown()


@dataclass
class _Slot:
    """One actor: starting (until its first answer), then idle or running one job."""

    number: int
    actor: Any
    shape: Shape
    ready: Any  # the ref of the actor's first answer: resolved once it has started
    started: bool = False
    job: ClaimedJob | None = None
    ref: Any = None


@dataclass
class RayActors:
    """The Ray executor's pool: slots of one shape per kind of job, started up to what the
    cluster holds, retired when a node leaves.

    A claimed job goes only to a slot whose actor has started, so a slot that Ray cannot
    place yet (its node died, the resources are taken) never holds a job hostage.
    """

    ex: RayExecutor
    ray: Any
    data_ref: Any
    shapes: dict[bool, Shape]
    slots: list[_Slot] = field(default_factory=list)
    start_deaths: int = 0
    nodes: list[dict[str, Any]] = field(default_factory=list)
    last_nodes: float = 0.0
    expected: Shape = field(init=False)
    numbers: Iterator[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.expected = self.shapes[bool(self.ex.gpu_arms)]

    # -- seats ------------------------------------------------------------------
    def seat(self, gpu: bool | None, alone: bool, waiting: int) -> Seat | None:
        """An idle started slot for the kind of job (any when None); else slots are started
        for the ``waiting`` jobs, up to what the cluster holds (one GPU slot while runs
        must be ``alone``)."""
        self._watch_cluster()
        if gpu is not None:
            self.expected = self.shapes[gpu]
        for slot in self.slots:
            if not slot.started or slot.job is not None:
                continue
            if gpu is not None and slot.shape != self.expected:
                continue
            if alone and slot.shape.gpus > 0 and any(
                    s.job is not None for s in self.slots if s.shape == slot.shape):
                continue  # measured alone: wait until the GPU slots are idle
            return Seat(slot.number, os.getpid(), gpu=self._kind(slot.shape))
        self._grow(self.expected, alone, waiting)
        return None

    def _kind(self, shape: Shape) -> bool | None:
        """The kind of jobs a slot of ``shape`` takes (None: both, as on a CPU cluster)."""
        if self.shapes[True] == self.shapes[False]:
            return None
        return shape == self.shapes[True]

    def _capacity(self, shape: Shape) -> int:
        cap = slots_per_shape(shape, self.nodes)
        return min(cap, self.ex.workers) if self.ex.workers else cap

    def _watch_cluster(self) -> None:
        """Read the cluster's nodes every ``CLUSTER_EVERY_S``; retire slots the cluster can
        no longer hold (a node left), idle ones first."""
        now = time.time()
        if now - self.last_nodes < CLUSTER_EVERY_S:
            return
        self.nodes = self.ray.nodes()
        self.last_nodes = now
        for shape in {s.shape for s in self.slots}:
            same = sorted((s for s in self.slots if s.shape == shape),
                          key=lambda s: (s.job is not None, s.started))
            for slot in same[:max(0, len(same) - self._capacity(shape))]:
                if slot.job is None:
                    self._retire(slot)

    def _grow(self, shape: Shape, alone: bool, waiting: int) -> None:
        """Start slots of ``shape`` for the jobs that wait, up to what the cluster holds
        (one while GPU runs are measured), retiring idle slots of other shapes."""
        same = [s for s in self.slots if s.shape == shape]
        limit = 1 if alone and shape.gpus > 0 else self._capacity(shape)
        wanted = min(limit - len(same), waiting - sum(not s.started for s in same))
        if wanted <= 0:
            return
        for other in [s for s in self.slots if s.shape != shape and s.job is None]:
            self._retire(other)  # free their resources for this shape
        from nercurve.study.executors.ray_worker import JobRunner

        for _ in range(wanted):
            actor = self.ray.remote(JobRunner).options(**shape.options()).remote(self.data_ref)
            self.slots.append(_Slot(next(self.numbers), actor, shape, actor.where.remote()))

    def _retire(self, slot: _Slot) -> None:
        with contextlib.suppress(Exception):
            self.ray.kill(slot.actor, no_restart=True)
        self.slots.remove(slot)

    def launch(self, seat: Seat, job: ClaimedJob) -> None:
        slot = next(s for s in self.slots if s.number == seat.key)
        slot.job = job
        slot.ref = slot.actor.run.remote(job)

    def starting(self) -> bool:
        return not all(s.started for s in self.slots)

    def kill(self, job_id: str) -> None:
        for slot in [s for s in self.slots if s.job is not None and s.job.job_id == job_id]:
            self._retire(slot)

    def close(self) -> None:
        for slot in list(self.slots):
            self._retire(slot)

    # -- news -------------------------------------------------------------------
    def poll(self, timeout_s: float) -> list[Report]:
        """Reports of the jobs whose replies came back (or whose actors died)."""
        self._watch_cluster()
        busy = [s.ref for s in self.slots if s.job is not None]
        waits = busy + [s.ready for s in self.slots if not s.started]
        if not waits:
            time.sleep(timeout_s)
            return []
        ready, _ = self.ray.wait(waits, num_returns=1, timeout=timeout_s)
        if ready:
            ready, _ = self.ray.wait(waits, num_returns=len(waits), timeout=0)
        reports = []
        for ref in ready:
            for slot in list(self.slots):
                if slot.job is not None and slot.ref == ref:
                    reports.append(self._finished(slot, slot.job))
                    break
                if not slot.started and slot.ready == ref:
                    self._started(slot)
                    break
        return reports

    def _started(self, slot: _Slot) -> None:
        """An actor answered for the first time, or died before it could."""
        try:
            self.ray.get(slot.ready)
        except self.ray.exceptions.RayError as err:
            self._retire(slot)
            if isinstance(err, self.ray.exceptions.ActorUnschedulableError):
                return  # its node is gone or it cannot be placed: the next fill tries again
            self.start_deaths += 1
            if self.start_deaths >= max(3, 2 * max(1, self._capacity(slot.shape))):
                raise NercurveError(
                    f"Ray could not start the study's workers ({self.start_deaths} in a row "
                    f"died before their first job: {_first_line(err)}); nothing is lost",
                    hint="check that nercurve and its backends are installed on every node "
                    "(the same versions as here) and that the nodes have memory to spare",
                ) from None
            return
        slot.started = True
        self.start_deaths = 0

    def _finished(self, slot: _Slot, job: ClaimedJob) -> Report:
        try:
            reply: Report = self.ray.get(slot.ref)
        except self.ray.exceptions.RayTaskError as err:  # the call itself raised
            slot.job = slot.ref = None
            return Report(job.job_id, error=str(err))
        except self.ray.exceptions.RayError as err:  # the actor, its process or node died
            self._retire(slot)
            return Report(job.job_id, death=f"Ray worker or node died: {_first_line(err)}")
        slot.job = slot.ref = None
        return reply


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0] if text else ''}".strip(": ")


def build(config: StudyConfig, *, gpu_arms: frozenset[str], workers: int | None,
          runs_per_gpu: int) -> RayExecutor:
    """The Ray executor for a study, from the ``[run]`` settings."""
    run = config.run
    return RayExecutor(
        address=run.ray_address, workers=workers, timeout_s=run.timeout_s,
        cpus_per_job=run.cpus_per_job, memory_mb_per_job=run.memory_mb_per_job,
        gpu_arms=gpu_arms, runs_per_gpu=runs_per_gpu, max_retries=run.max_retries,
    )
