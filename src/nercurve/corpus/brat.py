"""brat standoff: a folder of ``name.txt`` + ``name.ann`` pairs (searched recursively).

Each ``.ann`` file is one document whose id is its path under the folder without the
suffix (``sub/doc1``); its ``.txt`` is read byte-exact (offsets count every character).
Entity lines ``T1<TAB>Label start end[;start end...]<TAB>mention`` become spans, their
mention checked against the text; relation, event, attribute, normalization and note
lines are skipped with a counted notice. A discontinuous span (several fragments) is
handled by ``ReadOptions.discontinuous``: ``error`` (default), ``hull`` (first start to
last end), ``first-fragment``, or ``split`` (one span per fragment), each counted.
A ``.txt`` without an ``.ann`` is not read (a counted notice names it). One document can be
read by pointing at its ``.ann`` or its ``.txt``. :func:`write_folder` writes such a folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from nercurve.corpus.model import Corpus, Doc
from nercurve.corpus.validate import Checker, RawSpan, read_lines, read_text
from nercurve.errors import InputError

if TYPE_CHECKING:
    from nercurve.corpus.io import ReadOptions

_HINT = "entity lines look like 'T1<TAB>Label 0 5<TAB>mention' (fragments joined with ';')"


def _pairs(path: Path, checker: Checker) -> tuple[Path, list[Path]]:
    if path.is_file():
        return path.parent, [path.with_suffix(".ann")]
    anns = sorted(path.rglob("*.ann"))
    stems = {a.with_suffix("") for a in anns}
    for txt in sorted(path.rglob("*.txt")):
        if txt.with_suffix("") not in stems:
            checker.notice(
                "txt-without-ann", f"{txt.name} has no .ann file; not read", file=str(txt)
            )
    return path, anns


def read(path: Path, options: ReadOptions) -> Corpus:
    """Read a brat standoff folder (or one ``.ann``/``.txt`` pair)."""
    checker = Checker(path, options)
    root, anns = _pairs(path, checker)
    for ann in anns:
        txt = ann.with_suffix(".txt")
        for f in (ann, txt):
            if not f.is_file():
                raise checker.error(
                    f"{f.name} is missing", hint="brat needs a .txt and an .ann per document"
                )
        text = read_text(txt, strip_bom=False)
        doc_id = ann.relative_to(root).with_suffix("").as_posix()
        spans: list[RawSpan] = []
        for lineno, line in enumerate(read_lines(ann, checker), 1):
            if not line.strip():
                continue
            if not line.startswith("T"):
                checker.notice(
                    "skipped-annotation",
                    f"skipped non-entity annotation {line.split(maxsplit=1)[0]!r} "
                    f"of document {doc_id!r}",
                    lineno,
                    doc_id,
                    str(ann),
                )
                continue
            spans.extend(_entity(line, lineno, doc_id, text, checker, str(ann)))
        checker.add_doc(doc_id, text, spans, file=str(ann))
    return checker.corpus(str(path))


def _entity(
    line: str, lineno: int, doc_id: str, text: str, checker: Checker, ann: str
) -> list[RawSpan]:
    fields = line.split("\t")
    label, _, offsets = fields[1].partition(" ") if len(fields) > 1 else ("", "", "")
    mention = fields[2] if len(fields) > 2 else None
    try:
        fragments = [(int(a), int(b)) for a, b in (frag.split() for frag in offsets.split(";"))]
    except ValueError:
        raise checker.error(
            f"cannot read the entity line {line[:60]!r}", lineno, _HINT, ann
        ) from None
    raw = RawSpan(fragments[0][0], fragments[0][1], label, lineno, mention)
    if len(fragments) == 1:
        return [raw]
    return checker.fragments(fragments, raw, doc_id, text, f"{fields[0]} {label} {offsets}", ann)


def write_folder(docs: Sequence[Doc], folder: Path) -> None:
    """Write documents as a brat folder: ``<id>.txt`` (the text, byte-exact) and ``<id>.ann``
    (one entity line per span; a span across line breaks as fragments, one per line) per
    document, the id's ``/`` as sub-folders. An id that cannot be a relative path is an
    :class:`~nercurve.errors.InputError`."""
    for doc in docs:
        parts = Path(doc.id).parts
        if not doc.id or Path(doc.id).is_absolute() or ".." in parts:
            raise InputError(f"document id {doc.id!r} cannot name a brat file", file=folder,
                             hint="give the documents ids that are relative file names")
        stem = folder.joinpath(*parts)
        lines = []
        for n, span in enumerate(doc.spans, start=1):
            fragments, start = [], span.start
            for piece in doc.text[span.start:span.end].split("\n"):
                if piece:
                    fragments.append((start, start + len(piece)))
                start += len(piece) + 1
            where = ";".join(f"{a} {b}" for a, b in fragments)
            mention = " ".join(doc.text[a:b] for a, b in fragments)
            lines.append(f"T{n}\t{span.label} {where}\t{mention}\n")
        try:
            stem.parent.mkdir(parents=True, exist_ok=True)
            stem.with_name(stem.name + ".txt").write_bytes(doc.text.encode("utf-8"))
            stem.with_name(stem.name + ".ann").write_bytes("".join(lines).encode("utf-8"))
        except OSError as err:
            raise InputError(f"cannot write: {err.strerror or err}", file=stem,
                             hint="check the output folder") from None
