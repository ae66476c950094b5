"""Between nercurve documents (text + character spans) and spaCy documents (tokens + ents).

spaCy learns and predicts entities as whole tokens, so a gold span whose edges fall
inside a token cannot be represented as is: a sentence-final ``"Procore Ltd"``
annotated without the period, since spaCy keeps ``"Ltd."`` as one token (about 1.7 %
of the synthetic COI corpus's spans), or a span that takes in a trailing space. The
policy, applied to training documents only:

- a span on token boundaries is kept (``exact``);
- otherwise it is widened to every token it touches (spaCy's ``alignment_mode="expand"``),
  then whitespace tokens at its edges are trimmed (``expanded``);
- a span that is left empty (it covered only whitespace) or that now overlaps a span
  kept before it is dropped (``dropped``); every other token is marked "outside".

The counts travel with the trained model (:attr:`SpacyModel.alignment`). Gold spans
used for scoring are never changed: a test span that no token sequence can match is
simply a miss, as it would be for any token-based recognizer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nercurve.corpus.model import Doc, Span


@dataclass
class AlignmentCounts:
    """How gold spans were mapped onto spaCy tokens (see the module docstring).

    ``spans = exact + expanded + dropped``.
    """

    spans: int = 0
    exact: int = 0
    expanded: int = 0
    dropped: int = 0

    def to_dict(self) -> dict[str, int]:
        """Plain-data form."""
        return asdict(self)


def spacy_doc(nlp: Any, doc: Doc, counts: AlignmentCounts) -> Any:
    """``doc`` tokenized by ``nlp``'s tokenizer with its spans set as entities.

    Spans are aligned to tokens by the module's policy and tallied in ``counts``.
    """
    sdoc = nlp.make_doc(doc.text)
    ents = []
    last_end = 0
    for span in doc.spans:
        counts.spans += 1
        ent = sdoc.char_span(span.start, span.end, label=span.label, alignment_mode="strict")
        exact = ent is not None
        if ent is None:
            ent = _expanded(sdoc, span)
        if ent is None or ent.start < last_end:
            counts.dropped += 1
            continue
        if exact:
            counts.exact += 1
        else:
            counts.expanded += 1
        ents.append(ent)
        last_end = ent.end
    sdoc.ents = ents
    return sdoc


def _expanded(sdoc: Any, span: Span) -> Any:
    """The span widened to whole tokens without whitespace tokens at its edges, or None."""
    ent = sdoc.char_span(span.start, span.end, label=span.label, alignment_mode="expand")
    if ent is None:
        return None
    start, end = ent.start, ent.end
    while start < end and sdoc[start].is_space:
        start += 1
    while end > start and sdoc[end - 1].is_space:
        end -= 1
    if start == end:
        return None
    from spacy.tokens import Span as SpacySpan

    return SpacySpan(sdoc, start, end, label=span.label)


def spacy_docs(nlp: Any, docs: Iterable[Doc]) -> tuple[list[Any], AlignmentCounts]:
    """:func:`spacy_doc` for many documents, with the alignment counts over all of them."""
    counts = AlignmentCounts()
    return [spacy_doc(nlp, d, counts) for d in docs], counts


def examples(nlp: Any, docs: Iterable[Doc]) -> tuple[list[Any], AlignmentCounts]:
    """Training ``Example`` objects: the raw tokenization paired with the gold entities.

    This is what ``spacy train`` builds from a DocBin of the same documents.
    """
    from spacy.training import Example

    references, counts = spacy_docs(nlp, docs)
    return [Example(nlp.make_doc(ref.text), ref) for ref in references], counts


def char_spans(sdoc: Any, label_map: Mapping[str, str] | None = None) -> tuple[Span, ...]:
    """A spaCy document's entities as character spans, optionally relabelled.

    With a ``label_map``, entities whose label is not a key are dropped.
    """
    spans = []
    for ent in sdoc.ents:
        label = ent.label_ if label_map is None else label_map.get(ent.label_)
        if label is not None:
            spans.append(Span(ent.start_char, ent.end_char, label))
    return tuple(sorted(spans))


#: How many parses of the recognizer's beam score its uncertainty.
BEAM_WIDTH = 8


class SpacyModel:
    """A spaCy pipeline as a nercurve model: text in, character spans out."""

    def __init__(
        self,
        nlp: Any,
        *,
        label_map: Mapping[str, str] | None = None,
        alignment: AlignmentCounts | None = None,
    ) -> None:
        self.nlp = nlp
        self.label_map = dict(label_map) if label_map is not None else None
        self.alignment = alignment

    def save(self, path: Path) -> None:
        """The pipeline as a spaCy pipeline folder (``spacy.load(path)`` reads it; a label
        map is not part of it)."""
        self.nlp.to_disk(path)

    def predict(self, docs: Sequence[Doc]) -> list[tuple[Span, ...]]:
        """Entities the pipeline finds in each document's text, in order."""
        sdocs = [self.nlp.make_doc(d.text) for d in docs]
        return predict_tokenized(self.nlp, sdocs, self.label_map)

    def uncertainty(self, docs: Sequence[Doc], measure: str) -> list[float]:
        """How unsure the entity recognizer is of each document (higher: more), from the
        ``BEAM_WIDTH`` best parses of its beam (their probabilities renormalised over the
        beam): ``"least_confidence"`` is 1 − the best parse's probability, ``"entropy"`` the
        mean token entropy of the label distributions the parses give each token
        (:mod:`nercurve.backends.uncertainty`)."""
        from nercurve.backends.uncertainty import (
            least_confidence,
            mean_token_entropy,
            spans_marginals,
        )

        ner = self.nlp.get_pipe("ner")
        sdocs = [self.nlp.make_doc(d.text) for d in docs]
        for name, component in self.nlp.pipeline:  # what the recognizer reads (tok2vec)
            if name == "ner":
                break
            sdocs = list(component.pipe(sdocs))
        labels = list(ner.labels)
        out = []
        for start in range(0, len(sdocs), 64):
            chunk = sdocs[start:start + 64]
            for sdoc, beam in zip(chunk, ner.beam_parse(chunk, beam_width=BEAM_WIDTH),
                                  strict=True):
                parses = ner.moves.get_beam_parses(beam)
                if measure == "least_confidence":
                    out.append(least_confidence(max((p for p, _ in parses), default=1.0)))
                else:
                    out.append(mean_token_entropy(spans_marginals(parses, len(sdoc), labels)))
        return out


def predict_tokenized(
    nlp: Any, sdocs: Sequence[Any], label_map: Mapping[str, str] | None = None
) -> list[tuple[Span, ...]]:
    """Run ``nlp`` over already tokenized spaCy documents (annotated in place) and read spans."""
    return [char_spans(d, label_map) for d in nlp.pipe(sdocs)]
