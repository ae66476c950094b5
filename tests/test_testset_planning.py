"""Test-set planning: per-document counts, the per-job bootstrap CI, the paired power figures
checked against simulation truth, and `plan-test` on a real small study."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nercurve.analysis.testset import (
    detectable,
    docs_needed,
    plan_test,
    power_to_detect,
    resampled_scores,
)
from nercurve.corpus.model import Doc, Span
from nercurve.errors import AnalysisError
from nercurve.tasks.classify_scores import class_doc_counts, class_outcome, score_classes
from nercurve.tasks.doc_scores import outcome_ci, resampled_outcomes, seed_of
from nercurve.tasks.ner import TASK as NER

NERCURVE = str(Path(sys.executable).parent / "nercurve")


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([NERCURVE, *args], capture_output=True, text=True, timeout=300)


def ner_f1(counts) -> float:
    return float(NER.outcome_of_counts(np.asarray(counts, float).sum(axis=0)[None, :])[0])


# -- per-document counts ---------------------------------------------------------------------


def test_strict_doc_counts_add_up_to_the_strict_micro_score():
    docs = [Doc(id="a", text="Alice met Bob at Acme.", spans=(Span(0, 5, "PER"),
                                                              Span(10, 13, "PER"))),
            Doc(id="b", text="Nothing here.", spans=()),
            Doc(id="c", text="Carol works at Acme.", spans=(Span(0, 5, "PER"),
                                                            Span(15, 19, "ORG")))]
    predicted = [(Span(0, 5, "PER"), Span(17, 21, "ORG")), (Span(0, 7, "ORG"),),
                 (Span(0, 5, "PER"), Span(0, 5, "PER"), Span(15, 19, "PER"))]
    scores = NER.score(docs, predicted, None)
    assert scores.doc_counts == [[1, 1, 1], [0, 1, 0], [1, 2, 1]]
    assert ner_f1(scores.doc_counts) == pytest.approx(scores.f1, abs=1e-15)
    assert scores.f1 == pytest.approx(2 * 2 / (2 * 2 + 4 + 2))


@pytest.mark.parametrize("multi_label", [False, True])
def test_class_counts_give_accuracy_macro_and_micro_f1(multi_label):
    rng = np.random.default_rng(3)
    classes = ["a", "b", "c", "d"]
    gold, pred = [], []
    for _ in range(60):
        if multi_label:
            gold.append(sorted(set(rng.choice(classes, rng.integers(1, 3)))))
            pred.append(sorted(set(rng.choice(classes, rng.integers(0, 3)))))
        else:
            gold.append([str(rng.choice(classes[:3]))])
            pred.append([] if rng.random() < 0.1 else [str(rng.choice(classes))])
    scores = score_classes(gold, pred, multi_label=multi_label)
    summed = np.asarray(class_doc_counts(gold, pred, scores.labels), float).sum(axis=0)[None]
    for metric in ("macro_f1", "micro_f1", "accuracy"):
        assert class_outcome(summed, metric)[0] == pytest.approx(scores.outcome(metric),
                                                                 abs=1e-12), metric


# -- the per-job interval ----------------------------------------------------------------------


def test_resampled_counts_by_hand():
    counts = np.array([[1, 1, 0], [2, 0, 0], [0, 0, 2]], float)
    weights = np.array([[3, 0, 0], [0, 3, 0], [1, 1, 1], [0, 1, 2]], float)
    got = resampled_outcomes(counts, NER.outcome_of_counts, weights)
    # [3,3,0] -> 6/9; [6,0,0] -> 1; [3,1,2] -> 6/9; [2,0,4] -> 4/8
    assert got == pytest.approx([2 / 3, 1.0, 2 / 3, 0.5])


def test_two_documents_give_the_interval_between_their_own_scores():
    # resamples: doc 1 twice (F1 2/3, a quarter of them), one each (6/7), doc 2 twice (1)
    counts = [[1, 1, 0], [2, 0, 0]]
    low, high = outcome_ci(counts, NER.outcome_of_counts, ner_f1(counts), seed=1)
    assert (low, high) == pytest.approx((2 / 3, 1.0))


@pytest.mark.parametrize("counts, f1", [
    ([[0, 0, 3], [0, 0, 1], [0, 0, 2]], 0.0),  # no predictions
    ([[3, 0, 0], [1, 0, 0]], 1.0),  # perfect
    ([[2, 1, 1]], 2 / 3),  # one test document
    ([[0, 0, 0], [0, 0, 0]], 0.0),  # nothing to find and nothing found
    ([], 0.5),  # no documents: the score itself
])
def test_degenerate_test_sets_give_an_interval_at_the_score(counts, f1):
    assert outcome_ci(counts, NER.outcome_of_counts, f1, seed=0) == pytest.approx((f1, f1))


def test_the_interval_always_holds_the_score_and_is_reproducible():
    rng = np.random.default_rng(0)
    for case in range(300):
        n = int(rng.integers(1, 6))
        counts = rng.integers(0, 4, size=(n, 3)).tolist()
        f1 = ner_f1(counts)
        low, high = outcome_ci(counts, NER.outcome_of_counts, f1, seed=case, n_boot=200)
        assert low <= f1 <= high
        assert (low, high) == outcome_ci(counts, NER.outcome_of_counts, f1, seed=case,
                                         n_boot=200)
    assert seed_of("abc") == seed_of("abc") != seed_of("abd")


# -- power against simulation truth ------------------------------------------------------------


def _two_systems(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per-document strict counts of two systems on ``n`` fresh documents: system A finds each
    gold entity with probability 0.80 + u, system B with 0.76 + u, where u is the document's
    difficulty (shared: their errors are correlated, so pairing matters)."""
    gold = 1 + rng.poisson(2.0, n)
    u = rng.normal(0.0, 0.12, n)
    out = []
    for base in (0.80, 0.76):
        tp = rng.binomial(gold, np.clip(base + u, 0.0, 1.0))
        out.append(np.c_[tp, rng.poisson(0.4, n), gold - tp].astype(float))
    return out[0], out[1]


