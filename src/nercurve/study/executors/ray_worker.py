"""The worker side of the Ray executor: a long-lived actor that runs one job at a time.

An actor is started once per slot (a share of a node's CPUs, GPU and memory) and keeps,
for its whole life, the study data (fetched once from Ray's object store), the imported
libraries (spaCy, torch, transformers) and its CUDA context, so a job pays for none of
them. It never touches the study store: it returns a
:class:`~nercurve.study.executors.driver.Report` of what the job measured, or of its
error, and the driver records it.

This module imports no Ray: the driver wraps :class:`JobRunner` with ``ray.remote``.
"""

from __future__ import annotations

import os
import socket

from nercurve.study.executors.driver import Report, run_job
from nercurve.study.jobs import StudyData
from nercurve.study.store import ClaimedJob


class JobRunner:
    """Runs jobs on the study data it was started with (as a Ray actor)."""

    def __init__(self, data: StudyData) -> None:
        self.data = data

    def where(self) -> str:
        """The host and process this actor runs in (answers once the actor has started)."""
        return f"{socket.gethostname()}:{os.getpid()}"

    def run(self, job: ClaimedJob) -> Report:
        """Train, predict and score one job; an exception becomes the report's error."""
        return run_job(job, self.data)
