"""The Ray executor against a real local Ray cluster: a head node and a second node joined
to it (standing for a second machine), both on 127.0.0.1, started once for this module.

The cluster runs with one CPU per node, so a study's two slots sit one on each node.
The node-death test removes the second node; it comes last and adds a fresh one back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from study_fixtures import job_rows as rows
from study_fixtures import wait_for, write_study

from nercurve.errors import ConfigError
from nercurve.study.config import load_config
from nercurve.study.executors.protocol import Progress
from nercurve.study.runner import run_study
from nercurve.study.store import results_frame

NERCURVE = str(Path(sys.executable).parent / "nercurve")
TESTS = str(Path(__file__).resolve().parent)
PLUGIN = "plugin_backends:SlowGazetteer"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A head node and one worker node on 127.0.0.1 (one CPU each), torn down at the end."""
    # Ray binds to the address it finds for this machine unless told it is a one-machine
    # setup: this keeps every node, and every driver process started below, on loopback
    saved = {k: os.environ.get(k) for k in ("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "PYTHONPATH")}
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (TESTS, os.environ.get("PYTHONPATH")) if p)  # the plugin, on every node
    import ray
    from ray._private import ray_constants
    from ray.cluster_utils import Cluster

    assert not ray_constants.ENABLE_RAY_CLUSTER, "ray was imported before the fixture set it up"
    head = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "include_dashboard": False, "node_ip_address": "127.0.0.1",
    })
    head.add_node(num_cpus=1, node_ip_address="127.0.0.1")
    head.wait_for_nodes()
    try:
        yield head
    finally:
        if ray.is_initialized():
            ray.shutdown()
        head.shutdown()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def ray_study(tmp: Path, address: str, **kw: Any) -> Path:
    extra = f'executor = "ray"\nray_address = "{address}"\n' + kw.pop("extra", "")
    return write_study(tmp, extra=extra, **kw)


def cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NERCURVE, *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, COLUMNS="200"))


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([NERCURVE, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def test_a_study_on_the_cluster_gives_the_local_executor_s_results(
    tmp_path: Path, cluster: Any
) -> None:
    local = load_config(write_study(tmp_path / "local"))
    on_ray = load_config(ray_study(tmp_path / "ray", cluster.address))
    seen: list[Progress] = []
    run_study(local)
    run_study(on_ray, on_progress=seen.append)
    a = results_frame(tmp_path / "local" / "out").set_index("job_id")
    b = results_frame(tmp_path / "ray" / "out").set_index("job_id")
    assert len(a) == len(b) == 12 and set(a.index) == set(b.index)  # same jobs, same seeds
    assert (a["f1"] == b.loc[a.index, "f1"]).all()
    assert (a["n_sentences"] == b.loc[a.index, "n_sentences"]).all()
    assert [r["attempts"] for r in rows(tmp_path / "ray" / "out" / "results.sqlite")] == [1] * 12
    last = seen[-1]
    assert (last.total, last.done, last.failed, last.running, last.eta_s) == (12, 12, 0, 0, None)
    assert any(p.eta_s is not None and p.done < 12 for p in seen)  # an ETA while it ran
    run_study(on_ray)  # a rerun repeats nothing
    assert [r["attempts"] for r in rows(tmp_path / "ray" / "out" / "results.sqlite")] == [1] * 12


def test_ray_workers_leave_their_models_and_the_driver_keeps_the_best(
    tmp_path: Path, cluster: Any
) -> None:
    from nercurve.study.keep import SCRATCH, kept_models, models_dir

    out = run_study(load_config(ray_study(tmp_path, cluster.address, extra='keep = "best"\n')))
    frame = results_frame(out)
    kept = kept_models(out)
    assert sorted(m.stratum for m in kept) == ["1-10", "11-30"]  # one per stratum and arm
    for model in kept:
        assert model.f1 == max(frame.loc[frame["stratum"] == model.stratum, "f1"])
    assert not list((models_dir(out) / SCRATCH).iterdir())


def test_failing_crashing_and_hanging_jobs_are_recorded(tmp_path: Path, cluster: Any) -> None:
    params = "{ fail_seeds = [1], crash_seeds = [2], hang_seeds = [3] }"
    cfg = ray_study(tmp_path, cluster.address, backend_type=PLUGIN, params=params,
                    seeds="[0, 1, 2, 3]", subsets=1, strata="[[1, 10]]", timeout_s=3,
                    extra="max_retries = 1\n")
    run_study(load_config(cfg))
    by_seed = {r["seed"]: r for r in rows(tmp_path / "out" / "results.sqlite")}
    assert by_seed[0]["status"] == "done" and by_seed[0]["attempts"] == 1
    assert by_seed[1]["status"] == "failed" and by_seed[1]["attempts"] == 1  # raised: no retry
    assert "RuntimeError: deliberate failure on seed 1" in by_seed[1]["error"]
    assert by_seed[2]["status"] == "failed" and by_seed[2]["attempts"] == 2  # retried once
    assert "died on each of 2 attempts" in by_seed[2]["error"]
    assert by_seed[3]["status"] == "failed" and "timed out after 3 s" in by_seed[3]["error"]


def test_an_unreachable_cluster_is_an_error_before_any_job(tmp_path: Path) -> None:
    cfg = write_study(tmp_path, seeds="[0]")
    result = cli("run", str(cfg), "--ray-address", "127.0.0.1:9")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and "cannot reach the Ray cluster" in result.stderr
    assert "Traceback" not in result.stderr
    assert {r["status"] for r in rows(tmp_path / "out" / "results.sqlite")} == {"pending"}


def test_a_job_no_node_can_hold_is_refused_before_it_starts(tmp_path: Path, cluster: Any) -> None:
    cfg = ray_study(tmp_path, cluster.address, seeds="[0]", extra="cpus_per_job = 8\n")
    with pytest.raises(ConfigError, match="no node of the Ray cluster has the resources"):
        run_study(load_config(cfg))
    assert {r["status"] for r in rows(tmp_path / "out" / "results.sqlite")} == {"pending"}


def test_sigterm_stops_the_driver_and_puts_its_jobs_back(tmp_path: Path, cluster: Any) -> None:
    cfg = ray_study(tmp_path, cluster.address, backend_type=PLUGIN, params="{ sleep_s = 0.5 }",
                    subsets=4)
    db = tmp_path / "out" / "results.sqlite"
    proc = start("run", str(cfg))
    wait_for(db, done=2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "stopped: finished jobs are kept" in err and "Traceback" not in err
    states = [r["status"] for r in rows(db)]
    assert "running" not in states and "failed" not in states and "pending" in states


def test_sigkill_of_the_driver_then_rerun_loses_nothing_and_repeats_nothing(
    tmp_path: Path, cluster: Any
) -> None:
    cfg = ray_study(tmp_path, cluster.address, backend_type=PLUGIN, params="{ sleep_s = 0.4 }",
                    subsets=5)
    db = tmp_path / "out" / "results.sqlite"
    proc = start("run", str(cfg))
    wait_for(db, done=3)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = rows(db)
    assert any(r["status"] == "running" for r in killed)
    done_before = {r["job_id"]: r["finished_at"] for r in killed if r["status"] == "done"}
    rerun = cli("run", str(cfg))
    assert rerun.returncode == 0, rerun.stderr
    final = rows(db)
    assert len(final) == 20 and all(r["status"] == "done" for r in final)
    assert all(r["finished_at"] == done_before[r["job_id"]]
               for r in final if r["job_id"] in done_before)  # kept, not redone
    assert all(r["attempts"] == 1 for r in final if r["job_id"] in done_before)
    assert any(r["attempts"] == 2 for r in final)  # the interrupted jobs ran again


def test_a_dead_node_s_jobs_run_again_and_nothing_is_lost_or_doubled(
    tmp_path: Path, cluster: Any
) -> None:
    second = next(n for n in cluster.worker_nodes)
    cfg = ray_study(tmp_path, cluster.address, backend_type=PLUGIN, params="{ sleep_s = 1.0 }",
                    subsets=3, seeds="[0]", extra="max_retries = 2\n")
    killed: list[int] = []

    def kill_second_node(p: Progress) -> None:
        if not killed and p.done >= 2 and p.running == 2:
            cluster.remove_node(second, allow_graceful=False)
            killed.append(p.done)

    try:
        run_study(load_config(cfg), on_progress=kill_second_node)
    finally:
        cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
    assert killed
    final = rows(tmp_path / "out" / "results.sqlite")
    assert len(final) == 6 and all(r["status"] == "done" for r in final)
    assert sum(r["attempts"] == 2 for r in final) == 1  # the job on the dead node, once more
