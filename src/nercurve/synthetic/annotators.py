"""Simulated annotators: copies of a gold corpus with controlled, seeded annotation errors.

What ``noise`` means: for each annotator independently, every gold entity receives one
error with probability ``noise`` (and is copied unchanged otherwise). The error's kind is
drawn with equal probability from the allowed kinds (all four by default) that can be
applied to that entity:

- ``boundary``: the start or the end moves by one token (the span takes in the
  neighbouring token or gives up its first or last one) or by one character; the new
  span is non-empty, lies inside the text, neither starts nor ends on whitespace and
  overlaps no other span of that annotator;
- ``type``: the label becomes another label of the corpus, drawn uniformly (not
  applicable when the corpus has a single label);
- ``miss``: the entity is left out;
- ``spurious``: the entity is kept and a spurious span (one or two tokens with a letter
  or digit, outside every gold and annotated span, with a uniformly drawn label of the
  corpus) is added to the same document.

So each annotator makes about ``noise * N`` errors on ``N`` gold entities; with the four
kinds allowed and applicable, ``noise / 4 * N`` of each, and it marks ``N`` entities on
average (misses and spurious spans cancel out). A document without entities gets no
errors. Each
simulated document records what was done to it in ``meta["injected_errors"]``: a list of
``{"kind", "gold": [start, end, label], "span": [start, end, label] or None}`` where
``span`` is the annotator's replacement (``None`` for a miss) or, for ``spurious``, the
added span. :func:`expected_agreement` gives the agreement figures these rates imply.

Annotator ``i`` (named ``A``, ``B``, ... in order) draws from its own generator seeded
with ``(seed, i)``, so its annotations do not depend on how many annotators are
simulated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from nercurve.agreement.aligned import annotator_names
from nercurve.corpus.model import Corpus, Doc, Span
from nercurve.errors import InputError

ERROR_KINDS = ("boundary", "type", "miss", "spurious")


def simulate_annotators(
    corpus: Corpus,
    n_annotators: int,
    noise: float,
    seed: int,
    *,
    kinds: Sequence[str] = ERROR_KINDS,
) -> list[Corpus]:
    """``n_annotators`` copies of ``corpus``, each with errors at rate ``noise`` per entity.

    See the module documentation for exactly what ``noise`` means. ``kinds`` restricts
    the errors to some of :data:`ERROR_KINDS`. Raises :class:`InputError` for a count
    below 1, a noise outside [0, 1], a negative seed or an unknown kind.
    """
    import numpy as np

    from nercurve.corpus.segment import segment

    _check_arguments(n_annotators, noise, seed, kinds)
    labels = corpus.labels()
    segmented = segment(corpus.docs)
    out = []
    for index, name in enumerate(annotator_names(n_annotators)):
        rng = np.random.default_rng([seed, index])
        docs = [
            _annotate(doc, seg.tokens or (), labels, noise, tuple(kinds), rng, name)
            for doc, seg in zip(corpus.docs, segmented, strict=True)
        ]
        source = corpus.source or "corpus"
        out.append(
            Corpus(
                docs,
                source=f"annotator {name} simulated from {source} (noise {noise}, seed {seed})",
            )
        )
    return out


def _check_arguments(n_annotators: int, noise: float, seed: int, kinds: Sequence[str]) -> None:
    if int(n_annotators) != n_annotators or n_annotators < 1:
        raise InputError(
            f"number of annotators must be a whole number of at least 1, not {n_annotators}",
            hint="pass e.g. --annotators 2",
        )
    if not 0.0 <= noise <= 1.0:
        raise InputError(
            f"noise must lie between 0 and 1, not {noise}",
            hint="noise is the probability that a gold entity gets an error, e.g. 0.02",
        )
    if int(seed) != seed or seed < 0:
        raise InputError(f"seed must be a whole number >= 0, not {seed}", hint="pass --seed 0")
    unknown = [k for k in kinds if k not in ERROR_KINDS]
    if unknown or not kinds:
        raise InputError(
            f"unknown or no error kinds: {', '.join(unknown) or '(none)'}",
            hint=f"choose from: {', '.join(ERROR_KINDS)}",
        )


def _annotate(
    doc: Doc,
    tokens: Sequence[tuple[int, int]],
    labels: Sequence[str],
    noise: float,
    kinds: tuple[str, ...],
    rng: Any,
    name: str,
) -> Doc:
    kept: list[Span | None] = list(doc.spans)
    extra: list[Span] = []
    records: list[dict[str, Any]] = []
    wordlike = [i for i, (ts, te) in enumerate(tokens) if any(c.isalnum() for c in doc.text[ts:te])]
    for index, gold in enumerate(doc.spans):
        if rng.random() >= noise:
            continue
        others = [s for i, s in enumerate(kept) if s is not None and i != index] + extra
        options: dict[str, Any] = {}
        if "boundary" in kinds:
            candidates = _boundary_candidates(gold, tokens, doc.text, others)
            if candidates:
                options["boundary"] = candidates
        if "type" in kinds and len(labels) > 1:
            options["type"] = [label for label in labels if label != gold.label]
        if "miss" in kinds:
            options["miss"] = [None]
        if "spurious" in kinds:
            free = _free_tokens(tokens, wordlike, len(doc.text), [*others, *doc.spans])
            if free:
                options["spurious"] = sorted(free)
        if not options:
            continue
        kind = list(options)[int(rng.integers(len(options)))]
        choices = options[kind]
        pick = choices[int(rng.integers(len(choices)))]
        new: Span | None
        if kind == "boundary":
            new = Span(pick[0], pick[1], gold.label)
            kept[index] = new
        elif kind == "type":
            new = Span(gold.start, gold.end, pick)
            kept[index] = new
        elif kind == "miss":
            new = None
            kept[index] = None
        else:
            new = _spurious_span(pick, options["spurious"], tokens, labels, rng)
            extra.append(new)
        records.append({"kind": kind, "gold": _triple(gold), "span": _triple(new)})
    spans = [s for s in kept if s is not None] + extra
    meta = {**doc.meta, "annotator": name, "injected_errors": records}
    return replace(doc, spans=tuple(sorted(spans)), meta=meta)


def _triple(span: Span | None) -> list[Any] | None:
    return None if span is None else [span.start, span.end, span.label]


def _boundary_candidates(
    span: Span, tokens: Sequence[tuple[int, int]], text: str, others: Sequence[Span]
) -> list[tuple[int, int]]:
    """Every (start, end) one token or one character away from the span's boundaries."""
    s, e = span.start, span.end
    moves = {(s - 1, e), (s + 1, e), (s, e - 1), (s, e + 1)}
    before = [ts for ts, te in tokens if te <= s]
    after = [te for ts, te in tokens if ts >= e]
    inner_starts = [ts for ts, _ in tokens if s < ts < e]
    inner_ends = [te for _, te in tokens if s < te < e]
    if before:
        moves.add((max(before), e))
    if after:
        moves.add((s, min(after)))
    if inner_starts:
        moves.add((min(inner_starts), e))
    if inner_ends:
        moves.add((s, max(inner_ends)))
    return sorted(
        (a, b)
        for a, b in moves
        if 0 <= a < b <= len(text)
        and (a, b) != (s, e)
        and not text[a].isspace()
        and not text[b - 1].isspace()
        and not any(a < o.end and o.start < b for o in others)
    )


