"""Small real corpora and configs for the study-runner tests."""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path

from nercurve.corpus.io import write_corpus
from nercurve.corpus.model import Doc, Span

NAMES = ["Alice Smith", "Bob Jones", "Carol White", "Dan Brown", "Eve Black", "Fay Green"]
ORGS = ["Pfizer Inc", "Novartis AG", "Roche Ltd", "Merck KGaA", "Bayer AG", "Amgen Inc"]


def toy_docs(n: int = 120, seed: int = 0) -> list[Doc]:
    """Disclosure-like sentences 'NAME received fees from ORG.' with exact spans."""
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        text, spans = "", []
        for _ in range(rng.randint(1, 3)):
            text += " " if text else ""
            start = len(text)
            text += rng.choice(NAMES)
            spans.append(Span(start, len(text), "PERSON"))
            text += " received fees from "
            start = len(text)
            text += rng.choice(ORGS)
            spans.append(Span(start, len(text), "ORG"))
            text += "."
        docs.append(Doc(id=f"d{i:03d}", text=text, spans=tuple(spans)))
    return docs


def write_study(
    folder: Path,
    *,
    backend_type: str = "gazetteer",
    params: str = "{}",
    seeds: str = "[0, 1]",
    strata: str = "[[1, 10], [11, 30]]",
    subsets: int = 3,
    extra: str = "",
    workers: int = 2,
    timeout_s: float = 600,
) -> Path:
    """Write toy.jsonl and study.toml into ``folder``; returns the config path."""
    write_corpus(toy_docs(), folder / "toy.jsonl")
    config = folder / "study.toml"
    config.write_text(
        f"""name = "t"
output = "out"
seeds = {seeds}
[corpus]
path = "toy.jsonl"
[design]
strata = {strata}
subsets_per_stratum = {subsets}
[[backends]]
name = "arm"
type = "{backend_type}"
params = {params}
[run]
workers = {workers}
timeout_s = {timeout_s}
{extra}
""",
        encoding="utf-8",
    )
    return config


def job_rows(db: Path) -> list[sqlite3.Row]:
    """Every job row of a study store, in plan order (read with a connection of its own)."""
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return con.execute("SELECT * FROM jobs ORDER BY position").fetchall()
    finally:
        con.close()


def job_states(db: Path) -> list[str]:
    """The status of every job in plan order; none while a runner is still creating the store
    (the file can exist a moment before its tables do)."""
    try:
        return [r["status"] for r in job_rows(db)]
    except sqlite3.OperationalError:
        return []


def wait_for(db: Path, done: int, *, running: bool = True, timeout: float = 120) -> None:
    """Wait until at least ``done`` jobs are done (and, with ``running``, one is running)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        states = job_states(db)
        if states.count("done") >= done and ("running" in states or not running):
            return
        time.sleep(0.05)
    raise AssertionError("the study did not get going")
