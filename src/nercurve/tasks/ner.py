"""Named-entity recognition: gold is character-offset spans, scored by strict entity-level
P/R/F1 (:mod:`nercurve.tasks.ner_scores`); a study regresses F1 on training *sentences* and
*EPS* (entities per sentence of the training subset)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nercurve.corpus.model import Doc, Notice
from nercurve.tasks.base import Scores, Task, Words


@dataclass(frozen=True)
class NerTask(Task):
    """Entity spans: the task of every study that names no other."""

    def check_config(self, config: Any) -> None:
        if config.metric is not None:
            raise ValueError('metric is for task = "classify" (NER studies score strict '
                             "entity F1)")
        if config.design.stratify_labels:
            raise ValueError('design.stratify_labels is for task = "classify"')

    def labels(self, docs: Iterable[Doc], scheme: Any) -> set[str]:
        return {s.label for d in docs for s in d.spans}

    def external_doc(self, doc: Doc, labels: set[str], name: str,
                     file: str) -> tuple[Doc | None, list[Notice]]:
        notices = [
            Notice(kind="external-label-dropped", file=file, doc_id=doc.id,
                   message=f"external test '{name}': a {span.label!r} span is not "
                   f"a label of the study ({', '.join(sorted(labels))}) and was dropped; "
                   "map it with label_map")
            for span in doc.spans if span.label not in labels
        ]
        return doc.with_spans(tuple(s for s in doc.spans if s.label in labels)), notices

    def predicted_doc(self, doc: Doc, predicted: Any) -> Doc:
        """The document with the predicted spans as its spans."""
        return doc.with_spans(predicted)

    def score(self, docs: Sequence[Doc], predicted: Sequence[Any], scheme: Any) -> Scores:
        """Strict micro entity P/R/F1, and strict F1 per label."""
        from nercurve.tasks.ner_scores import evaluate, strict_doc_counts

        ev = evaluate(list(docs), [d.with_spans(p) for d, p in zip(docs, predicted, strict=True)])
        return Scores(ev.micro.precision, ev.micro.recall, ev.micro.f1,
                      {label: {"precision": s.precision, "recall": s.recall, "f1": s.f1}
                       for label, s in ev.per_label.items()}, {},
                      strict_doc_counts([d.spans for d in docs], predicted))

    def outcome_of_counts(self, summed: Any) -> Any:
        """Strict micro F1 of summed ``[tp, fp, fn]`` columns."""
        from nercurve.tasks.doc_scores import f1_of

        return f1_of(summed[:, 0], summed[:, 1], summed[:, 2])

    def design_row(self, subset: Any) -> list[Any]:
        return [subset.n_entities, f"{subset.eps:.6f}"]

    def training_density(self, corpus_stats: Mapping[str, Any]) -> float | None:
        """The training data's EPS: of the pool (or a part named like it), else overall."""
        for key in ("pool", "train", "training", "overall", "all", "corpus"):
            part = corpus_stats.get(key)
            if isinstance(part, dict) and _is_number(part.get("eps")):
                return float(part["eps"])
        if _is_number(corpus_stats.get("eps")):
            return float(corpus_stats["eps"])
        return None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


TASK = NerTask(
    name="ner",
    size="n_sentences",
    density="eps",
    words=Words(unit="sentences", unit_one="sentence", unit_abbr="sent.", density="EPS",
                density_long="entities per sentence (EPS)", theme="entity density",
                outcome="F1", label="an entity label"),
    size_step=100.0,
    density_step=0.1,
    pool_key="sentences",
    result_columns=(
        "job_id", "subset_id", "stratum", "backend", "backend_type", "params_digest", "seed",
        "n_docs", "n_sentences", "n_tokens", "n_entities", "eps", "status", "precision",
        "recall", "f1", "dev_f1", "steps", "best_step", "seconds", "peak_mb", "error",
        "stop_reason", "f1_ci_low", "f1_ci_high", "doc_counts",
    ),
    design_columns=("n_entities", "eps"),
    corpus_caption="Corpus parts, overall and per label (EPS: entities per sentence)",
    example="nercurve.study.example:EXAMPLE_STUDY",
)
