"""Reading real corpora: malformed IOB tags, mismatch policies, long texts, JSONL values,
CR-only line endings, guessed formats and the notices a command hands back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nercurve.cli import app
from nercurve.corpus.io import ReadOptions, detect_format, read_corpus
from nercurve.corpus.model import Span
from nercurve.corpus.validate import MAX_LISTED, RELOCATE_WINDOW
from nercurve.errors import InputError

NERCURVE = str(Path(sys.executable).parent / "nercurve")
runner = CliRunner()


def _file(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8", newline="")
    return path


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NERCURVE, *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def _pubtator(*mentions: tuple[int, int, str, str], title: str, abstract: str = "") -> str:
    lines = [f"1|t|{title}", f"1|a|{abstract}"]
    lines += [f"1\t{a}\t{b}\t{m}\t{label}" for a, b, m, label in mentions]
    return "\n".join(lines) + "\n\n"


# --- CoNLL/IOB tags holding several labels ------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "what"),
    [
        ("B-corporation,B-person", "a second prefix"),  # WNUT-17's multi-label tags
        ("I-person,creative-work", "a comma"),
        ("B-gene|protein", "a pipe"),
        ("B-gene protein", "whitespace"),
        ("B-B-person", "a second prefix"),
        ("I-corp/B-person", "a second prefix"),
    ],
)
def test_tag_with_several_labels_is_an_error_with_line(tmp_path: Path, tag: str, what: str) -> None:
    path = _file(tmp_path, "c.conll", f"Apple\tB-corporation\nsays\tO\n\nJobs\t{tag}\n")
    with pytest.raises(InputError) as err:
        read_corpus(path, "conll")
    assert (err.value.file, err.value.line) == (str(path), 4)
    assert f"tag {tag!r} holds {what}" in err.value.message
    assert "one prefix and one label" in (err.value.hint or "")


def test_every_malformed_tag_is_counted(tmp_path: Path) -> None:
    lines = "".join(f"w{i}\tB-a,B-b\n" for i in range(12))
    path = _file(tmp_path, "wnut.conll", "x\tO\n" + lines)
    with pytest.raises(InputError) as err:
        read_corpus(path)
    assert err.value.line == 2
    lines = "lines 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, ..."
    assert f"12 malformed tags in all ({lines})" in err.value.message


def test_multi_label_tag_exits_2_with_one_line(tmp_path: Path) -> None:
    path = _file(tmp_path, "emerging.test.conll", "Apple\tB-corporation,B-person\n")
    out = _run("stats", path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    first, *rest = out.stderr.splitlines()
    assert first.startswith(f"error: {path}:1: tag 'B-corporation,B-person' holds")
    assert rest and rest[0].startswith("  hint:")


# --- mismatch policies ----------------------------------------------------------------------

TITLE = "BRCA1 and TP53 genes."
ABSTRACT = "Mutant brca1 binds TP53 here, and Ki67 too."


def _mismatches(tmp_path: Path) -> Path:
    # a case-only difference, a shifted offset (+3), edge whitespace, and one not nearby
    return _file(tmp_path, "nlmgene.txt", _pubtator(
        (0, 5, "BRCA1", "Gene"),
        (29, 34, "BRCA1", "Gene"),
        (38, 42, "TP53", "Gene"),
        (56, 60, "Ki67 ", "Gene"),
        (10, 14, "MYC", "Gene"),
        title=TITLE, abstract=ABSTRACT,
    ))


def test_error_reports_every_mismatch_at_once(tmp_path: Path) -> None:
    path = _mismatches(tmp_path)
    with pytest.raises(InputError) as err:
        read_corpus(path)
    assert (err.value.file, err.value.line) == (str(path), 4)
    first, *listed = err.value.message.splitlines()
    assert first.endswith("(letter case only); 4 such mentions in all:")
    assert [ln.split(": document")[0].strip() for ln in listed] == [
        f"{path}:{n}" for n in (4, 5, 6, 7)]
    assert "expected 'MYC', found 'TP53'" in listed[-1]
    for policy in ("strip", "relocate", "skip"):
        assert f"--mismatch {policy}" in (err.value.hint or "")


def test_error_lists_the_first_ones_and_counts_all(tmp_path: Path) -> None:
    title = "a" * 60
    n = MAX_LISTED + 5
    path = _file(tmp_path, "many.txt", _pubtator(*[(i, i + 1, "b", "X") for i in range(n)],
                                                 title=title))
    with pytest.raises(InputError) as err:
        read_corpus(path, "pubtator")
    lines = err.value.message.splitlines()
    assert f"{n} such mentions in all" in lines[0]
    assert len(lines) == 1 + MAX_LISTED + 1 and lines[-1] == "  ... and 5 more"


def test_a_later_error_does_not_hide_the_mismatches(tmp_path: Path) -> None:
    content = _pubtator((0, 3, "abd", "X"), title="abc def") + "1|t|again\n\n"
    path = _file(tmp_path, "later.txt", content)
    with pytest.raises(InputError) as err:
        read_corpus(path)
    assert err.value.line == 3 and "expected 'abd', found 'abc'" in err.value.message
    assert "reading stopped at line 5: document id '1' is repeated" in err.value.message


def test_strip_still_errs_beyond_whitespace_listing_all(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        read_corpus(_mismatches(tmp_path), options=ReadOptions(mismatch="strip"))
    assert "3 such mentions in all" in err.value.message  # the Ki67 edge space is stripped
    assert "--mismatch relocate" in (err.value.hint or "")


def test_skip_drops_each_mismatch_counted(tmp_path: Path) -> None:
    corpus = read_corpus(_mismatches(tmp_path), options=ReadOptions(mismatch="skip"))
    assert corpus[0].spans == (Span(0, 5, "Gene"),)
    assert corpus.notice_counts() == {"mismatch-skipped": 4}
    assert {n.line for n in corpus.notices} == {4, 5, 6, 7}


def test_relocate_keeps_case_moves_shifted_and_drops_the_rest(tmp_path: Path) -> None:
    corpus = read_corpus(_mismatches(tmp_path), options=ReadOptions(mismatch="relocate"))
    doc = corpus[0]
    assert doc.text[29:34] == "brca1" and doc.text[41:45] == "TP53"
    assert doc.spans == (Span(0, 5, "Gene"), Span(29, 34, "Gene"), Span(41, 45, "Gene"),
                         Span(56, 60, "Gene"))
    assert corpus.notice_counts() == {"mismatch-case": 1, "mismatch-relocated": 1,
                                      "mismatch-stripped": 1, "mismatch-dropped": 1}
    moved = next(n for n in corpus.notices if n.kind == "mismatch-relocated")
    assert moved.line == 5 and "moved to [41,45) (+3 characters)" in moved.message
    # MYC is nowhere near: dropped, or an error under --strict
    with pytest.raises(InputError, match="does not occur within 100 characters") as err:
        read_corpus(_mismatches(tmp_path), options=ReadOptions(mismatch="relocate", strict=True))
    assert err.value.line == 7


def test_relocate_takes_the_nearest_occurrence_within_the_window(tmp_path: Path) -> None:
    far = "x" * (RELOCATE_WINDOW + 1)
    title = f"Ki67 {far} Ki67 then KI67 here"
    near = title.index("Ki67", 1)
    path = _file(tmp_path, "w.txt", _pubtator((near + 6, near + 10, "Ki67", "G"),
                                              (near + 11, near + 15, "ki67", "G"), title=title))
    doc = read_corpus(path, options=ReadOptions(mismatch="relocate"))[0]
    # the first moves back 6 to the exact Ki67; the second is KI67 in another case: kept
    assert doc.spans == (Span(near, near + 4, "G"), Span(near + 10, near + 14, "G"))
    far_only = _file(tmp_path, "f.txt", _pubtator((len(far) + 5, len(far) + 9, "Ki67", "G"),
                                                  title=f"Ki67 {far}abcdefgh"))
    corpus = read_corpus(far_only, options=ReadOptions(mismatch="relocate"))
    assert corpus[0].spans == () and corpus.notice_counts() == {"mismatch-dropped": 1}


def test_mismatch_policy_reaches_the_cli(tmp_path: Path) -> None:
    path = _mismatches(tmp_path)
    result = runner.invoke(app, ["stats", str(path), "--mismatch", "relocate", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["entities"] == 4
    assert data["notice_counts"]["mismatch-relocated"] == 1
    out = _run("convert", path, tmp_path / "o.jsonl")
    assert out.returncode == 2 and "4 such mentions in all" in out.stderr


# --- texts over spaCy's 1,000,000 characters ---------------------------------------------


def test_stats_and_convert_segment_a_document_over_a_million_characters(tmp_path: Path) -> None:
    text = ("Alpha" + "b" * 93 + " x.\n") * 10_300  # > 1,000,000 characters, few tokens
    assert len(text) > 1_000_000
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps({"id": "long", "text": text,
                                "spans": [{"start": 0, "end": 5, "label": "X"}]}) + "\n",
                    encoding="utf-8")
    result = runner.invoke(app, ["stats", str(path), "--json"])
    assert result.exception is None, result.exception
    data = json.loads(result.stdout)
    assert (data["documents"], data["tokens"], data["entities"]) == (1, 20_600, 1)
    out = tmp_path / "long.conll"
    result = runner.invoke(app, ["convert", str(path), str(out)])
    assert result.exception is None, result.exception
    assert read_corpus(out)[0].spans == (Span(0, 5, "X"),)


# --- JSONL values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"id": "a", "text": "t", "cats": {"COI": "yes"}}, 'in "cats" has the score "yes"'),
        ({"id": "a", "text": "t", "cats": {"COI": None}}, "has the score null"),
        ({"id": "a", "text": "t", "cats": {"COI": True}}, "has the score true"),
        ({"id": "a", "text": "t", "cats": {"COI": float("nan")}}, "has the score NaN"),
        ({"id": "a", "text": "t", "cats": ["COI"]}, '"cats" is ["COI"], not an object'),
        ({"id": ["a", "b"], "text": "t"}, 'the "id" is ["a", "b"], not a string'),
        ({"id": {"pmid": 1}, "text": "t"}, 'the "id" is {"pmid": 1}'),
        ({"id": 1.5, "text": "t"}, 'the "id" is 1.5'),
        ({"id": "a", "text": "two words", "spans": [{"start": 0, "end": 3, "label": "Gene X"}]},
         "has the label 'Gene X', which holds whitespace"),
    ],
)
def test_jsonl_values_are_checked(tmp_path: Path, obj: dict[str, object], message: str) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text('{"id": "ok", "text": "fine"}\n' + json.dumps(obj) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_corpus(path)
    assert message in err.value.message
    assert (err.value.file, err.value.line) == (str(path), 2)


def test_jsonl_numbers_ids_and_spaced_labels_that_a_map_renames(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(
        json.dumps({"id": None, "text": "BRCA1", "cats": {"COI": 1, "NONE": 0.25},
                    "spans": [{"start": 0, "end": 5, "label": "Gene X"}]}) + "\n",
        encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_corpus(path)
    assert "--label-map 'Gene X=Gene_X'" in (err.value.hint or "")
    doc = read_corpus(path, options=ReadOptions(label_map={"Gene X": "Gene"}))[0]
    assert doc.id == "c-1" and doc.cats == {"COI": 1.0, "NONE": 0.25}
    assert doc.spans == (Span(0, 5, "Gene"),)


def test_bad_cats_exit_2_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text('{"id": "a", "text": "t", "cats": {"COI": "yes"}}\n', encoding="utf-8")
    out = _run("stats", path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.splitlines()[0].startswith(f"error: {path}:1: category 'COI'")


# --- CR-only line endings --------------------------------------------------------------------


def test_cr_only_pubtator_keeps_documents_and_offsets(tmp_path: Path) -> None:
    lf = (_pubtator((0, 8, "Naloxone", "Chemical"), title="Naloxone works.",
                    abstract="It lowers blood pressure.")
          + "2|t|Second doc\n2|a|\n2\t0\t6\tSecond\tX\n\n")
    path = tmp_path / "mac.txt"
    path.write_bytes(lf.replace("\n", "\r").encode())
    corpus = read_corpus(path)
    assert corpus.ids == ["1", "2"]
    assert corpus.docs == read_corpus(_file(tmp_path, "lf.txt", lf)).docs
    assert corpus.notice_counts() == {"cr-line-endings": 1}


def test_cr_only_conll_keeps_sentences_and_entities(tmp_path: Path) -> None:
    lf = "-DOCSTART-\td1\n\nBayer\tB-ORG\nAG\tI-ORG\npays\tO\n\nRoche\tB-ORG\n"
    path = tmp_path / "mac.conll"
    path.write_bytes(lf.replace("\n", "\r").encode())
    assert detect_format(path) == "conll"
    doc = read_corpus(path)[0]
    assert doc.id == "d1" and doc.spans == (Span(0, 8, "ORG"), Span(14, 19, "ORG"))
    assert doc.sentences == ((0, 13), (14, 19))


# --- guessed formats -------------------------------------------------------------------------


def test_an_error_names_the_guessed_format(tmp_path: Path) -> None:
    path = _file(tmp_path, "x.txt", "1|t|abc\n1\t0\t9\tabcdefghi\tX\n")
    with pytest.raises(InputError) as err:
        read_corpus(path)
    assert "read as pubtator, the format guessed from the file" in (err.value.hint or "")
    assert "--format" in (err.value.hint or "")
    with pytest.raises(InputError) as named:
        read_corpus(path, "pubtator")
    assert "guessed" not in (named.value.hint or "")
    out = _run("stats", path)
    assert out.returncode == 2 and "guessed from the file" in out.stderr


def test_a_brat_txt_path_is_read_as_brat(tmp_path: Path) -> None:
    txt = _file(tmp_path, "d1.txt", "Aspirin helps.\n")
    _file(tmp_path, "d1.ann", "T1\tChemical 0 7\tAspirin\n")
    assert detect_format(txt) == "brat"
    corpus = read_corpus(txt)
    assert corpus.ids == ["d1"] and corpus[0].spans == (Span(0, 7, "Chemical"),)


# --- notices ---------------------------------------------------------------------------------

NCBI_LIKE = (
    "5|t|Cancer and seizures.\n5|a|\n5\t0\t6\tCancer\tDisease\tD1\n5\t11\t19\tseizures\tDisease\n\n"
    "5|t|Cancer and seizures.\n5|a|\n5\t0\t6\tCancer\tDisease\n5\t11\t19\tseizures\tDisease\n"
    "5\t0\t6\tCancer\tDisease\n\n"
    "6|t|Epilepsy\n6|a|\n6\tCID\tD1\tD2\n6\tCID\tD3\tD4\n\n"
)


def test_duplicate_id_notice_counts_the_mentions_dropped(tmp_path: Path) -> None:
    path = _file(tmp_path, "ncbi.txt", NCBI_LIKE)
    corpus = read_corpus(path, options=ReadOptions(duplicate_ids="keep-first"))
    (dropped,) = [n for n in corpus.notices if n.kind == "duplicate-id-dropped"]
    assert "dropped the repeat with its 2 mention(s)" in dropped.message


def test_stats_json_carries_every_notice(tmp_path: Path) -> None:
    path = _file(tmp_path, "ncbi.txt", NCBI_LIKE)
    result = runner.invoke(app, ["stats", str(path), "--json", "--duplicate-ids", "keep-first"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["notice_counts"] == {"duplicate-span": 1, "duplicate-id-dropped": 1,
                                     "skipped-relation": 2, "concept-ids-not-kept": 1}
    relations = [n for n in data["notices"] if n["kind"] == "skipped-relation"]
    assert [(n["file"], n["line"], n["doc_id"]) for n in relations] == [
        (str(path), 14, "6"), (str(path), 15, "6")]


def test_notices_file_holds_every_occurrence_of_every_corpus_read(tmp_path: Path) -> None:
    gold = _file(tmp_path, "gold.txt", NCBI_LIKE)
    notices = tmp_path / "notices.jsonl"
    notices.write_text("stale\n", encoding="utf-8")
    result = runner.invoke(app, ["evaluate", str(gold), str(gold), "--duplicate-ids",
                                 "keep-first", "--notices", str(notices)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in notices.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 2 * 5  # both files, every occurrence
    assert [r["line"] for r in rows if r["kind"] == "skipped-relation"] == [14, 15, 14, 15]
    assert f"every notice: in {notices}" in result.stderr
    result = runner.invoke(app, ["convert", str(gold), str(tmp_path / "o.jsonl"),
                                 "--duplicate-ids", "keep-first"])
    assert "every notice: --notices FILE" in result.stderr
    bad = runner.invoke(app, ["stats", str(gold), "--notices", str(tmp_path / "no" / "n.jsonl")])
    assert "cannot write the notices" in str(bad.exception)


def test_ncbi_train_reads_with_every_mismatch_policy(shared_corpora: Path) -> None:
    path = shared_corpora / "ncbi-disease" / "pubtator" / "NCBItrainset_corpus.txt"
    spans = {}
    for policy in ("strip", "relocate", "skip"):
        corpus = read_corpus(path, options=ReadOptions(mismatch=policy, duplicate_ids="keep-first"))
        spans[policy] = sum(len(d.spans) for d in corpus)
        kind = "mismatch-skipped" if policy == "skip" else "mismatch-stripped"
        assert corpus.notice_counts()[kind] == 1
    assert spans == {"strip": 5145 - 11, "relocate": 5145 - 11, "skip": 5145 - 12}
