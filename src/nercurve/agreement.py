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

import math
import warnings
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from nercurve.corpus.model import Corpus, Doc, Span
from nercurve.errors import InputError

if TYPE_CHECKING:
    from nercurve.agreement_disagreements import Disagreement

ICC_FORM = "ICC(A,1)"
ICC_FORM_DESCRIPTION = (
    "ICC(A,1) (McGraw & Wong) = ICC(2,1) (Shrout & Fleiss): two-way random effects, "
    "absolute agreement, single rater"
)
ICC_MIN_DOCS = 3
OVERALL = ""  # the scope key for "all labels" in per-scope counters
TAGS = {"O": 0, "B": 1, "I": 2}


def annotator_names(count: int) -> list[str]:
    """Names for ``count`` annotators in argument order: A, B, ..., Z, AA, AB, ..."""
    names = []
    for index in range(count):
        name, n = "", index
        while True:
            name = chr(ord("A") + n % 26) + name
            n = n // 26 - 1
            if n < 0:
                break
        names.append(name)
    return names


@dataclass(frozen=True)
class Aligned:
    """Annotations matched by document id.

    ``docs[i][j]`` is document ``ids[i]`` as annotator ``names[j]`` annotated it; all
    annotations of a document have the same text.
    """

    names: tuple[str, ...]
    sources: tuple[str, ...]
    ids: tuple[str, ...]
    docs: tuple[tuple[Doc, ...], ...]
    left_out: dict[str, int] = field(default_factory=dict)

    def annotation(self, j: int) -> list[Doc]:
        """All documents as annotator ``j`` annotated them."""
        return [row[j] for row in self.docs]

    def labels(self) -> list[str]:
        """Sorted labels any annotator used."""
        return sorted({s.label for row in self.docs for d in row for s in d.spans})


def align(
    corpora: Sequence[Corpus],
    names: Sequence[str] | None = None,
    *,
    allow_missing: bool = False,
) -> Aligned:
    """Match the annotators' documents by id.

    Raises :class:`InputError` when fewer than two annotations are given, when a
    document is missing from some annotation (unless ``allow_missing``, which keeps the
    documents all annotations share and counts the rest in ``left_out``), when a
    document has different text in two annotations, and when one annotation of a
    document has overlapping spans or spans outside its text.
    """
    if len(corpora) < 2:
        raise InputError(
            f"agreement needs at least two annotations, got {len(corpora)}",
            hint="pass two or more annotation files of the same documents",
        )
    names = list(names) if names is not None else annotator_names(len(corpora))
    if len(names) != len(corpora) or len(set(names)) != len(names):
        raise InputError(
            "annotator names must be unique, one per annotation",
            hint="leave names out to get A, B, C, ...",
        )
    sources = [c.source or f"annotation {n}" for c, n in zip(corpora, names, strict=True)]
    indexes = [c.by_id() for c in corpora]
    shared = set(indexes[0]).intersection(*indexes[1:])
    left_out: dict[str, int] = {}
    for corpus, source, name in zip(corpora, sources, names, strict=True):
        extra = [i for i in corpus.ids if i not in shared]
        if extra and not allow_missing:
            lacking = [src for src, index in zip(sources, indexes, strict=True)
                       if extra[0] not in index]
            raise InputError(
                f"lacks {len(extra)} document(s) that annotation {name} ({source}) has "
                f"(first: {extra[0]!r})",
                file=lacking[0],
                hint="annotate the same documents in every file, or pass --allow-missing "
                "to compare only the documents all annotations share",
            )
        if extra:
            left_out[name] = len(extra)
    ids = [i for i in corpora[0].ids if i in shared]
    if not ids:
        raise InputError(
            "the annotations share no document id",
            file=sources[1],
            hint="agreement compares annotations of the same documents, matched by id",
        )
    rows = []
    for doc_id in ids:
        row = tuple(index[doc_id] for index in indexes)
        for doc, source in zip(row[1:], sources[1:], strict=True):
            if doc.text != row[0].text:
                raise InputError(
                    f"document {doc_id!r} has different text in {sources[0]} and here "
                    f"({_first_difference(row[0].text, doc.text)})",
                    file=source,
                    hint="all annotations must be of the same text; check they come from "
                    "the same source documents and were exported the same way",
                )
        for doc, source in zip(row, sources, strict=True):
            _check_spans(doc, source)
        rows.append(row)
    return Aligned(tuple(names), tuple(sources), tuple(ids), tuple(rows), left_out)


