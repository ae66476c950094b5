"""Text classification: gold is each document's classes (its ``cats``, read under a
:class:`~nercurve.corpus.classes.ClassScheme`), scored by the study's metric (macro-F1 by
default, micro-F1 or accuracy: :mod:`nercurve.tasks.classify_scores`); a study regresses it
on training *examples* (documents) and the *minority-class share* of the training subset
(the share carrying its rarest class: the measure of class balance)."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nercurve.corpus.model import Doc, Notice
from nercurve.tasks.base import Scores, Task, Words

#: The outcomes a classification study may name, the first the default, and their words.
METRIC_WORDS = {"macro_f1": "macro-F1", "micro_f1": "micro-F1", "accuracy": "accuracy"}


@dataclass(frozen=True)
class ClassifyTask(Task):
    """Document classes, single- or multi-label."""

    def with_metric(self, metric: str | None) -> Task:
        metric = metric or self.metrics[0]
        words = dataclasses.replace(self.words, outcome=METRIC_WORDS.get(metric, metric))
        return dataclasses.replace(self, metric=metric, words=words)

    def check_config(self, config: Any) -> None:
        if config.design.unit != "documents":
            raise ValueError('a classification study draws examples: design.unit must be '
                             '"documents"')
        if config.metric is None:
            config.metric = self.metrics[0]

    def scheme(self, docs: Sequence[Doc], labels: Iterable[str] | None,
               source: str | None = None) -> Any:
        """The class scheme of the study's documents (and its ``labels``)."""
        from nercurve.corpus.classes import class_scheme

        return class_scheme(docs, labels, source=source)

    def labels(self, docs: Iterable[Doc], scheme: Any) -> set[str]:
        return set(scheme.labels)

    def split_classes(self, docs: Sequence[Doc], scheme: Any) -> Any:
        from nercurve.corpus.classes import class_counts

        return class_counts(docs, scheme)

    def predicted_doc(self, doc: Doc, predicted: Any) -> Doc:
        """The document with the model's score per class as its categories (``evaluate``
        decides them as the study does) and no spans."""
        return dataclasses.replace(doc, spans=(), cats={k: float(v) for k, v in predicted.items()})

    def external_doc(self, doc: Doc, labels: set[str], name: str,
                     file: str) -> tuple[Doc | None, list[Notice]]:
        from nercurve.corpus.classes import doc_classes

        unknown = [c for c in doc_classes(doc) if c not in labels]
        if not unknown and doc_classes(doc):
            return doc, []
        return None, [Notice(
            kind="external-doc-dropped", file=file, doc_id=doc.id,
            message=f"external test '{name}': document {doc.id!r} carries "
            f"{', '.join(map(repr, unknown)) or 'no class'}, not a class of the study "
            f"({', '.join(sorted(labels))}); left out; map classes with label_map",
        )]

    def train(self, backend: Any, train: list[Doc], dev: list[Doc], params: Any, seed: int,
              scheme: Any) -> Any:
        return backend.train(train, dev, params, seed, scheme)

    def score(self, docs: Sequence[Doc], predicted: Sequence[Any], scheme: Any) -> Scores:
        """The study's metric as ``f1``, with the matching averaged precision and recall,
        per-class scores, and accuracy, macro- and micro-F1 (and samples-F1 where multi-label)
        among the numbers."""
        from nercurve.corpus.classes import doc_classes
        from nercurve.tasks.classify_scores import class_doc_counts, score_classes

        metric = self.metric or self.metrics[0]
        gold = [doc_classes(d) for d in docs]
        decided = [scheme.decide(s) for s in predicted]
        sc = score_classes(gold, decided, multi_label=scheme.multi_label)
        averaged = sc.micro if metric == "micro_f1" else sc.macro
        numbers = {"accuracy": sc.accuracy, "macro_f1": sc.macro.f1, "micro_f1": sc.micro.f1}
        if sc.samples_f1 is not None:
            numbers["samples_f1"] = sc.samples_f1
        return Scores(averaged.precision, averaged.recall, sc.outcome(metric),
                      {label: {"precision": s.precision, "recall": s.recall, "f1": s.f1}
                       for label, s in sc.per_class.items()}, numbers,
                      class_doc_counts(gold, decided, sc.labels))

    def outcome_of_counts(self, summed: Any) -> Any:
        """The study's metric of summed per-class counts (``classify_scores.class_outcome``)."""
        from nercurve.tasks.classify_scores import class_outcome

        return class_outcome(summed, self.metric or self.metrics[0])

    def stats_meta(self) -> dict[str, Any]:
        return {"task": self.name, "metric": self.metric}

    def part_stats(self, docs: Sequence[Doc], scheme: Any) -> dict[str, Any]:
        """The part's corpus statistics with its class distribution."""
        from nercurve.corpus.classes import class_stats

        stats = super().part_stats(docs, scheme)
        stats["classes"] = class_stats(list(docs), scheme).to_dict()
        return stats

    def identity(self, parts: Mapping[str, Sequence[Doc]]) -> dict[str, str]:
        """The task, the metric and every part's classes."""
        import hashlib

        from nercurve.corpus.classes import doc_classes

        def digest(value: object) -> str:
            return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]

        return {
            "task": json.dumps(self.name),
            "metric": json.dumps(self.metric),
            **{f"corpus: the classes of the {name}": digest([[d.id, doc_classes(d)] for d in docs])
               for name, docs in parts.items()},
        }

    def design_row(self, subset: Any) -> list[Any]:
        return [f"{subset.minority_share:.6f}", json.dumps(dict(subset.classes))]

    def zero_subset(self, subset: Any, scheme: Any) -> Any:
        """The empty subset, with a count of 0 for every class."""
        return dataclasses.replace(subset, classes=tuple((label, 0) for label in scheme.labels))

    def result_extra(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """``share_<CLASS>``: the subset's share of documents carrying each class."""
        return {f"share_{label}": count / row["n_docs"] if row["n_docs"] else 0.0
                for label, count in json.loads(row["classes"] or "{}").items()}

    def training_density(self, corpus_stats: Mapping[str, Any]) -> float | None:
        """The training pool's minority-class share."""
        share = ((corpus_stats.get("pool") or {}).get("classes") or {}).get("minority_share")
        ok = isinstance(share, int | float) and not isinstance(share, bool) and math.isfinite(share)
        return float(share) if ok else None


TASK = ClassifyTask(
    name="classify",
    size="n_docs",
    density="minority_share",
    words=Words(unit="examples", unit_one="example", unit_abbr="ex.", density="minority share",
                density_long="minority-class share", theme="class balance",
                outcome=METRIC_WORDS["macro_f1"], label="a class"),
    size_step=100.0,
    density_step=0.1,
    pool_key="documents",
    result_columns=(
        "job_id", "subset_id", "stratum", "backend", "backend_type", "params_digest", "seed",
        "n_docs", "n_sentences", "n_tokens", "minority_share", "status", "precision", "recall",
        "f1", "dev_f1", "steps", "best_step", "seconds", "peak_mb", "error", "metric",
        "stop_reason", "f1_ci_low", "f1_ci_high", "doc_counts",
    ),
    design_columns=("minority_share", "classes"),
    corpus_caption="Corpus parts, overall and per class (documents and their share)",
    example="nercurve.study.example_classify:EXAMPLE_CLASSIFY_STUDY",
    metrics=tuple(METRIC_WORDS),
    metric="macro_f1",
)
