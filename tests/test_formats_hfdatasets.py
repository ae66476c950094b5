"""Hugging Face datasets: save_to_disk folders and Parquet files with tokens and ner_tags."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import datasets
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from nercurve.cli import app
from nercurve.corpus.io import ReadOptions, detect_format, read_corpus
from nercurve.corpus.model import Span
from nercurve.errors import InputError

NAMES = ["O", "B-Gene", "I-Gene", "B-Disease", "I-Disease"]
ROWS = {
    "id": ["s1", "s2", "s3"],
    "tokens": [["BRCA1", "mutations", "cause", "breast", "cancer", "."], ["No", "genes"],
               ["TP53", "binding", "protein"]],
    "ner_tags": [[1, 0, 0, 3, 4, 0], [0, 0], [1, 2, 2]],
}


def _dataset(rows: dict[str, Any] = ROWS, names: list[str] | None = NAMES) -> Any:
    tag = datasets.ClassLabel(names=names) if names else datasets.Value("int64")
    features = datasets.Features({
        **({"id": datasets.Value("string")} if "id" in rows else {}),
        "tokens": datasets.List(datasets.Value("string")),
        "ner_tags": datasets.List(tag),
    })
    return datasets.Dataset.from_dict(rows, features=features)


def _saved(tmp_path: Path, **kwargs: Any) -> Path:
    path = tmp_path / "ncbi_train"
    _dataset(**kwargs).save_to_disk(str(path))
    return path


def _parquet(tmp_path: Path, **kwargs: Any) -> Path:
    path = tmp_path / "train.parquet"
    _dataset(**kwargs).to_parquet(str(path))
    return path


def test_reads_a_saved_folder_and_a_parquet_file_with_class_names(tmp_path: Path) -> None:
    for path in (_saved(tmp_path), _parquet(tmp_path)):
        assert detect_format(path) == "hfdatasets"
        corpus = read_corpus(path)
        assert corpus.ids == ["s1", "s2", "s3"]
        first, _, last = corpus
        assert first.text == "BRCA1 mutations cause breast cancer ."
        assert first.spans == (Span(0, 5, "Gene"), Span(22, 35, "Disease"))
        assert first.tokens is not None and len(first.tokens) == 6
        assert first.sentences == ((0, 37),)
        assert [last.span_text(s) for s in last.spans] == ["TP53 binding protein"]
        assert corpus.notices == []


def test_rows_without_ids_are_numbered_and_grouped(tmp_path: Path) -> None:
    rows = {k: v for k, v in ROWS.items() if k != "id"}
    path = _saved(tmp_path, rows=rows)
    corpus = read_corpus(path)
    assert corpus.ids == ["ncbi_train-1", "ncbi_train-2", "ncbi_train-3"]
    assert corpus.notice_counts() == {"no-document-boundaries": 1}
    grouped = read_corpus(path, options=ReadOptions(sentences_per_doc=2))
    assert len(grouped) == 2 and grouped[0].sentences == ((0, 37), (38, 46))


def test_parquet_without_class_names_needs_tag_names(tmp_path: Path) -> None:
    plain = tmp_path / "plain.parquet"
    table = pq.read_table(_parquet(tmp_path))
    pq.write_table(table.replace_schema_metadata(None), plain)
    with pytest.raises(InputError) as err:
        read_corpus(plain)
    assert "'ner_tags' holds class numbers, but the file does not name them" in err.value.message
    assert "--tag-names" in (err.value.hint or "")
    corpus = read_corpus(plain, options=ReadOptions(tag_names=tuple(NAMES)))
    assert corpus[0].spans == (Span(0, 5, "Gene"), Span(22, 35, "Disease"))
    with pytest.raises(InputError, match="row 1 holds the class number 3, but only 3"):
        read_corpus(plain, options=ReadOptions(tag_names=("O", "B-Gene", "I-Gene")))
    result = CliRunner().invoke(app, ["stats", str(plain), "--json", "--tag-names",
                                      ",".join(NAMES)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["entities_per_label"] == {"Disease": 1, "Gene": 2}


def test_string_tags_are_read_and_checked_like_conll(tmp_path: Path) -> None:
    rows = {"tokens": [["Apple", "Jobs"]], "tags": [["B-corporation", "B-corporation,B-person"]]}
    path = tmp_path / "wnut"
    datasets.Dataset.from_dict(rows).save_to_disk(str(path))
    with pytest.raises(InputError) as err:
        read_corpus(path)
    assert err.value.line == 1 and "holds a second prefix" in err.value.message


def test_dataset_dict_and_missing_columns_are_errors(tmp_path: Path) -> None:
    folder = tmp_path / "splits"
    datasets.DatasetDict({"train": _dataset(), "test": _dataset()}).save_to_disk(str(folder))
    assert detect_format(folder) == "hfdatasets"
    with pytest.raises(InputError, match=r"several splits \(train, test\)") as err:
        read_corpus(folder)
    assert str(folder / "train") in (err.value.hint or "")
    assert read_corpus(folder / "train").ids == ["s1", "s2", "s3"]
    other = tmp_path / "text_only"
    datasets.Dataset.from_dict({"text": ["a b"]}).save_to_disk(str(other))
    with pytest.raises(InputError, match="no token column: the columns are text"):
        read_corpus(other)


def test_without_the_datasets_package_the_error_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _saved(tmp_path)
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets raises ImportError
    with pytest.raises(InputError, match="needs the datasets package") as err:
        read_corpus(path, "hfdatasets")
    assert "nercurve[hfdata]" in (err.value.hint or "")