def _first_difference(a: str, b: str) -> str:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return f"first difference at character {i}: {a[i:i + 20]!r} vs {b[i:i + 20]!r}"
    return f"lengths {len(a)} and {len(b)}"


def _check_spans(doc: Doc, source: str) -> None:
    for span in doc.spans:
        if not 0 <= span.start < span.end <= len(doc.text):
            raise InputError(
                f"document {doc.id!r}: span {span.start}-{span.end} {span.label} lies "
                f"outside its text of {len(doc.text)} characters or is empty",
                file=source,
                hint="fix the offsets in this annotation",
            )
    for prev, span in pairwise(doc.spans):
        if prev.overlaps(span):
            raise InputError(
                f"document {doc.id!r}: spans {prev.start}-{prev.end} {prev.label} and "
                f"{span.start}-{span.end} {span.label} overlap within one annotation",
                file=source,
                hint="agreement compares flat annotations; read with --overlap longest "
                "(or first) to keep one span of each overlapping group",
            )


# ---------------------------------------------------------------- result types


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
class IccResult:
    """ICC of per-document entity counts (form :data:`ICC_FORM`) with its 95% CI."""

    icc: float | None
    ci_low: float | None
    ci_high: float | None
    n_docs: int
    mean_count: dict[str, float]
    form: str = ICC_FORM


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
    from nercurve.agreement_disagreements import find_disagreements

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


# ---------------------------------------------------------------- chance-corrected figures


def cohen_kappa(a: Sequence[Any], b: Sequence[Any]) -> float | None:
    """Cohen's κ (scikit-learn); ``None`` when there are no items or only one category."""
    if not a or len(set(a) | set(b)) < 2:
        return None
    from sklearn.metrics import cohen_kappa_score

    value = float(cohen_kappa_score(list(a), list(b)))
    return value if math.isfinite(value) else None


def fleiss(ratings: Sequence[Sequence[Any]]) -> float | None:
    """Fleiss' κ (statsmodels) for units each rated by the same raters (rows = units)."""
    if not ratings:
        return None
    categories = sorted({r for unit in ratings for r in unit}, key=str)
    if len(categories) < 2:
        return None
    import numpy as np
    from statsmodels.stats.inter_rater import fleiss_kappa

    code = {c: n for n, c in enumerate(categories)}
    table = np.zeros((len(ratings), len(categories)))
    for row, unit in enumerate(ratings):
        for r in unit:
            table[row, code[r]] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        value = float(fleiss_kappa(table, method="fleiss"))
    return value if math.isfinite(value) else None


def krippendorff_nominal(ratings: Sequence[Sequence[Any]]) -> float | None:
    """Krippendorff's α, nominal (``krippendorff`` package); ``None`` marks a missing rating.

    ``ratings`` has one row per unit and one entry per rater. Units with fewer than two
    ratings cannot be paired and do not count.
    """
    units = [u for u in ratings if sum(r is not None for r in u) >= 2]
    categories = sorted({r for u in units for r in u if r is not None}, key=str)
    if len(categories) < 2:
        return None
    import krippendorff
    import numpy as np

    code = {c: float(n) for n, c in enumerate(categories)}
    data = np.array([[code[r] if r is not None else np.nan for r in u] for u in units]).T
    value = float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))
    return value if math.isfinite(value) else None


def mention_ratings(aligned: Aligned, label: str | None = None) -> list[list[Any]]:
    """One row per mention (a distinct document, start, end any annotator marked).

    Each row holds every annotator's label for it (``None`` where the annotator did not
    mark those boundaries); for one ``label``, ``True``/``False`` for "is that label".
    """
    k = len(aligned.names)
    units: list[list[Any]] = []
    for row in aligned.docs:
        marks: dict[tuple[int, int], list[Any]] = defaultdict(lambda: [None] * k)
        for j, doc in enumerate(row):
            for s in doc.spans:
                marks[(s.start, s.end)][j] = s.label if label is None else s.label == label
        units.extend(marks[bounds] for bounds in sorted(marks))
    return units


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


# ---------------------------------------------------------------- token B/I/O tags


