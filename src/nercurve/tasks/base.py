"""What every task is: the :class:`Task` record (columns, words, gold, scoring, what a study
writes) and the :class:`Words` its sentences are written in.

A task's modules (:mod:`nercurve.tasks.ner`, :mod:`nercurve.tasks.classify`) subclass
:class:`Task`; the registry in :mod:`nercurve.tasks` names them. Every sentence the analysis
and the report write is one template whose task-specific words come from ``task.words``
(``f"gains flatten at about {n} {w.unit}"``), so a task's words are written once, in its
module, and nothing is reworded afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nercurve.corpus.model import Doc, Notice


def title(word: str) -> str:
    """``word`` with its first letter capitalized ("sentences" -> "Sentences", "macro-F1" ->
    "Macro-F1"), for the start of a sentence or a heading."""
    return word[:1].upper() + word[1:]


@dataclass(frozen=True)
class Words:
    """The words a task's sentences are written in."""

    #: The training size's unit: "sentences" (one: "sentence"; in a narrow column: "sent.").
    unit: str
    unit_one: str
    unit_abbr: str
    #: The subset-composition measure: short ("EPS"), long ("entities per sentence (EPS)"),
    #: and what it is about ("entity density").
    density: str
    density_long: str
    theme: str
    #: The outcome: "F1", "macro-F1", "accuracy".
    outcome: str
    #: One of the study's labels, with its article: "an entity label", "a class".
    label: str


@dataclass(frozen=True)
class Scores:
    """A model's scores on one test set, in the shape a job's outcome stores them: the outcome
    (``f1``) with its precision and recall, per-label scores, further named numbers and the
    counts the outcome adds up from, one row per test document in test order (see
    :mod:`nercurve.tasks.doc_scores`)."""

    precision: float
    recall: float
    f1: float
    per_label: dict[str, dict[str, float]]
    numbers: dict[str, float]
    doc_counts: list[list[int]] = field(default_factory=list)


