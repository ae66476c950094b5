"""The worker side of the Ray executor: a long-lived actor that runs one job at a time.

An actor is started once per slot (a share of a node's CPUs, GPU and memory) and keeps,
for its whole life, the study data (fetched once from Ray's object store), the imported
libraries (spaCy, torch, transformers) and its CUDA context, so a job pays for none of
them. It never touches the study store: it returns what the job measured, or the job's
error, and the driver records it.

This module imports no Ray: the driver wraps :class:`JobRunner` with ``ray.remote``.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from nercurve.study.executor import job_error_text
from nercurve.study.gpu_packing import GpuPeak, peak_of
from nercurve.study.jobs import StudyData, execute_job
from nercurve.study.store import ClaimedJob, JobOutcome


@dataclass(frozen=True)
class JobReply:
    """What one job sent back: its outcome or its error, and its peak GPU memory."""

    job_id: str
    outcome: JobOutcome | None = None
    error: str | None = None
    gpu: GpuPeak | None = None


class JobRunner:
    """Runs jobs on the study data it was started with (as a Ray actor)."""

    def __init__(self, data: StudyData) -> None:
        self.data = data

    def where(self) -> str:
        """The host and process this actor runs in (answers once the actor has started)."""
        return f"{socket.gethostname()}:{os.getpid()}"

    def run(self, job: ClaimedJob) -> JobReply:
        """Train, predict and score one job; an exception becomes the reply's error."""
        try:
            outcome = execute_job(job, self.data)
        except Exception as err:  # a failing job is recorded; the study goes on
            return JobReply(job.job_id, error=job_error_text(err))
        return JobReply(job.job_id, outcome=outcome, gpu=peak_of(outcome.extra))
