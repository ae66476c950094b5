"""The runner end to end on real processes: results, failures, SIGKILL recovery, concurrency."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from study_fixtures import job_rows as rows
from study_fixtures import wait_for, write_study

from nercurve.study.config import load_config
from nercurve.study.runner import run_study
from nercurve.study.store import open_store, results_frame

NERCURVE = str(Path(sys.executable).parent / "nercurve")
TESTS = str(Path(__file__).resolve().parent)
PLUGIN = "plugin_backends:SlowGazetteer"


def nercurve(*args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=TESTS)
    return subprocess.Popen(
        [NERCURVE, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )


def test_a_study_runs_every_job_once_and_a_rerun_repeats_nothing(tmp_path: Path) -> None:
    config = load_config(write_study(tmp_path))
    out = run_study(config)
    frame = results_frame(out)
    assert len(frame) == 6 * 2  # subsets x seeds
    assert set(frame["status"]) == {"done"}
    assert {"f1", "eps", "n_sentences", "f1_PERSON", "f1_ORG"} <= set(frame.columns)
    assert frame["f1"].between(0, 1).all() and frame["f1"].mean() > 0.5
    assert (frame["eps"] == frame["n_entities"] / frame["n_sentences"]).all()
    for name in ("study.json", "corpus_stats.json", "design.csv", "split.json"):
        assert (out / name).is_file()
    with open_store(out) as store:  # every study records its task, NER too
        assert (store.get_meta("task"), store.get_meta("metric")) == ("ner", None)
    run_study(config)
    assert [r["attempts"] for r in rows(out / "results.sqlite")] == [1] * 12


def test_a_failing_job_is_recorded_and_the_others_finish(tmp_path: Path) -> None:
    params = "{ fail_seeds = [1] }"
    config = load_config(write_study(tmp_path, backend_type=PLUGIN, params=params))
    sys.path.insert(0, TESTS)  # the spawned workers inherit sys.path
    try:
        out = run_study(config)
    finally:
        sys.path.remove(TESTS)
    jobs = rows(out / "results.sqlite")
    failed = [r for r in jobs if r["status"] == "failed"]
    assert len(failed) == 6 and all(r["seed"] == 1 for r in failed)
    assert all("deliberate failure on seed 1" in r["error"] for r in failed)
    assert sum(r["status"] == "done" for r in jobs) == 6


def test_a_crashing_worker_and_a_hanging_job_are_recorded(tmp_path: Path) -> None:
    params = "{ crash_seeds = [1], hang_seeds = [2] }"
    cfg = write_study(
        tmp_path, backend_type=PLUGIN, params=params, seeds="[0, 1, 2]", subsets=1,
        strata="[[1, 10]]", timeout_s=3,
    )
    proc = nercurve("run", str(cfg))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err  # jobs failed: a distinct exit status and how to retry
    assert "2 job(s) failed" in err and "--retry-failed" in err
    by_seed = {r["seed"]: r for r in rows(tmp_path / "out" / "results.sqlite")}
    assert by_seed[0]["status"] == "done"
    assert by_seed[1]["status"] == "failed" and "exit code 3" in by_seed[1]["error"]
    assert by_seed[2]["status"] == "failed" and "timed out after 3 s" in by_seed[2]["error"]


def test_workers_that_die_at_start_end_the_run_with_a_clear_error(tmp_path: Path) -> None:
    # a launcher whose spawned workers exit while importing (as a broken install would)
    launcher = tmp_path / "launch.py"
    launcher.write_text(
        "import sys\n"
        "if __name__ == '__mp_main__':\n"
        "    raise SystemExit(3)\n"
        "from nercurve.cli import main\n"
        "if __name__ == '__main__':\n"
        "    main()\n",
        encoding="utf-8",
    )
    cfg = write_study(tmp_path, subsets=1, strata="[[1, 10]]", seeds="[0]")
    proc = subprocess.run([sys.executable, str(launcher), "run", str(cfg)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "every worker process ended (exited with exit code 3)" in proc.stderr
    assert "1 job(s) were still pending; nothing is lost" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert [r["status"] for r in rows(tmp_path / "out" / "results.sqlite")] == ["pending"]
    assert not list((tmp_path / "out").glob("*.pickle"))  # no hand-over file in the study
    # the same command with working workers then runs the job
    again = nercurve("run", str(cfg))
    _, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert [r["status"] for r in rows(tmp_path / "out" / "results.sqlite")] == ["done"]


def test_sigkill_mid_study_then_rerun_gives_exactly_one_result_per_job(tmp_path: Path) -> None:
    cfg = write_study(tmp_path, backend_type=PLUGIN, params="{ sleep_s = 0.4 }", subsets=5)
    db = tmp_path / "out" / "results.sqlite"
    proc = nercurve("run", str(cfg))
    wait_for(db, done=4)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = rows(db)
    assert any(r["status"] == "running" for r in killed)  # killed mid-job
    done_before = {r["job_id"]: r["finished_at"] for r in killed if r["status"] == "done"}
    assert 0 < len(done_before) < 20

    rerun = nercurve("run", str(cfg))
    _, err = rerun.communicate(timeout=180)
    assert rerun.returncode == 0, err
    final = rows(db)
    assert len(final) == 20 and len({r["job_id"] for r in final}) == 20
    assert all(r["status"] == "done" for r in final)
    # finished work was kept, not redone
    assert all(
        r["finished_at"] == done_before[r["job_id"]] for r in final if r["job_id"] in done_before
    )
    assert any(r["attempts"] == 2 for r in final)  # the interrupted jobs ran again


def test_two_processes_on_one_study_never_run_the_same_job(tmp_path: Path) -> None:
    cfg = write_study(
        tmp_path, backend_type=PLUGIN, params="{ sleep_s = 0.2 }", subsets=5, workers=1
    )
    first = nercurve("run", str(cfg))
    time.sleep(1.0)
    second = nercurve("run", str(cfg))
    codes = []
    for proc in (first, second):
        _, err = proc.communicate(timeout=180)
        codes.append(proc.returncode)
        # the runner that runs out of work first may see the other's last job still running
        assert proc.returncode == 0 or (
            proc.returncode == 4 and "another runner holds them" in err), err
    assert 0 in codes  # the last one to finish sees the study done
    final = rows(tmp_path / "out" / "results.sqlite")
    assert len(final) == 20
    assert all(r["status"] == "done" and r["attempts"] == 1 for r in final)
    assert len({r["owner_pid"] for r in final}) == 2  # both processes did work


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_status_results_and_design_commands(tmp_path: Path, fmt: str) -> None:
    cfg = write_study(tmp_path, seeds="[0]")
    assert nercurve("run", str(cfg)).wait(timeout=120) == 0
    out = str(tmp_path / "out")
    status = subprocess.run([NERCURVE, "status", out], capture_output=True, text=True)
    assert status.returncode == 0 and "all jobs finished" in status.stdout
    res = subprocess.run([NERCURVE, "results", out, "--format", fmt], capture_output=True,
                         text=True)
    assert res.returncode == 0 and "n_sentences" in res.stdout and "f1_PERSON" in res.stdout
    design = subprocess.run([NERCURVE, "design", "show", out], capture_output=True, text=True)
    assert design.returncode == 0 and "11-30" in design.stdout
    missing = subprocess.run([NERCURVE, "status", str(tmp_path)], capture_output=True, text=True)
    assert missing.returncode == 2 and "no study results" in missing.stderr