@dataclass(frozen=True)
class Task:
    """What a kind of study (NER, text classification, ...) means, decided in one place.

    The fields name the runs' columns and the words; the methods read and score gold, say
    what a study writes (store meta, corpus statistics, design rows, result columns) and
    check the config. A subclass per task fills them in (see :mod:`nercurve.tasks.ner`).
    """

    #: The registry name (``task = "..."`` in a config, ``--task`` on the command line).
    name: str
    #: The training-size column and the subset-composition column of the runs.
    size: str
    density: str
    words: Words
    #: The step of "per ..." slopes in words, per predictor (100 sentences, 0.1 EPS).
    size_step: float
    density_step: float
    #: The key of the training pool's size in ``corpus_stats.json`` ("sentences").
    pool_key: str
    #: The columns every result row has, in order (``study.store.results_frame``).
    result_columns: tuple[str, ...]
    #: The design.csv columns between the subset's counts and its document ids.
    design_columns: tuple[str, ...]
    #: The caption of the report's corpus table.
    corpus_caption: str
    #: The commented example config ``init-study --task`` writes, as "module:NAME" of a
    #: ``nercurve.study`` module (read by :func:`nercurve.study.example.example_config`).
    example: str
    #: The outcomes a config may name (``metric``), the first the default; empty: none.
    metrics: tuple[str, ...] = ()
    #: The outcome of this study (one of ``metrics``; None for a task without a choice).
    metric: str | None = None

    # -- columns and words -------------------------------------------------------------

    @property
    def predictors(self) -> tuple[str, str]:
        """The two predictor columns: size, then composition."""
        return (self.size, self.density)

    @property
    def required(self) -> tuple[str, str, str]:
        """The columns a runs table must have."""
        return (self.size, self.density, "f1")

    def with_metric(self, metric: str | None) -> Task:
        """This task with ``metric`` as its outcome (its words follow; None: the default)."""
        return self

    def per(self, predictor: str) -> tuple[str, float, str]:
        """(what ``predictor`` counts in words, the step of its "per ..." slopes, that step in
        words): ``("sentences", 100.0, "per 100 sentences")``."""
        w = self.words
        if predictor == self.size:
            return (w.unit, self.size_step, f"per {self.size_step:g} {w.unit}")
        if predictor == self.density:
            return (w.density, self.density_step, f"per {self.density_step:g} {w.density}")
        return (predictor, 1.0, "per unit")

    def per_abbr(self, predictor: str) -> tuple[float, str]:
        """The step of a table's slopes and its short unit: ``(100, "/100 sent.")``."""
        if predictor == self.size:
            return (self.size_step, f"/{self.size_step:g} {self.words.unit_abbr}")
        return (self.density_step, f"/{self.density_step:g} {self.words.density}")

    def label(self, predictor: str) -> str:
        """A predictor's name in a table ("Sentences", "EPS")."""
        if predictor == self.size:
            return title(self.words.unit)
        if predictor == self.density:
            return title(self.words.density)
        return predictor

    # -- the config ----------------------------------------------------------------------

    def check_config(self, config: Any) -> None:
        """Raise ValueError where a study config does not fit this task; fill in defaults
        (the metric)."""

    # -- gold ----------------------------------------------------------------------------

    def scheme(self, docs: Sequence[Doc], labels: Iterable[str] | None,
               source: str | None = None) -> Any:
        """What this task reads gold with, from the study's documents (None: nothing)."""
        return None

    def labels(self, docs: Iterable[Doc], scheme: Any) -> set[str]:
        """The study's labels (entity types, classes)."""
        raise NotImplementedError

    def split_classes(self, docs: Sequence[Doc], scheme: Any) -> Any:
        """What a stratified split or design balances besides size (None: nothing)."""
        return None

    def external_doc(self, doc: Doc, labels: set[str], name: str,
                     file: str) -> tuple[Doc | None, list[Notice]]:
        """An external test document kept to the study's labels (None: left out), and the
        notices of what was dropped."""
        raise NotImplementedError

    def train(self, backend: Any, train: list[Doc], dev: list[Doc], params: Any, seed: int,
              scheme: Any) -> Any:
        """Train ``backend`` on ``train`` (selecting on ``dev``); returns its TrainResult."""
        return backend.train(train, dev, params, seed)

    def score(self, docs: Sequence[Doc], predicted: Sequence[Any], scheme: Any) -> Scores:
        """The scores of ``predicted`` (one per document, as the model returns them)."""
        raise NotImplementedError

    def outcome_of_counts(self, summed: Any) -> Any:
        """The outcome (``f1``) of per-document counts summed over a test set or a resample
        of it: an array (resamples × count columns) -> an array (resamples)."""
        raise NotImplementedError

    def predicted_doc(self, doc: Doc, predicted: Any) -> Doc:
        """``doc`` carrying a model's prediction (as the model returns it) in place of its
        annotations, as ``nercurve predict`` writes it and ``evaluate`` scores it."""
        raise NotImplementedError

    # -- what a study writes -------------------------------------------------------------

    def store_meta(self) -> dict[str, str]:
        """The store's meta entries that record this task."""
        return {"task": self.name, **({"metric": self.metric} if self.metric else {})}

    def stats_meta(self) -> dict[str, Any]:
        """What ``corpus_stats.json`` says of the task."""
        return {}

    def part_stats(self, docs: Sequence[Doc], scheme: Any) -> dict[str, Any]:
        """One part's statistics for ``corpus_stats.json``."""
        from nercurve.corpus.stats import corpus_stats

        return corpus_stats(list(docs)).to_dict()

    def identity(self, parts: Mapping[str, Sequence[Doc]]) -> dict[str, str]:
        """What a study's identity adds for this task (parts: the training pool, dev and test
        sets by name)."""
        return {}

    def design_row(self, subset: Any) -> list[Any]:
        """A subset's values of :attr:`design_columns`."""
        raise NotImplementedError

    def zero_subset(self, subset: Any, scheme: Any) -> Any:
        """The empty subset of a baseline that ignores training data, as this task stores it."""
        return subset

    def result_extra(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """Columns a result row adds after :attr:`result_columns` (before ``f1_<label>``)."""
        return {}

    def training_density(self, corpus_stats: Mapping[str, Any]) -> float | None:
        """The composition measure of the annotated training data, from corpus_stats.json."""
        raise NotImplementedError
