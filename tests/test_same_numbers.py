"""The demo study and a fixed classification study give the same numbers as recorded: per-job
F1 bit for bit, every analysis table and the recommendation's words (see ``same_numbers.py``).

On a CPU with a record of its own (:func:`same_numbers.numerics`) the numbers must equal it.
On another kind of CPU they must equal one of the records; failing that (a kind never
recorded, whose float sums drift a NER run's trajectory), what does not depend on the CPU
must still hold: the same jobs, tables and columns, and per-job F1 near a record's."""

from __future__ import annotations

import json

import pytest
from same_numbers import EXPECTED, fixed_numbers, numerics

#: How far a per-job F1 (and the mean over a study's jobs) may drift on a CPU with no record.
DRIFT_JOB, DRIFT_MEAN = 0.06, 0.02


def assert_same(got: dict, expected: dict) -> None:
    for study in ("ner", "classify"):
        assert got[study]["f1"] == expected[study]["f1"], study
        assert got[study]["tables"].keys() == expected[study]["tables"].keys(), study
        for name, csv in expected[study]["tables"].items():
            assert got[study]["tables"][name] == csv, f"{study}: table {name}"
        assert got[study]["recommendation"] == expected[study]["recommendation"], study


def drift(got: dict, expected: dict) -> list[str]:
    """What differs beyond a CPU's drift between two sets of numbers (empty: none)."""
    problems = []
    for study in ("ner", "classify"):
        g, e = got[study], expected[study]
        if g["f1"].keys() != e["f1"].keys():
            problems.append(f"{study}: other jobs")
            continue
        gaps = [g["f1"][job] - e["f1"][job] for job in e["f1"]]
        if max(abs(x) for x in gaps) > DRIFT_JOB or abs(sum(gaps) / len(gaps)) > DRIFT_MEAN:
            problems.append(f"{study}: per-job F1 differences {[round(x, 4) for x in gaps]}")
        headers = {n: t.split("\n", 1)[0] for n, t in e["tables"].items()}
        if {n: t.split("\n", 1)[0] for n, t in g["tables"].items()} != headers:
            problems.append(f"{study}: other tables or columns")
    return problems


@pytest.mark.slow
def test_fixed_studies_give_the_recorded_numbers(tmp_path):
    records = json.loads(EXPECTED.read_text(encoding="utf-8"))
    got = fixed_numbers(tmp_path)
    key = numerics()
    if key in records:
        assert_same(got, records[key]["numbers"])
        return
    if any(got == r["numbers"] for r in records.values()):
        return
    problems = {r["cpu"]: drift(got, r["numbers"]) for r in records.values()}
    assert any(not p for p in problems.values()), (
        f"this CPU (numerics {key}) has no record and its numbers differ beyond a CPU's "
        f"drift from every record: {problems}. If no change of numbers was intended, find "
        "what changed them; on a new kind of CPU, `python tests/same_numbers.py --add-cpu`")


def test_two_cpus_records_differ_by_drift_alone_and_a_real_change_is_caught():
    records = [r["numbers"] for r in json.loads(EXPECTED.read_text(encoding="utf-8")).values()]
    assert len(records) >= 2
    first, second = records[0], records[1]
    assert first["ner"]["f1"] != second["ner"]["f1"]  # the same code on two kinds of CPU
    assert drift(first, second) == [] and drift(second, first) == []
    changed = json.loads(json.dumps(first))
    job = sorted(changed["ner"]["f1"])[0]
    changed["ner"]["f1"][job] -= 0.1
    problems = drift(changed, first)
    assert len(problems) == 1 and problems[0].startswith("ner: per-job F1 differences")
    changed = json.loads(json.dumps(first))
    changed["classify"]["tables"]["runs"] = "other,columns\n"
    assert drift(changed, first) == ["classify: other tables or columns"]
