"""CSV and TSV tables of documents for text classification: one row per document.

The first row names the columns. ``ReadOptions.text_column`` (default ``text``) holds the
document text and ``label_column`` (default ``label``) its class; ``id_column`` (default
``id``) its id when the table has that column, else the id is ``<file stem>-<line>``. Other
columns are kept in the document's ``meta``. Without ``label_sep`` each label cell is one
class (single-label data); with it, a cell holds the document's classes joined by that
separator (``CURRENT;PAST``), and an empty cell none (multi-label data). The delimiter is a
tab for ``.tsv`` and ``.tab`` files and a comma otherwise; quoted cells may span lines, and
messages name the line a row starts on.

A table names no entity spans. Errors carry the file and line: a header without the text or
label column (listing the columns it has), a row with more or fewer cells than the header,
an empty label cell in single-label data. A row whose text is empty follows ``empty_docs``;
a class outside ``labels`` is dropped and counted (an error under ``strict``), and a row left
without a class is then left out (counted).

Format detection reads ``.csv`` files as tables, and ``.tsv`` files as tables when they are
not CoNLL and their first row has a column named ``text``; name ``--format table`` for other
files (e.g. a text column called ``body``).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING

from nercurve.corpus.model import Corpus
from nercurve.corpus.validate import Checker, read_text

if TYPE_CHECKING:
    from nercurve.corpus.io import ReadOptions

TAB_SUFFIXES = (".tsv", ".tab")


def delimiter(path: Path) -> str:
    """The cell delimiter of a table file: a tab for ``.tsv``/``.tab``, else a comma."""
    return "\t" if path.suffix.lower() in TAB_SUFFIXES else ","


def read(path: Path, options: ReadOptions) -> Corpus:
    """Read a CSV/TSV table with a text column and a label column."""
    checker = Checker(path, options)
    reader = csv.reader(io.StringIO(read_text(path), newline=""), delimiter=delimiter(path))
    try:
        header = next(reader)
    except StopIteration:
        raise checker.error("the table is empty", 1, "the first row names the columns, "
                            f"e.g. {options.text_column},{options.label_column}") from None
    except csv.Error as err:
        raise checker.error(f"not a readable table: {err}", reader.line_num) from None
    header = [h.strip() for h in header]
    columns = {name: i for i, name in reversed(list(enumerate(header)))}
    for what, name in (("text", options.text_column), ("label", options.label_column)):
        if name not in columns:
            raise checker.error(
                f"the header has no {what} column {name!r} (it has: {', '.join(header)})",
                1,
                f"name the {what} column with --{what}-column NAME (in a study: "
                f"{what}_column in [corpus].options)",
            )
    text_at, label_at = columns[options.text_column], columns[options.label_column]
    id_at = columns.get(options.id_column)
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            raise checker.error(f"not a readable table row: {err}", start,
                                "check the quoting of this row") from None
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise checker.error(
                f"the row has {len(row)} cell(s), the header {len(header)}",
                start,
                "give every row one cell per column; quote a cell that holds the delimiter "
                "or a line break",
            )
        cell = row[label_at].strip()
        if options.label_sep is None:
            if not cell:
                raise checker.error(
                    f"the row has no class in its {options.label_column!r} column",
                    start,
                    "give every row its class (for multi-label data, name the separator of "
                    "a cell's classes with --label-sep, e.g. ';', and an empty cell means none)",
                )
            classes = [cell]
        else:
            classes = [c.strip() for c in cell.split(options.label_sep) if c.strip()]
        doc_id = row[id_at].strip() if id_at is not None and row[id_at].strip() else None
        meta = {name: row[i] for name, i in columns.items() if i not in (text_at, label_at, id_at)}
        checker.add_doc(
            doc_id or f"{path.stem}-{start}",
            row[text_at],
            [],
            line=start,
            cats=dict.fromkeys(classes, 1.0),
            meta=meta,
        )
    checker.skip_unclassified()
    return checker.corpus()
