"""Inter-annotator agreement for NER annotations of the same documents.

Two or more annotations (one :class:`~nercurve.corpus.model.Corpus` per annotator, named
``A``, ``B``, ``C``, ... in the order given) are matched by document id and compared:

- **Pairwise entity-level F1**, for every pair of annotators, with the first annotator of
  the pair as reference: ``exact`` (same start, end and label), ``boundary`` (same start
  and end, any label) and ``overlap`` (the spans share a character, any label). Recall is
  the share of A's spans that have a match in B, precision the share of B's spans that
  have a match in A; F1 is their harmonic mean and does not depend on which annotator is
  the reference. Per label, a span counts under its own label (an A span labelled ORG
  whose boundaries B marked as PERSON is a boundary match for ORG on A's side).
- **Boundary agreement**: the share of entity mentions whose boundaries both annotators
  marked exactly. A mention is a distinct (document, start, end) that either annotator
  marked, so the share is ``matched / (n_A + n_B - matched)``. Per label, a mention
  counts for every label that either annotator gave it.
- **Token-level boundary agreement** on B/I/O tags (labels ignored; per label, only
  spans of that label are tagged) with Cohen's κ (scikit-learn). Tokens are the
  document's tokens (spaCy's rule-based tokenizer where the format fixed none), further
  split at every annotator's span boundary, so that a one-character boundary difference
  is a tag difference and every span covers whole tokens.
- **Type agreement** on the mentions whose boundaries both annotators marked: percent
  agreement and Cohen's κ on their labels. Per label: the share of those mentions
  labelled L by either annotator that both labelled L, and Cohen's κ on "L or not L".
- With more than two annotators, also **Fleiss' κ** (statsmodels; on the mentions all
  annotators marked) and **Krippendorff's α** (nominal; on the mentions at least two
  annotators marked, the others counting as missing) for the type, and Fleiss' κ on the
  token B/I/O tags.
- **ICC** for the number of entities each annotator marked per document, with its 95%
  confidence interval (pingouin): the form is ICC(A,1) in McGraw and Wong's notation,
  which is Shrout and Fleiss' ICC(2,1): two-way random effects (documents and annotators
  are both samples from larger populations), absolute agreement (an annotator who
  systematically marks more entities than another lowers it: entity counts feed the
  entities-per-sentence figure a sample-size study rests on, so a constant offset is a
  disagreement, not a harmless shift), single rater (the reliability of one annotator's
  counts, which is what a corpus annotated by one person per document gets).

A figure that is undefined (no entities, or a κ whose chance agreement is 1 because
every rating falls in one category) is ``None``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from nercurve.agreement.aligned import Aligned, align
from nercurve.agreement.disagreements import Disagreement, find_disagreements
from nercurve.agreement.icc import ICC_FORM_DESCRIPTION, IccResult, count_icc
from nercurve.agreement.kappa import cohen_kappa, fleiss, krippendorff_nominal, mention_ratings
from nercurve.agreement.tokens import TokenTags, token_tags
from nercurve.corpus.model import Corpus, Span

OVERALL = ""  # the scope key for "all labels" in per-scope counters


@dataclass(frozen=True)
class PairScores:
    """Agreement of two annotators within one scope (all labels, or one label)."""

    n_a: int
    n_b: int
    f1_exact: float | None
    f1_boundary: float | None
    f1_overlap: float | None
    mentions: int
    mentions_matched: int
    boundary_agreement: float | None
    tokens: int
    token_agreement: float | None
    token_kappa: float | None
    type_units: int
    type_agreement: float | None
    type_kappa: float | None


@dataclass(frozen=True)
class PairAgreement:
    """Agreement of annotators ``a`` and ``b``, overall and per label."""

    a: str
    b: str
    overall: PairScores
    per_label: dict[str, PairScores]


@dataclass(frozen=True)
class MultiScores:
    """Agreement of all annotators at once (reported for more than two)."""

    type_units_all: int
    fleiss_kappa: float | None
    type_units_any2: int
    krippendorff_alpha: float | None
    token_fleiss_kappa: float | None


@dataclass(frozen=True)
class AgreementReport:
    """Everything ``nercurve agree`` reports."""

    annotators: tuple[str, ...]
    sources: tuple[str, ...]
    n_docs: int
    left_out: dict[str, int]
    labels: tuple[str, ...]
    entities: dict[str, int]
    pairs: tuple[PairAgreement, ...]
    multi: MultiScores | None
    multi_per_label: dict[str, MultiScores]
    icc: IccResult
    icc_per_label: dict[str, IccResult]
    disagreements: tuple[Disagreement, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (undefined figures are ``None``)."""
        return {
            "annotators": dict(zip(self.annotators, self.sources, strict=True)),
            "documents": self.n_docs,
            "documents_left_out": self.left_out,
            "labels": list(self.labels),
            "entities": self.entities,
            "pairs": [asdict(p) for p in self.pairs],
            "multi": asdict(self.multi) if self.multi else None,
            "multi_per_label": {k: asdict(v) for k, v in self.multi_per_label.items()},
            "icc_form": ICC_FORM_DESCRIPTION,
            "icc": asdict(self.icc),
            "icc_per_label": {k: asdict(v) for k, v in self.icc_per_label.items()},
            "disagreements": len(self.disagreements),
            "disagreement_kinds": dict(Counter(d.kind for d in self.disagreements)),
        }


# ---------------------------------------------------------------- the computation


