"""spaCy DocBin (``.spacy``): documents with spaCy's tokens, sentences and entities.

Reading keeps spaCy's tokens (whitespace tokens left out) and, when the DocBin has
sentence boundaries, its sentences (each ending at its last non-whitespace token);
entities (``doc.ents``) become spans and ``doc.cats`` the categories; span groups
(``doc.spans``, e.g. a span categorizer's ``"sc"``) are not read, and one notice counts
them. The document id
is ``user_data["nercurve_id"]`` when the file was written by nercurve, else
``<file stem>-<n>``. Writing builds spaCy documents from the document's own tokens
(derived with spaCy when missing), cut at span and sentence edges so every span is whole
tokens, and stores id and meta in ``user_data``. spaCy is imported only here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nercurve.corpus.conll import aligned_tokens
from nercurve.corpus.model import Corpus, Doc
from nercurve.corpus.validate import Checker, RawSpan
from nercurve.errors import InputError

if TYPE_CHECKING:
    from nercurve.corpus.io import ReadOptions

ID_KEY = "nercurve_id"
META_KEY = "nercurve_meta"


def read(path: Path, options: ReadOptions) -> Corpus:
    """Read a spaCy DocBin file."""
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab
    from srsly import msgpack

    checker = Checker(path, options)
    try:
        bin_ = DocBin().from_bytes(path.read_bytes())
        # user data decoded here with one reused unpacker: spaCy's per-document decoding
        # scans its whole function registry each time (seconds for a large corpus)
        packed, bin_.user_data = bin_.user_data, []
        sdocs = list(bin_.get_docs(Vocab()))
        unpacker = msgpack.Unpacker(use_list=False, raw=False)
        users = []
        for raw in packed:
            unpacker.feed(raw or msgpack.packb({}))
            users.append(unpacker.unpack())
    except Exception as err:  # spaCy raises a variety of errors on foreign bytes
        raise checker.error(
            f"not a readable spaCy DocBin ({type(err).__name__}: {err})",
            hint="write it with spaCy's DocBin.to_disk, or name the right --format",
        ) from None
    groups: dict[str, int] = {}
    for n, (sdoc, user) in enumerate(zip(sdocs, users, strict=True), 1):
        doc_id = str(user.get(ID_KEY) or f"{path.stem}-{n}")
        tokens = tuple((t.idx, t.idx + len(t.text)) for t in sdoc if not t.text.isspace())
        sentences = None
        if sdoc.has_annotation("SENT_START"):
            sentences = tuple(
                (words[0].idx, words[-1].idx + len(words[-1].text))
                for words in ([t for t in s if not t.text.isspace()] for s in sdoc.sents)
                if words
            )
        spans = [RawSpan(e.start_char, e.end_char, e.label_) for e in sdoc.ents]
        for key, group in sdoc.spans.items():
            groups[key] = groups.get(key, 0) + len(group)
        meta = user.get(META_KEY)
        checker.add_doc(
            doc_id,
            sdoc.text,
            spans,
            sentences=sentences,
            tokens=tokens,
            cats=dict(sdoc.cats),
            meta=dict(meta) if isinstance(meta, dict) else {},
        )
    if any(groups.values()):
        listed = ", ".join(f"{count} in {key!r}" for key, count in groups.items() if count)
        checker.notice(
            "span-groups-not-read",
            f"span groups (doc.spans) are not read, only doc.ents: {listed}",
        )
    return checker.corpus()


def _words(text: str, pieces: list[tuple[int, int]]) -> tuple[list[str], list[bool], list[int]]:
    """spaCy words and trailing spaces covering the text exactly, and each word's offset."""
    words: list[str] = []
    spaces: list[bool] = []
    offsets: list[int] = []
    pos = 0
    for start, end in [*pieces, (len(text), len(text))]:
        gap = text[pos:start]
        if gap and words and gap[0] == " ":
            spaces[-1] = True
            gap = gap[1:]
        if gap:
            words.append(gap)
            spaces.append(False)
            offsets.append(start - len(gap))
        if end > start:
            words.append(text[start:end])
            spaces.append(False)
            offsets.append(start)
        pos = end
    return words, spaces, offsets


def _refuse(doc: Doc, path: Path, what: str) -> InputError:
    return InputError(
        f"document {doc.id!r} cannot be written as a DocBin: {what}",
        file=path,
        hint="fix the document, or write it as JSONL (.jsonl)",
    )


def write(docs: Sequence[Doc], path: Path) -> None:
    """Write documents as a spaCy DocBin (tokens derived with spaCy where missing)."""
    from spacy.tokens import Doc as SpacyDoc
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab
    from srsly import msgpack

    if any(d.tokens is None or d.sentences is None for d in docs):
        from nercurve.corpus.segment import segment

        docs = segment(docs)
    vocab = Vocab()
    bin_ = DocBin()
    packer = msgpack.Packer(use_bin_type=True)
    users: list[bytes] = []
    for doc in docs:
        words, spaces, offsets = _words(doc.text, aligned_tokens(doc))
        sent_starts: list[Any] | None = None
        if doc.sentences is not None:
            starts = {s for s, _ in doc.sentences}
            sent_starts = [
                i == 0 or (not w.isspace() and o in starts)
                for i, (w, o) in enumerate(zip(words, offsets, strict=True))
            ]
        sdoc = SpacyDoc(vocab, words=words, spaces=spaces, sent_starts=sent_starts)
        ents = []
        for span in doc.spans:
            ent = sdoc.char_span(span.start, span.end, label=span.label)
            if ent is None:
                raise _refuse(doc, path, f"span {span} does not start and end on a token")
            ents.append(ent)
        try:
            sdoc.ents = ents
        except ValueError as err:
            raise _refuse(doc, path, f"its spans overlap ({err})") from None
        sdoc.cats = dict(doc.cats)
        bin_.add(sdoc)
        user = {ID_KEY: doc.id, **({META_KEY: dict(doc.meta)} if doc.meta else {})}
        try:
            users.append(packer.pack(user))
        except (TypeError, ValueError) as err:
            raise _refuse(doc, path, f"its meta cannot be stored ({err})") from None
    # user data packed above with one reused packer (spaCy's per-document packing is slow)
    bin_.store_user_data, bin_.user_data = True, users
    path.write_bytes(bin_.to_bytes())
