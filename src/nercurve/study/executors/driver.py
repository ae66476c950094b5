"""The job driver: one loop, used by every executor, that alone touches the study store.

An executor is a *worker pool* (where jobs run: processes on this machine, Ray actors,
SLURM tasks) plus this driver. The driver claims a job when the pool has a seat for it,
hands it over, and records what the pool reports back: the job's outcome, its error, or
the death of the worker that ran it. Around that it keeps the guarantees every executor
shares:

- **Leases.** It renews the leases of the jobs it holds, and takes back the jobs of
  runners that are gone (:meth:`Store.recover_orphans`), every ``RENEW_EVERY_S``.
- **A locked store.** While another process holds the store's lock, results wait in
  memory and progress shows a note; after ``lock_patience_s`` it gives up with a
  :class:`~nercurve.errors.StoreLockedError` (what could not be written runs again).
- **Time limits.** A job over ``timeout_s`` has its worker killed and is recorded failed.
- **Dead workers.** A job whose worker died runs again up to ``max_retries`` times, then
  is recorded failed with every cause.
- **Stop.** On Ctrl-C, SIGTERM or any error it kills every worker, writes what waits, and
  puts the jobs it holds back to pending.
- **GPU packing.** With ``runs_per_gpu = k > 1``, every job runs alone on its device until
  the first run of each GPU arm with work left has finished; then k of its measured peak
  must fit (:func:`~nercurve.study.gpu_packing.check_packing`) before runs share a device.
- **Progress** after every round.
- **Kept models.** With ``run.keep = "best"`` a worker leaves each job's model in the study's
  scratch folder; the driver settles it (:func:`nercurve.study.keep.settle`: kept when it
  beats the kept model of its arm and stratum, else deleted) before it records the job.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import traceback
import uuid
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from nercurve.errors import StoreError, StoreLockedError
from nercurve.study.executors.protocol import Progress, ProgressCallback, progress_of
from nercurve.study.gpu_packing import check_packing, peak_of
from nercurve.study.jobs import StudyData, execute_job
from nercurve.study.keep import settle
from nercurve.study.store import LEASE_S, ClaimedJob, JobOutcome, Store

#: How often the driver renews the leases of the jobs it holds (seconds).
RENEW_EVERY_S = LEASE_S / 6


@dataclass(frozen=True)
class Seat:
    """A place where one job can start now."""

    #: The pool's own name for the place (a worker's index, an actor's slot, ...).
    key: Hashable
    #: The process the store records as the job's worker: the worker's own where it runs on
    #: this machine, else the driver's (a lease is checked on the host that claimed it).
    pid: int
    #: The jobs it takes: of GPU arms only (True), of CPU arms only (False), any (None).
    gpu: bool | None = None


@dataclass(frozen=True)
class Report:
    """What became of a launched job: exactly one of its outcome, its error (the job
    raised) or the death of its worker, in words."""

    job_id: str
    outcome: JobOutcome | None = None
    error: str | None = None
    death: str | None = None


class WorkerPool(Protocol):
    """Where an executor's jobs run; the driver decides what runs, the pool runs it."""

    def seat(self, gpu: bool | None, alone: bool, waiting: int) -> Seat | None:
        """A seat where a job (of a GPU arm when ``gpu``; of either kind when None) can
        start now, or None. With ``alone``, only a seat whose device runs no other job.
        ``waiting`` jobs are waiting: the pool may start workers for them meanwhile."""
        ...

    def launch(self, seat: Seat, job: ClaimedJob) -> None:
        """Start ``job`` at ``seat`` (a seat :meth:`seat` just returned)."""
        ...

    def poll(self, timeout_s: float) -> list[Report]:
        """What became of launched jobs, waiting up to ``timeout_s`` for news."""
        ...

    def starting(self) -> bool:
        """True while workers are on their way (started, not ready for a job yet)."""
        ...

    def kill(self, job_id: str) -> None:
        """Stop the worker that runs ``job_id`` (it is not reported afterwards)."""
        ...

    def close(self) -> None:
        """Stop every worker."""
        ...


@dataclass(frozen=True)
class DriveRules:
    """The settings of one executor that the driver applies."""

    #: A job running longer is killed and recorded failed; None: the pool enforces a limit.
    timeout_s: float | None
    #: How often a job whose worker died runs again before it is recorded failed.
    max_retries: int = 0
    #: The arms whose backend wants a GPU, and how many of their runs share one.
    gpu_arms: frozenset[str] = frozenset()
    runs_per_gpu: int = 1
    #: How long one round waits for news from the pool (seconds).
    poll_s: float = 0.5
    #: How long the driver waits on a store that another process keeps locked (seconds).
    lock_patience_s: float = 600.0


