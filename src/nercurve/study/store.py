"""One SQLite file per study: the design's subsets and one row per job.

A job row goes ``pending -> running -> done | failed``; a finished row is never
written again. Claiming a job is one ``BEGIN IMMEDIATE`` transaction, so two
processes on one study never run the same job. Each claim carries a fresh token;
a result is accepted only under the token that claimed it, so a job reclaimed
after its worker was presumed dead still ends with exactly one result.

A running job holds a *lease* that its runner renews while it lives. A job whose
lease has expired belongs to a runner that is gone (killed, or on a container or
node that no longer exists) and returns to ``pending`` on the next run, whatever
host it ran on.

Only the jobs of the current config are *active*: the runner marks them so on every
run, and claims, counts and results see active jobs only. Jobs a config no longer
names stay in the file (``status`` lists them). Rows set aside after an explicit
``--drop-changed`` keep their data under an id with an ``~archived`` suffix.

Every SQLite failure reaches the caller as a :class:`~nercurve.errors.StoreError`
that says what happened and what to do (damaged file, lock held by another process,
full disk), never as a raw ``sqlite3`` exception.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from nercurve.errors import ConfigError, StoreError, StoreLockedError
from nercurve.study.design import Subset

if TYPE_CHECKING:
    from nercurve.tasks import Task

STORE_NAME = "results.sqlite"

#: How long a claimed job stays owned without its runner renewing the lease (seconds).
LEASE_S = 120.0
#: How long a store file of 0 bytes may take to get its first page before it counts as empty.
EMPTY_GRACE_S = 1.0

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
    doc_ids TEXT NOT NULL,
    classes TEXT,
    minority_share REAL,
    selection TEXT,
    selection_rounds INTEGER,
    selection_seconds REAL,
    selection_runs INTEGER,
    selection_params TEXT
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
    extra TEXT,
    owner TEXT,
    lease_until REAL,
    active INTEGER NOT NULL DEFAULT 1,
    archived TEXT,
    stop_reason TEXT,
    f1_ci_low REAL,
    f1_ci_high REAL,
    doc_counts TEXT
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, position);
"""

#: Job columns added after the first release: (name, SQL type), added to older stores on open.
_ADDED_JOB_COLUMNS: tuple[tuple[str, str], ...] = (
    ("extra", "TEXT"),
    ("owner", "TEXT"),
    ("lease_until", "REAL"),
    ("active", "INTEGER NOT NULL DEFAULT 1"),
    ("archived", "TEXT"),
    ("stop_reason", "TEXT"),
    ("f1_ci_low", "REAL"),
    ("f1_ci_high", "REAL"),
    ("doc_counts", "TEXT"),
)

#: The meta key of a multi-corpus study's arms (:meth:`Store.arm_trainings`).
ARM_TRAININGS = "arm_trainings"

#: Subset columns added after the first release (classification descriptors: documents per
#: class as JSON, the minority-class share; how the subset was selected and what selecting
#: it cost, NULL for a random subset), added to older stores on open.
_ADDED_SUBSET_COLUMNS: tuple[tuple[str, str], ...] = (
    ("classes", "TEXT"),
    ("minority_share", "REAL"),
    ("selection", "TEXT"),
    ("selection_rounds", "INTEGER"),
    ("selection_seconds", "REAL"),
    ("selection_runs", "INTEGER"),
    ("selection_params", "TEXT"),
)
_SUBSET_FIELDS = ("subset_id, stratum, target, content_hash, n_docs, n_sentences, n_tokens,"
                  " n_entities, eps, doc_ids, classes, minority_share, selection,"
                  " selection_rounds, selection_seconds, selection_runs, selection_params")
#: The selection columns of :func:`results_frame` (after ``stratum``), with their values
#: for a random subset.
SELECTION_COLUMNS: dict[str, Any] = {"selection": "random", "selection_rounds": 0,
                                     "selection_seconds": 0.0, "selection_runs": 0}

