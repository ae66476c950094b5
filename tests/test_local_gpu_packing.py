"""``runs_per_gpu`` packing in the local executor, on a real study store.

On this CPU-only machine the GPU is a CUDA_VISIBLE_DEVICES entry that no run can use, so
the run measures no GPU peak; what is checked is the order the executor keeps (the first
run of a GPU arm runs alone on its device, the packed workers start after it) and the
decision it takes from a peak a job reports (a real store row).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from study_fixtures import job_rows, write_study

from nercurve.errors import ConfigError
from nercurve.study.config import load_config
from nercurve.study.executors.local import LocalExecutor
from nercurve.study.gpu_packing import DEVICE_KEY, PEAK_KEY
from nercurve.study.runner import initialise, prepare
from nercurve.study.store import Store


def _prepared_store(tmp_path: Path, sleep_s: float) -> tuple[Path, object]:
    config = load_config(write_study(
        tmp_path, backend_type="plugin_backends:SlowGazetteer",
        params=f"{{ sleep_s = {sleep_s} }}", seeds="[0]", strata="[[1, 10]]", subsets=4))
    prepared = prepare(config)
    return initialise(prepared), prepared.data


def test_the_first_run_of_a_gpu_arm_runs_alone_then_runs_are_packed(tmp_path: Path) -> None:
    store_path, data = _prepared_store(tmp_path, sleep_s=1.0)
    LocalExecutor(workers=2, gpus=["0"], runs_per_gpu=2, gpu_arms=frozenset({"arm"}),
                  poll_s=0.1).execute(store_path, data)
    rows = sorted(job_rows(store_path), key=lambda r: r["started_at"])
    assert [r["status"] for r in rows] == ["done"] * 4
    first, rest = rows[0], rows[1:]
    assert all(r["started_at"] >= first["finished_at"] for r in rest)  # alone on its GPU
    assert len({r["worker_pid"] for r in rest}) == 2  # then two runs share the GPU
    assert all(PEAK_KEY not in json.loads(r["extra"]) for r in rows)  # no GPU was used


def test_without_gpu_arms_every_worker_starts_at_once(tmp_path: Path) -> None:
    store_path, data = _prepared_store(tmp_path, sleep_s=1.0)
    LocalExecutor(workers=2, gpus=["0"], runs_per_gpu=2, poll_s=0.1).execute(store_path, data)
    rows = sorted(job_rows(store_path), key=lambda r: r["started_at"])
    assert rows[1]["started_at"] < rows[0]["finished_at"]


def test_a_measured_run_too_large_to_pack_stops_with_the_largest_k_and_keeps_results(
    tmp_path: Path,
) -> None:
    store_path, data = _prepared_store(tmp_path, sleep_s=0.0)
    with Store(store_path) as store:  # a finished run that reported its GPU peak
        job = store.claim("earlier", 1, 1)
        assert job is not None
    con = sqlite3.connect(store_path)
    with con:
        con.execute("UPDATE jobs SET status = 'done', finished_at = 1, f1 = 0.5, extra = ?"
                    " WHERE job_id = ?",
                    (json.dumps({PEAK_KEY: 30 * 1024.0, DEVICE_KEY: 80 * 1024.0}), job.job_id))
    con.close()
    executor = LocalExecutor(workers=4, gpus=["0"], runs_per_gpu=4,
                             gpu_arms=frozenset({"arm"}), poll_s=0.1)
    with pytest.raises(ConfigError, match=r"runs_per_gpu = 4 does not fit") as err:
        executor.execute(store_path, data)
    assert "set run.runs_per_gpu to 2 or less" in (err.value.hint or "")
    statuses = [r["status"] for r in job_rows(store_path)]
    assert "running" not in statuses and statuses.count("done") >= 1
