"""i2b2 2006 smoking status: one XML file of discharge summaries, each with its smoking status.

::

    <ROOT>
    <RECORD ID="641">
    <SMOKING STATUS="CURRENT SMOKER"></SMOKING>
    <TEXT>
    ... the note ...
    </TEXT>
    </RECORD>
    </ROOT>

Each ``RECORD`` is one document of a text-classification corpus: its ``ID`` the document id,
its ``TEXT`` the text (as the file holds it; XML reads a line end as ``\\n``), its ``STATUS``
its one class (``cats``). The release's statuses, :data:`STATUSES`, are kept as written;
``--label-map`` renames them (``'CURRENT SMOKER=CURRENT,NON-SMOKER=NEVER'``); a status outside them
is read with a counted notice. Other elements of a record are left out, counted.

The challenge's unannotated test file has records without a ``SMOKING`` element (its classes
are in the ground-truth file). A file where no record carries a status is an error that says
so; in a file where some do, a record without one is left out with a counted notice (an error
under ``strict``). Errors name the file and the line of the element: XML that is not well
formed, a record without ``ID`` or ``TEXT``, a ``SMOKING`` element without a ``STATUS``, a
record with two statuses, no ``RECORD`` at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from nercurve.corpus.model import Corpus
from nercurve.corpus.validate import Checker, read_xml

if TYPE_CHECKING:
    from nercurve.corpus.io import ReadOptions

STATUSES = ("CURRENT SMOKER", "PAST SMOKER", "SMOKER", "NON-SMOKER", "UNKNOWN")
"""The smoking statuses of the i2b2 2006 release."""
_HINT = (
    "an i2b2 2006 smoking file is <ROOT> holding <RECORD ID=\"...\"> elements, each with "
    "<SMOKING STATUS=\"...\"/> and <TEXT>the note</TEXT>"
)


def is_smoking_xml(head: str) -> bool:
    """Whether a file's first characters open an i2b2 2006 smoking-status file."""
    return head.lstrip().startswith("<") and "<ROOT" in head and "<RECORD" in head


def _children(element: Any, tag: str) -> list[Any]:
    return [c for c in element if c.tag == tag]


def read(path: Path, options: ReadOptions) -> Corpus:
    """Read an i2b2 2006 smoking-status XML file (see the module docstring)."""
    checker = Checker(path, options)
    root = read_xml(path, _HINT)
    records = _children(root, "RECORD")
    if not records:
        raise checker.error(
            f"no RECORD element under the root <{root.tag}>", root.sourceline, _HINT
        )
    without = [r for r in records if not _children(r, "SMOKING")]
    if len(without) == len(records):
        raise checker.error(
            f"none of the {len(records)} record(s) carries a SMOKING STATUS: this looks like "
            "the unannotated test file",
            records[0].sourceline,
            "read the ground-truth file of the release (its records carry their status), or "
            "give each RECORD a <SMOKING STATUS=\"...\"/> element",
        )
    for record in records:
        _record(record, checker)
    checker.skip_unclassified()
    return checker.corpus()


def _record(record: Any, checker: Checker) -> None:
    line = record.sourceline
    doc_id = (record.get("ID") or "").strip()
    if not doc_id:
        raise checker.error("a RECORD has no ID attribute", line, _HINT)
    smoking, texts = _children(record, "SMOKING"), _children(record, "TEXT")
    others = sorted({c.tag for c in record if isinstance(c.tag, str)} - {"SMOKING", "TEXT"})
    if others:
        checker.notice(
            "element-skipped",
            f"record {doc_id!r} holds <{'>, <'.join(others)}>, not read (only SMOKING and TEXT)",
            line,
            doc_id,
        )
    if len(texts) != 1:
        raise checker.error(
            f"record {doc_id!r} has {len(texts)} TEXT elements, not one", line, _HINT
        )
    if not smoking:
        checker.repair(
            "record-without-status",
            f"record {doc_id!r} has no SMOKING STATUS; left out",
            line=line,
            doc_id=doc_id,
            hint="give the record a <SMOKING STATUS=\"...\"/> element",
        )
        return
    if len(smoking) > 1:
        raise checker.error(
            f"record {doc_id!r} has {len(smoking)} SMOKING elements: a record has one status",
            smoking[1].sourceline,
            "keep one SMOKING element per record",
        )
    status = (smoking[0].get("STATUS") or "").strip()
    if not status:
        raise checker.error(
            f"the SMOKING element of record {doc_id!r} has no STATUS",
            smoking[0].sourceline,
            f"write <SMOKING STATUS=\"...\"/> with one of: {', '.join(STATUSES)}",
        )
    if status not in STATUSES:
        checker.notice(
            "unknown-status",
            f"record {doc_id!r} has the status {status!r}, not one of the release's "
            f"({', '.join(STATUSES)}); read as a class",
            smoking[0].sourceline,
            doc_id,
        )
    text = "".join(texts[0].itertext())
    checker.add_doc(doc_id, text, [], line=line, cats={status: 1.0})
