"""The synthetic smoking-status corpus: reproducible, balance and difficulty under control,
the hard cases present, bad arguments refused, the CLI command."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from nercurve.corpus.classes import class_scheme, doc_classes
from nercurve.corpus.io import read_corpus
from nercurve.errors import InputError
from nercurve.synthetic.smoking import generate_smoking, parse_balance

NERCURVE = str(Path(sys.executable).parent / "nercurve")


def test_reproducible_and_each_note_independent_of_the_count():
    a, b = generate_smoking(40, seed=3), generate_smoking(60, seed=3)
    assert [(d.id, d.text, d.cats) for d in a] == [(d.id, d.text, d.cats) for d in b][:40]
    assert generate_smoking(40, seed=4).docs[0].text != a.docs[0].text
    scheme = class_scheme(a.docs)
    assert scheme.labels == ("CURRENT", "NEVER", "PAST", "UNKNOWN")
    assert not scheme.multi_label


def test_balance_is_followed():
    docs = generate_smoking(400, seed=0, balance={"CURRENT": 1, "NEVER": 3}).docs
    counts = Counter(doc_classes(d)[0] for d in docs)
    assert set(counts) == {"CURRENT", "NEVER"}
    assert 0.68 < counts["NEVER"] / 400 < 0.82
    assert set(docs[0].cats) == {"CURRENT", "NEVER"}  # a class without weight is not a class


def test_each_class_reads_as_its_class_and_hard_cases_follow_difficulty():
    easy = generate_smoking(300, seed=1, difficulty=0.0).docs
    hard = generate_smoking(300, seed=1, difficulty=1.0).docs
    assert not any(d.meta.get("hard") or d.meta.get("distractor") for d in easy)
    assert all(d.meta.get("distractor") for d in hard)
    for d in easy:
        social = d.text.split("SOCIAL HISTORY:")[1].split("FAMILY HISTORY:")[0]
        hpi = d.text.split("PAST MEDICAL HISTORY:")[0]
        said = (social + hpi).lower()
        label = doc_classes(d)[0]
        if label == "UNKNOWN":
            assert "smok" not in said and "tobacco" not in said
        else:
            assert any(w in said for w in ("smok", "tobacco", "cigar", "ppd", "pack"))
    recent_quits = [d for d in hard if "weeks ago" in d.text or "months ago" in d.text]
    assert recent_quits and all(doc_classes(d) == ("CURRENT",) for d in recent_quits)
    assert all(d.meta["synthetic"] for d in hard)


def test_bad_arguments():
    with pytest.raises(InputError, match="cannot generate"):
        generate_smoking(0, seed=0)
    with pytest.raises(InputError, match="difficulty"):
        generate_smoking(5, seed=0, difficulty=1.5)
    with pytest.raises(InputError, match="unknown smoking class"):
        parse_balance("CURRENT=1,SMOKER=2")
    with pytest.raises(InputError, match="bad class balance entry"):
        parse_balance("CURRENT=x")
    assert parse_balance("current=1, never=2") == {"CURRENT": 1.0, "NEVER": 2.0}


def test_cli_synth_smoking(tmp_path):
    out = tmp_path / "s.jsonl"
    done = subprocess.run([NERCURVE, "synth", "smoking", "--docs", "30", "--balance",
                           "CURRENT=1,PAST=1", "-o", str(out)], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "30 synthetic notes" in done.stdout
    assert {doc_classes(d)[0] for d in read_corpus(out)} == {"CURRENT", "PAST"}
