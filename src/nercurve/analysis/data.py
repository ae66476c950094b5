"""Loading and validating the runs an analysis works on.

A run is one fine-tuned model: a row with at least ``n_sentences`` (training sentences),
``eps`` (entities per sentence of its training subset) and ``f1`` (test F1 in [0, 1]).
``backend`` names the model family (a single backend is assumed when the column is absent);
``n_docs``, ``n_tokens``, ``subset_id``, ``seed`` and any other columns are kept and used
where an analysis can use them. Runs come from a plain CSV (or Parquet) file, or from a study
folder through :func:`nercurve.study.store.results_frame`.

Runs of a text-classification study have ``n_docs`` (training examples), ``minority_share``
(the share of the training subset carrying its rarest class) and ``f1`` (the study's outcome:
macro-F1 unless a ``metric`` column says otherwise) instead. A study folder's store records
its task; a bare table's task is told from its columns (:func:`nercurve.tasks.task_of_frame`).

Optional columns say how a run's subset was chosen: ``selection`` (its strategy: random,
uncertainty, diversity, ...; :func:`selection_of` reads random where the column is absent or
empty) and what choosing it cost (:data:`SELECTION_COSTS`, 0 where empty).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from nercurve.errors import AnalysisError, InputError
from nercurve.tasks import Task, task_of_frame
from nercurve.tasks.ner import TASK as NER

if TYPE_CHECKING:
    from nercurve.study.keep import KeptModel
    from nercurve.study.wave_records import WaveRecord

REQUIRED_COLUMNS = ("n_sentences", "eps", "f1")
NUMERIC_COLUMNS = (*REQUIRED_COLUMNS, "n_docs", "n_tokens", "n_entities", "minority_share")
DEFAULT_BACKEND = "model"
# Status values of jobs that did not produce a result; such rows are left out (and counted).
UNFINISHED_STATUSES = frozenset(
    {"failed", "error", "errored", "timeout", "timed_out", "running", "pending", "queued",
     "crashed", "cancelled", "canceled", "killed", "skipped"}
)
MIN_RUNS = 10
MIN_SIZES = 4
#: The strategy of a subset drawn at random (and of every run of a table without a
#: ``selection`` column).
RANDOM = "random"
#: What choosing a subset cost: rounds of selection, training/embedding seconds, training
#: runs (0 for a random draw, and when a table lacks the column).
SELECTION_COSTS = ("selection_rounds", "selection_seconds", "selection_runs")


@dataclass(frozen=True)
class Runs:
    """Validated runs plus what a study folder adds (corpus statistics, design table, the
    waves of an adaptive design).

    ``frame`` holds one row per finished run; ``left_out`` counts rows dropped because their
    job had not finished (failed, still running, ...). ``task``: what the runs measure (NER,
    text classification, ...); told from the columns when not given.
    """

    frame: pd.DataFrame
    source: str
    corpus_stats: dict | None = None
    design: pd.DataFrame | None = None
    left_out: dict[str, int] = field(default_factory=dict)
    waves: tuple[WaveRecord, ...] = ()
    task: Task = None  # type: ignore[assignment]  # set in __post_init__ when not given
    #: The models the study keeps (``run.keep``), final ones first.
    kept: tuple[KeptModel, ...] = ()

    def __post_init__(self) -> None:
        if self.task is None:
            object.__setattr__(self, "task", task_of_frame(self.frame, self.corpus_stats))

    @property
    def backends(self) -> list[str]:
        """Backend labels in order of first appearance."""
        return list(dict.fromkeys(self.frame["backend"]))


def load_runs(path: str | Path) -> Runs:
    """Read and validate runs from a CSV/Parquet file or a study folder.

    Raises :class:`InputError` for unreadable files and missing columns, and
    :class:`AnalysisError` when the rows cannot be analysed (NaNs, F1 outside [0, 1], no runs).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(
            "no such file or folder", file=path,
            hint="give a study folder (with results.sqlite) or a CSV of runs",
        )
    if path.is_dir():
        return _load_study_dir(path)
    suffix = path.suffix.lower()
    try:
        if suffix in {".csv", ".tsv", ".txt"}:
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
            if frame.shape[1] == 1 and ";" in str(frame.columns[0]):
                # a spreadsheet's semicolon-separated export (often with decimal commas)
                frame = pd.read_csv(path, sep=";", decimal=",")
        elif suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            raise InputError(
                f"cannot read runs from a '{suffix or 'suffix-less'}' file", file=path,
                hint="use a .csv, .tsv or .parquet file, or a study folder",
            )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError,
            ValueError) as err:
        raise InputError(f"cannot read runs: {err}", file=path,
                         hint="the file must be a table with a header row") from err
    first_line = 2 if suffix != ".parquet" else None
    frame, left_out = validate_runs(frame, source=path, first_line=first_line)
    return Runs(frame=frame, source=str(path), left_out=left_out)


