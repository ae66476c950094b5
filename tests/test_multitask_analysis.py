"""Single- against multi-task training compared against known truth: runs of a multi-corpus
study simulated so that the multi-task arm's target F1 curve is the single-task arm's shifted
left by exactly 100 target sentences (or, in the null case, the same curve), both arms on the
same subsets and seeds; the saving, its words, the transfer to an unseen corpus, a
single-corpus table (no comparison) and the report's section."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from nercurve.analysis import analyze
from nercurve.analysis.data import Runs, validate_runs
from nercurve.analysis.multitask import corpus_tests
from nercurve.analysis.simulate import simulate_runs
from nercurve.report import write_report

SHIFT = 100.0
TARGET_F1 = 0.65
STATS = {"corpora": {"ncbi": {"role": "target"}, "bc5cdr": {"role": "auxiliary"},
                     "chem": {"role": "test-only"}},
         "external_tests": {"chem": {}}}


def _f1(n: np.ndarray) -> np.ndarray:
    """The single-task arm's known target F1 curve: exponential saturation (a family the
    analysis fits, and one that a shift along n keeps in the family)."""
    return 0.85 - 0.6 * np.exp(-n / 800)


def arms(shift: float = SHIFT, *, seed: int = 0, per_stratum: int = 8, seeds: int = 2,
         same_runs: bool = False) -> pd.DataFrame:
    """A multi-corpus study's runs of one backend entry (``spacy``, ``spacy+multi``): per
    subset a shared effect (its documents) and per run its own noise; multi-task's target F1
    at n is single-task's at n + ``shift``; on the unseen corpus it scores 0.05 more, on the
    auxiliary one 0.2 more. ``same_runs``: multi-task's runs are single-task's, number for
    number."""
    rng = np.random.default_rng(seed)
    rows = []
    for stratum in (50, 100, 200, 400, 800, 1600):
        for i in range(per_stratum):
            n = int(rng.integers(int(stratum * 0.8), int(stratum * 1.2)))
            shared = rng.normal(0, 0.3 / np.sqrt(n))
            for s in range(seeds):
                own = {t: rng.normal(0, 0.15 / np.sqrt(n), 3) for t in ("single", "multi")}
                if same_runs:
                    own["multi"] = own["single"]
                for training, backend, moved, better in (
                        ("single", "spacy", 0.0, 0.0), ("multi", "spacy+multi", shift, 1.0)):
                    e = own[training]
                    rows.append({
                        "job_id": f"{backend}-{stratum}-{i}-{s}", "subset_id": f"{stratum}#{i}",
                        "seed": s, "backend": backend, "training": training,
                        "base_backend": "spacy", "stratum": str(stratum), "n_sentences": n,
                        "n_docs": n // 4, "eps": 1.3, "status": "done",
                        "f1": float(np.clip(_f1(n + moved) + shared + e[0], 0, 1)),
                        "f1_bc5cdr": 0.6 + 0.2 * better * (not same_runs) + 0.02 * e[1] * 50,
                        "f1_chem": (0.5 + 0.05 * better * (not same_runs)
                                    + 0.1 * (1 - np.sqrt(50 / n)) + e[2]),
                        "f1_Disease": 0.5})
    return pd.DataFrame(rows)


def _analyze(frame: pd.DataFrame, stats: dict | None = STATS, target_f1: float = TARGET_F1):
    frame, left_out = validate_runs(frame)
    return analyze(Runs(frame=frame, source="(test)", corpus_stats=stats, left_out=left_out),
                   n_boot=300, target_f1=target_f1)


@pytest.fixture(scope="module")
def shifted():
    """Multi-task reaches any target F1 with exactly 100 fewer target sentences."""
    return _analyze(arms())


@pytest.fixture(scope="module")
def null():
    """Multi-task's target curve is single-task's."""
    return _analyze(arms(0.0, seed=3))


def _saving(analysis, goal: str):
    (saving,) = [s for s in analysis.multitask.savings if s.goal == goal]
    return saving


def test_the_saving_at_the_target_covers_the_known_100_sentences(shifted) -> None:
    saving = _saving(shifted, "target")
    assert saving.reliable
    assert saving.ci[0] <= SHIFT <= saving.ci[1]
    assert saving.ci[0] > 0
    assert saving.saved == pytest.approx(SHIFT, rel=0.25)
    truth = 800 * np.log(0.6 / (0.85 - TARGET_F1))  # single-task's size for the target
    assert saving.baseline_size.sentences == pytest.approx(truth, rel=0.1)


def test_the_saving_at_the_single_task_plateau_is_at_its_largest_set(shifted) -> None:
    saving = _saving(shifted, "plateau")
    single = shifted.runs.loc[shifted.runs["backend"] == "spacy", "n_sentences"]
    assert saving.at == single.max()
    assert saving.f1 == pytest.approx(_f1(saving.at), abs=0.02)
    assert saving.reliable and saving.saved > 0


def test_the_words_say_how_many_fewer_target_sentences_with_a_ci(shifted) -> None:
    text = shifted.multitask_words()["spacy"]
    assert re.search(r"^spacy: multi-task reaches F1 0\.65 on your corpus with [\d,]+ fewer "
                     r"target sentences than single-task \(95% CI [\d,]+–[\d,]+\); multi-task "
                     r"matches single-task's F1 on your corpus at its largest training set "
                     r"\(0\.\d\d at [\d,]+ target sentences\) with [\d,]+ fewer target "
                     r"sentences than single-task \(95% CI [\d,]+–[\d,]+\)\.", text), text
    saving = _saving(shifted, "target")
    assert f"{saving.saved:.0f} fewer target sentences" in text
    assert text in shifted.recommendation_text()


def test_no_difference_gives_no_reliable_saving(null) -> None:
    saving = _saving(null, "target")
    assert saving.decided and not saving.reliable
    assert saving.ci[0] <= 0 <= saving.ci[1]
    text = null.multitask_words()["spacy"]
    assert re.search(r"^spacy: no reliable saving at F1 0\.65 on your corpus: multi-task "
                     r"about [\d,]+ target sentences, single-task about [\d,]+ \(95% CI of "
                     r"the difference −?[\d,]+ to [\d,]+\)", text), text
    assert "fewer target sentences" not in text.split(";")[0]
    (row,) = null.tables()["multitask_savings"].query("goal == 'target'").to_dict("records")
    assert not row["reliable"] and row["decided"]


def test_the_bootstrap_pairs_the_arms_by_subset() -> None:
    """Identical runs in both arms: every paired refit is the same curve twice, so the
    saving and its CI are 0 exactly (an unpaired bootstrap would spread it)."""
    analysis = _analyze(arms(0.0, same_runs=True))
    saving = _saving(analysis, "target")
    assert saving.saved == 0 and saving.ci == (0, 0)
    assert not saving.reliable
    gains = analysis.tables()["multitask_curves"].query("training == 'multi'")
    assert (gains["gain_at_n_max"] == 0).all()
    assert (gains["gain_ci_low"] == 0).all() and (gains["gain_ci_high"] == 0).all()
    assert "no reliable saving at F1 0.65" in analysis.multitask_words()["spacy"]


def test_a_target_beyond_the_curves_says_the_runs_cannot_tell() -> None:
    analysis = _analyze(arms(), target_f1=0.95)
    saving = _saving(analysis, "target")
    assert not saving.decided and not saving.reliable
    text = analysis.multitask_words()["spacy"]
    first = text.split("; multi-task matches")[0]
    assert first.startswith("spacy: the runs cannot tell whether multi-task saves target "
                            "sentences at F1 0.95 on your corpus: ")
    assert "curve levels off below it (fitted ceiling 0.8" in first
    assert "fewer" not in first
    row = analysis.tables()["multitask_savings"].query("goal == 'target'").iloc[0]
    assert not row["single_reachable"] and np.isnan(row["saved"])


def test_the_curves_table_has_each_arm_on_each_test_set(shifted) -> None:
    table = shifted.tables()["multitask_curves"]
    assert list(zip(table["test_set"], table["role"], table["training"], strict=True)) == [
        ("ncbi", "target", "single"), ("ncbi", "target", "multi"),
        ("bc5cdr", "auxiliary", "single"), ("bc5cdr", "auxiliary", "multi"),
        ("chem", "test-only", "single"), ("chem", "test-only", "multi")]
    assert set(table["family"]) == {shifted.models["spacy"].curves.chosen}
    assert (table["runs"] == 96).all() and (table["subsets"] == 48).all()
    gains = table.query("training == 'multi'").set_index("test_set")
    assert gains.loc["bc5cdr", "gain_at_n_max"] == pytest.approx(0.2, abs=0.02)
    assert gains.loc["chem", "gain_ci_low"] > 0 and gains.loc["chem", "gain_reliable"]
    assert table.query("training == 'single'")["gain_at_n_max"].isna().all()


def test_transfer_to_the_unseen_corpus_for_both_arms(shifted) -> None:
    table = shifted.tables()["multitask_transfer"]
    assert set(table["training"]) == {"single", "multi"}
    assert len(table) == 12  # 6 strata × 2 arms
    multi = table.loc[table["training"] == "multi"]
    assert multi["gain_chem"].to_numpy() == pytest.approx(0.05, abs=0.01)
    assert (multi["gain_chem_ci_low"] > 0).all()
    assert table.loc[table["training"] == "single", "gain_chem"].isna().all()
    single = table.loc[table["training"] == "single"].set_index("stratum")
    gained = multi.set_index("stratum")["f1_chem"] - single["f1_chem"]
    assert multi["gain_chem"].to_numpy() == pytest.approx(gained.to_numpy())
    text = shifted.multitask_words()["spacy"]
    assert re.search(r"Transfer \(spacy, at about [\d,]+ target sentences, over the same "
                     r"subsets and seeds\): on the unseen corpus 'chem' multi-task scores F1 "
                     r"0\.\d{3} against single-task's 0\.\d{3} \(a gain of 0\.0\d\d, 95% CI "
                     r"\+0\.\d{3} to \+0\.\d{3}\)\.$", text), text


def test_an_unseen_corpus_of_other_entity_types_is_said_to_be_unscorable() -> None:
    """A test-only corpus that keeps none of the models' labels (corpus_stats lists no
    labels: every F1 on it is 0) is not reported as a 0.000 against 0.000 transfer."""
    frame = arms()
    frame["f1_chem"] = 0.0
    stats = {**STATS, "corpora": {**STATS["corpora"],
                                  "chem": {"role": "test-only", "labels": []}}}
    text = _analyze(frame, stats).multitask_words()["spacy"]
    assert text.endswith("seeds): the unseen corpus 'chem' keeps no entity of the labels the "
                         "models learn, so neither arm can score on it."), text
    assert "0.000 against" not in text


def test_a_table_without_training_has_no_comparison() -> None:
    analysis = analyze(simulate_runs(n_subsets=60), n_boot=200)
    assert analysis.multitask is None
    assert not any(name.startswith("multitask") for name in analysis.tables())
    assert analysis.multitask_words() == {}


def test_runs_without_a_pair_are_left_out_and_said() -> None:
    frame = arms()
    frame = frame.drop(index=frame.index[(frame["training"] == "multi")][:3])
    analysis = _analyze(frame)
    assert analysis.multitask.unpaired == {"spacy": 3}
    assert ("spacy: 3 run(s) without a run of the other arm on the same subset and seed are "
            "left out of the single- against multi-task comparison") in analysis.notes
    assert (analysis.tables()["multitask_curves"]["runs"] == 93).all()


def test_the_test_sets_come_from_the_corpora_roles() -> None:
    frame = arms(per_stratum=1, seeds=1)
    assert [(t.name, t.role, t.column) for t in corpus_tests(frame, STATS)] == [
        ("ncbi", "target", "f1"), ("bc5cdr", "auxiliary", "f1_bc5cdr"),
        ("chem", "test-only", "f1_chem")]
    # without corpus statistics, f1_<name> columns could be per-label scores: target only
    assert [t.name for t in corpus_tests(frame, None)] == ["target"]


def test_arms_without_subset_ids_cannot_be_paired() -> None:
    analysis = _analyze(arms().drop(columns="subset_id"), stats=None)
    assert analysis.multitask is None
    assert any(n.startswith("no single- against multi-task comparison: the runs have a "
                            "training column but no subset_id") for n in analysis.notes)


def test_the_report_shows_the_section(shifted, tmp_path) -> None:
    files = write_report(shifted, tmp_path / "report.html")
    page = files.html.read_text(encoding="utf-8")
    assert '<section id="multitask"><h2>Single- against multi-task training</h2>' in page
    section = page.split('<section id="multitask">')[1].split("</section>")[0]
    assert "<svg" in section
    assert "Target sentences multi-task training saves on ncbi" in section
    assert "Transfer to the unseen corpora" in section
    assert "multi-task reaches F1 0.65 on your corpus with" in section
    names = {p.name for p in [*files.figures, *files.tables]}
    assert {"multitask_curves.png", "multitask_curves.svg", "multitask_curves.csv",
            "multitask_savings.csv", "multitask_transfer.csv"} <= names
    saved = pd.read_csv(tmp_path / "report_files" / "multitask_savings.csv")
    assert list(saved["goal"]) == ["target", "plateau"]


def test_a_multi_task_arm_that_needs_more_says_so() -> None:
    analysis = _analyze(arms(-SHIFT, seed=1))
    saving = _saving(analysis, "target")
    assert saving.reliable and saving.ci[1] < 0
    assert re.search(r"^spacy: multi-task needs [\d,]+ more target sentences than single-task "
                     r"to reach F1 0\.65 on your corpus \(95% CI [\d,]+–[\d,]+\)",
                     analysis.multitask_words()["spacy"])
