"""The Ray executor: a study's jobs on a Ray cluster, with the local executor's guarantees.

The driver (this process) alone touches the study store. It claims a job, hands it to an
idle *slot* — a long-lived Ray actor (:class:`~nercurve.study.ray_worker.JobRunner`)
holding one job's resources (``num_cpus``, a ``1/runs_per_gpu`` share of a GPU for arms
that want one, memory) — and records each reply as it streams back. Actors keep their
imports, CUDA context and the study data for their whole life; the data reaches the
cluster once, through Ray's object store (``ray.put``).

Guarantees, as with :class:`~nercurve.study.executor.LocalExecutor`: the driver renews
the leases of the jobs it holds; a job that raises is recorded as failed with its error;
a job over ``timeout_s`` has its actor killed and is recorded as failed; Ctrl-C and
SIGTERM kill the actors and put their jobs back to pending; a driver killed outright
leaves leases that the next run takes back. Beyond it: a job whose actor, worker process
or node died is run again up to ``max_retries`` times (each try counts in the store's
``attempts``), then recorded as failed with every cause. A cluster that cannot be
reached is an error before any job.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nercurve.errors import ConfigError, NercurveError, StoreError, StoreLockedError
from nercurve.study.executor import (
    RENEW_EVERY_S,
    Progress,
    ProgressCallback,
    progress_of,
)
from nercurve.study.gpu_packing import GpuPeak, check_packing
from nercurve.study.jobs import StudyData
from nercurve.study.store import ClaimedJob, Store

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
            data_ref = ray.put(data)
            with Store(store_path) as store:
                _Drive(self, ray, store, data_ref, shapes, on_progress).run()

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


@contextlib.contextmanager
def _sigterm_deferred() -> Iterator[Callable[[], None]]:
    """Hold SIGTERM while Ray's calls run (Ray turns whatever a signal handler raises inside
    them into KeyboardInterrupt); the function yielded delivers a held one to the handler
    that was set before, in plain Python, so its own exception (e.g. the CLI's) comes out."""
    held: list[int] = []
    try:
        before = signal.signal(signal.SIGTERM, lambda signum, frame: held.append(signum))
    except ValueError:  # not the main thread: signals are not ours to handle
        yield lambda: None
        return

    def deliver() -> None:
        if held:
            signal.signal(signal.SIGTERM, before)
            signal.raise_signal(signal.SIGTERM)

    try:
        yield deliver
    finally:
        signal.signal(signal.SIGTERM, before)


@dataclass
class _Slot:
    """One actor: starting (until its first answer), then idle or running one job."""

    actor: Any
    shape: Shape
    ready: Any  # the ref of the actor's first answer: resolved once it has started
    started: bool = False
    job: ClaimedJob | None = None
    ref: Any = None
    since: float = 0.0


@dataclass
class _Drive:
    """One execution: claim, dispatch, collect and record until no job is left.

    A claimed job goes only to a slot whose actor has started, so a slot that Ray cannot
    place yet (its node died, the resources are taken) never holds a job hostage.
    """

    ex: RayExecutor
    ray: Any
    store: Store
    data_ref: Any
    shapes: dict[bool, Shape]
    on_progress: ProgressCallback | None
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)
    slots: list[_Slot] = field(default_factory=list)
    held: ClaimedJob | None = None
    deaths: dict[str, list[str]] = field(default_factory=dict)
    measured: dict[str, GpuPeak | None] = field(default_factory=dict)
    start_deaths: int = 0
    writes: list[Callable[[], object]] = field(default_factory=list)
    nodes: list[dict[str, Any]] = field(default_factory=list)
    last_nodes: float = 0.0
    last_renewal: float = 0.0
    locked_since: float | None = None
    expected: Shape = field(init=False)

    def __post_init__(self) -> None:
        self.expected = self.shapes[bool(self.ex.gpu_arms)]

    def run(self) -> None:
        """Drive until every job is finished or held elsewhere; stop cleanly on any error."""
        self.started = time.time()
        counts = self.store.counts()
        self.finished_before = counts["done"] + counts["failed"]
        try:
            with _sigterm_deferred() as deliver:
                self._loop(deliver)
        except BaseException:  # Ctrl-C, SIGTERM, a store or packing error: leave nothing
            self._stop()
            raise
        for slot in list(self.slots):
            self._retire(slot)
        self._report()

    def _loop(self, deliver: Callable[[], None]) -> None:
        while True:
            deliver()
            note = self._guarded(self._tick)
            busy = [s.ref for s in self.slots if s.job is not None]
            if note is None and not busy and self.held is None and not self.writes and (
                    all(s.started for s in self.slots) or not self._pending()):
                return
            waits = busy + [s.ready for s in self.slots if not s.started]
            if waits:
                ready, _ = self.ray.wait(waits, num_returns=1, timeout=self.ex.poll_s)
                if ready:
                    ready, _ = self.ray.wait(waits, num_returns=len(waits), timeout=0)
                for ref in ready:
                    self._collect(ref)
            else:
                time.sleep(self.ex.poll_s)
            if note is None:
                self._report()

    # -- one round ------------------------------------------------------------
    def _guarded(self, step: Callable[[], None]) -> str | None:
        """Run ``step``; while another process holds the store's lock, a note (results
        wait in memory) until ``lock_patience_s`` has passed."""
        try:
            self._flush()
            step()
        except StoreLockedError:
            self.locked_since = self.locked_since or time.time()
            waited = time.time() - self.locked_since
            if waited > self.ex.lock_patience_s:
                raise
            note = (f"waiting {waited:.0f} s: another process holds the store's lock "
                    "(results are kept)")
            if self.on_progress is not None:
                self.on_progress(Progress(0, 0, 0, 0, 0, None, note=note))
            return note
        self.locked_since = None
        return None

    def _flush(self) -> None:
        while self.writes:
            self.writes[0]()
            self.writes.pop(0)

    def _try_flush(self) -> None:
        """Write what waits; while the store is locked it keeps waiting (see :meth:`_guarded`)."""
        with contextlib.suppress(StoreLockedError):
            self._flush()

    def _tick(self) -> None:
        now = time.time()
        if now - self.last_renewal >= RENEW_EVERY_S:
            self.store.renew_leases(self.owner)
            self.store.recover_orphans()  # jobs of runners gone elsewhere come back
            self.last_renewal = now
        if now - self.last_nodes >= CLUSTER_EVERY_S:
            self.nodes = self.ray.nodes()
            self.last_nodes = now
            self._trim()
        self._enforce_timeouts(now)
        self._fill()

    def _capacity(self, shape: Shape) -> int:
        cap = slots_per_shape(shape, self.nodes)
        return min(cap, self.ex.workers) if self.ex.workers else cap

    def _trim(self) -> None:
        """Retire slots the cluster can no longer hold (a node left), idle ones first."""
        for shape in {s.shape for s in self.slots}:
            same = sorted((s for s in self.slots if s.shape == shape),
                          key=lambda s: (s.job is not None, s.started))
            for slot in same[:max(0, len(same) - self._capacity(shape))]:
                if slot.job is None:
                    self._retire(slot)

    def _probing(self, shape: Shape, arm: str | None = None) -> bool:
        """True while a GPU arm's first run must run alone, to be measured before packing
        (``arm`` None: while any GPU arm is unmeasured)."""
        if shape.gpus == 0 or self.ex.runs_per_gpu == 1:
            return False
        return arm not in self.measured if arm else not self.ex.gpu_arms <= self.measured.keys()

    def _fill(self) -> None:
        """Claim jobs while a started slot is idle and hand them over; start slots (up to
        the capacity) while jobs wait."""
        pid = os.getpid()
        while True:
            if self.held is None:
                if not any(s.started and s.job is None for s in self.slots):
                    self._grow(self.expected)
                    return
                self.held = self.store.claim(self.owner, pid, pid)
                if self.held is None:
                    return
            job = self.held
            shape = self.expected = self.shapes[job.backend in self.ex.gpu_arms]
            same = [s for s in self.slots if s.shape == shape]
            if self._probing(shape, job.backend) and any(s.job is not None for s in same):
                return  # measured alone: wait until the GPU slots are idle
            idle = next((s for s in same if s.started and s.job is None), None)
            if idle is None:
                self._grow(shape)
                return
            self.held = None
            idle.job, idle.since = job, time.time()
            idle.ref = idle.actor.run.remote(job)

    def _grow(self, shape: Shape) -> None:
        """Start slots of ``shape`` for the jobs that wait, up to what the cluster holds
        (one while GPU runs are measured), retiring idle slots of other shapes."""
        same = [s for s in self.slots if s.shape == shape]
        limit = 1 if self._probing(shape) else self._capacity(shape)
        waiting = self.store.counts()["pending"] + (self.held is not None)
        wanted = min(limit - len(same), waiting - sum(not s.started for s in same))
        if wanted <= 0:
            return
        for other in [s for s in self.slots if s.shape != shape and s.job is None]:
            self._retire(other)  # free their resources for this shape
        for _ in range(wanted):
            self._start_slot(shape)

    def _start_slot(self, shape: Shape) -> None:
        from nercurve.study.ray_worker import JobRunner

        actor = self.ray.remote(JobRunner).options(**shape.options()).remote(self.data_ref)
        self.slots.append(_Slot(actor=actor, shape=shape, ready=actor.where.remote()))

    def _retire(self, slot: _Slot) -> None:
        with contextlib.suppress(Exception):
            self.ray.kill(slot.actor, no_restart=True)
        self.slots.remove(slot)

    def _enforce_timeouts(self, now: float) -> None:
        for slot in [s for s in self.slots if s.job is not None]:
            if now - slot.since > self.ex.timeout_s:
                job = slot.job
                self._retire(slot)
                self.writes.append(lambda j=job: self.store.fail(
                    j.job_id, j.claim, f"timed out after {self.ex.timeout_s:g} s "
                    "(run.timeout_s)"))
                self._try_flush()

    # -- replies ----------------------------------------------------------------
    def _collect(self, ref: Any) -> None:
        for slot in self.slots:
            if slot.job is not None and slot.ref == ref:
                self._finished(slot, slot.job)
                return
            if not slot.started and slot.ready == ref:
                self._started(slot)
                return

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

    def _finished(self, slot: _Slot, job: ClaimedJob) -> None:
        try:
            reply = self.ray.get(slot.ref)
        except self.ray.exceptions.RayTaskError as err:  # the call itself raised
            slot.job = slot.ref = None
            message = str(err)
            self.writes.append(lambda: self.store.fail(job.job_id, job.claim, message))
        except self.ray.exceptions.RayError as err:  # the actor, its process or node died
            self._retire(slot)
            self._died(job, err)
        else:
            slot.job = slot.ref = None
            if reply.outcome is not None:
                self.writes.append(lambda: self.store.finish(job, reply.outcome))
            else:
                self.writes.append(lambda: self.store.fail(job.job_id, job.claim, reply.error))
            self._try_flush()
            if slot.shape.gpus > 0 and job.backend not in self.measured:
                self.measured[job.backend] = reply.gpu
                if reply.gpu is not None:
                    check_packing(job.backend, self.ex.runs_per_gpu, reply.gpu)
            return
        self._try_flush()

    def _died(self, job: ClaimedJob, err: Exception) -> None:
        """Run again (up to ``max_retries`` times) a job whose actor, process or node died."""
        causes = self.deaths.setdefault(job.job_id, [])
        causes.append(_first_line(err))
        if len(causes) > self.ex.max_retries:
            message = (f"its Ray worker or node died on each of {len(causes)} attempts: "
                       + " | ".join(causes))
            self.writes.append(lambda: self.store.fail(job.job_id, job.claim, message))
        else:
            self.writes.append(lambda: self.store.release([job.job_id]))  # claimed again

    # -- ends -----------------------------------------------------------------
    def _stop(self) -> None:
        for slot in list(self.slots):
            self._retire(slot)
        with contextlib.suppress(StoreError):  # else their leases expire: the next run recovers
            with contextlib.suppress(StoreError):
                self._flush()
            self.store.release([r["job_id"] for r in self.store.running_jobs(self.owner)])

    def _pending(self) -> int:
        """Pending jobs (counted as some while another process holds the store's lock)."""
        try:
            return self.store.counts()["pending"]
        except StoreLockedError:
            return 1

    def _report(self) -> None:
        if self.on_progress is None:
            return
        try:
            counts = self.store.counts()
        except StoreLockedError:
            return
        finished_now = counts["done"] + counts["failed"] - self.finished_before
        self.on_progress(progress_of(counts, finished_now, time.time() - self.started))


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0] if text else ''}".strip(": ")
