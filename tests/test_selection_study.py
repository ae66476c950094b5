"""A real study with ``selection = ["random", "uncertainty"]`` (spaCy arm, tiny budget): it
runs, is interrupted during selection, resumes to the subsets and jobs an uninterrupted
selection makes, and its results carry the selection columns; diversity is reproducible."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from study_fixtures import job_rows, toy_docs

from nercurve.corpus.io import write_corpus
from nercurve.study.config import load_config
from nercurve.study.jobs import plan_jobs
from nercurve.study.runner import add_selected, prepare, run_study
from nercurve.study.selection import SELECTION_DIR
from nercurve.study.store import open_store, results_frame

CONFIG = """name = "sel"
output = "out"
seeds = [0]
[corpus]
path = "toy.jsonl"
[design]
sizes = [8, 16]
selection = {selection}
[design.uncertainty]
seed_docs = 4
batch_docs = 4
measure = "least_confidence"
[[backends]]
name = "spacy"
type = "spacy"
params = {{ max_steps = 20, eval_frequency = 10, patience = 0 }}
[run]
workers = 2
"""


def _write(folder: Path, selection: str = '["random", "uncertainty"]') -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_corpus(toy_docs(), folder / "toy.jsonl")
    text = CONFIG.format(selection=selection)
    if "uncertainty" not in selection:
        head, tail = text.split("[design.uncertainty]")
        text = head + tail.split('measure = "least_confidence"\n')[1]
    (folder / "study.toml").write_text(text, encoding="utf-8")
    return folder / "study.toml"


class _Stop(Exception):
    """Stands for a kill in the middle of selection."""


@pytest.mark.slow
def test_an_uncertainty_study_resumes_after_an_interruption_to_the_same_subsets(tmp_path):
    config = load_config(_write(tmp_path / "a"))
    rounds: list[str] = []

    def stop_after_first(line: str) -> None:
        rounds.append(line)
        raise _Stop

    with pytest.raises(_Stop):
        run_study(config, on_selection=stop_after_first)
    kept = list((tmp_path / "a" / "out" / SELECTION_DIR).glob("uncertainty-*.json"))
    assert len(kept) == 1 and json.loads(kept[0].read_text())["marks"] == [4, 8]
    assert not [r for r in job_rows(tmp_path / "a" / "out" / "results.sqlite")]

    resumed: list[str] = []
    out = run_study(config, on_selection=resumed.append)
    assert len(resumed) == 2  # rounds 2 and 3 only: round 1 was kept
    assert json.loads(kept[0].read_text())["marks"] == [4, 8, 12, 16]

    fresh = add_selected(prepare(load_config(_write(tmp_path / "b"))))
    frame = results_frame(out)
    stored = {r["subset_id"]: r for r in job_rows(out / "results.sqlite")}
    assert sorted(stored) == sorted(s.subset_id for s in fresh.subsets)
    planned = plan_jobs(fresh.subsets, fresh.arms, fresh.config.seeds)
    assert sorted(j.job_id for j in planned) == sorted(frame["job_id"])

    for column in ("selection", "selection_rounds", "selection_seconds", "selection_runs"):
        assert column in frame.columns
    assert list(frame.columns[:7]) == ["job_id", "subset_id", "stratum", "selection",
                                       "selection_rounds", "selection_seconds",
                                       "selection_runs"]
    chosen = frame[frame["selection"] == "uncertainty"].set_index("subset_id")
    assert chosen.loc["8#0000@uncertainty", "selection_rounds"] == 1
    assert chosen.loc["16#0000@uncertainty", "selection_runs"] == 3
    assert (chosen["selection_seconds"] > 0).all()
    drawn = frame[frame["selection"] == "random"]
    assert (drawn[["selection_rounds", "selection_runs", "selection_seconds"]] == 0).all().all()
    # nested, as annotation proceeds: the smaller subset lies inside the larger one
    subsets = {s.subset_id: set(s.doc_ids) for s in fresh.subsets}
    assert subsets["8#0000@uncertainty"] < subsets["16#0000@uncertainty"]

    again = run_study(config, on_selection=resumed.append)  # nothing left to do
    assert len(resumed) == 2 and results_frame(again)["f1"].tolist() == frame["f1"].tolist()


@pytest.mark.slow
def test_diversity_subsets_are_reproducible_without_their_record(tmp_path):
    config = load_config(_write(tmp_path, '["diversity"]'))
    first = add_selected(prepare(config)).subsets
    assert [s.subset_id for s in first] == ["8#0000@diversity", "16#0000@diversity"]
    assert all(s.selection_runs == 0 and s.selection_seconds > 0 for s in first)
    shutil.rmtree(tmp_path / "out" / SELECTION_DIR)
    again = add_selected(prepare(config)).subsets
    assert [s.doc_ids for s in again] == [s.doc_ids for s in first]
    assert set(first[0].doc_ids) < set(first[1].doc_ids)


@pytest.mark.slow
def test_a_killed_selection_study_resumes_and_reports_its_strategies(tmp_path):
    """``nercurve run`` killed (SIGKILL) once its first selection round is on disk: the rerun
    finishes with the subsets an uninterrupted selection makes, and the analysis of the
    study compares the strategies (its table and words)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from nercurve.analysis import analyze, load_runs

    path = _write(tmp_path / "a")
    text = path.read_text(encoding="utf-8").replace(
        "sizes = [8, 16]", "sizes = [4, 8, 12, 16]\nsubsets_per_size = 3")  # enough to model
    path.write_text(text, encoding="utf-8")
    command = [str(Path(sys.executable).parent / "nercurve"), "run", str(path)]
    selection = tmp_path / "a" / "out" / SELECTION_DIR
    proc = subprocess.Popen(command, cwd=tmp_path / "a", stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not list(selection.glob("uncertainty-*.json")):
        assert proc.poll() is None, "the run ended before its first selection round"
        assert time.monotonic() < deadline, "no selection round was written"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = subprocess.run(command, cwd=tmp_path / "a", capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

    other = _write(tmp_path / "b")  # the same design, selected without interruption
    other.write_text(text, encoding="utf-8")
    fresh = {s.subset_id: s.doc_ids for s in add_selected(prepare(load_config(other))).subsets}
    out = tmp_path / "a" / "out"
    with open_store(out) as store:
        ids = sorted({r["subset_id"] for r in job_rows(out / "results.sqlite")})
        stored = {s.subset_id: s.doc_ids for s in store.subsets(ids)}
    assert len(stored) == 24 and stored == fresh

    analysis = analyze(load_runs(out), n_boot=100, target_f1=0.5)
    assert analysis.selection is not None
    assert set(analysis.tables()["selection"]["strategy"]) == {"random", "uncertainty"}
    assert analysis.selection_words()["spacy"].startswith("spacy: ")
