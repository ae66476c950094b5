"""The store's named reads: what status, tracking, the waves and the CLI read, without SQL
of their own."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from nercurve.study.design import Subset
from nercurve.study.store import JobOutcome, JobSpec, Store

SUBSETS = [
    Subset("a#0000", "a", 2, ("d1", "d2"), 2, 5, 40, 3, classes=(("X", 1), ("Y", 1))),
    Subset("wave1#0000", "wave1", 3, ("d3", "d1", "d4"), 3, 6, 50, 2),
]


def _store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "results.sqlite")
    store.add_subsets(SUBSETS)
    store.add_jobs([JobSpec(f"j{i}", s.subset_id, "arm", "gazetteer", {"k": i}, 0)
                    for i, s in enumerate(SUBSETS)])
    return store


def test_stored_subsets_come_back_whole_in_the_order_asked(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        assert store.subsets(["wave1#0000", "gone", "a#0000"]) == [SUBSETS[1], SUBSETS[0]]
        rows = store.subset_rows()
    assert [r["subset_id"] for r in rows] == ["a#0000", "wave1#0000"]
    assert rows[0]["minority_share"] == 0.5 and rows[1]["classes"] is None
    assert rows[1]["eps"] == 2 / 6


def test_status_reads_counts_failures_and_set_aside_jobs(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        first = store.claim("me", 1, 1)
        store.finish(first, JobOutcome(0.5, 0.5, 0.5, {}, None, 1, 1, 2.0, 10.0))
        second = store.claim("me", 1, 1)
        store.fail(second.job_id, second.claim, "boom")
        states = store.job_states()
        assert sorted(r["status"] for r in states) == ["done", "failed"]
        assert {r["backend"] for r in states} == {"arm"} and states[0]["lease_until"] is None
        assert [(f["job_id"], f["error"]) for f in store.failures(5)] == [("j1", "boom")]
        assert store.failures(0) == []
        done = store.finished_jobs()
        assert [r["job_id"] for r in done] == ["j0"]
        assert done[0]["n_sentences"] == 5 and done[0]["params"] == '{"k": 0}'
        assert [r["job_id"] for r in store.finished_jobs(include_failed=True)] == ["j0", "j1"]
        store.add_jobs([JobSpec("j0", "a#0000", "arm", "gazetteer", {"k": 0}, 0)])
        assert store.inactive_counts() == {"arm": 1} and store.archived_count() == 0
        assert store.archive(reason="test") == 2
        assert store.archived_count() == 2 and store.inactive_counts() == {}


def test_a_store_from_before_stop_reasons_gains_the_column(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        pass
    con = sqlite3.connect(tmp_path / "results.sqlite")
    con.execute("ALTER TABLE jobs DROP COLUMN stop_reason")
    con.close()
    with Store(tmp_path / "results.sqlite") as store:
        first = store.claim("me", 1, 1)
        store.finish(first, JobOutcome(0.5, 0.5, 0.5, {}, 0.4, 9, 4, 2.0, 10.0,
                                       {"eval_every_steps": 2.0}, "patience"))
        done = store.finished_jobs()
    assert [(r["job_id"], r["stop_reason"]) for r in done] == [("j0", "patience")]
    assert done[0]["extra"] == '{"eval_every_steps": 2.0}'
