"""One SQLite file per study: the design's subsets and one row per job.

A job row goes ``pending -> running -> done | failed``; a finished row is never
written again. Claiming a job is one ``BEGIN IMMEDIATE`` transaction, so two
processes on one study never run the same job. Each claim carries a fresh token;
a result is accepted only under the token that claimed it, so a job reclaimed
after its worker was presumed dead still ends with exactly one result.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nercurve.errors import ConfigError
from nercurve.study.design import Subset

STORE_NAME = "results.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS subsets (
    subset_id TEXT PRIMARY KEY,
    stratum TEXT NOT NULL,
    target INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    n_docs INTEGER NOT NULL,
    n_sentences INTEGER NOT NULL,
    n_tokens INTEGER NOT NULL,
    n_entities INTEGER NOT NULL,
    eps REAL NOT NULL,
    doc_ids TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    subset_id TEXT NOT NULL REFERENCES subsets(subset_id),
    backend TEXT NOT NULL,
    backend_type TEXT NOT NULL,
    params TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'running', 'done', 'failed')),
    claim TEXT,
    host TEXT,
    owner_pid INTEGER,
    worker_pid INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    started_at REAL,
    finished_at REAL,
    precision REAL,
    recall REAL,
    f1 REAL,
    dev_f1 REAL,
    per_label TEXT,
    steps INTEGER,
    best_step INTEGER,
    seconds REAL,
    peak_mb REAL,
    error TEXT,
    extra TEXT
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, position);
"""

#: Job columns added after the first release: (name, SQL type), added to older stores on open.
_ADDED_JOB_COLUMNS: tuple[tuple[str, str], ...] = (("extra", "TEXT"),)


@dataclass(frozen=True)
class JobSpec:
    """A job to insert: one subset trained by one backend arm with one seed."""

    job_id: str
    subset_id: str
    backend: str
    backend_type: str
    params: dict[str, Any]
    seed: int


@dataclass(frozen=True)
class ClaimedJob:
    """A job a worker has claimed, with what it needs to run."""

    job_id: str
    claim: str
    subset_id: str
    doc_ids: tuple[str, ...]
    backend: str
    backend_type: str
    params: dict[str, Any]
    seed: int


@dataclass(frozen=True)
class JobOutcome:
    """What a finished job measured."""

    precision: float
    recall: float
    f1: float
    per_label: dict[str, dict[str, float]]
    dev_f1: float | None
    steps: int
    best_step: int
    seconds: float
    peak_mb: float
    #: Other numbers the backend reported (training speed, answer diagnostics, ...).
    extra: dict[str, float] = field(default_factory=dict)


