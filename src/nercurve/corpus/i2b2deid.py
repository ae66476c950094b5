"""i2b2/UTHealth 2014 de-identification (n2c2): one XML file per note, PHI tagged by offsets.

::

    <deIdi2b2>
    <TEXT><![CDATA[Record date: 2067-05-03 ...]]></TEXT>
    <TAGS>
    <DATE id="P0" start="13" end="23" text="2067-05-03" TYPE="DATE" comment="" />
    <NAME id="P1" start="..." end="..." text="..." TYPE="PATIENT" comment="" />
    </TAGS>
    </deIdi2b2>

A file is one document (its id: the file name without ``.xml``, or its path under the folder
read, ``set1/220-01``); a folder is read recursively, in sorted order, and files that are not
``.xml`` are left out with a counted notice. The text is the ``TEXT`` element's (XML reads a
line end as ``\\n``, as the release's offsets count it). Each child of ``TAGS`` is a span:
``start``/``end`` are 0-based character offsets into the text (end exclusive), ``TYPE`` the
label (the release's 25 types: PATIENT, DOCTOR, HOSPITAL, DATE, ...), and ``text`` is checked
against the text at the offsets (``ReadOptions.mismatch``). The element name (the PHI
category: NAME, LOCATION, DATE, ...) is not kept; to study categories, map the types with
``--label-map`` (see :data:`CATEGORIES`). ``id`` and ``comment`` are not kept.

Errors name the file and the line of the element: XML that is not well formed, no ``TEXT``,
no ``TAGS`` (an unannotated file: read as none it would claim the note has no PHI), a tag
without ``start``, ``end``, ``text`` or ``TYPE``, offsets that are not whole numbers or lie
outside the text, text that differs from the text at the offsets.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from nercurve.corpus.model import Corpus
from nercurve.corpus.validate import Checker, RawSpan, read_xml

if TYPE_CHECKING:
    from nercurve.corpus.io import ReadOptions

SUFFIX = ".xml"
CATEGORIES: dict[str, tuple[str, ...]] = {
    "NAME": ("PATIENT", "DOCTOR", "USERNAME"),
    "PROFESSION": ("PROFESSION",),
    "LOCATION": ("ROOM", "DEPARTMENT", "HOSPITAL", "ORGANIZATION", "STREET", "CITY", "STATE",
                 "COUNTRY", "ZIP", "LOCATION-OTHER"),
    "AGE": ("AGE",),
    "DATE": ("DATE",),
    "CONTACT": ("PHONE", "FAX", "EMAIL", "URL", "IPADDR"),
    "ID": ("SSN", "MEDICALRECORD", "HEALTHPLAN", "ACCOUNT", "LICENSE", "VEHICLE", "DEVICE",
           "BIOID", "IDNUM"),
}
"""The 2014 guidelines' PHI categories and their types (``--label-map PATIENT=NAME,...``)."""
_ATTRIBUTES = ("start", "end", "text", "TYPE")
_HINT = (
    "an i2b2 2014 de-identification file is <deIdi2b2> holding <TEXT> (the note) and <TAGS>, "
    "whose children carry start, end, text and TYPE, e.g. "
    "<DATE id=\"P0\" start=\"13\" end=\"23\" text=\"2067-05-03\" TYPE=\"DATE\" comment=\"\"/>"
)


def is_deid_xml(head: str) -> bool:
    """Whether a file's first characters open an i2b2 2014 de-identification file."""
    return head.lstrip().startswith("<") and "<deIdi2b2" in head


def read(path: Path, options: ReadOptions) -> Corpus:
    """Read one i2b2 2014 de-identification XML file, or a folder of them."""
    checker = Checker(path, options)
    if path.is_file():
        _document(path, path.stem, checker)
        return checker.corpus()
    files = sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if file.suffix.lower() != SUFFIX:
            checker.notice("file-skipped", f"{file.relative_to(path)} is not an {SUFFIX} file; "
                           "left out", file=str(file))
    xmls = [f for f in files if f.suffix.lower() == SUFFIX]
    if not xmls:
        raise checker.error(f"the folder holds no {SUFFIX} files", hint=_HINT)
    for file in xmls:
        _document(file, file.relative_to(path).with_suffix("").as_posix(), checker)
    return checker.corpus(str(path))


def _one(root: Any, tag: str, file: str, checker: Checker) -> Any:
    found = [c for c in root if c.tag == tag]
    if len(found) == 1:
        return found[0]
    what = "no" if not found else f"{len(found)}"
    hint = _HINT
    if tag == "TAGS" and not found:
        hint = ("an unannotated file cannot be read as gold (it would say the note has no PHI): "
                "read the release's gold files, or add an empty <TAGS/> to a note without PHI")
    raise checker.error(f"<{root.tag}> holds {what} {tag} element(s), not one",
                        root.sourceline, hint, file)


def _document(file: Path, doc_id: str, checker: Checker) -> None:
    where = str(file)
    root = read_xml(file, _HINT)
    text = "".join(_one(root, "TEXT", where, checker).itertext())
    spans = [_span(tag, doc_id, where, checker)
             for tag in _one(root, "TAGS", where, checker) if isinstance(tag.tag, str)]
    checker.add_doc(doc_id, text, spans, line=root.sourceline, file=where)


def _span(tag: Any, doc_id: str, file: str, checker: Checker) -> RawSpan:
    line = tag.sourceline
    missing = [a for a in _ATTRIBUTES if tag.get(a) is None or (a == "TYPE" and not tag.get(a))]
    if missing:
        raise checker.error(
            f"the <{tag.tag}> tag of document {doc_id!r} has no {', '.join(missing)}",
            line, _HINT, file,
        )
    offsets = []
    for name in ("start", "end"):
        value = tag.get(name).strip()
        if not (value.isascii() and value.isdigit()):
            raise checker.error(
                f"the <{tag.tag}> tag of document {doc_id!r} has {name}={value!r}, not a whole "
                "number",
                line, "start and end are 0-based character offsets into the TEXT", file,
            )
        offsets.append(int(value))
    return RawSpan(offsets[0], offsets[1], tag.get("TYPE").strip(), line, tag.get("text"))
