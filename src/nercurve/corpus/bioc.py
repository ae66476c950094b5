"""BioC collections (XML and JSON), the BioCreative distribution format, through ``bioc``.

Reading: a document's text is its passages placed at their offsets (BioC passage offsets
count from the start of the document), the gaps between passages filled with spaces, so
every offset in the file is an offset into the text: PubTator's title and abstract
(offsets 0 and title length + 1) become title, one space, abstract. A passage without text
is made of its sentences, placed the same way. Annotations of the document, its passages
and their sentences become spans: the ``type`` infon is the label, each location
(``offset``, ``length``) a stretch of text, and the annotation's ``text`` is checked against
it (``ReadOptions.mismatch``). An annotation with several locations is discontinuous
(touching or overlapping locations are merged first) and follows
``ReadOptions.discontinuous``. Other infons (concept ids) and relations are not kept; counted
notices say how many. The document keeps its infons and passage layout in
``meta["bioc"]`` (and, with several passages, the PubTator title end), and, when every
passage has sentences, the sentences. BioC files carry no line numbers: messages name the
document and the annotation.

Writing: BioC JSON when the file name ends in ``.json``, else BioC XML. The passages are
those the document was read with, else PubTator's title and abstract, else one passage
holding the whole text; each span is one annotation (id, ``type`` infon, one location,
its text) in the passage that holds it (at document level when it crosses passages), and
the document's sentences, when it has them, are sentences of their passages.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nercurve.corpus.model import Corpus, Doc
from nercurve.corpus.pubtator import TITLE_END
from nercurve.corpus.validate import Checker, RawSpan, read_text
from nercurve.errors import InputError

if TYPE_CHECKING:
    from bioc import BioCAnnotation, BioCCollection, BioCDocument

    from nercurve.corpus.io import ReadOptions

META_KEY = "bioc"
_HINT = (
    "a BioC file is one <collection> (XML) or one JSON object with \"documents\", each with "
    "an id and passages (offset, text) holding annotations (infon type, location offset "
    "and length, text)"
)


def read(path: Path, options: ReadOptions) -> Corpus:
    """Read a BioC XML or JSON collection."""
    checker = Checker(path, options)
    collection = _load(path, checker)
    extra_infons = 0
    for n, document in enumerate(collection.documents, 1):
        extra_infons += _read_document(document, f"{path.stem}-{n}", checker)
    if extra_infons:
        checker.notice(
            "infons-not-kept",
            f"{extra_infons} annotation(s) carry infons besides 'type' (e.g. concept ids) that "
            "are not kept: spans keep offsets and type only",
        )
    return checker.corpus()


def _load(path: Path, checker: Checker) -> BioCCollection:
    from bioc import biocjson, biocxml
    from lxml import etree

    text = read_text(path)
    try:
        if text.lstrip().startswith("<"):
            with path.open("rb") as fh:
                return biocxml.load(fh)
        obj = json.loads(text)
        if not isinstance(obj, dict):
            raise checker.error("the file is not one JSON object", 1, _HINT)
        return biocjson.decoder.parse_collection(obj)
    except etree.XMLSyntaxError as err:
        raise checker.error(f"not well-formed XML: {err.msg}", err.lineno, _HINT) from None
    except json.JSONDecodeError as err:
        raise checker.error(
            f"not valid JSON ({err.msg} at column {err.colno})", err.lineno, _HINT
        ) from None
    except KeyError as err:
        raise checker.error(
            f"not a BioC collection: an element lacks {err.args[0]!r}", hint=_HINT
        ) from None
    except (TypeError, ValueError, AttributeError) as err:
        raise checker.error(f"not a BioC collection ({err})", hint=_HINT) from None


def _int(value: Any, what: str, doc_id: str, checker: Checker) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if number < 0 or isinstance(value, bool | float):
        raise checker.error(
            f"{what} in document {doc_id!r} is {value!r}, not a whole number",
            hint="BioC offsets and lengths are character counts from the document start",
        )
    return number


def _infons(infons: dict[Any, Any]) -> dict[str, str]:
    return {str(k): "" if v is None else str(v) for k, v in infons.items()}


def _read_document(document: BioCDocument, fallback_id: str, checker: Checker) -> int:
    """Hand one BioC document to the checker; how many annotations had other infons."""
    doc_id = str(document.id) if document.id not in (None, "") else fallback_id
    pieces: list[str] = []
    layout: list[dict[str, Any]] = []
    sentences: list[tuple[int, int]] = []
    annotations = list(document.annotations)
    relations = len(document.relations)
    pos = 0
    for k, passage in enumerate(document.passages, 1):
        annotations += passage.annotations
        relations += len(passage.relations)
        parts = [(passage.offset, passage.text or "")]
        if not passage.text and passage.sentences:
            parts = [(s.offset, s.text or "") for s in passage.sentences]
        start = None
        for offset, text in parts:
            offset = _int(offset, f"the offset of passage {k}", doc_id, checker)
            if offset < pos:
                raise checker.error(
                    f"passage {k} of document {doc_id!r} (or one of its sentences) starts at "
                    f"offset {offset}, inside the text before it (which ends at {pos})",
                    hint="BioC offsets count from the start of the document and increase",
                )
            pieces += [" " * (offset - pos), text]
            start = offset if start is None else start
            pos = offset + len(text)
        for sentence in passage.sentences:
            annotations += sentence.annotations
            relations += len(sentence.relations)
            if sentence.text:
                s = _int(sentence.offset, f"the offset of a sentence of passage {k}", doc_id,
                         checker)
                sentences.append((s, s + len(sentence.text)))
        layout.append({"offset": start, "length": pos - start, "infons": _infons(passage.infons)})
    text = "".join(pieces)
    spans: list[RawSpan] = []
    for ann in annotations:
        spans += _spans(ann, doc_id, text, checker)
    if relations:
        checker.notice(
            "skipped-relation", f"skipped {relations} relation(s) of document {doc_id!r}",
            doc_id=doc_id,
        )
    meta: dict[str, Any] = {META_KEY: {"infons": _infons(document.infons), "passages": layout}}
    if len(layout) > 1 and layout[0]["offset"] == 0:
        meta[TITLE_END] = layout[0]["length"]
    every = bool(document.passages) and all(p.sentences for p in document.passages)
    checker.add_doc(doc_id, text, spans, sentences=tuple(sentences) if every else None,
                    meta=meta)
    return sum(1 for ann in annotations if set(ann.infons) - {"type"})


def _spans(ann: BioCAnnotation, doc_id: str, text: str, checker: Checker) -> list[RawSpan]:
    ref = f"annotation {ann.id!r}"
    label = ann.infons.get("type")
    if not label:
        raise checker.error(
            f"{ref} in document {doc_id!r} has no 'type' infon",
            hint="each BioC annotation names its entity type in an infon with the key 'type'",
        )
    located = sorted(
        (start, start + _int(loc.length, f"the location length of {ref}", doc_id, checker))
        for loc in ann.locations
        for start in [_int(loc.offset, f"the location offset of {ref}", doc_id, checker)]
    )
    fragments: list[tuple[int, int]] = []
    for start, end in located:
        if fragments and start <= fragments[-1][1]:  # touching or overlapping: one stretch
            fragments[-1] = (fragments[-1][0], max(end, fragments[-1][1]))
        else:
            fragments.append((start, end))
    if not fragments:
        checker.notice(
            "annotation-without-location",
            f"{ref} ({label}) in document {doc_id!r} has no location; skipped",
            doc_id=doc_id,
        )
        return []
    raw = RawSpan(*fragments[0], str(label), None, ann.text or None, ref)
    if len(fragments) == 1:
        return [raw]
    shown = f"{label} " + ";".join(f"[{a},{b})" for a, b in fragments)
    return checker.fragments(fragments, raw, doc_id, text, shown)


def _layout(doc: Doc) -> list[tuple[int, int, dict[str, str]]]:
    """The passages to write: (offset, length, infons), covering every non-space character."""
    text = doc.text
    candidates: list[list[tuple[int, int, dict[str, str]]]] = []
    stored = doc.meta.get(META_KEY)
    if isinstance(stored, dict) and isinstance(stored.get("passages"), list):
        # a layout this module did not write falls back to the others
        with contextlib.suppress(TypeError, ValueError, KeyError, AttributeError):
            candidates.append([
                (int(p["offset"]), int(p["length"]), _infons(p.get("infons") or {}))
                for p in stored["passages"]
            ])
    end = doc.meta.get(TITLE_END)
    if isinstance(end, int):
        candidates.append(
            [(0, end, {"type": "title"}), (end + 1, len(text) - end - 1, {"type": "abstract"})]
        )
    for passages in candidates:
        pos, fits = 0, True
        for offset, length, _ in passages:
            fits = fits and pos <= offset and length >= 0 and set(text[pos:offset]) <= {" "}
            pos = offset + length
        if fits and pos == len(text):
            return passages
    return [(0, len(text), {})]


def _refuse(doc: Doc, path: Path, what: str) -> InputError:
    return InputError(
        f"document {doc.id!r} cannot be written as BioC XML: {what}",
        file=path,
        hint="write it as BioC JSON (.json) or JSONL (.jsonl), which hold any text",
    )


def _document(doc: Doc) -> BioCDocument:
    """One document as BioC: its passages, and each span as an annotation."""
    from bioc import BioCAnnotation, BioCDocument, BioCLocation, BioCPassage, BioCSentence

    document = BioCDocument()
    document.id = doc.id
    stored = doc.meta.get(META_KEY)
    if isinstance(stored, dict) and isinstance(stored.get("infons"), dict):
        document.infons = _infons(stored["infons"])
    for offset, length, infons in _layout(doc):
        passage = BioCPassage.of_text(doc.text[offset : offset + length], offset)
        passage.infons = infons
        document.add_passage(passage)
    for k, span in enumerate(doc.spans, 1):
        ann = BioCAnnotation()
        ann.id, ann.infons, ann.text = str(k), {"type": span.label}, doc.span_text(span)
        ann.add_location(BioCLocation(span.start, span.end - span.start))
        _home(document, span.start, span.end).add_annotation(ann)
    for start, end in doc.sentences or ():
        home = _home(document, start, end)
        if home is not document:
            home.add_sentence(BioCSentence.of_text(doc.text[start:end], start))
    return document


def _home(document: BioCDocument, start: int, end: int) -> Any:
    """The passage that holds ``[start, end)``, else the document itself."""
    return next(
        (p for p in document.passages if p.offset <= start and end <= p.offset + len(p.text)),
        document,
    )


def write(docs: Sequence[Doc], path: Path) -> None:
    """Write documents as a BioC collection: JSON for a ``.json`` file, else XML."""
    from bioc import BioCCollection, biocjson
    from bioc.biocxml.encoder import encode_collection, encode_document
    from lxml import etree

    collection = BioCCollection()
    collection.source, collection.date = "nercurve", ""
    if path.suffix.lower() == ".json":
        for doc in docs:
            collection.add_document(_document(doc))
        with path.open("w", encoding="utf-8", newline="\n") as fh:
            biocjson.dump(collection, fh, indent=1)
        return
    root = encode_collection(collection)
    for doc in docs:
        try:
            root.append(encode_document(_document(doc)))
        except ValueError as err:  # lxml: a character XML 1.0 cannot hold
            raise _refuse(doc, path, str(err)) from None
    path.write_bytes(
        etree.tostring(etree.ElementTree(root), pretty_print=True, encoding="utf-8",
                       standalone=True)
    )