def compute_agreement(
    corpora: Sequence[Corpus],
    names: Sequence[str] | None = None,
    *,
    allow_missing: bool = False,
) -> AgreementReport:
    """Agreement between two or more annotations of the same documents (see module doc)."""
    aligned = align(corpora, names, allow_missing=allow_missing)
    labels = aligned.labels()
    tags = token_tags(aligned, labels)
    k = len(aligned.names)
    pairs = tuple(
        _pair_agreement(aligned, i, j, labels, tags)
        for i in range(k)
        for j in range(i + 1, k)
    )
    multi, multi_per_label = None, {}
    if k > 2:
        multi = _multi_scores(aligned, tags, None)
        multi_per_label = {label: _multi_scores(aligned, tags, label) for label in labels}
    return AgreementReport(
        annotators=aligned.names,
        sources=aligned.sources,
        n_docs=len(aligned.ids),
        left_out=dict(aligned.left_out),
        labels=tuple(labels),
        entities={n: sum(len(row[j].spans) for row in aligned.docs)
                  for j, n in enumerate(aligned.names)},
        pairs=pairs,
        multi=multi,
        multi_per_label=multi_per_label,
        icc=count_icc(aligned),
        icc_per_label={label: count_icc(aligned, label) for label in labels},
        disagreements=tuple(find_disagreements(aligned)),
    )


def _f1(matched_a: int, n_a: int, matched_b: int, n_b: int) -> float | None:
    """Harmonic mean of recall (A's spans matched) and precision (B's spans matched)."""
    if n_a + n_b == 0:
        return None
    if n_a == 0 or n_b == 0:
        return 0.0
    recall, precision = matched_a / n_a, matched_b / n_b
    if recall + precision == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _pair_agreement(
    aligned: Aligned, i: int, j: int, labels: list[str], tags: TokenTags
) -> PairAgreement:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    type_pairs: list[tuple[str, str]] = []
    for row in aligned.docs:
        _count_side(row[i].spans, row[j].spans, "a", counts)
        _count_side(row[j].spans, row[i].spans, "b", counts)
        bounds_a = {(s.start, s.end): s.label for s in row[i].spans}
        bounds_b = {(s.start, s.end): s.label for s in row[j].spans}
        for bounds in sorted(set(bounds_a) | set(bounds_b)):
            la, lb = bounds_a.get(bounds), bounds_b.get(bounds)
            matched = la is not None and lb is not None
            for scope in {OVERALL, la, lb} - {None}:
                counts[scope]["mentions"] += 1
                counts[scope]["mentions_matched"] += matched
            if matched:
                type_pairs.append((la, lb))  # type: ignore[arg-type]

    def scores(scope: str) -> PairScores:
        c = counts[scope]
        label = scope or None
        ta, tb = tags.of(i, label), tags.of(j, label)
        if label is None:
            units = type_pairs
            type_agree = _ratio(sum(x == y for x, y in units), len(units))
            type_kappa = cohen_kappa([x for x, _ in units], [y for _, y in units])
        else:
            units = [(x, y) for x, y in type_pairs if label in (x, y)]
            type_agree = _ratio(sum(x == y for x, y in units), len(units))
            type_kappa = cohen_kappa(
                [x == label for x, _ in type_pairs], [y == label for _, y in type_pairs]
            )
        return PairScores(
            n_a=c["n_a"],
            n_b=c["n_b"],
            f1_exact=_f1(c["exact_a"], c["n_a"], c["exact_b"], c["n_b"]),
            f1_boundary=_f1(c["boundary_a"], c["n_a"], c["boundary_b"], c["n_b"]),
            f1_overlap=_f1(c["overlap_a"], c["n_a"], c["overlap_b"], c["n_b"]),
            mentions=c["mentions"],
            mentions_matched=c["mentions_matched"],
            boundary_agreement=_ratio(c["mentions_matched"], c["mentions"]),
            tokens=len(ta),
            token_agreement=_ratio(sum(x == y for x, y in zip(ta, tb, strict=True)), len(ta)),
            token_kappa=cohen_kappa(ta, tb),
            type_units=len(units),
            type_agreement=type_agree,
            type_kappa=type_kappa,
        )

    return PairAgreement(
        a=aligned.names[i],
        b=aligned.names[j],
        overall=scores(OVERALL),
        per_label={label: scores(label) for label in labels},
    )


def _count_side(
    spans: Sequence[Span], others: Sequence[Span], side: str, counts: dict[str, Counter[str]]
) -> None:
    """Count one annotator's spans and how many of them the other annotator matched."""
    exact = set(others)
    bounds = {(s.start, s.end) for s in others}
    for span in spans:
        hits = {
            "exact": span in exact,
            "boundary": (span.start, span.end) in bounds,
            "overlap": any(span.overlaps(o) for o in others),
        }
        for scope in (OVERALL, span.label):
            counts[scope][f"n_{side}"] += 1
            for kind, hit in hits.items():
                counts[scope][f"{kind}_{side}"] += hit


def _multi_scores(aligned: Aligned, tags: TokenTags, label: str | None) -> MultiScores:
    units = mention_ratings(aligned, label)
    complete = [u for u in units if all(r is not None for r in u)]
    k = len(aligned.names)
    token_rows = list(zip(*(tags.of(j, label) for j in range(k)), strict=True))
    return MultiScores(
        type_units_all=len(complete),
        fleiss_kappa=fleiss(complete),
        type_units_any2=sum(sum(r is not None for r in u) >= 2 for u in units),
        krippendorff_alpha=krippendorff_nominal(units),
        token_fleiss_kappa=fleiss(token_rows),
    )
