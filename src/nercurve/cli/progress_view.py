"""How a running study shows its progress: a live bar on a terminal, plain lines elsewhere.

Studies run under nohup, SLURM and CI, where nobody watches a terminal and a live bar
shows nothing until the end. There, one line goes to stdout for each finished job, and at
least one a minute, with the counts, the mean time per finished run and the ETA.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, TextIO

#: The longest stretch without a line where no terminal is watching (seconds).
LINE_EVERY_S = 60.0


def duration(seconds: float) -> str:
    """``12m05s`` or ``3h07m``."""
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


@contextlib.contextmanager
def progress_shown(stream: TextIO | None = None) -> Iterator[Callable[[Any], None]]:
    """The callback that shows a study's :class:`~nercurve.study.executors.protocol.Progress`:
    a live bar when ``stream`` (default stdout) is a terminal, else :class:`ProgressLines`."""
    stream = stream or sys.stdout
    if not stream.isatty():
        yield ProgressLines(stream).update
        return
    bar, update = progress_bar()
    try:
        yield update
    finally:
        if bar.live.is_started:
            bar.stop()


def progress_bar() -> tuple[Any, Callable[[Any], None]]:
    """A rich progress bar and the callback that feeds it; the bar shows from the first update."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(
        TextColumn("[bold]jobs"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("done {task.fields[done]}  failed {task.fields[failed]}"
                   "  running {task.fields[running]}  ETA {task.fields[eta]}"
                   "{task.fields[note]}"),
        transient=False,
    )
    task = bar.add_task("jobs", total=None, done=0, failed=0, running=0, eta="?", note="")

    def update(p: Any) -> None:
        if not bar.live.is_started:
            bar.start()
        if p.note is not None:
            bar.update(task, note=f"  [yellow]{p.note}[/]")
            return
        eta = "?" if p.eta_s is None else duration(p.eta_s)
        bar.update(task, total=p.total, completed=p.done + p.failed, done=p.done,
                   failed=p.failed, running=p.running, eta=eta, note="")

    return bar, update


class ProgressLines:
    """Plain progress lines: one when a job finishes, and at least one every
    ``every_s`` seconds (a note, such as a wait on a locked store, likewise)."""

    def __init__(self, stream: TextIO, every_s: float = LINE_EVERY_S) -> None:
        self.stream = stream
        self.every_s = every_s
        self.finished: int | None = None
        self.last_line = 0.0

    def update(self, p: Any) -> None:
        """Write a line when ``p`` (a Progress) is news."""
        now = time.monotonic()
        due = now - self.last_line >= self.every_s
        if p.note is not None:
            if due:
                self._write(p.note, now)
            return
        finished = p.done + p.failed
        if finished != self.finished or due:
            self.finished = finished
            self._write(line_of(p), now)

    def _write(self, text: str, now: float) -> None:
        self.stream.write(f"{time.strftime('%H:%M:%S')} {text}\n")
        self.stream.flush()
        self.last_line = now


def line_of(p: Any) -> str:
    """One plain line of a Progress: the counts, the mean time per finished run, the ETA."""
    mean = "-" if p.mean_run_s is None else f"{p.mean_run_s:.1f} s"
    eta = "?" if p.eta_s is None else duration(p.eta_s)
    return (f"jobs {p.done + p.failed}/{p.total}: done {p.done}, failed {p.failed}, "
            f"running {p.running}, pending {p.pending}; {mean} per run; ETA {eta}")
