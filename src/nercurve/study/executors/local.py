"""The local executor: long-lived worker processes on this machine, driven by the job driver.

Workers are spawned once and keep their imports and the study data for their whole life;
each receives one job at a time through a pipe and sends back its outcome or its error.
Only the driver (:mod:`nercurve.study.executors.driver`) touches the store. A worker over
its time limit is killed and its job recorded failed; a worker that dies (a crash, the
kernel's out-of-memory killer) has its job recorded failed with how it ended; both are
replaced. Workers ignore Ctrl-C; the driver stops them and puts their jobs back to pending.
Workers die with the parent (Linux parent-death signal), and a killed study is recovered
on the next run by :meth:`~nercurve.study.store.Store.recover_orphans`.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import pickle
import signal
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nercurve.errors import NercurveError, StoreError
from nercurve.study.executors.driver import DriveRules, Report, Seat, drive, run_job
from nercurve.study.executors.protocol import ProgressCallback
from nercurve.study.jobs import StudyData
from nercurve.study.store import ClaimedJob, pid_alive

if TYPE_CHECKING:
    from nercurve.study.config import StudyConfig

_PR_SET_PDEATHSIG = 1

#: Name prefix of the file that hands the study data to the workers (in the temp folder).
DATA_PREFIX = "nercurve-data-"


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:  # not Linux: orphans are recovered by the next run instead
        pass


def worker_main(conn: Connection, data_path: str, owner_pid: int) -> None:
    """A worker's life: load the study data, say it is ready, then run the jobs it receives
    and send back a :class:`Report` of each, until the pipe closes.

    Workers ignore Ctrl-C and SIGTERM: the driver decides when they stop.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with_parent()
    if os.getppid() != owner_pid:
        return
    with open(data_path, "rb") as fh:
        data: StudyData = pickle.load(fh)
    try:
        conn.send(None)  # ready
        while True:
            job: ClaimedJob = conn.recv()
            conn.send(run_job(job, data))
    except (EOFError, OSError):  # the driver closed the pipe or is gone
        return


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
    ``runs_per_gpu = k`` packs k small runs on each: at first each run is alone on its
    GPU, and runs share one once the first run of each arm in ``gpu_arms`` that still has
    work has finished and k of its peak fit on the device
    (:func:`~nercurve.study.gpu_packing.check_packing`; a clear error when they do not).
    CPU threads are divided among the workers. A worker that dies is replaced while jobs
    are pending, up to ``max_respawns`` deaths in a row without a finished job; the job it
    ran is recorded failed with how it died. ``lock_patience_s`` is how long the runner
    waits on a store that another process keeps locked before it stops with a
    :class:`~nercurve.errors.StoreLockedError` (results wait in memory meanwhile).
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
            env["CUDA_VISIBLE_DEVICES"] = self._device_of(index) or ""
        return env

    def _device_of(self, index: int) -> str | None:
        """The GPU worker ``index`` sees, or None."""
        if self.gpus is None:
            return None
        slot = index // max(1, self.runs_per_gpu)
        return self.gpus[slot] if slot < len(self.gpus) else None

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
            pool = WorkerProcesses(self, data_path, store_path.parent)
            rules = DriveRules(timeout_s=self.timeout_s, gpu_arms=self.gpu_arms,
                               runs_per_gpu=self.runs_per_gpu, poll_s=self.poll_s,
                               lock_patience_s=self.lock_patience_s)
            drive(pool, store_path, rules, on_progress)
        except OSError as err:
            raise StoreError(
                f"cannot write the workers' copy of the study data: {err.strerror}",
                file=data_path,
                hint="free space in the temp folder (or point TMPDIR elsewhere) and run the "
                "same command again; finished results are kept",
            ) from None
        finally:
            Path(data_path).unlink(missing_ok=True)


@dataclass
class _Worker:
    proc: Any
    conn: Connection
    ready: bool = False
    job_id: str | None = None