#: (text in SQLite's message, what it means, what to do), first match wins.
_SQLITE_PROBLEMS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (
        ("malformed", "not a database", "file is encrypted"),
        "the study store is damaged ({err})",
        "restore results.sqlite from a backup, or salvage it with `sqlite3 results.sqlite "
        "'.recover' | sqlite3 recovered.sqlite` and move the recovered file into its place; "
        "to start over, choose a new output folder",
    ),
    (
        ("locked", "busy"),
        "the study store is locked by another process ({err})",
        "close whatever holds it open for writing (an sqlite3 shell or database browser with "
        "an open transaction, a stuck nercurve process) and run the command again; "
        "finished results are kept",
    ),
    (
        ("disk is full", "disk i/o error"),
        "cannot write the study store: {err}",
        "free disk space on the output folder's file system and run the same command again; "
        "finished results are kept",
    ),
    (
        ("readonly", "read-only"),
        "the study store is read-only ({err})",
        "run with write access to the output folder, or copy the study to a writable place",
    ),
)


def store_error(err: sqlite3.Error, path: Path) -> StoreError:
    """The project error for a SQLite failure on the store at ``path``."""
    text = str(err)
    for needles, message, hint in _SQLITE_PROBLEMS:
        if any(n in text.lower() for n in needles):
            kind = StoreLockedError if needles[0] == "locked" else StoreError
            return kind(message.format(err=text), file=path, hint=hint)
    return StoreError(
        f"the study store failed: {text}", file=path,
        hint="check the file and the disk, then run the same command again",
    )


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _guarded(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """Turn a store method's SQLite failures into :class:`StoreError`."""

    @functools.wraps(method)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(*args, **kwargs)
        except sqlite3.Error as err:
            raise store_error(err, args[0].path) from None  # type: ignore[attr-defined]

    return wrapper


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
    #: Other numbers the backend reported (training speed, the schedule in force, answer
    #: diagnostics, ...).
    extra: dict[str, float] = field(default_factory=dict)
    #: Why training stopped (``patience``, ``noise``, ``max_steps``, ``data``; ``None``: the
    #: backend does not say).
    stop_reason: str | None = None
    #: The test-set bootstrap interval of ``f1`` (over test documents) and the per-document
    #: counts it was computed from, in test order (:mod:`nercurve.tasks.doc_scores`).
    f1_ci_low: float | None = None
    f1_ci_high: float | None = None
    doc_counts: list[list[int]] | None = None


def pid_alive(pid: int) -> bool:
    """True when a process with this id exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _env_seconds(name: str, default: float) -> float:
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise ConfigError(f"{name} must be a number of seconds, not {text!r}",
                          hint=f"unset {name} or set it to e.g. 30")
    return value


def _empty_file(path: Path, grace_s: float = EMPTY_GRACE_S) -> bool:
    """True when ``path`` is a file of 0 bytes that stays so for ``grace_s`` seconds: SQLite
    creates a store's file a moment before it writes the first page, and a second runner or
    ``status`` that opens the study in that moment must not call it lost."""
    deadline = time.monotonic() + grace_s
    while path.is_file() and path.stat().st_size == 0:
        if time.monotonic() >= deadline:
            return True
        time.sleep(0.02)
    return False


def runner_gone(row: Any, now: float, host: str) -> bool:
    """True when the runner that holds a running job (a row with ``lease_until``, ``host``,
    ``owner_pid`` and ``worker_pid``) no longer exists: its lease expired, or it ran on
    this host and its process is gone."""
    if row["lease_until"] is None or row["lease_until"] < now:
        return True
    return row["host"] == host and not (
        pid_alive(row["owner_pid"]) and pid_alive(row["worker_pid"] or row["owner_pid"])
    )


class Store:
    """A study's SQLite file. Open one per process; connections are not shared.

    ``lock_timeout_s`` is how long a statement waits for another process's write lock
    before a :class:`~nercurve.errors.StoreLockedError` (default: the environment's
    ``NERCURVE_LOCK_TIMEOUT`` in seconds, else 30).
    """

    def __init__(self, path: str | Path, *, lock_timeout_s: float | None = None) -> None:
        self.path = Path(path)
        if lock_timeout_s is None:
            lock_timeout_s = _env_seconds("NERCURVE_LOCK_TIMEOUT", 30.0)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreError(f"cannot create the study folder: {err.strerror}",
                             file=self.path.parent) from None
        if _empty_file(self.path):
            raise StoreError(
                "the study store is an empty file (0 bytes): its results are gone or it was "
                "never written",
                file=self.path,
                hint="restore it from a backup; to start the study afresh, delete the empty "
                "file or choose a new output folder",
            )
        try:
            self._db = sqlite3.connect(self.path, timeout=lock_timeout_s, isolation_level=None)
            self._db.execute(f"PRAGMA busy_timeout={int(lock_timeout_s * 1000)}")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._add_missing_columns()
            check = self._db.execute("PRAGMA quick_check(1)").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(f"database disk image is malformed: {check}")
        except sqlite3.Error as err:
            raise store_error(err, self.path) from None
        self._db.row_factory = sqlite3.Row

    def _add_missing_columns(self) -> None:
        """Bring a store written by an earlier version up to this schema (columns only)."""
        for table, added in (("jobs", _ADDED_JOB_COLUMNS), ("subsets", _ADDED_SUBSET_COLUMNS)):
            have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            for column, kind in added:
                if column not in have:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

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
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- meta ---------------------------------------------------------------
    @_guarded
    def get_meta(self, key: str) -> str | None:
        """A stored study-level value, or None."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["value"])

    def task(self) -> Task:
        """The study's task, as the meta records it (``task``, ``metric``; a store from
        before tasks were recorded is an NER study's)."""
        from nercurve.tasks import task_of_meta

        return task_of_meta({k: self.get_meta(k) for k in ("task", "metric")})

    @_guarded
    def set_meta(self, key: str, value: str) -> None:
        """Store a study-level value."""
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def arm_trainings(self) -> dict[str, tuple[str, str]]:
        """A multi-corpus study's arms: ``{arm: (training, base_backend)}`` with training
        ``"single"`` or ``"multi"``; empty for a study of one corpus."""
        stored = json.loads(self.get_meta(ARM_TRAININGS) or "{}")
        return {arm: (training, base) for arm, (training, base) in stored.items()}

    def set_arm_trainings(self, arms: dict[str, tuple[str, str]]) -> None:
        """Record (add to) the training and backend entry of a multi-corpus study's arms."""
        self.set_meta(ARM_TRAININGS, json.dumps({**self.arm_trainings(), **arms},
                                                sort_keys=True))

    # -- design and jobs ------------------------------------------------------
    @_guarded
    def add_subsets(self, subsets: Iterable[Subset]) -> None:
        """Record subsets (ones already stored are kept as they are)."""
        rows = [
            (
                s.subset_id, s.stratum, s.target, s.content_hash, s.n_docs, s.n_sentences,
                s.n_tokens, s.n_entities, s.eps, json.dumps(list(s.doc_ids)),
                json.dumps(dict(s.classes)) if s.classes else None,
                s.minority_share if s.classes else None,
                *((s.selection, s.selection_rounds, s.selection_seconds, s.selection_runs,
                   s.selection_params) if s.selection != "random" else (None,) * 5),
            )
            for s in subsets
        ]
        with self._transaction() as db:
            db.executemany(
                f"INSERT OR IGNORE INTO subsets ({_SUBSET_FIELDS}) VALUES"
                f" ({', '.join('?' * 17)})", rows
            )

    @_guarded
    def add_jobs(self, jobs: Sequence[JobSpec]) -> int:
        """Insert jobs that are not stored yet and make exactly these jobs the active ones;
        returns how many were new."""
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
            added = db.total_changes - before
            db.execute("CREATE TEMP TABLE IF NOT EXISTS planned (job_id TEXT PRIMARY KEY)")
            db.execute("DELETE FROM planned")
            db.executemany("INSERT OR IGNORE INTO planned VALUES (?)", [(j.job_id,) for j in jobs])
            db.execute(
                "UPDATE jobs SET active = (job_id IN (SELECT job_id FROM planned))"
                " WHERE active != (job_id IN (SELECT job_id FROM planned))"
            )
            return added

    @_guarded
    def archive(
        self, *, backends: dict[str, tuple[str, dict[str, Any]]] | None = None, reason: str
    ) -> int:
        """Set rows aside: with ``backends`` (name -> the type and parameters to keep), the
        active jobs of those arms that were run with other settings; without, every job and
        subset (the corpus or design changed).

        The rows are kept under an ``~archived-<token>`` id suffix, inactive and with
        ``reason``; they never count as results again. Returns how many jobs moved.
        """
        suffix = f"~archived-{uuid.uuid4().hex[:8]}"
        moved = 0
        with self._transaction() as db:
            if backends is None:
                db.execute(
                    f"INSERT INTO subsets ({_SUBSET_FIELDS}) SELECT subset_id || ?,"
                    f" {_SUBSET_FIELDS.partition(', ')[2]} FROM subsets"
                    " WHERE subset_id NOT LIKE '%~archived-%'", (suffix,),
                )
                moved = db.execute(
                    "UPDATE jobs SET job_id = job_id || ?1, subset_id = subset_id || ?1,"
                    " archived = ?2, active = 0 WHERE archived IS NULL", (suffix, reason),
                ).rowcount
                db.execute("DELETE FROM subsets WHERE subset_id NOT LIKE '%~archived-%'")
            for name, (kind, params) in (backends or {}).items():
                moved += db.execute(
                    "UPDATE jobs SET job_id = job_id || ?, archived = ?, active = 0"
                    " WHERE archived IS NULL AND backend = ? AND (backend_type != ?"
                    " OR params != ?)",
                    (suffix, reason, name, kind, json.dumps(params, sort_keys=True)),
                ).rowcount
            db.execute(
                "UPDATE jobs SET status = 'pending', claim = NULL, lease_until = NULL"
                " WHERE archived IS NOT NULL AND status = 'running'"
            )
        return moved

    @_guarded
    def arm_definitions(self) -> dict[str, list[dict[str, Any]]]:
        """The settings (type and parameters) each arm's active jobs were stored with."""
        out: dict[str, list[dict[str, Any]]] = {}
        for row in self._db.execute(
            "SELECT DISTINCT backend, backend_type, params FROM jobs WHERE active = 1"
        ):
            out.setdefault(row["backend"], []).append(
                {"type": row["backend_type"], "params": json.loads(row["params"])}
            )
        return out

    @_guarded
    def recover_orphans(self) -> int:
        """Return to ``pending`` the running jobs whose runner is gone.

        A runner is gone when its lease has expired (any host), or when it ran on this
        host and its process no longer exists.
        """
        host, now = socket.gethostname(), time.time()
        rows = self._db.execute(
            "SELECT job_id, host, owner_pid, worker_pid, lease_until FROM jobs"
            " WHERE status = 'running'"
        ).fetchall()
        return self.release([r["job_id"] for r in rows if runner_gone(r, now, host)])

    @_guarded
    def release(self, job_ids: Sequence[str]) -> int:
        """Put running jobs back to ``pending`` (their claims become void)."""
        if not job_ids:
            return 0
        with self._transaction() as db:
            before = db.total_changes
            db.executemany(
                "UPDATE jobs SET status = 'pending', claim = NULL, worker_pid = NULL,"
                " owner_pid = NULL, owner = NULL, lease_until = NULL, started_at = NULL"
                " WHERE job_id = ? AND status = 'running'",
                [(j,) for j in job_ids],
            )
            return db.total_changes - before

    @_guarded
    def retry_failed(self) -> int:
        """Put the failed active jobs back to ``pending``."""
        with self._transaction() as db:
            before = db.total_changes
            db.execute(
                "UPDATE jobs SET status = 'pending', claim = NULL, error = NULL"
                " WHERE status = 'failed' AND active = 1"
            )
            return db.total_changes - before

    @_guarded
    def claim(self, owner: str, owner_pid: int, worker_pid: int) -> ClaimedJob | None:
        """Atomically take the next pending active job for runner ``owner``, or None."""
        token = uuid.uuid4().hex
        with self._transaction() as db:
            row = db.execute(
                "SELECT j.job_id, j.subset_id, j.backend, j.backend_type, j.params, j.seed,"
                " s.doc_ids FROM jobs j JOIN subsets s USING (subset_id)"
                " WHERE j.status = 'pending' AND j.active = 1 ORDER BY j.position LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            now = time.time()
            db.execute(
                "UPDATE jobs SET status = 'running', claim = ?, host = ?, owner = ?,"
                " owner_pid = ?, worker_pid = ?, started_at = ?, lease_until = ?,"
                " attempts = attempts + 1 WHERE job_id = ?",
                (token, socket.gethostname(), owner, owner_pid, worker_pid, now,
                 now + LEASE_S, row["job_id"]),
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

    @_guarded
    def renew_leases(self, owner: str) -> int:
        """Extend the leases of every job runner ``owner`` holds; returns how many."""
        with self._transaction() as db:
            return db.execute(
                "UPDATE jobs SET lease_until = ? WHERE status = 'running' AND owner = ?",
                (time.time() + LEASE_S, owner),
            ).rowcount

    @_guarded
    def finish(self, job: ClaimedJob, outcome: JobOutcome) -> bool:
        """Record a result under the job's claim; False when the claim was voided meanwhile."""
        with self._transaction() as db:
            cur = db.execute(
                "UPDATE jobs SET status = 'done', finished_at = ?, precision = ?, recall = ?,"
                " f1 = ?, dev_f1 = ?, per_label = ?, steps = ?, best_step = ?, seconds = ?,"
                " peak_mb = ?, extra = ?, stop_reason = ?, f1_ci_low = ?, f1_ci_high = ?,"
                " doc_counts = ?, error = NULL, lease_until = NULL"
                " WHERE job_id = ? AND claim = ? AND status = 'running'",
                (
                    time.time(), outcome.precision, outcome.recall, outcome.f1, outcome.dev_f1,
                    json.dumps(outcome.per_label, sort_keys=True), outcome.steps,
                    outcome.best_step, outcome.seconds, outcome.peak_mb,
                    json.dumps(outcome.extra, sort_keys=True), outcome.stop_reason,
                    outcome.f1_ci_low, outcome.f1_ci_high,
                    None if outcome.doc_counts is None
                    else json.dumps(outcome.doc_counts, separators=(",", ":")),
                    job.job_id, job.claim,
                ),
            )
            return cur.rowcount == 1

    @_guarded
    def fail(self, job_id: str, claim: str | None, error: str) -> bool:
        """Record a failure under the job's claim (any claim when ``claim`` is None)."""
        sql = (
            "UPDATE jobs SET status = 'failed', finished_at = ?, error = ?, lease_until = NULL,"
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
    @_guarded
    def counts(self) -> dict[str, int]:
        """Number of active jobs in each status."""
        out = {"pending": 0, "running": 0, "done": 0, "failed": 0}
        for row in self._db.execute(
            "SELECT status, COUNT(*) AS n FROM jobs WHERE active = 1 GROUP BY status"
        ):
            out[row["status"]] = int(row["n"])
        return out

    @_guarded
    def running_jobs(self, owner: str) -> list[sqlite3.Row]:
        """Jobs runner ``owner``'s workers hold: job_id, claim, worker_pid, started_at."""
        return self._db.execute(
            "SELECT job_id, claim, worker_pid, started_at FROM jobs"
            " WHERE status = 'running' AND owner = ?",
            (owner,),
        ).fetchall()

    @_guarded
    def first_outcomes(self, arms: Collection[str]) -> dict[str, dict[str, float]]:
        """For each of ``arms`` with a finished active job, what its earliest-finished job
        reported beside the scores (``JobOutcome.extra``: e.g. its GPU memory peak)."""
        names = sorted(arms)
        # SQLite takes the bare columns of an aggregate query from the row MIN() picks
        rows = self._db.execute(
            "SELECT backend, extra, MIN(finished_at) FROM jobs WHERE status = 'done'"
            f" AND active = 1 AND backend IN ({', '.join('?' * len(names))}) GROUP BY backend",
            names,
        )
        return {row["backend"]: json.loads(row["extra"] or "{}") for row in rows}

    @_guarded
    def arms_with_work(self) -> set[str]:
        """The arms with active jobs still pending or running."""
        return {row[0] for row in self._db.execute(
            "SELECT DISTINCT backend FROM jobs WHERE status IN ('pending', 'running')"
            " AND active = 1")}

    @_guarded
    def job_states(self) -> list[dict[str, Any]]:
        """Every active job's arm, status, seconds and holder (host, owner_pid, worker_pid,
        lease_until): what ``status`` counts and checks for runners that are gone."""
        return self._rows(
            "SELECT backend, status, seconds, host, owner_pid, worker_pid, lease_until"
            " FROM jobs WHERE active = 1"
        )

    @_guarded
    def failures(self, limit: int) -> list[dict[str, Any]]:
        """The last ``limit`` failed active jobs, latest first: job_id, backend, subset_id,
        error."""
        return self._rows(
            "SELECT job_id, backend, subset_id, error FROM jobs WHERE status = 'failed'"
            " AND active = 1 ORDER BY finished_at DESC LIMIT ?",
            (limit,),
        )

    @_guarded
    def inactive_counts(self) -> dict[str, int]:
        """Stored jobs per arm that the current config no longer names (not archived)."""
        return {row["backend"]: int(row["n"]) for row in self._db.execute(
            "SELECT backend, COUNT(*) AS n FROM jobs WHERE active = 0 AND archived IS NULL"
            " GROUP BY backend ORDER BY backend"
        )}

    @_guarded
    def archived_count(self) -> int:
        """Jobs set aside by ``--drop-changed``."""
        return int(self._db.execute(
            "SELECT COUNT(*) FROM jobs WHERE archived IS NOT NULL").fetchone()[0])

    @_guarded
    def finished_jobs(self, *, include_failed: bool = False) -> list[dict[str, Any]]:
        """The finished active jobs in plan order, each with its subset's descriptors: the
        job's columns (params, per_label, extra and doc_counts as stored JSON text,
        stop_reason, f1_ci_low, f1_ci_high),
        subset_id, stratum,
        n_docs, n_sentences, n_tokens, n_entities, eps, classes (JSON), minority_share and
        the selection columns (NULL for a random subset).
        Done jobs only, unless ``include_failed``."""
        statuses = ("done", "failed") if include_failed else ("done",)
        return self._rows(
            "SELECT j.job_id, j.backend, j.backend_type, j.params, j.seed, j.status,"
            " j.attempts, j.started_at, j.finished_at, j.precision, j.recall, j.f1, j.dev_f1,"
            " j.steps, j.best_step, j.seconds, j.peak_mb, j.error, j.per_label, j.extra,"
            " j.stop_reason, j.f1_ci_low, j.f1_ci_high, j.doc_counts,"
            " s.subset_id, s.stratum, s.n_docs, s.n_sentences, s.n_tokens, s.n_entities,"
            " s.eps, s.classes, s.minority_share, s.selection, s.selection_rounds,"
            " s.selection_seconds, s.selection_runs"
            " FROM jobs j JOIN subsets s USING (subset_id)"
            f" WHERE j.active = 1 AND j.status IN ({', '.join('?' * len(statuses))})"
            " ORDER BY j.position",
            statuses,
        )

    @_guarded
    def subset_rows(self) -> list[dict[str, Any]]:
        """Every stored subset's descriptors in the order stored: subset_id, stratum, n_docs,
        n_sentences, n_tokens, n_entities, eps, classes (JSON or None) and minority_share."""
        return self._rows(
            "SELECT subset_id, stratum, n_docs, n_sentences, n_tokens, n_entities, eps,"
            " classes, minority_share FROM subsets ORDER BY rowid"
        )

    @_guarded
    def subsets(self, subset_ids: Sequence[str]) -> list[Subset]:
        """The stored subsets with these ids, in this order (ids not stored are left out)."""
        wanted = set(subset_ids)
        rows = {row["subset_id"]: row for row in self._db.execute(
            f"SELECT {_SUBSET_FIELDS} FROM subsets") if row["subset_id"] in wanted}
        return [_subset(rows[s]) for s in subset_ids if s in rows]

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        return [dict(row) for row in self._db.execute(sql, args)]


def _subset(row: sqlite3.Row) -> Subset:
    """A subset as :meth:`Store.add_subsets` stored it."""
    return Subset(subset_id=row["subset_id"], stratum=row["stratum"], target=row["target"],
                  doc_ids=tuple(json.loads(row["doc_ids"])), n_docs=row["n_docs"],
                  n_sentences=row["n_sentences"], n_tokens=row["n_tokens"],
                  n_entities=row["n_entities"],
                  classes=tuple(json.loads(row["classes"] or "{}").items()),
                  selection=row["selection"] or "random",
                  selection_rounds=row["selection_rounds"] or 0,
                  selection_seconds=row["selection_seconds"] or 0.0,
                  selection_runs=row["selection_runs"] or 0,
                  selection_params=row["selection_params"])


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


def params_digest(backend_type: str, params: dict[str, Any]) -> str:
    """A short digest of an arm's type and validated parameters (the ``params_digest``
    column): two rows with the same digest were trained with the same settings."""
    key = json.dumps({"type": backend_type, "params": params}, sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:10]


def results_frame(study_dir: str | Path, *, include_failed: bool = False) -> Any:
    """One row per finished job of the current config (a pandas DataFrame), with subset
    descriptors and per-label F1. Jobs the config no longer names are left out.

    Columns: job_id, subset_id, stratum, selection (the subset's strategy: ``random``,
    ``uncertainty`` or ``diversity``), selection_rounds, selection_seconds and
    selection_runs (the rounds, training or embedding seconds and training runs its
    selection took; 0 for a random subset), backend, backend_type, params_digest, seed, n_docs,
    n_sentences, n_tokens, n_entities, eps, status, precision, recall, f1, dev_f1, steps, best_step,
    seconds, peak_mb, error, stop_reason (why training stopped; empty where the backend does not
    say), f1_ci_low and f1_ci_high (the test-set bootstrap interval of f1), doc_counts (the
    per-test-document counts it comes from, as JSON; empty for jobs stored before), then
    ``f1_<LABEL>`` for each label, then the numbers the backend reported
    (``JobOutcome.extra``: e.g. the schedule in force, ``eval_every_steps`` and
    ``patience_steps``) under their own names.

    The study's task (in the store's meta) gives the columns: a classification study has
    minority_share in place of n_entities and eps, ``metric`` (the outcome ``f1`` holds:
    macro_f1, micro_f1 or accuracy), ``share_<CLASS>`` (the subset's share of documents
    carrying each class) before ``f1_<CLASS>``, and accuracy, macro_f1 and micro_f1 among
    the reported numbers (:attr:`nercurve.tasks.Task.result_columns`).

    A multi-corpus study (``[[corpora]]``) adds ``training`` (``single`` or ``multi``) and
    ``base_backend`` (the backend entry: ``X`` for both ``X`` and ``X+multi``) after
    ``backend``; f1, precision and recall are on the target's test set, each auxiliary and
    test-only corpus's among the reported numbers as ``f1_<name>``, ``precision_<name>``
    and ``recall_<name>``.
    """
    import pandas as pd

    with open_store(study_dir) as store:
        task = store.task()
        rows = store.finished_jobs(include_failed=include_failed)
        trainings = store.arm_trainings()
    at = task.result_columns.index("stratum") + 1
    columns = (*task.result_columns[:at], *SELECTION_COLUMNS, *task.result_columns[at:])
    if trainings:
        at = columns.index("backend") + 1
        columns = (*columns[:at], "training", "base_backend", *columns[at:])
    records = []
    for row in rows:
        named = {"params_digest": params_digest(row["backend_type"], json.loads(row["params"])),
                 "metric": task.metric,
                 **{k: default if row[k] is None else row[k]
                    for k, default in SELECTION_COLUMNS.items()}}
        if trainings:
            named["training"], named["base_backend"] = trainings.get(
                row["backend"], ("single", row["backend"]))
        record = {k: named[k] if k in named else row[k] for k in columns}
        record.update(task.result_extra(row))
        for label, scores in sorted(json.loads(row["per_label"] or "{}").items()):
            record[f"f1_{label}"] = scores["f1"]
        for key, value in sorted(json.loads(row["extra"] or "{}").items()):
            record[key if key not in record else f"extra_{key}"] = value
        records.append(record)
    return pd.DataFrame.from_records(records, columns=None if records else list(columns))