@dataclass(frozen=True)
class TokenTags:
    """B/I/O tags (codes of :data:`TAGS`) per annotator, for all labels and per label."""

    overall: tuple[tuple[int, ...], ...]
    per_label: dict[str, tuple[tuple[int, ...], ...]]

    def of(self, annotator: int, label: str | None) -> tuple[int, ...]:
        """The tags of one annotator over all tokens of all documents."""
        return self.overall[annotator] if label is None else self.per_label[label][annotator]


def token_pieces(doc: Doc, cuts: set[int]) -> list[tuple[int, int]]:
    """The document's tokens split at every offset in ``cuts`` that falls inside one."""
    ordered = sorted(cuts)
    pieces = []
    for start, end in doc.tokens or ():
        inner = ordered[bisect_right(ordered, start) : bisect_left(ordered, end)]
        pieces.extend(pairwise([start, *inner, end]))
    return pieces


def token_tags(aligned: Aligned, labels: Sequence[str]) -> TokenTags:
    """B/I/O tags of every annotator over the shared refined tokens (see module doc)."""
    from nercurve.corpus.segment import segment

    firsts = segment([row[0] for row in aligned.docs])
    k = len(aligned.names)
    overall: list[list[int]] = [[] for _ in range(k)]
    per_label = {label: [[] for _ in range(k)] for label in labels}
    for first, row in zip(firsts, aligned.docs, strict=True):
        cuts = {x for doc in row for s in doc.spans for x in (s.start, s.end)}
        pieces = token_pieces(first, cuts)
        for j, doc in enumerate(row):
            owners = _owning_spans(pieces, doc.spans)
            prev = None
            for owner in owners:
                tag = TAGS["O"] if owner is None else TAGS["I"] if owner is prev else TAGS["B"]
                overall[j].append(tag)
                for label in labels:
                    per_label[label][j].append(
                        tag if owner is not None and owner.label == label else TAGS["O"]
                    )
                prev = owner
    return TokenTags(
        overall=tuple(tuple(t) for t in overall),
        per_label={label: tuple(tuple(t) for t in v) for label, v in per_label.items()},
    )


def _owning_spans(pieces: list[tuple[int, int]], spans: Sequence[Span]) -> list[Span | None]:
    """For each piece (in order), the span that contains it, if any."""
    owners: list[Span | None] = []
    k = 0
    for start, end in pieces:
        while k < len(spans) and spans[k].end <= start:
            k += 1
        inside = k < len(spans) and spans[k].start <= start and end <= spans[k].end
        owners.append(spans[k] if inside else None)
    return owners


# ---------------------------------------------------------------- ICC of entity counts


def count_icc(aligned: Aligned, label: str | None = None) -> IccResult:
    """ICC(A,1) of per-document entity counts (of one label, or all) with its 95% CI.

    Undefined (``None``) for fewer than :data:`ICC_MIN_DOCS` documents or counts that
    never vary.
    """
    counts = {
        name: [sum(label is None or s.label == label for s in row[j].spans)
               for row in aligned.docs]
        for j, name in enumerate(aligned.names)
    }
    means = {name: sum(c) / len(c) for name, c in counts.items()}
    n = len(aligned.docs)
    flat = [c for cs in counts.values() for c in cs]
    if n < ICC_MIN_DOCS or len(set(flat)) < 2:
        return IccResult(None, None, None, n, means)
    import numpy as np
    import pandas as pd
    import pingouin

    frame = pd.DataFrame(
        [
            {"doc": doc_index, "annotator": name, "count": float(c)}
            for name, cs in counts.items()
            for doc_index, c in enumerate(cs)
        ]
    )
    saved = pingouin.options.get("round.column.CI95")
    pingouin.options["round.column.CI95"] = None  # full precision for the interval
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pingouin's deprecation and 0/0 noise
            table = pingouin.intraclass_corr(frame, targets="doc", raters="annotator",
                                             ratings="count")
    finally:
        pingouin.options["round.column.CI95"] = saved
    row = table.set_index("Type").loc[ICC_FORM]
    low, high = (float(x) for x in row["CI95"])
    value = float(row["ICC"])
    return IccResult(
        icc=value if math.isfinite(value) else None,
        ci_low=low if math.isfinite(low) else None,
        ci_high=high if math.isfinite(high) else None,
        n_docs=n,
        mean_count=means,
    )