@dataclass
class WorkerProcesses:
    """The local executor's pool: one spawned process per worker index."""

    ex: LocalExecutor
    data_path: str
    study_dir: Path
    workers: dict[int, _Worker] = field(default_factory=dict)
    #: Indices of workers that ended, waiting to be replaced, with how they ended.
    ended: dict[int, int | None] = field(default_factory=dict)
    respawns_in_a_row: int = 0

    def __post_init__(self) -> None:
        self.ctx = mp.get_context("spawn")
        for index in range(self.ex.workers):
            self._spawn(index)

    def _spawn(self, index: int) -> None:
        ours, theirs = self.ctx.Pipe()
        # spawned children read the environment at start: set it around start() only
        saved = dict(os.environ)
        os.environ.update(self.ex._env_for(index))
        try:
            proc = self.ctx.Process(target=worker_main, args=(theirs, self.data_path, os.getpid()),
                                    daemon=True, name=f"nercurve-worker-{index}")
            proc.start()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        theirs.close()
        self.ended.pop(index, None)
        self.workers[index] = _Worker(proc, ours)

    def seat(self, gpu: bool | None, alone: bool, waiting: int) -> Seat | None:
        """An idle ready worker (with ``alone``, one whose GPU no other worker is using);
        ended workers are replaced first while jobs wait."""
        if waiting:
            self._replace_ended(waiting)
        busy = {self.ex._device_of(i) for i, w in self.workers.items() if w.job_id}
        for index, worker in sorted(self.workers.items()):
            device = self.ex._device_of(index)
            if worker.ready and worker.job_id is None and not (
                    alone and device is not None and device in busy):
                return Seat(index, worker.proc.pid)
        return None

    def _replace_ended(self, waiting: int) -> None:
        limit = self.ex.max_respawns
        limit = 2 * self.ex.workers if limit is None else limit
        for index in sorted(self.ended):
            if self.respawns_in_a_row >= limit:
                break
            self.respawns_in_a_row += 1
            self._spawn(index)
        if not self.workers and self.ended:
            codes = sorted({c for c in self.ended.values() if c})
            words = "; ".join(sorted({death_description(c) for c in codes})) or "exited"
            raise NercurveError(
                f"every worker process ended ({words}) while {waiting} job(s) "
                f"were still pending; nothing is lost",
                file=self.study_dir,
                hint="the workers' own error is printed above; check that nercurve and the "
                "backends import (python -c 'import nercurve.study.jobs') and that there is "
                "memory to spare, then rerun the same command",
            )

    def launch(self, seat: Seat, job: ClaimedJob) -> None:
        worker = self.workers[seat.key]
        worker.job_id = job.job_id
        worker.conn.send(job)

    def poll(self, timeout_s: float) -> list[Report]:
        """Reports of finished jobs and of workers that died with a job."""
        waits: list[Any] = [w.conn for w in self.workers.values()]
        waits += [w.proc.sentinel for w in self.workers.values()]
        if waits:
            wait(waits, timeout=timeout_s)
        reports = []
        for index, worker in list(self.workers.items()):
            with contextlib.suppress(EOFError, OSError):
                while worker.conn.poll():
                    message: Report | None = worker.conn.recv()
                    if message is None:
                        worker.ready = True
                        continue
                    worker.job_id = None
                    self.respawns_in_a_row = 0
                    reports.append(message)
            if worker.proc.is_alive():
                continue
            worker.proc.join()
            code = worker.proc.exitcode
            if worker.job_id is not None:
                self.respawns_in_a_row = 0  # a job was used up: the study goes on
                reports.append(Report(worker.job_id,
                                      death=f"worker process {death_description(code)}"))
            self._retire(index, code)
        return reports

    def _retire(self, index: int, code: int | None) -> None:
        worker = self.workers.pop(index)
        worker.conn.close()
        self.ended[index] = code

    def starting(self) -> bool:
        return any(not w.ready for w in self.workers.values())

    def kill(self, job_id: str) -> None:
        for index, worker in list(self.workers.items()):
            if worker.job_id == job_id:
                worker.proc.kill()
                worker.proc.join()
                self.respawns_in_a_row = 0  # its job is recorded: the study goes on
                self._retire(index, worker.proc.exitcode)

    def close(self) -> None:
        for worker in self.workers.values():
            if worker.proc.is_alive():
                worker.proc.kill()
        for index in list(self.workers):
            self.workers[index].proc.join()
            self._retire(index, self.workers[index].proc.exitcode)


def build(config: StudyConfig, *, gpu_arms: frozenset[str], workers: int | None,
          runs_per_gpu: int) -> LocalExecutor:
    """The local executor for a study: ``workers`` (default: GPUs × ``runs_per_gpu`` when
    some arm wants a GPU and GPUs are present, else the cores)."""
    gpus: Sequence[str] = detect_gpus() if gpu_arms else []
    if workers is None:
        workers = len(gpus) * runs_per_gpu if gpus else (os.cpu_count() or 1)
    return LocalExecutor(workers=workers, timeout_s=config.run.timeout_s,
                         gpus=list(gpus) or None, runs_per_gpu=runs_per_gpu, gpu_arms=gpu_arms)
