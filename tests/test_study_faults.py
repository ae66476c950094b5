"""Operational faults against a real study with the fast backend: leases across hosts,
SIGTERM, a damaged, locked, full or empty store, the hand-over file, dying workers."""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from study_fixtures import job_rows as jobs
from study_fixtures import wait_for, write_study

from nercurve.errors import StoreError, StoreLockedError
from nercurve.study.config import load_config
from nercurve.study.executors.local import death_description
from nercurve.study.runner import initialise, prepare
from nercurve.study.store import Store

NERCURVE = str(Path(sys.executable).parent / "nercurve")
TESTS = str(Path(__file__).resolve().parent)
PLUGIN = "plugin_backends:SlowGazetteer"


def env(tmp: Path, **extra: str) -> dict[str, str]:
    """The CLI's environment: the tests' plugin importable and a private temp folder."""
    (tmp / "tmpdir").mkdir(exist_ok=True)
    return dict(os.environ, PYTHONPATH=TESTS, TMPDIR=str(tmp / "tmpdir"), COLUMNS="250",
                **extra)


def start(tmp: Path, *args: str, **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([NERCURVE, *args], env=env(tmp, **extra), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def cli(tmp: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NERCURVE, *args], env=env(tmp, **extra), capture_output=True,
                          text=True, timeout=180)


def one_line_error(result: subprocess.CompletedProcess[str], words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and words in result.stderr
    assert "Traceback" not in result.stderr


def test_a_job_left_by_a_runner_on_another_host_comes_back_when_its_lease_expires(
    tmp_path: Path,
) -> None:
    cfg = write_study(tmp_path, seeds="[0]")
    db = initialise(prepare(load_config(cfg)))
    first = jobs(db)[0]["job_id"]
    con = sqlite3.connect(db)
    con.execute(
        "UPDATE jobs SET status = 'running', claim = 'x', host = 'node-that-is-gone',"
        " owner = 'gone', owner_pid = 1, worker_pid = 1, started_at = ?, lease_until = ?"
        " WHERE job_id = ?", (time.time(), time.time() + 3600, first),
    )
    con.commit()
    held = cli(tmp_path, "run", str(cfg))
    assert held.returncode == 4, held.stderr  # a live lease elsewhere: not taken, not lost
    assert "1 job(s) are not finished" in held.stderr
    status = cli(tmp_path, "status", str(tmp_path / "out"))
    assert "1 job(s) held by host node-that-is-gone" in status.stdout
    con.execute("UPDATE jobs SET lease_until = ? WHERE job_id = ?", (time.time() - 1, first))
    con.commit()
    con.close()
    status = cli(tmp_path, "status", str(tmp_path / "out"))
    assert "1 job(s) were left running by a runner that is gone" in status.stdout
    again = cli(tmp_path, "run", str(cfg))
    assert again.returncode == 0, again.stderr
    assert all(r["status"] == "done" for r in jobs(db))


def running_study(tmp: Path, subsets: int, done: int) -> tuple[Path, Path, subprocess.Popen]:
    """A slow study started by the CLI, once ``done`` jobs have finished: config, store, process."""
    cfg = write_study(tmp, backend_type=PLUGIN, params="{ sleep_s = 0.5 }", subsets=subsets)
    db = tmp / "out" / "results.sqlite"
    proc = start(tmp, "run", str(cfg))
    wait_for(db, done=done)
    return cfg, db, proc


def test_sigterm_stops_like_ctrl_c_and_leaves_no_hand_over_file(tmp_path: Path) -> None:
    cfg, db, proc = running_study(tmp_path, subsets=5, done=2)
    hand_over = list((tmp_path / "tmpdir").glob("nercurve-data-*.pickle"))
    assert len(hand_over) == 1 and hand_over[0].stat().st_mode & 0o077 == 0  # owner only
    assert not list((tmp_path / "out").glob("*.pickle"))
    proc.send_signal(signal.SIGTERM)  # the runner alone, as a container stop does
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "stopped: finished jobs are kept" in err and "Traceback" not in err
    states = [r["status"] for r in jobs(db)]
    assert "running" not in states and "failed" not in states and "pending" in states
    assert not list((tmp_path / "tmpdir").glob("nercurve-data-*"))
    again = cli(tmp_path, "run", str(cfg))
    assert again.returncode == 0, again.stderr
    assert all(r["status"] == "done" for r in jobs(db))


def test_a_killed_runner_shows_as_gone_and_its_hand_over_file_is_swept(tmp_path: Path) -> None:
    cfg, _, proc = running_study(tmp_path, subsets=2, done=1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(list((tmp_path / "tmpdir").glob("nercurve-data-*"))) == 1
    status = cli(tmp_path, "status", str(tmp_path / "out"))
    assert "were left running by a runner that is gone" in status.stdout
    again = cli(tmp_path, "run", str(cfg))
    assert again.returncode == 0, again.stderr
    assert not list((tmp_path / "tmpdir").glob("nercurve-data-*"))


def test_a_damaged_store_is_a_one_line_error_in_every_command(tmp_path: Path) -> None:
    cfg = write_study(tmp_path, seeds="[0]")
    assert cli(tmp_path, "run", str(cfg)).returncode == 0
    db = tmp_path / "out" / "results.sqlite"
    data = bytearray(db.read_bytes())
    page = 4096
    assert len(data) > 3 * page
    data[page:2 * page] = os.urandom(page)  # a page in the middle turns to garbage
    db.write_bytes(bytes(data))
    out = str(tmp_path / "out")
    for args in (("run", str(cfg)), ("status", out), ("results", out)):
        result = cli(tmp_path, *args)
        one_line_error(result, "the study store is damaged")
        assert ".recover" in result.stderr


def test_an_empty_store_file_is_an_error_not_a_fresh_start(tmp_path: Path) -> None:
    cfg = write_study(tmp_path, seeds="[0]")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "results.sqlite").write_bytes(b"")
    one_line_error(cli(tmp_path, "run", str(cfg)), "empty file (0 bytes)")
    one_line_error(cli(tmp_path, "status", str(tmp_path / "out")), "empty file (0 bytes)")
    assert (tmp_path / "out" / "results.sqlite").stat().st_size == 0


def test_a_store_file_that_another_runner_is_creating_is_not_called_empty(tmp_path: Path
                                                                          ) -> None:
    # SQLite creates the file a moment before it writes the first page: a second runner that
    # opens the study in that moment waits for the page instead of calling the store lost
    db = tmp_path / "results.sqlite"
    db.write_bytes(b"")

    def first_page() -> None:
        time.sleep(0.3)
        con = sqlite3.connect(db)
        con.execute("PRAGMA journal_mode=WAL")
        con.close()

    writer = threading.Thread(target=first_page)
    writer.start()
    try:
        with Store(db) as store:
            assert store.counts()["pending"] == 0
    finally:
        writer.join()
    assert db.stat().st_size > 0


def _hold_lock(db: Path, release: threading.Event, ready: threading.Event,
               seconds: float = 120) -> None:
    """Hold the store's write lock (as an open sqlite3 shell would) until ``release`` is
    set or ``seconds`` pass."""
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    ready.set()
    release.wait(seconds)
    con.execute("ROLLBACK")
    con.close()


def test_a_store_locked_by_another_process_is_a_clear_error(tmp_path: Path) -> None:
    cfg = write_study(tmp_path, seeds="[0]")
    db = initialise(prepare(load_config(cfg)))
    ready, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(db, release, ready))
    holder.start()
    ready.wait()
    try:
        with pytest.raises(StoreLockedError) as err, Store(db, lock_timeout_s=0.5) as store:
            store.set_meta("x", "y")
        assert "locked by another process" in err.value.message
        result = cli(tmp_path, "run", str(cfg), NERCURVE_LOCK_TIMEOUT="1")
        one_line_error(result, "the study store is locked by another process")
    finally:
        release.set()
        holder.join()
    assert cli(tmp_path, "run", str(cfg)).returncode == 0


def test_a_lock_taken_mid_run_keeps_every_finished_result(tmp_path: Path) -> None:
    cfg = write_study(tmp_path, backend_type=PLUGIN, params="{ sleep_s = 0.3 }", subsets=4)
    db = tmp_path / "out" / "results.sqlite"
    proc = start(tmp_path, "run", str(cfg), NERCURVE_LOCK_TIMEOUT="1")
    wait_for(db, done=2)
    ready, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(db, release, ready, 4.0))
    holder.start()
    holder.join()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    final = jobs(db)
    assert all(r["status"] == "done" and r["error"] is None for r in final)
    assert all(r["attempts"] == 1 for r in final)  # no result was thrown away and redone


