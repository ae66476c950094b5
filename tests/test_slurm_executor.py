"""The SLURM executor through submitit's local cluster (each task a process on this machine,
submitted, polled and cancelled through the same calls as on SLURM): the local executor's
results, a killed task run again, a killed driver resumed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from study_fixtures import job_rows as rows
from study_fixtures import wait_for, write_study

from nercurve.errors import ConfigError
from nercurve.study.config import load_config
from nercurve.study.executors.protocol import Progress
from nercurve.study.executors.slurm import SlurmExecutor, SlurmSection
from nercurve.study.jobs import validate_arms
from nercurve.study.runner import choose_executor, run_study
from nercurve.study.store import results_frame

NERCURVE = str(Path(sys.executable).parent / "nercurve")
TESTS = str(Path(__file__).resolve().parent)
PLUGIN = "plugin_backends:SlowGazetteer"
SLURM = 'executor = "slurm"\n[run.slurm]\ncluster = "local"\n'
SMALL = {"seeds": "[0, 1]", "strata": "[[1, 10], [11, 30]]", "subsets": 1}


@pytest.fixture(autouse=True)
def plugin_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests' plugin backend importable in the tasks (they inherit the environment)."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (TESTS, os.environ.get("PYTHONPATH")) if p))


def test_the_config_section_builds_the_executor(tmp_path: Path) -> None:
    extra = (SLURM + 'partition = "gpu"\ntime_min = 30\ncpus = 4\nmem_gb = 16\n'
             'sbatch_options = { account = "lab" }\n')
    config = load_config(write_study(tmp_path, extra=extra, workers=3))
    executor = choose_executor(config, validate_arms(config.backends), workers=None,
                               runs_per_gpu=1)
    assert executor == SlurmExecutor(
        section=SlurmSection(partition="gpu", time_min=30, cpus=4, mem_gb=16,
                             sbatch_options={"account": "lab"}, cluster="local"),
        timeout_s=600, max_retries=2, parallel=3)
    with pytest.raises(ConfigError, match=r"run\.slurm\.cpus"):
        load_config(write_study(tmp_path / "bad", extra=SLURM + "cpus = 0\n"))


def test_tasks_give_the_local_executor_s_results(tmp_path: Path) -> None:
    local = load_config(write_study(tmp_path / "local", **SMALL))
    on_slurm = load_config(write_study(tmp_path / "slurm", extra=SLURM, **SMALL))
    seen: list[Progress] = []
    run_study(local)
    run_study(on_slurm, on_progress=seen.append)
    a = results_frame(tmp_path / "local" / "out").set_index("job_id")
    b = results_frame(tmp_path / "slurm" / "out").set_index("job_id")
    assert len(a) == len(b) == 4 and set(a.index) == set(b.index)
    assert (a["f1"] == b.loc[a.index, "f1"]).all()
    assert [r["attempts"] for r in rows(tmp_path / "slurm" / "out" / "results.sqlite")] == [1] * 4
    last = seen[-1]
    assert (last.total, last.done, last.failed, last.running) == (4, 4, 0, 0)
    assert last.mean_run_s is not None and last.mean_run_s > 0
    folder = tmp_path / "slurm" / "out" / "slurm"
    assert any(folder.glob("*/*_log.out"))  # submitit's logs, in the study folder
    assert not list(folder.glob("study-data-*"))  # the data file goes with its driver


def _task_pids(folder: Path) -> list[int]:
    """The processes of submitit tasks (not their controllers) whose folder is ``folder``."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"submitit.core._submit" in cmd and any(str(folder).encode() in c for c in cmd):
            found.append(int(proc.name))
    return found


def test_a_killed_task_runs_again_and_finishes(tmp_path: Path) -> None:
    cfg = write_study(tmp_path, backend_type=PLUGIN, params="{ sleep_s = 1.0 }", extra=SLURM,
                      seeds="[0]", strata="[[1, 10], [11, 30]]", subsets=1)
    killed: list[int] = []

    def kill_one_task(p: Progress) -> None:
        if not killed and p.running:
            for pid in _task_pids(tmp_path / "out" / "slurm")[:1]:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

    run_study(load_config(cfg), on_progress=kill_one_task)
    assert killed
    final = rows(tmp_path / "out" / "results.sqlite")
    assert [r["status"] for r in final] == ["done", "done"]
    assert sorted(r["attempts"] for r in final) == [1, 2]  # the killed one, once more


def test_a_killed_driver_resumes_and_runs_nothing_twice(tmp_path: Path) -> None:
    cfg = write_study(tmp_path, backend_type=PLUGIN, params="{ sleep_s = 0.5 }", extra=SLURM,
                      seeds="[0]", strata="[[1, 10], [11, 30]]", subsets=2)
    db = tmp_path / "out" / "results.sqlite"
    proc = subprocess.Popen([NERCURVE, "run", str(cfg)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    wait_for(db, done=1)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the tasks it started here
    proc.wait()
    killed = rows(db)
    assert any(r["status"] == "running" for r in killed)
    done_before = {r["job_id"]: r["finished_at"] for r in killed if r["status"] == "done"}
    rerun = subprocess.run([NERCURVE, "run", str(cfg)], capture_output=True, text=True,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    final = rows(db)
    assert len(final) == 4 and all(r["status"] == "done" for r in final)
    assert all(r["finished_at"] == done_before[r["job_id"]]
               for r in final if r["job_id"] in done_before)  # kept, not redone
    assert all(r["attempts"] == 1 for r in final if r["job_id"] in done_before)
    assert any(r["attempts"] == 2 for r in final)  # the interrupted jobs ran again
    assert not list((tmp_path / "out" / "slurm").glob("study-data-*"))  # swept


def test_without_slurm_here_it_is_a_clear_error_before_any_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write_study(tmp_path, extra='executor = "slurm"\n', seeds="[0]")
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))  # no srun, no sbatch
    with pytest.raises(ConfigError, match='"slurm" needs SLURM on this machine') as err:
        run_study(load_config(cfg))
    assert 'cluster = "local"' in (err.value.hint or "")
    assert {r["status"] for r in rows(tmp_path / "out" / "results.sqlite")} == {"pending"}
