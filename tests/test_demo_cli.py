"""The README's first road: ``nercurve demo`` synthesizes a corpus, runs a study, analyses it and
writes the report, with its output going to a pipe (as under nohup or CI)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

NERCURVE = str(Path(sys.executable).parent / "nercurve")


@pytest.mark.slow
def test_the_classification_demo_runs_end_to_end_into_a_pipe(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = subprocess.run([NERCURVE, "demo", "--task", "classify", "--subsets", "2",
                             "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert f"wrote 490 synthetic notes to {out / 'smoking.jsonl'}" in result.stdout
    assert "jobs 20/20: done 20, failed 0, running 0, pending 0" in result.stdout
    assert "\x1b[" not in result.stdout  # plain lines, no live display
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "macro-F1" in html and "examples" in html
    for backend in ("tfidf", "spacy-bow"):
        assert f"\n{backend}: " in result.stdout  # one recommendation paragraph per arm
    assert (out / "report_files").is_dir()
    # rerunning continues the same study: nothing runs again
    again = subprocess.run([NERCURVE, "demo", "--task", "classify", "--subsets", "2",
                            "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert "wrote 490" not in again.stdout
    assert "jobs 20/20: done 20" in again.stdout