def pid_alive(pid: int) -> bool:
    """True when a process with this id exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Store:
    """A study's SQLite file. Open one per process; connections are not shared."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=60000")
            self._db.executescript(_SCHEMA)
            self._add_missing_columns()
        except sqlite3.DatabaseError as err:
            raise ConfigError(
                f"cannot open the study store: {err}",
                file=self.path,
                hint="the file is not a nercurve results store; choose another output folder",
            ) from None
        self._db.row_factory = sqlite3.Row

    def _add_missing_columns(self) -> None:
        """Bring a store written by an earlier version up to this schema (columns only)."""
        have = {row[1] for row in self._db.execute("PRAGMA table_info(jobs)")}
        for column, kind in _ADDED_JOB_COLUMNS:
            if column not in have:
                self._db.execute(f"ALTER TABLE jobs ADD COLUMN {column} {kind}")

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- meta ---------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        """A stored study-level value, or None."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["value"])

    def set_meta(self, key: str, value: str) -> None:
        """Store a study-level value."""
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # -- design and jobs ------------------------------------------------------
    def add_subsets(self, subsets: Iterable[Subset]) -> None:
        """Record subsets (ones already stored are kept as they are)."""
        rows = [
            (
                s.subset_id, s.stratum, s.target, s.content_hash, s.n_docs, s.n_sentences,
                s.n_tokens, s.n_entities, s.eps, json.dumps(list(s.doc_ids)),
            )
            for s in subsets
        ]
        with self._transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO subsets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
            )

    def add_jobs(self, jobs: Sequence[JobSpec]) -> int:
        """Insert jobs that are not stored yet; returns how many were new."""
        with self._transaction() as db:
            start = db.execute("SELECT COALESCE(MAX(position), -1) + 1 FROM jobs").fetchone()[0]
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO jobs(job_id, position, subset_id, backend, backend_type,"
                " params, seed) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        j.job_id, start + i, j.subset_id, j.backend, j.backend_type,
                        json.dumps(j.params, sort_keys=True), j.seed,
                    )
                    for i, j in enumerate(jobs)
                ],
            )
            return db.total_changes - before

    def recover_orphans(self) -> int:
        """Return to ``pending`` the running jobs whose owning process on this host is gone."""
        host = socket.gethostname()
        rows = self._db.execute(
            "SELECT job_id, owner_pid, worker_pid FROM jobs WHERE status = 'running' AND host = ?",
            (host,),
        ).fetchall()
        dead = [
            r["job_id"]
            for r in rows
            if not pid_alive(r["owner_pid"]) or not pid_alive(r["worker_pid"])
        ]
        return self.release(dead)

    def release(self, job_ids: Sequence[str]) -> int:
        """Put running jobs back to ``pending`` (their claims become void)."""
        if not job_ids:
            return 0
        with self._transaction() as db:
            before = db.total_changes
            db.executemany(
                "UPDATE jobs SET status = 'pending', claim = NULL, worker_pid = NULL,"
                " owner_pid = NULL, started_at = NULL WHERE job_id = ? AND status = 'running'",
                [(j,) for j in job_ids],
            )
            return db.total_changes - before

    def retry_failed(self) -> int:
        """Put failed jobs back to ``pending``."""
        with self._transaction() as db:
            before = db.total_changes
            db.execute(
                "UPDATE jobs SET status = 'pending', claim = NULL, error = NULL"
                " WHERE status = 'failed'"
            )
            return db.total_changes - before

    def claim(self, owner_pid: int, worker_pid: int) -> ClaimedJob | None:
        """Atomically take the next pending job, or None when there is none."""
        token = uuid.uuid4().hex
        with self._transaction() as db:
            row = db.execute(
                "SELECT j.job_id, j.subset_id, j.backend, j.backend_type, j.params, j.seed,"
                " s.doc_ids FROM jobs j JOIN subsets s USING (subset_id)"
                " WHERE j.status = 'pending' ORDER BY j.position LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE jobs SET status = 'running', claim = ?, host = ?, owner_pid = ?,"
                " worker_pid = ?, started_at = ?, attempts = attempts + 1 WHERE job_id = ?",
                (token, socket.gethostname(), owner_pid, worker_pid, time.time(), row["job_id"]),
            )
        return ClaimedJob(
            job_id=row["job_id"],
            claim=token,
            subset_id=row["subset_id"],
            doc_ids=tuple(json.loads(row["doc_ids"])),
            backend=row["backend"],
            backend_type=row["backend_type"],
            params=json.loads(row["params"]),
            seed=int(row["seed"]),
        )

    def finish(self, job: ClaimedJob, outcome: JobOutcome) -> bool:
        """Record a result under the job's claim; False when the claim was voided meanwhile."""
        with self._transaction() as db:
            cur = db.execute(
                "UPDATE jobs SET status = 'done', finished_at = ?, precision = ?, recall = ?,"
                " f1 = ?, dev_f1 = ?, per_label = ?, steps = ?, best_step = ?, seconds = ?,"
                " peak_mb = ?, extra = ?, error = NULL"
                " WHERE job_id = ? AND claim = ? AND status = 'running'",
                (
                    time.time(), outcome.precision, outcome.recall, outcome.f1, outcome.dev_f1,
                    json.dumps(outcome.per_label, sort_keys=True), outcome.steps,
                    outcome.best_step, outcome.seconds, outcome.peak_mb,
                    json.dumps(outcome.extra, sort_keys=True), job.job_id, job.claim,
                ),
            )
            return cur.rowcount == 1

    def fail(self, job_id: str, claim: str | None, error: str) -> bool:
        """Record a failure under the job's claim (any claim when ``claim`` is None)."""
        sql = (
            "UPDATE jobs SET status = 'failed', finished_at = ?, error = ?,"
            " seconds = ? - started_at WHERE job_id = ? AND status = 'running'"
        )
        now = time.time()
        args: tuple[Any, ...] = (now, error, now, job_id)
        if claim is not None:
            sql += " AND claim = ?"
            args += (claim,)
        with self._transaction() as db:
            return db.execute(sql, args).rowcount == 1

    # -- reading ------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Number of jobs in each status."""
        out = {"pending": 0, "running": 0, "done": 0, "failed": 0}
        for row in self._db.execute("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status"):
            out[row["status"]] = int(row["n"])
        return out

    def running_jobs(self, owner_pid: int) -> list[sqlite3.Row]:
        """Jobs this run process's workers hold: job_id, claim, worker_pid, started_at."""
        return self._db.execute(
            "SELECT job_id, claim, worker_pid, started_at FROM jobs"
            " WHERE status = 'running' AND owner_pid = ? AND host = ?",
            (owner_pid, socket.gethostname()),
        ).fetchall()

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Run a read-only query (for reports and status)."""
        return self._db.execute(sql, args).fetchall()


def open_store(study_dir: str | Path, *, must_exist: bool = True) -> Store:
    """The store of a study folder; a clear error when the folder holds no study."""
    path = Path(study_dir) / STORE_NAME
    if must_exist and not path.is_file():
        raise ConfigError(
            f"no study results in {study_dir}",
            file=path,
            hint="pass the output folder of `nercurve run` (it holds results.sqlite)",
        )
    return Store(path)


_RESULT_COLUMNS = (
    "job_id", "subset_id", "stratum", "backend", "backend_type", "seed", "n_docs",
    "n_sentences", "n_tokens", "n_entities", "eps", "status", "precision", "recall", "f1",
    "dev_f1", "steps", "best_step", "seconds", "peak_mb", "error",
)


def results_frame(study_dir: str | Path, *, include_failed: bool = False) -> Any:
    """One row per finished job (a pandas DataFrame), with subset descriptors and per-label F1.

    Columns: job_id, subset_id, stratum, backend, backend_type, seed, n_docs, n_sentences,
    n_tokens, n_entities, eps, status, precision, recall, f1, dev_f1, steps, best_step,
    seconds, peak_mb, error, then ``f1_<LABEL>`` for each label, then the numbers the backend
    reported (``JobOutcome.extra``) under their own names.
    """
    import pandas as pd

    statuses = ("done", "failed") if include_failed else ("done",)
    with open_store(study_dir) as store:
        rows = store.query(
            "SELECT j.job_id, j.subset_id, s.stratum, j.backend, j.backend_type, j.seed,"
            " s.n_docs, s.n_sentences, s.n_tokens, s.n_entities, s.eps, j.status, j.precision,"
            " j.recall, j.f1, j.dev_f1, j.steps, j.best_step, j.seconds, j.peak_mb, j.error,"
            " j.per_label, j.extra FROM jobs j JOIN subsets s USING (subset_id)"
            f" WHERE j.status IN ({', '.join('?' * len(statuses))}) ORDER BY j.position",
            statuses,
        )
    records = []
    for row in rows:
        record = {k: row[k] for k in _RESULT_COLUMNS}
        for label, scores in sorted(json.loads(row["per_label"] or "{}").items()):
            record[f"f1_{label}"] = scores["f1"]
        for key, value in sorted(json.loads(row["extra"] or "{}").items()):
            record[key if key not in record else f"extra_{key}"] = value
        records.append(record)
    return pd.DataFrame.from_records(records, columns=None if records else list(_RESULT_COLUMNS))
