"""What the runner asks of an executor, and what an executor tells about its progress.

An executor is anything with ``execute(store_path, data, on_progress)``: it runs every
pending job of a study store and reports a :class:`Progress` as it goes. The runner
depends on nothing else; :mod:`nercurve.study.executors` lists the executors there are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from nercurve.study.jobs import StudyData


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
    #: Mean wall time of the runs this execution finished (seconds), or None before one has.
    mean_run_s: float | None = None


ProgressCallback = Callable[[Progress], None]


def progress_of(counts: dict[str, int], finished_now: int, elapsed_s: float,
                mean_run_s: float | None = None) -> Progress:
    """The progress of a store's job ``counts``, with an ETA from the ``finished_now`` jobs
    this execution finished in ``elapsed_s`` seconds (None until one has finished)."""
    remaining = counts["pending"] + counts["running"]
    eta = elapsed_s / finished_now * remaining if finished_now > 0 and remaining else None
    return Progress(
        total=sum(counts.values()), done=counts["done"], failed=counts["failed"],
        running=counts["running"], pending=counts["pending"], eta_s=eta, mean_run_s=mean_run_s,
    )


class Executor(Protocol):
    """Runs every pending job of a study store."""

    def execute(
        self, store_path: Path, data: StudyData, on_progress: ProgressCallback | None = None
    ) -> None:
        """Run pending jobs until none is left (or the user interrupts)."""
        ...