def _frame(a: np.ndarray, b: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({
        "job_id": ["a", "b"], "backend": ["A", "B"], "stratum": ["s", "s"],
        "n_sentences": [100.0, 100.0], "eps": [1.0, 1.0], "f1": [ner_f1(a), ner_f1(b)],
        "doc_counts": [json.dumps(a.astype(int).tolist()), json.dumps(b.astype(int).tolist())],
    })


@pytest.mark.slow  # about a minute: 8,000 simulated test sets, each bootstrapped
def test_documents_needed_and_power_agree_with_monte_carlo_over_fresh_test_sets():
    """The study's own test set (a large one, so that its SE is nearly exact) says how many
    documents detect the true difference at 80% power, and the power at half as many; a
    paired-bootstrap test on fresh test sets of those sizes has that power (±3 points)."""
    rng = np.random.default_rng(2024)
    big_a, big_b = _two_systems(2_000_000, rng)
    true_diff = ner_f1(big_b) - ner_f1(big_a)  # the population difference, about -0.024
    pilot_docs = 10_000
    pilot = plan_test(_frame(*_two_systems(pilot_docs, rng)), NER, n_boot=10_000, seed=1,
                      detect=abs(true_diff))
    [comparison] = pilot.comparisons.itertuples()
    assert comparison.kind == "arms" and comparison.runs_a == comparison.runs_b == 1
    needed = pilot.docs_for_detect
    assert 200 < needed < 2000
    for n in (needed, needed // 2):
        predicted = power_to_detect(true_diff, comparison.se * np.sqrt(pilot_docs / n))
        hits, reps = 0, 4000
        for rep in range(reps):
            a, b = _two_systems(n, rng)
            diff = ner_f1(b) - ner_f1(a)
            boot = resampled_scores([a, b], NER, n_boot=200, seed=rep)
            se = np.std(boot[1] - boot[0], ddof=1)
            hits += abs(diff) > 1.959964 * se
        assert hits / reps == pytest.approx(predicted, abs=0.03), n
        if n == needed:
            assert predicted == pytest.approx(0.80, abs=0.01)


def test_the_minimum_detectable_difference_and_documents_needed_by_formula():
    assert detectable(0.01) == pytest.approx(0.01 * (1.959964 + 0.841621), rel=1e-5)
    assert power_to_detect(detectable(0.01), 0.01) == pytest.approx(0.80, abs=1e-3)
    assert docs_needed(100, 0.04, 0.02) == 400  # half the difference: four times the documents
    assert docs_needed(100, 0.02, 0.04) == 25


def test_runs_without_counts_or_with_nothing_to_compare_are_clear_errors():
    a, b = _two_systems(50, np.random.default_rng(0))
    frame = _frame(a, b)
    with pytest.raises(AnalysisError, match="no per-document test counts"):
        plan_test(frame.drop(columns="doc_counts"), NER)
    with pytest.raises(AnalysisError, match="stored without per-document"):
        plan_test(frame.assign(doc_counts=[frame.doc_counts[0], None]), NER)
    with pytest.raises(AnalysisError, match="no two sizes"):
        plan_test(frame.head(1), NER)
    shorter = frame.assign(doc_counts=[frame.doc_counts[0], json.dumps([[1, 0, 0]])])
    with pytest.raises(AnalysisError, match="different sizes"):
        plan_test(shorter, NER)


# -- a real small study (gazetteer arms on the demo's synthetic corpus) -------------------------

_STUDY = """name = "coi-small"
output = "study"
seeds = [0]
[corpus]
path = "coi.jsonl"
[split]
test = 0.3
dev = 0.1
[design]
unit = "documents"
strata = [[1, 40], [41, 80], [81, 120], [121, 160], [161, 200]]
subsets_per_stratum = 3
[[backends]]
name = "gazetteer"
type = "gazetteer"
[[backends]]
name = "gazetteer-twice"
type = "gazetteer"
params = { min_count = 2 }
[run]
workers = 1
"""


@pytest.fixture(scope="module")
def coi_study(tmp_path_factory) -> Path:
    from nercurve.corpus.io import write_corpus
    from nercurve.study.config import load_config
    from nercurve.study.runner import run_study
    from nercurve.synthetic.coi import generate_coi

    here = tmp_path_factory.mktemp("coi")
    write_corpus(generate_coi(490, 0), here / "coi.jsonl")
    (here / "study.toml").write_text(_STUDY, encoding="utf-8")
    return run_study(load_config(here / "study.toml"), workers=1)


def test_every_job_row_holds_its_f1_within_its_ci(coi_study):
    from nercurve.study.store import results_frame

    runs = results_frame(coi_study)
    assert len(runs) == 30
    assert (runs["f1_ci_low"] <= runs["f1"]).all() and (runs["f1"] <= runs["f1_ci_high"]).all()
    assert (runs["f1_ci_high"] - runs["f1_ci_low"] > 0).any()
    test_docs = json.loads((coi_study / "corpus_stats.json").read_text())["test"]["documents"]
    for text, f1 in zip(runs["doc_counts"], runs["f1"], strict=True):
        counts = json.loads(text)
        assert len(counts) == test_docs and ner_f1(counts) == pytest.approx(f1, abs=1e-12)


def test_plan_test_answers_on_a_demo_like_study(coi_study):
    done = cli("plan-test", str(coi_study), "--detect", "0.02")
    assert done.returncode == 0, done.stderr
    assert "This test set of 147 documents detects F1 differences of" in done.stdout
    assert "A difference of 0.020 needs about" in done.stdout
    assert "a 20% test split (98 documents) would resolve" in done.stdout
    assert "Variance decomposition per size" in done.stdout
    as_json = cli("plan-test", str(coi_study), "--json", "--share", "0.5")
    assert as_json.returncode == 0, as_json.stderr
    plan = json.loads(as_json.stdout)
    assert plan["n_docs"] == 147 and 0 < plan["mdd"] < 0.2
    kinds = {c["kind"] for c in plan["testset_comparisons"]}
    assert kinds == {"sizes", "arms"}
    assert [s["test_share"] for s in plan["testset_splits"]][1:] == [0.5]
    assert all(0 <= v["share"] <= 1 for v in plan["testset_variance"] if v["share"] is not None)


def test_the_report_has_the_section_and_a_bare_table_says_why_not(coi_study, tmp_path):
    from nercurve.analysis import analyze, load_runs
    from nercurve.report import write_report
    from nercurve.study.store import results_frame

    analysis = analyze(load_runs(coi_study), n_boot=200)
    assert analysis.test_plan is not None
    assert {"testset_comparisons", "testset_variance", "testset_splits"} <= set(
        analysis.tables())
    html = write_report(analysis, tmp_path / "report.html").html.read_text(encoding="utf-8")
    assert "Is the test set big enough?" in html and "Hold-out share" in html
    bare = tmp_path / "runs.csv"
    results_frame(coi_study).drop(columns="doc_counts").to_csv(bare, index=False)
    plain = analyze(load_runs(bare), n_boot=200)
    assert plain.test_plan is None and "no per-document test counts" in plain.test_plan_absent
    html = write_report(plain, tmp_path / "plain.html").html.read_text(encoding="utf-8")
    assert "No test-set plan: the runs carry no per-document test counts" in html


def test_plan_test_refuses_old_stores_and_other_folders(coi_study, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(coi_study, old)
    with sqlite3.connect(old / "results.sqlite") as db:
        db.execute("UPDATE jobs SET doc_counts = NULL")
    for args, words in (((str(old),), "were stored without per-document test counts"),
                        ((str(tmp_path),), "holds no study results"),
                        ((str(tmp_path / "nowhere"),), "plan-test reads a study folder")):
        done = cli("plan-test", *args)
        assert done.returncode == 2 and words in done.stderr, done.stderr
        assert "Traceback" not in done.stderr


def test_an_older_store_gains_the_new_job_columns(tmp_path):
    from nercurve.study.store import Store

    path = tmp_path / "results.sqlite"
    Store(path).close()
    with sqlite3.connect(path) as db:
        for column in ("f1_ci_low", "f1_ci_high", "doc_counts"):
            db.execute(f"ALTER TABLE jobs DROP COLUMN {column}")
    Store(path).close()
    with sqlite3.connect(path) as db:
        have = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
    assert {"f1_ci_low", "f1_ci_high", "doc_counts"} <= have


def _jobs(bases: dict[tuple[str, str, float], list[float]], n_docs: int = 120) -> pd.DataFrame:
    """Runs of arms at sizes on one test set: each run finds each gold entity with its own
    probability (its base), the documents' difficulty shared by every run."""
    rng = np.random.default_rng(5)
    gold = 1 + rng.poisson(2.0, n_docs)
    u = rng.normal(0.0, 0.12, n_docs)
    rows = []
    for (backend, stratum, size), probabilities in bases.items():
        for k, p in enumerate(probabilities):
            tp = rng.binomial(gold, np.clip(p + u, 0.0, 1.0))
            counts = np.c_[tp, rng.poisson(0.4, n_docs), gold - tp]
            rows.append({"job_id": f"{backend}{stratum}{k}", "backend": backend,
                         "stratum": stratum, "n_sentences": size, "eps": 1.0,
                         "f1": ner_f1(counts), "doc_counts": json.dumps(counts.tolist())})
    return pd.DataFrame(rows)


def test_the_words_say_what_the_test_set_cannot_tell_apart():
    from nercurve.analysis.recommend import arms_words, testset_headline, testset_words

    frame = _jobs({("A", "s1", 100.0): [0.70, 0.71, 0.70], ("A", "s2", 400.0): [0.71, 0.70, 0.71],
                   ("B", "s1", 100.0): [0.71, 0.70, 0.71], ("B", "s2", 400.0): [0.50, 0.51, 0.50]})
    plan = plan_test(frame, NER, n_boot=500, seed=0, detect=0.02)
    c = plan.comparisons.set_index(["kind", "backend_a", "stratum_a", "backend_b"])
    assert not c.loc[("sizes", "A", "s1", "A"), "resolved"]
    assert c.loc[("sizes", "B", "s1", "B"), "resolved"]
    assert not c.loc[("arms", "A", "s1", "B"), "resolved"]
    assert c.loc[("arms", "A", "s2", "B"), "resolved"]
    said = testset_words(plan, "A", NER)
    step = c.loc[("sizes", "A", "s1", "A")]
    assert said.startswith(f"From 100 to 400 sentences, F1 changes by {abs(step['diff']):.3f}, "
                           f"less than the {step.mdd:.3f} this test set resolves at 80% power: "
                           "the test set cannot tell these sizes apart.")
    # the runs of a size differ by little more than the test set's noise
    assert plan.noise_share("A") > 0.25 and "Test-set noise accounts for about" in said
    arm = c.loc[("arms", "A", "s1", "B")]
    assert arms_words(plan, NER) == (
        f"A and B differ by {abs(arm['diff']):.3f} F1 at 100 sentences, less than the "
        f"{arm.mdd:.3f} this test set resolves at 80% power: the test set cannot tell them "
        "apart.")
    assert "differences of" in testset_headline(plan, NER) and "needs about" in \
        testset_headline(plan, NER)


def test_a_classification_study_stores_class_counts_and_plans_its_test_set(tmp_path):
    from nercurve.corpus.io import write_corpus
    from nercurve.study.config import load_config
    from nercurve.study.runner import run_study
    from nercurve.study.store import results_frame
    from nercurve.synthetic.smoking import generate_smoking
    from nercurve.tasks import get_task

    write_corpus(generate_smoking(90, seed=0), tmp_path / "smk.jsonl")
    (tmp_path / "study.toml").write_text("""name = "smk"
output = "out"
task = "classify"
metric = "accuracy"
seeds = [0, 1]
[corpus]
path = "smk.jsonl"
[design]
sizes = [8, 16, 24, 32]
subsets_per_size = 1
[[backends]]
name = "tfidf"
type = "tfidf"
[run]
workers = 1
""", encoding="utf-8")
    study = run_study(load_config(tmp_path / "study.toml"))
    runs = results_frame(study)
    assert (runs["f1_ci_low"] <= runs["f1"]).all() and (runs["f1"] <= runs["f1_ci_high"]).all()
    task = get_task("classify", "accuracy")
    for row in runs.itertuples():
        summed = np.asarray(json.loads(row.doc_counts), float).sum(axis=0)[None]
        assert task.outcome_of_counts(summed)[0] == pytest.approx(row.f1, abs=1e-12)
        assert get_task("classify", "macro_f1").outcome_of_counts(summed)[0] == pytest.approx(
            row.macro_f1, abs=1e-12)
    done = cli("plan-test", str(study))
    assert done.returncode == 0, done.stderr
    assert "detects accuracy differences of" in done.stdout
    assert "examples) to the training pool" in done.stdout
