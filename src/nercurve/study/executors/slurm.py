"""The SLURM executor: each job a SLURM task submitted through submitit, driven by the job
driver.

The driver (this process, usually on a login node) alone reads and writes the study
store: it claims jobs, submits them (the jobs claimed at once go in one job array), polls
them, and records what each task returns. Tasks never open the store: SQLite on a network
file system written by many machines at once is how studies get lost. The study data is
written once per run to a file in the study folder (shared storage on a cluster), which
each task reads; only the job itself is pickled per task.

A task that ends without a result (killed, out of memory, its node failed) is run again
up to ``run.max_retries`` times, then recorded failed with every cause; a task that
reaches its time limit (``[run.slurm] time_min``, by default ``run.timeout_s``) is
recorded failed. A driver that is killed leaves leases that the next ``nercurve run``
takes back; its tasks' results are not recorded (those jobs run again).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import pickle
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from nercurve.errors import ConfigError, NercurveError, StoreError
from nercurve.study.executors.driver import DriveRules, Report, Seat, drive, run_job
from nercurve.study.executors.protocol import ProgressCallback
from nercurve.study.jobs import StudyData
from nercurve.study.store import ClaimedJob, pid_alive

if TYPE_CHECKING:
    from nercurve.study.config import StudyConfig

#: Name prefix of the file that hands the study data to the tasks (in the submitit folder).
DATA_PREFIX = "study-data-"

#: How long a task that SLURM calls completed may take to show its result file (seconds):
#: a network file system shows a file written on a node a little later.
RESULT_GRACE_S = 60.0


class SlurmSection(BaseModel):
    """``[run.slurm]``: how the study's tasks are submitted.

    ``partition``, ``time_min`` (a task's time limit in minutes; default ``run.timeout_s``),
    ``cpus`` and ``mem_gb`` per task, ``gpus`` per task of an arm that wants a GPU (other
    arms' tasks ask for none), ``array_parallelism`` (tasks queued or running at once;
    default ``run.workers``, else 16), ``sbatch_options`` (any other sbatch option by name,
    e.g. ``{ account = "lab", qos = "normal" }``), ``folder`` (submitit's scripts, logs and
    the study data; default ``slurm/`` in the study folder, a relative path is taken in the
    study folder). ``cluster = "local"`` runs each task as a process on this machine through
    the same road (to try a config out).
    """

    model_config = ConfigDict(extra="forbid")

    partition: str | None = Field(None, min_length=1)
    time_min: int | None = Field(None, ge=1)
    cpus: int = Field(1, ge=1)
    gpus: int = Field(1, ge=0)
    mem_gb: float | None = Field(None, gt=0)
    array_parallelism: int | None = Field(None, ge=1)
    sbatch_options: dict[str, str | int | float | bool] = Field(default_factory=dict)
    folder: Path | None = None
    cluster: Literal["slurm", "local"] = "slurm"


def run_task(data_path: str, job: ClaimedJob) -> Report:
    """What a SLURM task runs: one job on the study data read from ``data_path``; an
    exception becomes the report's error."""
    with open(data_path, "rb") as fh:
        data: StudyData = pickle.load(fh)
    return run_job(job, data)


def _import_submitit() -> Any:
    try:
        import submitit
    except ImportError:
        raise ConfigError(
            'run.executor = "slurm" needs submitit',
            hint='pip install "nercurve[slurm]" (or set run.executor = "local")',
        ) from None
    return submitit


def remove_stale_data_files(folder: Path) -> int:
    """Delete data files in ``folder`` left by drivers on this host that were killed."""
    removed = 0
    host = socket.gethostname()
    for path in folder.glob(f"{DATA_PREFIX}*.pickle"):
        owner, _, pid_text = path.stem[len(DATA_PREFIX):].rpartition("-")
        if owner == host and pid_text.isdigit() and not pid_alive(int(pid_text)):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


@dataclass
class SlurmExecutor:
    """Runs a study's pending jobs as SLURM tasks (see the module's words)."""

    section: SlurmSection = field(default_factory=SlurmSection)
    timeout_s: float = 3600.0
    gpu_arms: frozenset[str] = frozenset()
    max_retries: int = 2
    parallel: int = 16
    poll_s: float = 0.5
    lock_patience_s: float = 600.0

    def execute(
        self, store_path: Path, data: StudyData, on_progress: ProgressCallback | None = None
    ) -> None:
        """Run every pending job; on Ctrl-C (or SIGTERM turned into KeyboardInterrupt by the
        caller) cancel the tasks and return their jobs to pending."""
        submitit = _import_submitit()
        folder = store_path.parent / (self.section.folder or "slurm")
        submitters = {gpu: self._submitter(submitit, folder, gpu) for gpu in (False, True)}
        data_path = folder / f"{DATA_PREFIX}{socket.gethostname()}-{os.getpid()}.pickle"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            remove_stale_data_files(folder)
            part = data_path.with_suffix(".part")
            with open(part, "wb") as fh:
                pickle.dump(data, fh, protocol=pickle.HIGHEST_PROTOCOL)
            part.replace(data_path)
        except OSError as err:
            raise StoreError(
                f"cannot write the tasks' copy of the study data: {err.strerror}",
                file=folder,
                hint="free space on the study folder's file system (or set run.slurm.folder) "
                "and run the same command again; finished results are kept",
            ) from None
        pool = SlurmTasks(submitters, str(data_path), self.gpu_arms, self.parallel,
                          grace_s=RESULT_GRACE_S if self.section.cluster == "slurm" else 0.0,
                          time_min=self._time_min())
        rules = DriveRules(timeout_s=None, max_retries=self.max_retries,
                           gpu_arms=self.gpu_arms, poll_s=self.poll_s,
                           lock_patience_s=self.lock_patience_s)
        try:
            drive(pool, store_path, rules, on_progress)
        finally:
            data_path.unlink(missing_ok=True)

    def _time_min(self) -> int:
        return self.section.time_min or max(1, math.ceil(self.timeout_s / 60))

    def _submitter(self, submitit: Any, folder: Path, gpu: bool) -> Any:
        """A submitit executor for the tasks of CPU arms (``gpu`` False) or GPU arms."""
        section = self.section
        params: dict[str, Any] = {
            "name": "nercurve", "timeout_min": self._time_min(), "cpus_per_task": section.cpus,
            "tasks_per_node": 1, "nodes": 1, "slurm_array_parallelism": self.parallel,
        }
        if gpu and section.gpus:
            params["gpus_per_node"] = section.gpus
        if section.mem_gb is not None:
            params["mem_gb"] = section.mem_gb
        if section.partition is not None:
            params["slurm_partition"] = section.partition
        if section.sbatch_options:
            params["slurm_additional_parameters"] = dict(section.sbatch_options)
        try:
            submitter = submitit.AutoExecutor(folder=folder / "%j", cluster=section.cluster)
        except RuntimeError as err:  # no srun / sbatch on this machine
            raise ConfigError(
                f'run.executor = "slurm" needs SLURM on this machine: {err}',
                hint="run nercurve on the cluster's login node, or set cluster = \"local\" "
                "in [run.slurm] to try the config out on this machine",
            ) from None
        submitter.update_parameters(**params)
        return submitter


@dataclass
class SlurmTasks:
    """The SLURM executor's pool: one task per job, at most ``parallel`` at once.

    Launched jobs are submitted at the next :meth:`poll`, those of one kind together as
    one job array.
    """

    submitters: dict[bool, Any]
    data_path: str
    gpu_arms: frozenset[str]
    parallel: int
    grace_s: float
    time_min: int
    queued: list[ClaimedJob] = field(default_factory=list)
    tasks: dict[str, Any] = field(default_factory=dict)
    #: When a task that SLURM calls completed was first seen without its result file.
    unseen_since: dict[str, float] = field(default_factory=dict)
    numbers: Iterator[int] = field(default_factory=itertools.count)

    def seat(self, gpu: bool | None, alone: bool, waiting: int) -> Seat | None:
        """A seat while fewer than ``parallel`` tasks are queued or running (each task has
        its GPUs to itself: ``alone`` holds always)."""
        if len(self.tasks) + len(self.queued) < self.parallel:
            return Seat(next(self.numbers), os.getpid())
        return None

    def launch(self, seat: Seat, job: ClaimedJob) -> None:
        self.queued.append(job)

    def starting(self) -> bool:
        return False

    def poll(self, timeout_s: float) -> list[Report]:
        """Submit what was launched, then report the tasks that ended."""
        self._submit()
        reports = []
        for job_id, task in list(self.tasks.items()):
            report = self._ended(job_id, task)
            if report is not None:
                del self.tasks[job_id]
                self.unseen_since.pop(job_id, None)
                reports.append(report)
        if not reports:
            time.sleep(timeout_s)
        return reports

    def _submit(self) -> None:
        for gpu in (False, True):
            jobs = [j for j in self.queued if (j.backend in self.gpu_arms) == gpu]
            if not jobs:
                continue
            submitter = self.submitters[gpu]
            try:
                with submitter.batch():
                    tasks = [submitter.submit(run_task, self.data_path, job) for job in jobs]
            except Exception as err:  # sbatch refused: a bad partition, account, option, ...
                text = str(err).strip()
                raise NercurveError(
                    "SLURM refused the study's tasks: "
                    + (text.splitlines()[-1] if text else type(err).__name__),
                    hint="check [run.slurm] (partition, time_min, cpus, gpus, mem_gb, "
                    "sbatch_options) against `sinfo` and your account; finished results are kept",
                ) from None
            for job, task in zip(jobs, tasks, strict=True):
                self.tasks[job.job_id] = task
        self.queued.clear()

    def _ended(self, job_id: str, task: Any) -> Report | None:
        """The report of a task that ended, or None while it is queued or running."""
        if not task.done():
            return None
        if task.paths.result_pickle.exists():
            try:
                reply: Report = task.result()
            except Exception as err:  # the task ran, but not our function (e.g. an import)
                return Report(job_id, error=f"the SLURM task {task.job_id} failed: {err}")
            return reply
        state = str(task.state)
        if state in ("COMPLETED", "FINISHED"):
            first = self.unseen_since.setdefault(job_id, time.time())
            if time.time() - first < self.grace_s:
                return None  # its result file may not have reached this machine yet
        if state == "TIMEOUT":
            return Report(job_id, error=f"timed out after {self.time_min} min (the SLURM time "
                          "limit, run.slurm.time_min)")
        return Report(job_id, death=f"SLURM task {task.job_id} ended ({state}) without a "
                      f"result; its log: {task.paths.stderr}")

    def kill(self, job_id: str) -> None:
        task = self.tasks.pop(job_id, None)
        if task is not None:
            with contextlib.suppress(Exception):
                task.cancel(check=False)
        self.queued = [j for j in self.queued if j.job_id != job_id]

    def close(self) -> None:
        for job_id in list(self.tasks):
            self.kill(job_id)
        self.queued.clear()


def build(config: StudyConfig, *, gpu_arms: frozenset[str], workers: int | None,
          runs_per_gpu: int) -> SlurmExecutor:
    """The SLURM executor for a study, from ``[run]`` and ``[run.slurm]`` (each task has its
    GPUs to itself: ``runs_per_gpu`` does not apply)."""
    section = config.run.table("slurm") or SlurmSection()
    return SlurmExecutor(section=section, timeout_s=config.run.timeout_s, gpu_arms=gpu_arms,
                         max_retries=config.run.max_retries,
                         parallel=section.array_parallelism or workers or 16)
