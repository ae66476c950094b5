"""Reading text-classification corpora: CSV/TSV tables, folders of texts per class, JSONL class
forms, DocBin categories; bad input is one clear error (file, line, hint) or a counted repair."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nercurve.corpus.classes import class_scheme, class_stats, doc_classes
from nercurve.corpus.io import ReadOptions, detect_format, read_corpus, write_corpus
from nercurve.corpus.model import Doc
from nercurve.errors import InputError

NERCURVE = str(Path(sys.executable).parent / "nercurve")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The nercurve command as a user runs it."""
    return subprocess.run([NERCURVE, *args], capture_output=True, text=True, check=False)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_with_ids_quoted_line_breaks_and_other_columns(tmp_path):
    path = write(tmp_path / "notes.csv", 'id,text,label,site\n'
                 'a1,"Smokes 1 ppd, daily.",CURRENT,north\n'
                 'a2,"Never smoker.\nLives alone.",NEVER,south\n'
                 'a3,Quit in 1999.,PAST,north\n')
    assert detect_format(path) == "table"
    corpus = read_corpus(path)
    assert corpus.ids == ["a1", "a2", "a3"]
    assert corpus.docs[1].text == "Never smoker.\nLives alone."
    assert [doc_classes(d) for d in corpus] == [("CURRENT",), ("NEVER",), ("PAST",)]
    assert corpus.docs[0].meta == {"site": "north"}
    assert class_scheme(corpus.docs).multi_label is False


def test_tsv_named_columns_and_multi_label_cells(tmp_path):
    path = write(tmp_path / "notes.tsv", "note\tstatus\nSmokes and drinks.\tCURRENT;ALCOHOL\n"
                 "Nothing of note.\t\nQuit years ago.\tPAST\n")
    opts = ReadOptions(text_column="note", label_column="status", label_sep=";")
    corpus = read_corpus(path, "table", opts)
    assert corpus.ids == ["notes-2", "notes-3", "notes-4"]  # <stem>-<line> without an id column
    assert [doc_classes(d) for d in corpus] == [("ALCOHOL", "CURRENT"), (), ("PAST",)]
    stats = class_stats(corpus.docs)
    assert stats.multi_label and stats.counts == {"ALCOHOL": 1, "CURRENT": 1, "PAST": 1}
    assert stats.minority_share == pytest.approx(1 / 3)


def test_tsv_detection_keeps_conll_and_reads_a_text_header_as_table(tmp_path):
    conll = write(tmp_path / "ner.tsv", "Alice\tB-PER\nsmiles\tO\n")
    table = write(tmp_path / "cls.tsv", "text\tlabel\nHello there\tGREETING\n")
    assert detect_format(conll) == "conll"
    assert detect_format(table) == "table"


@pytest.mark.parametrize(("content", "line", "needle"), [
    ("txt,label\nhello,A\n", 1, "no text column 'text' (it has: txt, label)"),
    ("text,label\nhello,A\nshort\n", 3, "the row has 1 cell(s), the header 2"),
    ("text,label\nhello,A\nworld,\n", 3, "no class in its 'label' column"),
])
def test_table_errors_name_file_line_and_hint(tmp_path, content, line, needle):
    path = write(tmp_path / "bad.csv", content)
    with pytest.raises(InputError) as err:
        read_corpus(path)
    assert err.value.line == line and err.value.file == str(path)
    assert needle in err.value.message and err.value.hint


def test_table_empty_text_follows_the_empty_docs_policy(tmp_path):
    path = write(tmp_path / "e.csv", 'text,label\n"",A\nfine,B\n')
    with pytest.raises(InputError, match="has no text"):
        read_corpus(path)
    corpus = read_corpus(path, options=ReadOptions(empty_docs="skip"))
    assert len(corpus) == 1 and corpus.notice_counts()["empty-doc-skipped"] == 1


def test_class_outside_labels_is_a_counted_repair_or_a_strict_error(tmp_path):
    path = write(tmp_path / "l.csv", "text,label\none,A\ntwo,B\nthree,A\n")
    corpus = read_corpus(path, options=ReadOptions(labels=frozenset({"A"})))
    assert [doc_classes(d) for d in corpus] == [("A",), ("A",)]
    assert corpus.notice_counts() == {"class-dropped": 1, "doc-skipped": 1}
    with pytest.raises(InputError, match="not one of --labels A") as err:
        read_corpus(path, options=ReadOptions(labels=frozenset({"A"}), strict=True))
    assert err.value.line == 3
    mapped = read_corpus(path, options=ReadOptions(label_map={"B": "A"}))
    assert {doc_classes(d) for d in mapped} == {("A",)}


