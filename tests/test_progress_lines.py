"""Progress where no terminal is watching (nohup, SLURM, CI): plain lines, not a live bar."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

from study_fixtures import write_study

from nercurve.cli.progress_view import ProgressLines
from nercurve.study.executors.protocol import Progress

NERCURVE = str(Path(sys.executable).parent / "nercurve")
LINE = re.compile(r"^\d\d:\d\d:\d\d jobs (\d+)/(\d+): done (\d+), failed (\d+), running (\d+), "
                  r"pending (\d+); (-|[\d.]+ s) per run; ETA (\?|\d+m\d\ds|\d+h\d\dm)$")


def test_run_with_output_to_a_pipe_prints_a_line_per_finished_job(tmp_path: Path) -> None:
    cfg = write_study(tmp_path, seeds="[0, 1]", strata="[[1, 10], [11, 30]]", subsets=1)
    result = subprocess.run([NERCURVE, "run", str(cfg)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stdout  # no live display's control codes
    lines = [m for m in map(LINE.match, result.stdout.splitlines()) if m]
    finished = [int(m[1]) for m in lines]
    assert finished[0] == 0 and finished[-1] == 4 and finished == sorted(set(finished))
    assert all(int(m[2]) == 4 for m in lines)
    last = lines[-1]
    assert (last[3], last[4], last[5], last[6], last[8]) == ("4", "0", "0", "0", "?")
    assert all(m[7] != "-" for m in lines[1:])  # the mean time per run once one finished
    assert any(m[8] != "?" for m in lines[1:-1]) or len(lines) == 2  # an ETA while it ran


def test_a_line_at_least_every_interval_and_notes_likewise() -> None:
    out = io.StringIO()
    lines = ProgressLines(out, every_s=3600)
    running = Progress(total=10, done=2, failed=1, running=2, pending=5, eta_s=125.0,
                       mean_run_s=4.25)
    lines.update(running)
    lines.update(running)  # nothing new, and the interval has not passed
    lines.update(Progress(0, 0, 0, 0, 0, None, note="waiting 3 s: the store is locked"))
    assert out.getvalue().splitlines()[0].endswith(
        "jobs 3/10: done 2, failed 1, running 2, pending 5; 4.2 s per run; ETA 2m05s")
    assert len(out.getvalue().splitlines()) == 1
    often = ProgressLines(out, every_s=0)
    often.update(running)
    often.update(running)
    often.update(Progress(0, 0, 0, 0, 0, None, note="waiting 3 s: the store is locked"))
    assert len(out.getvalue().splitlines()) == 4
    assert out.getvalue().splitlines()[-1].endswith("waiting 3 s: the store is locked")
