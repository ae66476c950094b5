"""The demo study and a fixed classification study give the same numbers as recorded: per-job
F1 bit for bit, every analysis table and the recommendation's words (see ``same_numbers.py``)."""

from __future__ import annotations

import json

import pytest
from same_numbers import EXPECTED, fixed_numbers


@pytest.mark.slow
def test_fixed_studies_give_the_recorded_numbers(tmp_path):
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))
    got = fixed_numbers(tmp_path)
    for study in ("ner", "classify"):
        assert got[study]["f1"] == expected[study]["f1"], study
        assert got[study]["tables"].keys() == expected[study]["tables"].keys(), study
        for name, csv in expected[study]["tables"].items():
            assert got[study]["tables"][name] == csv, f"{study}: table {name}"
        assert got[study]["recommendation"] == expected[study]["recommendation"], study
