"""The local executor: long-lived worker processes that pull jobs from the study store.

Workers are spawned once and keep their imports and the study data for their whole
life; each claims jobs from SQLite until none is pending. The parent watches them:
a job over its time limit has its worker killed and is recorded as failed; a worker
that dies (a crash, the kernel's out-of-memory killer) has its job recorded as
failed with the exit status; both workers are replaced. Workers ignore Ctrl-C; the
parent stops them and puts their jobs back to pending. Workers die with the
parent (Linux parent-death signal), and a killed study is recovered on the next run
by :meth:`Store.recover_orphans`.

An executor is anything with ``execute(store_path, data, on_progress)``; the runner
depends on nothing else (the Ray executor, :mod:`nercurve.study.ray_executor`, is the other).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import pickle
import signal
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Protocol, TypeVar

from nercurve.errors import NercurveError, StoreError, StoreLockedError
from nercurve.study.gpu_packing import check_packing, peak_of
from nercurve.study.jobs import StudyData, execute_job
from nercurve.study.store import LEASE_S, Store, pid_alive

_T = TypeVar("_T")


@dataclass(frozen=True)
class Progress:
    """A snapshot of a study's jobs for a progress display."""

    total: int
    done: int
    failed: int
    running: int
    pending: int
    eta_s: float | None
    #: Something the runner is waiting on (e.g. a lock held by another process), or None.
    note: str | None = None


ProgressCallback = Callable[[Progress], None]


def progress_of(counts: dict[str, int], finished_now: int, elapsed_s: float) -> Progress:
    """The progress of a store's job ``counts``, with an ETA from the ``finished_now`` jobs
    this execution finished in ``elapsed_s`` seconds (None until one has finished)."""
    remaining = counts["pending"] + counts["running"]
    eta = elapsed_s / finished_now * remaining if finished_now > 0 and remaining else None
    return Progress(
        total=sum(counts.values()), done=counts["done"], failed=counts["failed"],
        running=counts["running"], pending=counts["pending"], eta_s=eta,
    )


class Executor(Protocol):
    """Runs every pending job of a study store."""

    def execute(
        self, store_path: Path, data: StudyData, on_progress: ProgressCallback | None = None
    ) -> None:
        """Run pending jobs until none is left (or the user interrupts)."""
        ...


_PR_SET_PDEATHSIG = 1

#: A worker's exit status when it could not write the store (disk full, damaged file).
STORE_FAILURE_EXIT = 75

#: How often the runner renews the leases of the jobs its workers hold (seconds).
RENEW_EVERY_S = LEASE_S / 6

#: Name prefix of the file that hands the study data to the workers (in the temp folder).
DATA_PREFIX = "nercurve-data-"


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:  # not Linux: orphans are recovered by the next run instead
        pass


def _patiently(call: Callable[[], _T], owner_pid: int) -> _T | None:
    """``call()``, waited out while another process holds the store's lock; None when the
    runner is gone meanwhile."""
    while os.getppid() == owner_pid:
        try:
            return call()
        except StoreLockedError:
            time.sleep(1.0)
    return None


def worker_main(store_path: str, data_path: str, owner: str, owner_pid: int) -> None:
    """A worker's life: load the study data, claim, run and record jobs until none is pending.

    Workers ignore Ctrl-C and SIGTERM: the runner decides when they stop. A result is
    kept however long another process holds the store's lock; a store that cannot be
    written (full disk, damaged file) ends the worker with ``STORE_FAILURE_EXIT``.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with_parent()
    if os.getppid() != owner_pid:
        return
    with open(data_path, "rb") as fh:
        data: StudyData = pickle.load(fh)
    try:
        with Store(store_path) as store:
            while os.getppid() == owner_pid:
                job = _patiently(partial(store.claim, owner, owner_pid, os.getpid()), owner_pid)
                if job is None:
                    return
                try:
                    outcome = execute_job(job, data)
                except Exception as err:  # a failing job is recorded; the study goes on
                    message = job_error_text(err)
                    _patiently(partial(store.fail, job.job_id, job.claim, message), owner_pid)
                else:
                    _patiently(partial(store.finish, job, outcome), owner_pid)
    except StoreError:
        os._exit(STORE_FAILURE_EXIT)


def job_error_text(err: BaseException) -> str:
    """What the store keeps of a job's exception: its type and message, then the traceback."""
    detail = "".join(traceback.format_exception(err))
    return f"{type(err).__name__}: {err}\n{detail}"


def death_description(exitcode: int | None) -> str:
    """Plain words for how a worker process ended (``Process.exitcode``)."""
    if exitcode is None:
        return "is still running"
    if exitcode >= 0:
        return f"exited with exit code {exitcode}"
    try:
        name = signal.Signals(-exitcode).name
    except ValueError:
        return f"was stopped by signal {-exitcode}"
    if name == "SIGKILL":
        return ("was killed (SIGKILL: most often the system's out-of-memory killer; check "
                "`dmesg`, or lower run.workers / the batch size)")
    if name in ("SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE", "SIGABRT"):
        return f"crashed ({name}: a fault in native code such as a library or driver)"
    return f"was stopped by {name}"