def _small_file_limit(limit: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_full_disk_is_a_clear_error_and_loses_nothing(tmp_path: Path) -> None:
    cfg = write_study(tmp_path, seeds="[0]", subsets=1)
    assert cli(tmp_path, "run", str(cfg)).returncode == 0
    db = tmp_path / "out" / "results.sqlite"
    before = [tuple(r) for r in jobs(db)]
    text = cfg.read_text(encoding="utf-8").replace("subsets_per_stratum = 1",
                                                   "subsets_per_stratum = 60")
    cfg.write_text(text, encoding="utf-8")
    # files may not grow past their present size: the store cannot take the new jobs
    limit = max(db.stat().st_size, 64 * 1024)
    result = subprocess.run([NERCURVE, "run", str(cfg)], env=env(tmp_path), capture_output=True,
                            text=True, timeout=180, preexec_fn=lambda: _small_file_limit(limit))
    one_line_error(result, "cannot write")
    assert "free disk space" in result.stderr
    with Store(db) as store:
        assert store.counts()["done"] == len(before)
    assert [tuple(r) for r in jobs(db)][: len(before)] == before
    assert not list((tmp_path / "tmpdir").glob("nercurve-data-*"))


def test_a_disk_full_error_from_sqlite_names_the_fix(tmp_path: Path) -> None:
    with Store(tmp_path / "results.sqlite") as store:
        # a full disk, as SQLite sees it: the store's own connection may not grow the file
        pages = store._db.execute("PRAGMA page_count").fetchone()[0]
        store._db.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(StoreError) as err:
            store.set_meta("big", "x" * 100_000)
    assert "disk is full" in err.value.message and "free disk space" in (err.value.hint or "")


def test_a_worker_that_dies_before_its_first_job_is_replaced(tmp_path: Path) -> None:
    # the first worker spawned exits at once (idle); its replacement runs every job
    flag = tmp_path / "first-worker-died"
    launcher = tmp_path / "launch.py"
    launcher.write_text(
        "import os\n"
        "flag = os.environ['FIRST_WORKER_FLAG']\n"
        "if __name__ == '__mp_main__' and not os.path.exists(flag):\n"
        "    open(flag, 'w').close()\n"
        "    raise SystemExit(9)\n"
        "from nercurve.cli import main\n"
        "if __name__ == '__main__':\n"
        "    main()\n",
        encoding="utf-8",
    )
    cfg = write_study(tmp_path, seeds="[0]", workers=1)
    result = subprocess.run([sys.executable, str(launcher), "run", str(cfg)],
                            env=env(tmp_path, FIRST_WORKER_FLAG=str(flag)),
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert flag.exists()
    assert all(r["status"] == "done" for r in jobs(tmp_path / "out" / "results.sqlite"))


def test_a_worker_killed_by_a_signal_is_described_by_that_signal(tmp_path: Path) -> None:
    params = '{ signal_seeds = { 1 = "SIGSEGV", 2 = "SIGKILL" } }'
    cfg = write_study(tmp_path, backend_type=PLUGIN, params=params, seeds="[0, 1, 2]",
                      subsets=1, strata="[[1, 10]]", workers=1)
    result = cli(tmp_path, "run", str(cfg))
    assert result.returncode == 3, result.stderr
    by_seed = {r["seed"]: r for r in jobs(tmp_path / "out" / "results.sqlite")}
    assert by_seed[0]["status"] == "done"
    assert "crashed (SIGSEGV" in by_seed[1]["error"] and "memory" not in by_seed[1]["error"]
    assert "killed (SIGKILL" in by_seed[2]["error"] and "out-of-memory" in by_seed[2]["error"]
    status = cli(tmp_path, "status", str(tmp_path / "out"))
    assert "crashed (SIGSEGV" in status.stdout


def test_death_descriptions() -> None:
    assert death_description(3) == "exited with exit code 3"
    assert death_description(-signal.SIGTERM) == "was stopped by SIGTERM"
    assert "out-of-memory" in death_description(-signal.SIGKILL)
    assert death_description(-200) == "was stopped by signal 200"


def test_status_shows_the_whole_error_and_the_traceback_on_request(tmp_path: Path) -> None:
    params = "{ fail_seeds = [0] }"
    cfg = write_study(tmp_path, backend_type=PLUGIN, params=params, seeds="[0]", subsets=1,
                      strata="[[1, 10]]")
    assert cli(tmp_path, "run", str(cfg)).returncode == 3
    out = str(tmp_path / "out")
    short = cli(tmp_path, "status", out)
    assert "RuntimeError: deliberate failure on seed 0" in short.stdout
    assert "Traceback" not in short.stdout and "--traceback" in short.stdout
    full = cli(tmp_path, "status", out, "--traceback")
    assert "Traceback (most recent call last)" in full.stdout


def test_peak_memory_is_the_job_s_own(tmp_path: Path) -> None:
    params = "{ allocate_mb = { 0 = 400 } }"
    cfg = write_study(tmp_path, backend_type=PLUGIN, params=params, seeds="[0, 1]", subsets=2,
                      strata="[[1, 10]]", workers=1)
    assert cli(tmp_path, "run", str(cfg)).returncode == 0
    rows = jobs(tmp_path / "out" / "results.sqlite")
    big = [r["peak_mb"] for r in rows if r["seed"] == 0]
    small = [r["peak_mb"] for r in rows if r["seed"] == 1]
    # jobs alternate seeds in one worker: a small job after a big one reports its own peak
    assert min(big) > max(small) + 300


def test_stale_hand_over_files_of_live_runners_are_kept(tmp_path: Path) -> None:
    from nercurve.study.executors.local import remove_stale_data_files

    live = tmp_path / f"nercurve-data-{os.getpid()}-a.pickle"
    dead = tmp_path / "nercurve-data-999999999-b.pickle"
    for path in (live, dead):
        path.write_bytes(b"x")
    assert remove_stale_data_files(str(tmp_path)) == 1
    assert live.exists() and not dead.exists()
