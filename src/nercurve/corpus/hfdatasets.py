"""Hugging Face ``datasets``: a folder written by ``Dataset.save_to_disk``, or a Parquet file.

Each row is one tagged sentence: its tokens (column ``tokens``, else ``words``) and their
tags (``ner_tags``, else ``tags``). Tags are class numbers named by the dataset's features
(a ``ClassLabel``; ``Dataset.to_parquet`` keeps the features in the file's schema metadata)
or tag strings; a file whose numbers are not named needs ``ReadOptions.tag_names`` (the
tag of each number, in order). Tags are then read as in CoNLL/IOB (scheme, repairs,
malformed tags) and the text is the tokens joined with single spaces. Messages give the row
(from 1) where other formats give the line.

A row is one document, named by its ``id`` column (else ``<name>-<row>``);
``sentences_per_doc`` above 1 makes every that many consecutive rows one numbered document.
A ``DatasetDict`` folder (several splits) is an error that names its splits. Reading needs
the ``datasets`` package (the ``hfdata`` extra), imported only here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nercurve.corpus.conll import (
    BadTags,
    DocBuf,
    add_documents,
    check_tags,
    group_sentences,
    tag_token,
)
from nercurve.corpus.model import Corpus
from nercurve.corpus.validate import Checker

if TYPE_CHECKING:
    import pyarrow as pa

    from nercurve.corpus.io import ReadOptions

TOKEN_COLUMNS = ("tokens", "words")
TAG_COLUMNS = ("ner_tags", "tags")


def read(path: Path, options: ReadOptions) -> Corpus:
    """Read a Hugging Face dataset folder (``save_to_disk``) or Parquet file."""
    checker = Checker(path, options)
    table, features = _load(path, checker)
    columns = table.column_names
    token_col = next((c for c in TOKEN_COLUMNS if c in columns), None)
    tag_col = next((c for c in TAG_COLUMNS if c in columns), None)
    if token_col is None or tag_col is None:
        raise checker.error(
            f"no {'token' if token_col is None else 'tag'} column: the columns are "
            f"{', '.join(columns) or 'none'}",
            hint="a token-classification dataset has a token column "
            f"({' or '.join(TOKEN_COLUMNS)}) and a tag column ({' or '.join(TAG_COLUMNS)})",
        )
    names = options.tag_names or _class_names(features, tag_col)
    ids = table.column("id").to_pylist() if "id" in columns else None
    docs: list[DocBuf] = []
    bad: BadTags = []
    rows = zip(table.column(token_col).to_pylist(), table.column(tag_col).to_pylist(), strict=True)
    for row, (tokens, tags) in enumerate(rows, 1):
        if not isinstance(tokens, list) or not isinstance(tags, list) or len(tokens) != len(tags):
            raise checker.error(
                f"row {row} does not hold two lists of the same length in {token_col!r} and "
                f"{tag_col!r}",
                row,
                "each row holds a sentence's tokens and one tag per token",
            )
        sentence = [
            tag_token(_token(tok, row, checker), _tag(tag, names, tag_col, row, checker), row, bad)
            for tok, tag in zip(tokens, tags, strict=True)
        ]
        doc_id = None if ids is None or ids[row - 1] is None else str(ids[row - 1])
        docs.append(DocBuf(doc_id, row, [sentence] if sentence else []))
    check_tags(bad, checker)
    per = options.sentences_per_doc
    if per > 1 or ids is None:
        docs = group_sentences(docs, per) if per > 1 else docs
        checker.notice(
            "no-document-boundaries",
            f"each row holds one sentence: every {per} row(s) made one document "
            f"({len(docs)} documents; see --sentences-per-doc)",
        )
    add_documents(docs, checker, path.stem)
    return checker.corpus()


def _load(path: Path, checker: Checker) -> tuple[pa.Table, Any]:
    """The dataset's rows as an Arrow table, and its ``datasets.Features``."""
    try:
        import datasets
    except ImportError:
        raise checker.error(
            "reading a Hugging Face dataset needs the datasets package",
            hint="pip install 'nercurve[hfdata]' (or pip install datasets)",
        ) from None
    if path.is_dir():
        splits_file = path / "dataset_dict.json"
        if splits_file.is_file():
            splits = json.loads(splits_file.read_text(encoding="utf-8")).get("splits") or []
            raise checker.error(
                f"the folder holds a dataset with several splits ({', '.join(splits)})",
                hint=f"point at one split's folder, e.g. {path / (splits or ['train'])[0]}",
            )
        try:
            dataset = datasets.load_from_disk(str(path))
        except Exception as err:  # datasets raises a variety of errors on foreign folders
            raise checker.error(
                f"not a readable Hugging Face dataset folder ({type(err).__name__}: {err})",
                hint="write it with Dataset.save_to_disk, or name the right --format",
            ) from None
        return dataset.with_format("arrow")[:], dataset.features
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as err:
        raise checker.error(
            f"not a readable Parquet file ({err})",
            hint="write it with Dataset.to_parquet, or name the right --format",
        ) from None
    return table, datasets.Features.from_arrow_schema(table.schema)


def _class_names(features: Any, column: str) -> list[str] | None:
    """The class names of a column of class labels (``List(ClassLabel(names=...))``)."""
    feature = getattr(features.get(column), "feature", None)
    names = getattr(feature, "names", None)
    return list(names) if names else None


def _token(token: Any, row: int, checker: Checker) -> str:
    if not isinstance(token, str) or not token.strip():
        raise checker.error(
            f"row {row} holds the token {token!r}", row, "every token is a non-empty string"
        )
    return token.strip()


def _tag(tag: Any, names: list[str] | tuple[str, ...] | None, column: str, row: int,
         checker: Checker) -> str:
    if isinstance(tag, str):
        return tag.strip()
    if isinstance(tag, bool) or not isinstance(tag, int):
        raise checker.error(f"row {row} holds the tag {tag!r}", row, "a tag is a string or a "
                            "class number")
    if names is None:
        raise checker.error(
            f"the column {column!r} holds class numbers, but the file does not name them",
            row,
            "name them in order with --tag-names, e.g. --tag-names O,B-Gene,I-Gene "
            "(number 0 is the first)",
        )
    if not 0 <= tag < len(names):
        raise checker.error(
            f"row {row} holds the class number {tag}, but only {len(names)} tags are named",
            row,
            "give one name per class number with --tag-names",
        )
    return names[tag]