def job_error_text(err: BaseException) -> str:
    """What the store keeps of a job's exception: its type and message, then the traceback."""
    detail = "".join(traceback.format_exception(err))
    return f"{type(err).__name__}: {err}\n{detail}"


def run_job(job: ClaimedJob, data: StudyData) -> Report:
    """What every worker does with a job it is given: train, predict and score it
    (:func:`~nercurve.study.jobs.execute_job`); an exception becomes the report's error."""
    try:
        outcome = execute_job(job, data)
    except Exception as err:  # a failing job is recorded; the study goes on
        return Report(job.job_id, error=job_error_text(err))
    return Report(job.job_id, outcome=outcome)


def drive(pool: WorkerPool, store_path: Path, rules: DriveRules,
          on_progress: ProgressCallback | None = None) -> None:
    """Run every pending job of the store at ``store_path`` on ``pool``; on Ctrl-C (or a
    SIGTERM turned into KeyboardInterrupt by the caller) or any error, stop every worker
    and put the jobs held back to pending, then raise. The pool is closed on every way out."""
    try:
        with Store(store_path) as store:
            _Drive(pool, store, rules, on_progress).run()
    finally:
        pool.close()


@dataclass
class _Running:
    job: ClaimedJob
    since: float


@dataclass
class _Drive:
    """One execution: claim, launch, collect and record until no job is left."""

    pool: WorkerPool
    store: Store
    rules: DriveRules
    on_progress: ProgressCallback | None
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)
    running: dict[str, _Running] = field(default_factory=dict)
    #: A claimed job that waits for a seat of its kind.
    held: ClaimedJob | None = None
    #: Store writes that wait for the lock, oldest first.
    writes: list[Callable[[], object]] = field(default_factory=list)
    deaths: dict[str, list[str]] = field(default_factory=dict)
    #: The GPU arms whose first run's peak was checked (or that used no GPU).
    checked: set[str] = field(default_factory=set)
    alone: bool = False
    no_work: bool = False
    run_seconds: list[float] = field(default_factory=list)
    last_renewal: float = 0.0
    locked_since: float | None = None
    started: float = field(default_factory=time.time)
    finished_before: int = 0

    def run(self) -> None:
        """Drive until every job is finished or held elsewhere; stop cleanly on any error."""
        counts = self.store.counts()
        self.finished_before = counts["done"] + counts["failed"]
        try:
            with _sigterm_deferred() as deliver:
                while True:
                    deliver()
                    note = self._guarded(self._round)
                    if note is None:
                        self._report()  # after the round: finished jobs written, new ones out
                        if self._over():
                            break
                    for report in self.pool.poll(self.rules.poll_s):
                        self._record(report)
                    self._try_flush()
        except BaseException:  # Ctrl-C, SIGTERM, a store or packing error: leave nothing
            self._stop()
            raise

    def _over(self) -> bool:
        """Nothing runs, waits or is left that this driver could start."""
        return (not self.running and self.held is None and not self.writes
                and (self.no_work or not self.pool.starting()))

    # -- one round --------------------------------------------------------------
    def _guarded(self, step: Callable[[], None]) -> str | None:
        """Run ``step``; while another process holds the store's lock, a note (results
        wait in memory) until ``lock_patience_s`` has passed."""
        try:
            step()
        except StoreLockedError:
            self.locked_since = self.locked_since or time.time()
            waited = time.time() - self.locked_since
            if waited > self.rules.lock_patience_s:
                raise
            note = (f"waiting {waited:.0f} s: another process holds the store's lock "
                    "(results are kept)")
            if self.on_progress is not None:
                self.on_progress(Progress(0, 0, 0, 0, 0, None, note=note))
            return note
        self.locked_since = None
        return None

    def _round(self) -> None:
        self._flush()
        now = time.time()
        if now - self.last_renewal >= RENEW_EVERY_S:
            self.store.renew_leases(self.owner)
            self.store.recover_orphans()  # jobs of runners gone elsewhere come back
            self.last_renewal = now
        self._enforce_timeouts(now)
        self._gate()
        self._fill()

    def _flush(self) -> None:
        while self.writes:
            self.writes[0]()
            self.writes.pop(0)

    def _try_flush(self) -> None:
        """Write what waits; while the store is locked it keeps waiting (see :meth:`_guarded`)."""
        with contextlib.suppress(StoreLockedError):
            self._flush()

    def _enforce_timeouts(self, now: float) -> None:
        limit = self.rules.timeout_s
        if limit is None:
            return
        for job_id, run in list(self.running.items()):
            if now - run.since > limit:
                self.pool.kill(job_id)
                del self.running[job_id]
                job = run.job
                settle(self.store.path.parent, job_id, finished=False)
                self.writes.append(lambda j=job: self.store.fail(
                    j.job_id, j.claim, f"timed out after {limit:g} s (run.timeout_s)"))
        self._try_flush()

    def _gate(self) -> None:
        """Check the first run of each GPU arm; jobs run alone while a GPU arm with work
        left has not had one."""
        rules = self.rules
        unchecked = rules.gpu_arms - self.checked
        if rules.runs_per_gpu <= 1 or not unchecked:
            self.alone = False
            return
        for arm, numbers in self.store.first_outcomes(unchecked).items():
            self.checked.add(arm)
            peak = peak_of(numbers)
            if peak is not None:  # None: the run used no GPU after all
                check_packing(arm, rules.runs_per_gpu, peak)
        self.alone = bool(self.store.arms_with_work() & (rules.gpu_arms - self.checked))

    def _fill(self) -> None:
        """Claim jobs while the pool has seats and hand them over; a claimed job whose kind
        no seat takes yet waits (held) until one does."""
        while True:
            seat = None
            if self.held is None:
                waiting = self.store.counts()["pending"]
                self.no_work = waiting == 0
                if self.no_work:
                    return
                seat = self.pool.seat(None, self.alone, waiting)
                if seat is None:
                    return
                self.held = self.store.claim(self.owner, os.getpid(), seat.pid)
                if self.held is None:
                    self.no_work = True
                    return
            job = self.held
            gpu = job.backend in self.rules.gpu_arms
            if seat is None or seat.gpu not in (None, gpu):
                seat = self.pool.seat(gpu, self.alone, self.store.counts()["pending"] + 1)
                if seat is None:
                    return
            self.held = None
            self.pool.launch(seat, job)
            self.running[job.job_id] = _Running(job, time.time())

    # -- reports ----------------------------------------------------------------
    def _record(self, report: Report) -> None:
        run = self.running.pop(report.job_id, None)
        if run is None:  # killed for its time limit meanwhile
            return
        job = run.job
        # before the job is recorded: a kill in between leaves it to run again
        settle(self.store.path.parent, job.job_id, finished=report.outcome is not None)
        if report.death is not None:
            self._died(job, report.death)
            return
        self.run_seconds.append(time.time() - run.since)
        if report.outcome is not None:
            outcome = report.outcome
            self.writes.append(lambda: self.store.finish(job, outcome))
        else:
            error = report.error or "the job ended without a result"
            self.writes.append(lambda: self.store.fail(job.job_id, job.claim, error))

    def _died(self, job: ClaimedJob, death: str) -> None:
        """Run again (up to ``max_retries`` times) a job whose worker died."""
        causes = self.deaths.setdefault(job.job_id, [])
        causes.append(death)
        if len(causes) <= self.rules.max_retries:
            self.writes.append(lambda: self.store.release([job.job_id]))  # claimed again
            return
        message = causes[0] if len(causes) == 1 else (
            f"its worker died on each of {len(causes)} attempts: " + " | ".join(causes))
        self.writes.append(lambda: self.store.fail(job.job_id, job.claim, message))

    # -- ends -------------------------------------------------------------------
    def _stop(self) -> None:
        with contextlib.suppress(Exception):
            self.pool.close()
        with contextlib.suppress(StoreError):  # else their leases expire: the next run recovers
            with contextlib.suppress(StoreError):
                self._flush()
            self.store.release([r["job_id"] for r in self.store.running_jobs(self.owner)])

    def _report(self) -> None:
        if self.on_progress is None:
            return
        try:
            counts = self.store.counts()
        except StoreLockedError:
            return
        finished_now = counts["done"] + counts["failed"] - self.finished_before
        mean = sum(self.run_seconds) / len(self.run_seconds) if self.run_seconds else None
        self.on_progress(progress_of(counts, finished_now, time.time() - self.started, mean))


@contextlib.contextmanager
def _sigterm_deferred() -> Iterator[Callable[[], None]]:
    """Hold SIGTERM while a round runs (a store write or a library call is never cut in
    half; Ray turns whatever a signal handler raises inside its calls into
    KeyboardInterrupt); the function yielded delivers a held one to the handler that was
    set before, in plain Python, so its own exception (e.g. the CLI's) comes out."""
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
