"""`nercurve convert` through the console script: round trip, notices and exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from nercurve.corpus.io import read_corpus

NERCURVE = str(Path(sys.executable).parent / "nercurve")
PUBTATOR = (
    "1|t|Naloxone and clonidine.\n"
    "1|a|Naloxone reverses hypertension.\n"
    "1\t0\t8\tNaloxone\tChemical\tD009270\n"
    "1\t42\t54\thypertension \tDisease\tD006973\n"
    "1\tCID\tD009270\tD006973\n\n"
)


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NERCURVE, *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def test_convert_round_trip_with_notices(tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text(PUBTATOR, encoding="utf-8")
    out = _run("convert", src, tmp_path / "c.conll", "--mismatch", "strip",
               "--label-map", "Chemical=Entity,Disease=Entity")
    assert out.returncode == 0, out.stderr
    assert "wrote 1 documents (2 spans)" in out.stdout
    assert "1 x mismatch-stripped" in out.stderr and "1 x skipped-relation" in out.stderr
    back = _run("convert", tmp_path / "c.conll", tmp_path / "back.jsonl", "--from", "conll")
    assert back.returncode == 0, back.stderr
    doc = read_corpus(tmp_path / "back.jsonl")[0]
    assert doc.id == "1"
    assert [(doc.span_text(s), s.label) for s in doc.spans] == [
        ("Naloxone", "Entity"), ("hypertension", "Entity")]


def test_bad_input_exits_2_with_file_line_and_hint(tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text(PUBTATOR, encoding="utf-8")
    target = tmp_path / "out.jsonl"
    target.write_text("keep me\n", encoding="utf-8")
    out = _run("convert", src, target)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert f"{src}:4: mention text differs" in out.stderr
    assert "expected 'hypertension '" in out.stderr and "hint:" in out.stderr
    assert target.read_text(encoding="utf-8") == "keep me\n"
    bad_flag = _run("convert", src, target, "--label-map", "Chemical")
    assert bad_flag.returncode == 2 and "bad label map entry 'Chemical'" in bad_flag.stderr