def remove_stale_data_files(folder: str | None = None) -> int:
    """Delete hand-over files left by runners that were killed; returns how many."""
    removed = 0
    for path in Path(folder or tempfile.gettempdir()).glob(f"{DATA_PREFIX}*.pickle"):
        pid_text = path.name[len(DATA_PREFIX):].split("-", 1)[0]
        if pid_text.isdigit() and not pid_alive(int(pid_text)):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def detect_gpus() -> list[str]:
    """The GPUs visible to this process, as CUDA_VISIBLE_DEVICES entries (indices or UUIDs).

    CUDA_VISIBLE_DEVICES when set (empty or ``-1``: none), else one index per GPU that
    ``nvidia-smi -L`` lists, else none.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        entries = [x.strip() for x in visible.split(",") if x.strip()]
        return [] if entries[:1] == ["-1"] else entries
    import shutil
    import subprocess

    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=True
        ).stdout
    except (subprocess.SubprocessError, OSError):
        return []
    return [str(i) for i in range(sum(1 for line in out.splitlines() if line.startswith("GPU ")))]


@dataclass
class LocalExecutor:
    """N worker processes on this machine.

    With ``gpus`` given, worker ``i`` sees only GPU ``gpus[i // runs_per_gpu]``
    (through CUDA_VISIBLE_DEVICES), so by default one run uses one GPU and
    ``runs_per_gpu = k`` packs k small runs on each: at first one worker per GPU runs
    alone, and the other workers start once the first run of each arm in ``gpu_arms``
    that still has work has finished and k of its peak fit on the device
    (:func:`~nercurve.study.gpu_packing.check_packing`; a clear error when they do not).
    CPU threads are divided among the workers. A worker that dies is replaced while jobs
    are pending, up to ``max_respawns`` deaths in a row without a finished job.
    ``lock_patience_s`` is how long the runner waits on a store that another process keeps
    locked before it stops with a :class:`~nercurve.errors.StoreLockedError` (workers keep
    their results).
    """

    workers: int
    timeout_s: float = 3600.0
    gpus: list[str] | None = None
    runs_per_gpu: int = 1
    gpu_arms: frozenset[str] = frozenset()
    poll_s: float = 0.5
    max_respawns: int | None = None
    lock_patience_s: float = 600.0

    def _env_for(self, index: int) -> dict[str, str]:
        threads = str(max(1, (os.cpu_count() or 1) // self.workers))
        env = {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
        if self.gpus is not None:
            slot = index // max(1, self.runs_per_gpu)
            env["CUDA_VISIBLE_DEVICES"] = self.gpus[slot] if slot < len(self.gpus) else ""
        return env

    def execute(
        self, store_path: Path, data: StudyData, on_progress: ProgressCallback | None = None
    ) -> None:
        """Run every pending job; on Ctrl-C (or a SIGTERM turned into KeyboardInterrupt by
        the caller) stop the workers and return their jobs to pending.

        The study data reaches the workers as a file in the system's temp folder, readable
        by this user only, removed on every way out (a later run removes the files of
        runners that were killed).
        """
        remove_stale_data_files()
        fd, data_path = tempfile.mkstemp(prefix=f"{DATA_PREFIX}{os.getpid()}-",
                                         suffix=".pickle")
        try:
            # a large pickle written into a spawn pipe blocks forever when the child dies
            # before reading it: hand it over as a file
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(data, fh, protocol=pickle.HIGHEST_PROTOCOL)
            with Store(store_path) as store:
                _Watch(self, store, store_path, data_path, on_progress).run()
        except OSError as err:
            raise StoreError(
                f"cannot write the workers' copy of the study data: {err.strerror}",
                file=data_path,
                hint="free space in the temp folder (or point TMPDIR elsewhere) and run the "
                "same command again; finished results are kept",
            ) from None
        finally:
            Path(data_path).unlink(missing_ok=True)


class _Watch:
    """One execution: start the workers, then watch them until they have all exited."""

    def __init__(self, executor: LocalExecutor, store: Store, store_path: Path,
                 data_path: str, on_progress: ProgressCallback | None) -> None:
        self.ex = executor
        self.store = store
        self.store_path = store_path
        self.data_path = data_path
        self.on_progress = on_progress
        self.owner = uuid.uuid4().hex
        self.ctx = mp.get_context("spawn")
        self.started = time.time()
        self.procs: dict[int, mp.process.BaseProcess] = {}
        self.respawns_in_a_row = 0
        self.last_renewal = 0.0
        self.locked_since: float | None = None
        self.deferred: list[int] = []  # packed workers, started once the GPU runs fit
        self.checked: set[str] = set()  # GPU arms whose first run's peak was checked

    def _spawn(self, index: int) -> None:
        # spawned children read the environment at start: set it around start() only
        saved = dict(os.environ)
        os.environ.update(self.ex._env_for(index))
        try:
            proc = self.ctx.Process(
                target=worker_main,
                args=(str(self.store_path), self.data_path, self.owner, os.getpid()),
                daemon=True, name=f"nercurve-worker-{index}",
            )
            proc.start()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        self.procs[index] = proc

    def run(self) -> None:
        """Watch until every worker has exited; Ctrl-C stops them and releases their jobs."""
        counts = self.store.counts()
        self.done_before = counts["done"] + counts["failed"]
        self.last_done = counts["done"] + counts["failed"]
        packing = self.ex.gpus is not None and self.ex.runs_per_gpu > 1 and self.ex.gpu_arms
        for i in range(self.ex.workers):
            if packing and i % self.ex.runs_per_gpu:
                self.deferred.append(i)
            else:
                self._spawn(i)
        try:
            while True:
                note = self._tick()
                if not any(p.is_alive() for p in self.procs.values()):
                    break
                if note is None:
                    self._report(self.store.counts())
                time.sleep(self.ex.poll_s)
        except BaseException:  # Ctrl-C, SIGTERM, a store that failed: leave nothing running
            self._stop()
            raise
        counts = self.store.counts()
        self._report(counts)
        codes = sorted({p.exitcode for p in self.procs.values() if p.exitcode})
        if STORE_FAILURE_EXIT in codes:
            self.store.recover_orphans()
            raise StoreError(
                "a worker could not write its result to the study store (full disk or a "
                "damaged file?)",
                file=self.store_path,
                hint="free disk space, check the file with `sqlite3 results.sqlite "
                "'PRAGMA integrity_check'`, then run the same command again",
            )
        if counts["pending"] and codes:
            words = "; ".join(sorted({death_description(c) for c in codes}))
            raise NercurveError(
                f"every worker process ended ({words}) while {counts['pending']} job(s) "
                f"were still pending; nothing is lost",
                file=self.store_path.parent,
                hint="the workers' own error is printed above; check that nercurve and the "
                "backends import (python -c 'import nercurve.study.jobs') and that there is "
                "memory to spare, then rerun the same command",
            )

    def _tick(self) -> str | None:
        """One round of watching; returns a note while the store is locked, else None."""
        try:
            now = time.time()
            if now - self.last_renewal >= RENEW_EVERY_S:
                self.store.renew_leases(self.owner)
                self.store.recover_orphans()  # jobs of runners gone elsewhere come back
                self.last_renewal = now
            self._enforce_limits()
            self._pack()
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

    def _enforce_limits(self) -> None:
        held = {row["worker_pid"]: row for row in self.store.running_jobs(self.owner)}
        now = time.time()
        finished = sum(v for k, v in self.store.counts().items() if k in ("done", "failed"))
        if finished > self.last_done:
            self.last_done, self.respawns_in_a_row = finished, 0
        for index, proc in list(self.procs.items()):
            row = held.get(proc.pid)
            if proc.is_alive():
                if row is None or now - row["started_at"] <= self.ex.timeout_s:
                    continue
                proc.kill()
                proc.join()
                self.store.fail(row["job_id"], row["claim"],
                                f"timed out after {self.ex.timeout_s:g} s (run.timeout_s)")
            elif row is not None:
                proc.join()
                self.store.fail(row["job_id"], row["claim"],
                                f"worker process {death_description(proc.exitcode)}")
            elif proc.exitcode == STORE_FAILURE_EXIT:
                continue
            # a worker that died (also while idle) or ran out of work is replaced while
            # jobs are pending, unless workers keep ending without any job finishing
            limit = self.ex.max_respawns
            limit = 2 * self.ex.workers if limit is None else limit
            if self.store.counts()["pending"] and self.respawns_in_a_row < limit:
                self.respawns_in_a_row += 1
                self._spawn(index)

    def _pack(self) -> None:
        """Start the packed workers once every GPU arm with work left has had a run alone
        whose peak memory fits ``runs_per_gpu`` times on its device."""
        if not self.deferred:
            return
        for arm, numbers in self.store.first_outcomes(self.ex.gpu_arms).items():
            if arm not in self.checked:
                self.checked.add(arm)
                peak = peak_of(numbers)
                if peak is not None:  # None: the run used no GPU after all
                    check_packing(arm, self.ex.runs_per_gpu, peak)
        if self.store.arms_with_work() & self.ex.gpu_arms - self.checked:
            return
        for index in self.deferred:
            self._spawn(index)
        self.deferred = []

    def _stop(self) -> None:
        for proc in self.procs.values():
            if proc.is_alive():
                proc.kill()
        for proc in self.procs.values():
            proc.join()
        with contextlib.suppress(StoreError):  # else their leases expire: the next run recovers
            self.store.release([row["job_id"] for row in self.store.running_jobs(self.owner)])

    def _report(self, counts: dict[str, int]) -> None:
        if self.on_progress is None:
            return
        finished_now = counts["done"] + counts["failed"] - self.done_before
        self.on_progress(progress_of(counts, finished_now, time.time() - self.started))
