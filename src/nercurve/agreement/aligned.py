"""Annotations of the same documents by several annotators, matched by document id.

:func:`align` is where every agreement figure, disagreement list and adjudication starts:
it checks that the annotations cover the same documents with the same text and flat,
in-bounds spans, and names the annotators ``A``, ``B``, ``C``, ... in the order given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from nercurve.corpus.model import Corpus, Doc
from nercurve.errors import InputError

# Meta keys that describe one annotator's copy of a document rather than the document
# (who annotated it; which errors a simulated annotator made): a merged gold standard
# drops them.
ANNOTATOR_META_KEYS = ("annotator", "injected_errors")


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