def _free_tokens(
    tokens: Sequence[tuple[int, int]],
    wordlike: Sequence[int],
    length: int,
    taken: Sequence[Span],
) -> set[int]:
    """Indexes of the ``wordlike`` tokens that overlap no span in ``taken``."""
    covered = bytearray(length)
    for span in taken:
        covered[span.start : span.end] = b"\x01" * (span.end - span.start)
    return {i for i in wordlike if not any(covered[tokens[i][0] : tokens[i][1]])}


def _spurious_span(
    index: int,
    free: Sequence[int],
    tokens: Sequence[tuple[int, int]],
    labels: Sequence[str],
    rng: Any,
) -> Span:
    """Free token ``index``, or it and the next token when that is free too (even odds)."""
    start, end = tokens[index]
    if rng.random() < 0.5 and index + 1 in free:
        end = tokens[index + 1][1]
    return Span(start, end, labels[int(rng.integers(len(labels)))])


def expected_agreement(
    noise: float,
    label_shares: Mapping[str, float],
    kinds: Sequence[str] = ERROR_KINDS,
) -> dict[str, float]:
    """Agreement two simulated annotators are expected to reach at this ``noise``.

    ``label_shares`` is the share of each label among the gold entities. Assumes every
    allowed kind applies to every entity (so each has probability ``noise / len(kinds)``)
    and leaves out the rare chance that both annotators shift the same boundary the
    same way (below ``(noise / len(kinds))**2 / 4``). Per gold entity, with ``qb, qt,
    qm, qs`` the rates of the four kinds, ``c = 1 - qb - qt - qm`` the chance an
    annotator copies it exactly and ``n = 1 - qm + qs`` the spans marked per entity:

    - ``f1_exact = (c**2 + qt**2 / (L - 1)) / n`` (both exact, or both swapped to the
      same one of the ``L - 1`` other labels);
    - ``f1_boundary = (c + qt)**2 / n``; ``f1_overlap = (1 - qm)**2 / n``;
    - ``boundary_agreement = m / (2n - m)`` with ``m = (c + qt)**2``;
    - ``type_agreement = 1 - 2t(1 - t) - t**2 (L - 2) / (L - 1)`` with
      ``t = qt / (c + qt)`` the chance a boundary-correct span has a swapped label;
    - ``type_kappa = (po - pe) / (1 - pe)`` with ``po`` the type agreement and ``pe`` the
      sum over labels of the squared share each annotator gives the label after swaps.
    """
    _check_arguments(1, noise, 0, kinds)
    rate = {kind: (noise / len(kinds) if kind in kinds else 0.0) for kind in ERROR_KINDS}
    qb, qt, qm, qs = (rate[k] for k in ERROR_KINDS)
    total = sum(label_shares.values())
    shares = {label: v / total for label, v in label_shares.items()}
    n_labels = len(shares)
    if n_labels < 2:
        qt = 0.0
    c = 1 - qb - qt - qm
    n = 1 - qm + qs
    same_swap = qt**2 / (n_labels - 1) if n_labels > 1 else 0.0
    matched = (c + qt) ** 2
    t = qt / (c + qt) if c + qt else 0.0
    po = 1 - 2 * t * (1 - t) - (t**2 * (n_labels - 2) / (n_labels - 1) if n_labels > 1 else 0)
    given = {
        m: sum(p * ((1 - t) if m == gold else t / (n_labels - 1)) for gold, p in shares.items())
        for m in shares
    }
    pe = sum(v**2 for v in given.values())
    return {
        "f1_exact": (c**2 + same_swap) / n,
        "f1_boundary": matched / n,
        "f1_overlap": (1 - qm) ** 2 / n,
        "boundary_agreement": matched / (2 * n - matched),
        "type_agreement": po,
        "type_kappa": (po - pe) / (1 - pe) if pe < 1 else float("nan"),
    }
