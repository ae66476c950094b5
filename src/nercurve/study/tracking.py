"""MLflow tracking of a study: one parent run per study, one child run per finished job.

Tracking reads the study store and mirrors it into MLflow, so it needs nothing from the
executors and can be repeated: a job already logged (same job id and finish time) is not
logged again, a job finished since is added, and a failed job run again gets a second
child run. The parent run is found again by the study folder it carries as a tag.

A child run holds the job's parameters (arm, backend type, seed, subset, the arm's
validated parameters as ``param.<key>``), the subset's statistics and the scores as
metrics (``n_sentences``, ``eps``, ``precision``, ``recall``, ``f1``, ``dev_f1``,
``f1_<LABEL>``, what the backend reported; for classification ``minority_share`` and
``docs_<CLASS>``, the subset's documents per class, instead of the entity counts), its
timing (``seconds``, ``peak_mb``, ``steps``, ``best_step``; start and end times are the
job's own) and, when it failed, its error as the tag ``nercurve.error``. The parent holds
the study's files (config, design, corpus statistics, split, ``results.csv``) and any other
files given, such as the report and its ``<report>_files`` folder of figures and tables.

The default store is SQLite in the study folder (``mlflow.db``; artifacts in
``mlartifacts/``): no server and no network.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nercurve.errors import ConfigError
from nercurve.study.store import open_store, results_frame

#: Files of a study folder logged as artifacts of the parent run (when present).
STUDY_FILES = ("study.toml", "study.json", "design.csv", "corpus_stats.json", "split.json")

_TAG_STUDY = "nercurve.study_dir"
_TAG_JOB = "nercurve.job_id"
_TAG_FINISHED = "nercurve.finished_at"
_PARENT = "mlflow.parentRunId"

#: MLflow's limits per ``log_batch`` call.
_MAX_PARAMS, _MAX_METRICS = 100, 1000


@dataclass(frozen=True)
class Tracked:
    """What one tracking pass did."""

    uri: str
    experiment_id: str
    parent_run_id: str
    logged: int
    already: int


def default_uri(study_dir: Path) -> str:
    """The SQLite store in the study folder."""
    return f"sqlite:///{(Path(study_dir) / 'mlflow.db').resolve()}"


def stored_tracking(study_dir: Path) -> dict[str, Any]:
    """The tracking section of the config a study was last run with (its ``study.json``;
    empty when unknown)."""
    try:
        return dict(json.loads((Path(study_dir) / "study.json").read_text(encoding="utf-8"))
                    .get("tracking") or {})
    except (OSError, ValueError):
        return {}


def track_study(
    study_dir: Path,
    *,
    uri: str | None = None,
    experiment: str | None = None,
    artifacts: Sequence[Path] = (),
) -> Tracked:
    """Mirror a study's finished jobs into MLflow and log its files on the parent run.

    ``uri`` defaults to :func:`default_uri`; ``experiment`` to the study's name;
    ``artifacts`` are more files or folders for the parent run (a report ``X.html`` brings
    its ``X_files/`` folder along).
    """
    client, entities = _client(uri or default_uri(study_dir))
    study_dir = Path(study_dir).resolve()
    with open_store(study_dir) as store:
        name = store.get_meta("name") or study_dir.name
        rows = store.finished_jobs(include_failed=True)
    with _quiet():
        experiment_id = _experiment(client, experiment or name, study_dir, uri)
        parent = _parent(client, entities, experiment_id, study_dir, name)
        logged_before = _logged(client, experiment_id, parent)
        logged = 0
        for row in rows:
            if (row["job_id"], _finish_tag(row)) in logged_before:
                continue
            _log_job(client, entities, experiment_id, parent, row)
            logged += 1
        _log_parent_files(client, parent, study_dir, artifacts)
        counts = {"jobs_done": sum(r["status"] == "done" for r in rows),
                  "jobs_failed": sum(r["status"] == "failed" for r in rows)}
        now = _ms(None)
        client.log_batch(parent, metrics=[entities.Metric(k, float(v), now, 0)
                                          for k, v in counts.items()])
    return Tracked(uri=client.tracking_uri, experiment_id=experiment_id, parent_run_id=parent,
                   logged=logged, already=len(rows) - logged)


def _client(uri: str) -> tuple[Any, Any]:
    try:
        import mlflow.entities as entities
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise ConfigError(
            "MLflow tracking needs the mlflow package",
            hint='pip install "nercurve[track]", or turn tracking off (tracking.mlflow = false)',
        ) from None
    return MlflowClient(tracking_uri=uri), entities


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Keep MLflow's and Alembic's informational logging off the terminal."""
    loggers = [logging.getLogger(n) for n in ("mlflow", "alembic")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _experiment(client: Any, name: str, study_dir: Path, uri: str | None) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    local = uri is None or uri.startswith(("sqlite:", "file:")) or "://" not in uri
    # a local store keeps artifacts in the study folder (MLflow's default is ./mlruns in the
    # current folder); a tracking server decides for itself
    location = (study_dir / "mlartifacts").as_uri() if local else None
    return str(client.create_experiment(name, artifact_location=location))


def _parent(client: Any, entities: Any, experiment_id: str, study_dir: Path, name: str) -> str:
    for run in _search(client, experiment_id, f"tags.`{_TAG_STUDY}` = '{_quoted(study_dir)}'"):
        if _PARENT not in run.data.tags:
            return str(run.info.run_id)
    config = json.loads((study_dir / "study.json").read_text(encoding="utf-8"))
    run = client.create_run(experiment_id, run_name=name, tags={_TAG_STUDY: str(study_dir)})
    params = {
        "name": config.get("name"), "seeds": config.get("seeds"),
        "backends": [f"{b['name']} ({b['type']})" for b in config.get("backends", [])],
        **{f"split.{k}": v for k, v in config.get("split", {}).items()},
        **{f"design.{k}": v for k, v in config.get("design", {}).items()},
    }
    _log_params(client, entities, run.info.run_id, params)
    return str(run.info.run_id)


def _logged(client: Any, experiment_id: str, parent: str) -> set[tuple[str, str]]:
    """(job id, finish time) of the child runs already under ``parent``."""
    return {
        (run.data.tags.get(_TAG_JOB, ""), run.data.tags.get(_TAG_FINISHED, ""))
        for run in _search(client, experiment_id, f"tags.`{_PARENT}` = '{parent}'")
    }


def _search(client: Any, experiment_id: str, query: str) -> Iterator[Any]:
    token = None
    while True:
        page = client.search_runs([experiment_id], filter_string=query, max_results=1000,
                                  page_token=token)
        yield from page
        token = page.token
        if not token:
            return


def _finish_tag(row: Any) -> str:
    return f"{row['finished_at']:.3f}" if row["finished_at"] is not None else ""


def _log_job(client: Any, entities: Any, experiment_id: str, parent: str, row: Any) -> None:
    tags = {_PARENT: parent, _TAG_JOB: row["job_id"], _TAG_FINISHED: _finish_tag(row),
            "nercurve.status": row["status"], "nercurve.attempts": str(row["attempts"])}
    if row["error"]:
        tags["nercurve.error"] = row["error"][:5000]
    run = client.create_run(
        experiment_id, start_time=_ms(row["started_at"]), tags=tags,
        run_name=f"{row['backend']} {row['subset_id']} seed {row['seed']}",
    )
    run_id = run.info.run_id
    params: dict[str, Any] = {
        "job_id": row["job_id"], "backend": row["backend"],
        "backend_type": row["backend_type"], "seed": row["seed"],
        "subset_id": row["subset_id"], "stratum": row["stratum"],
    }
    params.update({f"param.{k}": v for k, v in json.loads(row["params"]).items()})
    _log_params(client, entities, run_id, params)
    numbers = {k: row[k] for k in ("n_docs", "n_sentences", "n_tokens", "precision", "recall",
                                   "f1", "dev_f1", "seconds", "peak_mb", "steps", "best_step")}
    if row["classes"] is None:  # NER: entities; classification: the subset's class balance
        numbers.update(n_entities=row["n_entities"], eps=row["eps"])
    else:
        numbers["minority_share"] = row["minority_share"]
        numbers.update({f"docs_{c}": n for c, n in json.loads(row["classes"]).items()})
    for label, scores in json.loads(row["per_label"] or "{}").items():
        numbers[f"f1_{label}"] = scores.get("f1")
    numbers.update(json.loads(row["extra"] or "{}"))
    when = _ms(row["finished_at"])
    metrics = [entities.Metric(_key(k), float(v), when, 0) for k, v in numbers.items()
               if isinstance(v, int | float) and math.isfinite(v)]
    for i in range(0, len(metrics), _MAX_METRICS):
        client.log_batch(run_id, metrics=metrics[i:i + _MAX_METRICS])
    client.set_terminated(run_id, status="FINISHED" if row["status"] == "done" else "FAILED",
                          end_time=when)


def _log_params(client: Any, entities: Any, run_id: str, params: dict[str, Any]) -> None:
    items = [entities.Param(_key(k), _text(v)) for k, v in params.items() if v is not None]
    for i in range(0, len(items), _MAX_PARAMS):
        client.log_batch(run_id, params=items[i:i + _MAX_PARAMS])


def _log_parent_files(client: Any, parent: str, study_dir: Path,
                      artifacts: Sequence[Path]) -> None:
    for name in STUDY_FILES:
        if (study_dir / name).is_file():
            client.log_artifact(parent, str(study_dir / name), "study")
    with tempfile.TemporaryDirectory(prefix="nercurve-track-") as tmp:
        table = Path(tmp) / "results.csv"
        results_frame(study_dir, include_failed=True).to_csv(table, index=False)
        client.log_artifact(parent, str(table), "study")
    for path in artifacts:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"no such file or folder to log: {path}", file=path)
        if path.is_dir():
            client.log_artifacts(parent, str(path), path.name)
            continue
        client.log_artifact(parent, str(path))
        beside = path.with_name(f"{path.stem}_files")
        if beside.is_dir():
            client.log_artifacts(parent, str(beside), beside.name)


def _key(name: str) -> str:
    """A name MLflow accepts (letters, digits, ``_ - . /`` and spaces)."""
    return re.sub(r"[^\w\-./ ]", "_", str(name))


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text[:6000]


def _quoted(path: Path) -> str:
    return str(path).replace("'", "\\'")


def _ms(seconds: float | None) -> int:
    return int((time.time() if seconds is None else seconds) * 1000)