def test_folder_of_texts_per_class(tmp_path):
    root = tmp_path / "corpus"
    files = [("CURRENT", "n1", "Smokes."), ("NEVER", "n2", "Never smoked."),
             ("NEVER", "n3", "Denies tobacco."), ("PAST", "n3", "Denies tobacco.")]
    for label, name, text in files:
        (root / label).mkdir(parents=True, exist_ok=True)
        write(root / label / f"{name}.txt", text)
    write(root / "README.md", "not a document")
    write(root / "PAST" / "notes.docx", "not text")
    assert detect_format(root) == "textdirs"
    corpus = read_corpus(root)
    assert corpus.ids == ["n1", "n2", "n3"]
    assert doc_classes(corpus.by_id()["n3"]) == ("NEVER", "PAST")  # one file, two classes
    assert corpus.notice_counts()["file-skipped"] == 2
    write(root / "CURRENT" / "n2.txt", "Other text.")
    with pytest.raises(InputError, match="with different texts") as err:
        read_corpus(root)
    assert err.value.file.endswith("n2.txt")


def test_jsonl_label_forms_and_mixed_forms(tmp_path):
    ok = write(tmp_path / "ok.jsonl", '{"id": "a", "text": "x", "label": "CURRENT"}\n'
               '{"id": "b", "text": "y", "label": "PAST"}\n')
    assert [doc_classes(d) for d in read_corpus(ok)] == [("CURRENT",), ("PAST",)]
    multi = write(tmp_path / "m.jsonl", '{"id": "a", "text": "x", "labels": ["A", "B"]}\n')
    assert doc_classes(read_corpus(multi).docs[0]) == ("A", "B")
    mixed = write(tmp_path / "mixed.jsonl", '{"id": "a", "text": "x", "label": "A"}\n'
                  '{"id": "b", "text": "y", "labels": ["A", "B"]}\n')
    with pytest.raises(InputError, match="single- and multi-label forms are mixed") as err:
        read_corpus(mixed)
    assert err.value.line == 2 and "line 1" in err.value.message
    both = write(tmp_path / "both.jsonl", '{"text": "x", "label": "A", "labels": ["B"]}\n')
    with pytest.raises(InputError, match='both "label"'):
        read_corpus(both)


def test_docbin_keeps_categories(tmp_path):
    docs = [Doc("d1", "Smokes daily.", cats={"CURRENT": 1.0, "NEVER": 0.0}),
            Doc("d2", "Never smoked.", cats={"CURRENT": 0.0, "NEVER": 1.0})]
    write_corpus(docs, tmp_path / "c.spacy")
    back = read_corpus(tmp_path / "c.spacy")
    assert [d.cats for d in back] == [d.cats for d in docs]
    assert class_scheme(back.docs).labels == ("CURRENT", "NEVER")


def test_single_label_documents_without_a_class_are_an_error():
    docs = [Doc("a", "x", cats={"A": 1.0}), Doc("b", "y", cats={"A": 0.0})]
    with pytest.raises(InputError, match="1 document\\(s\\) carry no class: 'b'"):
        class_scheme(docs)
    assert class_stats(docs).unclassified == 1  # describing a corpus counts them instead


def test_cli_bad_table_is_one_line_and_exit_2(tmp_path):
    path = write(tmp_path / "bad.csv", "text,label\nhello,A\nshort\n")
    done = run_cli("stats", str(path))
    assert done.returncode == 2
    assert f"error: {path}:3: the row has 1 cell(s)" in done.stderr
    assert "hint:" in done.stderr and "Traceback" not in done.stderr


def test_cli_stats_shows_the_class_distribution(tmp_path):
    path = write(tmp_path / "s.csv", "text,label\nSmokes.,CURRENT\nNever.,NEVER\nNo.,NEVER\n")
    done = run_cli("stats", str(path), "--json")
    assert done.returncode == 0, done.stderr
    classes = json.loads(done.stdout)["classes"]
    assert classes["counts"] == {"CURRENT": 1, "NEVER": 2}
    assert classes["minority_class"] == "CURRENT"
    assert classes["minority_share"] == pytest.approx(1 / 3)
    table = run_cli("stats", str(path))  # a corpus without spans: no rows about entities
    assert table.returncode == 0 and "minority class: CURRENT" in table.stdout
    assert "EPS" not in table.stdout and "entit" not in table.stdout
