"""``nercurve agree`` and ``nercurve adjudicate`` end to end, on JSONL files."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nercurve.cli.app import app

NERCURVE = str(Path(sys.executable).parent / "nercurve")
T1 = "Alice Smith met Bob Jones at Acme Corp and Zed Inc in Paris."
T2 = "Dr. Ng consults for Big Pharma Ltd."


def _write(path: Path, docs: list[tuple[str, str, list[tuple[str, str]]]]) -> Path:
    lines = []
    for doc_id, text, marks in docs:
        spans = []
        for sub, label in marks:
            start = text.index(sub)
            spans.append({"start": start, "end": start + len(sub), "label": label})
        lines.append(json.dumps({"id": doc_id, "text": text, "spans": spans}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture()
def files(tmp_path: Path) -> tuple[Path, Path]:
    a = _write(tmp_path / "a.jsonl", [
        ("d1", T1, [("Alice Smith", "PERSON"), ("Bob Jones", "PERSON"), ("Acme Corp", "ORG"),
                    ("Zed Inc", "ORG")]),
        ("d2", T2, [("Ng", "PERSON"), ("Big Pharma Ltd", "ORG")]),
    ])
    b = _write(tmp_path / "b.jsonl", [
        ("d1", T1, [("Alice Smith", "PERSON"), ("Bob", "PERSON"), ("Acme Corp", "PERSON"),
                    ("Paris", "ORG")]),
        ("d2", T2, [("Ng", "PERSON"), ("Big Pharma Ltd", "ORG")]),
    ])
    return a, b


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NERCURVE, *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def test_agree_json_report_and_disagreements(files: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = files
    html, dis = tmp_path / "agreement.html", tmp_path / "dis.csv"
    result = CliRunner().invoke(app, ["agree", str(a), str(b), "--json", "--report", str(html),
                                      "--disagreements", str(dis)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    overall = data["pairs"][0]["overall"]
    # d1 as in the hand-worked example of test_agreement.py, plus two agreed spans in d2:
    # exact matches 1 + 2 = 3 of 6 spans on each side -> F1 = 0.5
    assert overall["f1_exact"] == pytest.approx(0.5)
    # boundaries: Alice Smith, Acme Corp, Ng, Big Pharma Ltd -> 4/6 each side
    assert overall["f1_boundary"] == pytest.approx(4 / 6)
    assert data["documents"] == 2 and data["disagreements"] == 4
    assert "<table>" in html.read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(dis.read_text(encoding="utf-8"))))
    assert [r["text"] for r in rows] == ["Bob Jones", "Acme Corp", "Zed Inc", "Paris"]


def test_agree_tables_for_three_annotators(files: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = files
    result = CliRunner().invoke(app, ["agree", str(a), str(b), str(a)])
    assert result.exit_code == 0, result.output
    for title in ("Entity F1 between annotators", "All annotators together", "ICC(A,1)",
                  "A-C", "B-C"):
        assert title in result.stdout


def test_agree_errors_exit_2_with_one_message(files: tuple[Path, Path], tmp_path: Path) -> None:
    a, _ = files
    other = _write(tmp_path / "other.jsonl", [("d1", T1.replace("Paris", "Rome"), []),
                                              ("d2", T2, [])])
    result = _run("agree", a, other)
    assert result.returncode == 2
    assert "other.jsonl" in result.stderr and "different text" in result.stderr
    assert "hint:" in result.stderr and "Traceback" not in result.stderr
    result = _run("agree", a)
    assert result.returncode == 2 and "at least two" in result.stderr


def test_adjudicate_with_a_rule(files: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = files
    gold = tmp_path / "gold.jsonl"
    result = CliRunner().invoke(app, ["adjudicate", str(a), str(b), "--prefer", "B",
                                      "-o", str(gold)])
    assert result.exit_code == 0, result.output
    docs = [json.loads(line) for line in gold.read_text(encoding="utf-8").splitlines()]
    d1 = docs[0]
    assert [(T1[s["start"]:s["end"]], s["label"]) for s in d1["spans"]] == [
        ("Alice Smith", "PERSON"), ("Bob", "PERSON"), ("Acme Corp", "PERSON"), ("Paris", "ORG")]
    assert "3 agreed" in result.stdout and "4 by rule" in result.stdout


def test_adjudicate_through_a_third_rater(files: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = files
    gold, todo = tmp_path / "gold.jsonl", tmp_path / "todo.csv"
    runner = CliRunner()
    result = runner.invoke(app, ["adjudicate", str(a), str(b), "--disagreements-out",
                                 str(todo), "-o", str(gold)])
    assert result.exit_code == 0, result.output
    assert not gold.exists() and "await a third rater" in result.stderr
    rows = list(csv.DictReader(io.StringIO(todo.read_text(encoding="utf-8"))))
    for row, decision in zip(rows, ["A", "A", "neither", "B"], strict=True):
        row["decision"] = decision
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    todo.write_text(out.getvalue(), encoding="utf-8")
    # writing the list again would overwrite the rater's work: refused
    again = runner.invoke(app, ["adjudicate", str(a), str(b), "--disagreements-out",
                                str(todo), "-o", str(gold)])
    assert again.exit_code != 0 and "decisions" in str(again.exception)
    result = runner.invoke(app, ["adjudicate", str(a), str(b), "--decisions", str(todo),
                                 "-o", str(gold)])
    assert result.exit_code == 0, result.output
    d1 = json.loads(gold.read_text(encoding="utf-8").splitlines()[0])
    assert [T1[s["start"]:s["end"]] for s in d1["spans"]] == [
        "Alice Smith", "Bob Jones", "Acme Corp", "Paris"]


def test_adjudicate_errors_exit_2(files: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = files
    todo = tmp_path / "todo.csv"
    todo.write_text("doc_id,start,end,decision\nd1,16,25,perhaps\n", encoding="utf-8")
    result = _run("adjudicate", a, b, "--decisions", todo, "-o", tmp_path / "gold.jsonl")
    assert result.returncode == 2
    assert f"{todo}:2:" in result.stderr and "unknown decision" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "gold.jsonl").exists()
    result = _run("adjudicate", a, b, "--union", "--intersection", "-o", tmp_path / "g.jsonl")
    assert result.returncode == 2 and "choose one rule" in result.stderr
    result = _run("adjudicate", a, b, "--union", "-o", a)
    assert result.returncode == 2 and "overwrite an input" in result.stderr
    result = _run("adjudicate", a, b, "-o", tmp_path / "g.jsonl")
    assert result.returncode == 2 and "--disagreements-out" in result.stderr