def _load_study_dir(path: Path) -> Runs:
    """A study folder: results from the store, plus corpus_stats.json and design.csv if present."""
    if not (path / "results.sqlite").exists():
        raise InputError(
            "this folder holds no study results (results.sqlite is missing)", file=path,
            hint="run the study first (nercurve run study.toml), or give a CSV of runs",
        )
    from nercurve.study.keep import kept_models
    from nercurve.study.store import open_store, results_frame
    from nercurve.study.wave_records import read_waves

    frame, left_out = validate_runs(results_frame(path), source=path / "results.sqlite")
    with open_store(path) as store:
        waves = tuple(read_waves(store))
        task = store.task()
    corpus_stats = None
    stats_path = path / "corpus_stats.json"
    if stats_path.exists():
        try:
            corpus_stats = json.loads(stats_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise InputError(f"corpus_stats.json is not valid JSON: {err}", file=stats_path,
                             hint="rerun the study to rewrite it, or delete it") from err
    design = None
    design_path = path / "design.csv"
    if design_path.exists():
        design = pd.read_csv(design_path)
    return Runs(frame=frame, source=str(path), corpus_stats=corpus_stats, design=design,
                left_out=left_out, waves=waves, task=task, kept=tuple(kept_models(path)))


def validate_runs(
    frame: pd.DataFrame, *, source: str | Path | None = None, first_line: int | None = None
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Check and normalise a table of runs; return it and the counts of rows left out by status.

    ``first_line`` is the file line of the first data row (2 for a CSV with a header), so that
    errors can point at the offending line; otherwise they name the row's job id or index.
    """
    required = task_of_frame(frame).required
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(
            f"the runs table lacks the column(s) {', '.join(missing)}", file=source,
            hint="a runs table needs one row per fine-tuned model with columns backend, "
                 f"{', '.join(required[:2])} and f1 (classification: n_docs, minority_share "
                 f"and f1); this one has: {', '.join(map(str, frame.columns))}",
        )
    frame = frame.copy()
    frame["_row"] = np.arange(len(frame))
    left_out: dict[str, int] = {}
    if "status" in frame.columns:
        status = frame["status"].astype("string").str.strip().str.lower()
        unfinished = status.isin(UNFINISHED_STATUSES).fillna(False).to_numpy(bool)
        left_out = {str(k): int(v) for k, v in status[unfinished].value_counts().items()}
        frame = frame.loc[~unfinished]
    if "backend" not in frame.columns:
        frame["backend"] = DEFAULT_BACKEND
    backend = frame["backend"]
    if backend.isna().any():
        _raise_bad_row(frame, backend.isna(), "backend", source, first_line, "is empty")
    frame["backend"] = backend.astype(str)
    for column in NUMERIC_COLUMNS:
        if column not in frame.columns:
            continue
        raw = frame[column]
        values = pd.to_numeric(raw, errors="coerce").astype(float)
        if column in required:
            bad = values.isna() | ~np.isfinite(values)
            what = "is missing or not a number"
        else:  # optional columns may be empty (a baseline has no training documents)
            bad = (values.isna() & raw.notna()) | np.isinf(values)
            what = "is not a number"
        if bad.any():
            _raise_bad_row(frame, bad, column, source, first_line, what)
        frame[column] = values
    _check_selection(frame, source, first_line)
    if frame.empty:
        raise AnalysisError(
            "there are no finished runs to analyse", file=source,
            hint="wait for the study to finish some jobs (nercurve status DIR)",
        )
    f1 = frame["f1"]
    outside = (f1 < 0) | (f1 > 1)
    if outside.any():
        _raise_bad_row(frame, outside, "f1", source, first_line, "is outside [0, 1]",
                       hint="F1 must be a fraction; divide percentages by 100")
    for column in required[:2]:
        negative = frame[column] < 0
        if negative.any():
            _raise_bad_row(frame, negative, column, source, first_line, "is negative")
    return frame.drop(columns="_row").reset_index(drop=True), left_out


def _check_selection(frame: pd.DataFrame, source: str | Path | None,
                     first_line: int | None) -> None:
    """Normalise the optional selection columns in place, where the table has them: an empty
    ``selection`` is a random draw, an empty cost 0; a cost must be a number of at least 0.
    A table without them is left as it is (every run a random draw, see
    :func:`selection_of`)."""
    if "selection" in frame.columns:
        frame["selection"] = selection_of(frame)
    for column in SELECTION_COSTS:
        if column not in frame.columns:
            continue
        raw = frame[column]
        values = pd.to_numeric(raw, errors="coerce").astype(float)
        bad = (values.isna() & raw.notna()) | np.isinf(values) | (values < 0)
        if bad.any():
            _raise_bad_row(frame, bad, column, source, first_line,
                           "is not a number of at least 0")
        values = values.fillna(0.0)
        frame[column] = values if column == "selection_seconds" else values.astype(int)


def selection_of(frame: pd.DataFrame) -> pd.Series:
    """Each run's selection strategy: its ``selection`` column (random where it is empty), or
    random for every run of a table without one."""
    if "selection" not in frame.columns:
        return pd.Series(RANDOM, index=frame.index, dtype=object)
    strategy = frame["selection"].astype("string").str.strip()
    return strategy.mask(strategy.isna() | (strategy == ""), RANDOM).astype(str)


def _raise_bad_row(
    frame: pd.DataFrame,
    bad: pd.Series,
    column: str,
    source: str | Path | None,
    first_line: int | None,
    what: str,
    hint: str | None = None,
) -> None:
    """Raise an AnalysisError naming the first bad row (by file line, job id or index)."""
    first = frame.loc[bad.to_numpy(bool)].iloc[0]
    row = int(first["_row"])
    value = first[column]
    count = int(np.count_nonzero(bad.to_numpy(bool)))
    line = None
    if first_line is not None:
        line = first_line + row
        where = ""
    elif "job_id" in frame.columns and pd.notna(first["job_id"]):
        where = f" (job {first['job_id']})"
    else:
        where = f" (row {row})"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        shown = "empty"
    else:  # quoted text, plain numbers (never numpy reprs such as np.float64(1.7))
        shown = repr(value) if isinstance(value, str) else str(value)
    more = f"; {count - 1} more row(s) like it" if count > 1 else ""
    raise AnalysisError(
        f"{column} {what}{where}: {shown}{more}", file=source, line=line,
        hint=hint or f"fix or remove the row(s) whose {column} {what}",
    )


def check_backend(frame: pd.DataFrame, backend: str, *, min_runs: int = MIN_RUNS,
                  min_sizes: int = MIN_SIZES, task: Task = NER) -> pd.DataFrame:
    """The runs of one backend, checked to support model fits; raises AnalysisError if not.

    Requires at least ``min_runs`` runs, ``min_sizes`` distinct training sizes and an F1 that
    varies: with less, regressions, thresholds and curves would only produce meaningless
    confidence intervals.
    """
    rows = frame.loc[frame["backend"] == backend]
    if rows.empty:
        known = ", ".join(dict.fromkeys(frame["backend"])) or "none"
        raise AnalysisError(f"there are no runs for backend '{backend}'",
                            hint=f"backends in the data: {known}")
    if len(rows) < min_runs:
        raise AnalysisError(
            f"backend '{backend}' has only {len(rows)} run(s); at least {min_runs} are needed",
            hint="run more subsets or seeds for this backend before analysing it",
        )
    sizes = rows[task.size].nunique()
    if sizes < min_sizes:
        only = ", ".join(f"{v:g}" for v in sorted(rows[task.size].unique()))
        raise AnalysisError(
            f"backend '{backend}' was trained at only {sizes} training size(s) ({only} "
            f"{task.words.unit}); at least {min_sizes} distinct sizes are needed for a learning "
            "curve",
            hint="a design needs subsets of several sizes (strata); a fixed baseline is only "
                 "described, not modelled",
        )
    if rows["f1"].nunique() < 2:
        raise AnalysisError(
            f"backend '{backend}' has the same {task.words.outcome} ({rows['f1'].iloc[0]:g}) "
            "in every run",
            hint="a constant F1 has no learning curve; check that training worked",
        )
    return rows


def training_eps(runs: Runs) -> float | None:
    """The EPS of the annotated training data (in a classification study, its minority-class
    share): from corpus_stats.json when it says, else None."""
    stats = runs.corpus_stats
    if not isinstance(stats, dict):
        return None
    return runs.task.training_density(stats)
