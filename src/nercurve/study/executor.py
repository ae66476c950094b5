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
depends on nothing else.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import pickle
import signal
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from nercurve.errors import NercurveError
from nercurve.study.jobs import StudyData, execute_job
from nercurve.study.store import Store


@dataclass(frozen=True)
class Progress:
    """A snapshot of a study's jobs for a progress display."""

    total: int
    done: int
    failed: int
    running: int
    pending: int
    eta_s: float | None


ProgressCallback = Callable[[Progress], None]


class Executor(Protocol):
    """Runs every pending job of a study store."""

    def execute(
        self, store_path: Path, data: StudyData, on_progress: ProgressCallback | None = None
    ) -> None:
        """Run pending jobs until none is left (or the user interrupts)."""
        ...


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:  # not Linux: orphans are recovered by the next run instead
        pass


def worker_main(store_path: str, data_path: str, owner_pid: int) -> None:
    """A worker's life: load the study data, claim, run and record jobs until none is pending."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    if os.getppid() != owner_pid:
        return
    with open(data_path, "rb") as fh:
        data: StudyData = pickle.load(fh)
    with Store(store_path) as store:
        while os.getppid() == owner_pid:
            job = store.claim(owner_pid, os.getpid())
            if job is None:
                return
            try:
                outcome = execute_job(job, data)
            except Exception as err:  # a failing job is recorded; the study goes on
                detail = "".join(traceback.format_exception(err))
                store.fail(job.job_id, job.claim, f"{type(err).__name__}: {err}\n{detail}")
            else:
                store.finish(job, outcome)


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
    ``runs_per_gpu = k`` packs k small runs on each. CPU threads are divided among
    the workers.
    """

    workers: int
    timeout_s: float = 3600.0
    gpus: list[str] | None = None
    runs_per_gpu: int = 1
    poll_s: float = 0.5

    def _env_for(self, index: int) -> dict[str, str]:
        threads = str(max(1, (os.cpu_count() or 1) // self.workers))
        env = {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
        if self.gpus is not None:
            slot = index // max(1, self.runs_per_gpu)
            env["CUDA_VISIBLE_DEVICES"] = self.gpus[slot] if slot < len(self.gpus) else ""
        return env

    def _spawn(self, ctx: mp.context.SpawnContext, index: int, store_path: Path,
               data_path: str) -> mp.process.BaseProcess:
        # spawned children read the environment at start: set it around start() only
        saved = dict(os.environ)
        os.environ.update(self._env_for(index))
        try:
            proc = ctx.Process(
                target=worker_main, args=(str(store_path), data_path, os.getpid()), daemon=True,
                name=f"nercurve-worker-{index}",
            )
            proc.start()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        return proc

    def execute(
        self, store_path: Path, data: StudyData, on_progress: ProgressCallback | None = None
    ) -> None:
        """Run every pending job; on Ctrl-C stop the workers and return their jobs to pending."""
        ctx = mp.get_context("spawn")
        owner = os.getpid()
        started = time.time()
        # the data goes to workers as a file: a large pickle written into a spawn pipe
        # blocks forever when the child dies before reading it
        fd, data_path = tempfile.mkstemp(prefix=".worker-data-", suffix=".pickle",
                                         dir=store_path.parent)
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(data, fh, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            with Store(store_path) as store:
                self._watch(store, ctx, store_path, data_path, owner, started, on_progress)
        finally:
            os.unlink(data_path)

    def _watch(self, store: Store, ctx: mp.context.SpawnContext, store_path: Path,
               data_path: str, owner: int, started: float,
               on_progress: ProgressCallback | None) -> None:
        """Start the workers and watch them until they have all exited."""
        done_before = store.counts()["done"] + store.counts()["failed"]
        procs: dict[int, mp.process.BaseProcess] = {}
        for i in range(self.workers):
            procs[i] = self._spawn(ctx, i, store_path, data_path)
        try:
            while True:
                self._enforce_limits(store, procs, ctx, store_path, data_path)
                counts = store.counts()
                if on_progress is not None:
                    on_progress(self._progress(counts, done_before, started))
                if not any(p.is_alive() for p in procs.values()):
                    break
                time.sleep(self.poll_s)
        except KeyboardInterrupt:
            self._stop(store, procs, owner)
            raise
        counts = store.counts()
        if on_progress is not None:
            on_progress(self._progress(counts, done_before, started))
        codes = sorted({p.exitcode for p in procs.values() if p.exitcode})
        if counts["pending"] and codes:
            raise NercurveError(
                f"every worker process exited (exit code {', '.join(map(str, codes))}) while "
                f"{counts['pending']} job(s) were still pending; nothing is lost",
                file=store_path.parent,
                hint="the workers' own error is printed above; check that nercurve and the "
                "backends import (python -c 'import nercurve.study.jobs') and that there is "
                "memory to spare, then rerun the same command",
            )

    def _enforce_limits(self, store: Store, procs: dict[int, mp.process.BaseProcess],
                        ctx: mp.context.SpawnContext, store_path: Path,
                        data_path: str) -> None:
        owner = os.getpid()
        held = {row["worker_pid"]: row for row in store.running_jobs(owner)}
        now = time.time()
        for index, proc in list(procs.items()):
            row = held.get(proc.pid)
            if proc.is_alive():
                if row is None or now - row["started_at"] <= self.timeout_s:
                    continue
                proc.kill()
                proc.join()
                store.fail(row["job_id"], row["claim"],
                           f"timed out after {self.timeout_s:g} s (run.timeout_s)")
            elif row is not None:
                proc.join()
                store.fail(row["job_id"], row["claim"],
                           f"worker process died with exit code {proc.exitcode}"
                           " (killed by the system? out of memory?)")
            else:
                continue
            if store.counts()["pending"]:
                procs[index] = self._spawn(ctx, index, store_path, data_path)

    def _stop(self, store: Store, procs: dict[int, mp.process.BaseProcess], owner: int) -> None:
        for proc in procs.values():
            if proc.is_alive():
                proc.kill()
        for proc in procs.values():
            proc.join()
        store.release([row["job_id"] for row in store.running_jobs(owner)])

    def _progress(self, counts: dict[str, int], done_before: int, started: float) -> Progress:
        finished_now = counts["done"] + counts["failed"] - done_before
        remaining = counts["pending"] + counts["running"]
        eta = None
        if finished_now > 0 and remaining:
            eta = (time.time() - started) / finished_now * remaining
        return Progress(
            total=sum(counts.values()), done=counts["done"], failed=counts["failed"],
            running=counts["running"], pending=counts["pending"], eta_s=eta,
        )
