"""Selection strategies compared against known truth: runs simulated from known curves, where
uncertainty selection reaches any F1 with half the sentences of random selection (or, in the
null case, the same curve), the main analysis kept to the random subsets, the words, the cost
and the report's section."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from nercurve.analysis import analyze
from nercurve.analysis.data import selection_of, validate_runs
from nercurve.analysis.selection import main_strategy
from nercurve.analysis.simulate import simulate_runs
from nercurve.errors import AnalysisError

RANDOM_CURVE = (0.86, 2.0, 0.5)  # F1(n) = a − b·n^(−c)


def _needed(f1: float, curve: tuple[float, float, float] = RANDOM_CURVE) -> float:
    """Training sentences at which the known curve reaches ``f1``."""
    a, b, c = curve
    return (b / (a - f1)) ** (1 / c)


def strategies(factor: float, *, seed: int = 0, n_subsets: int = 120,
               names: tuple[str, str] = ("random", "uncertainty")) -> pd.DataFrame:
    """Runs of two strategies of one backend: the second reaches any F1 with ``factor``
    times fewer sentences (F1₂(n) = F1₁(factor·n), so b₂ = b·factor^(−c))."""
    a, b, c = RANDOM_CURVE
    frame = simulate_runs({names[0]: RANDOM_CURVE, names[1]: (a, b * factor ** (-c), c)},
                          n_subsets=n_subsets, seed=seed)
    frame["selection"] = frame.pop("backend")
    frame["backend"] = "spacy"
    frame["subset_id"] = frame["selection"] + "-" + frame["subset_id"]
    chosen = frame["selection"] == names[1]
    frame["selection_seconds"] = np.where(chosen, 30.0, 0.0)
    frame["selection_runs"] = np.where(chosen, 3, 0)
    frame["selection_rounds"] = np.where(chosen, 4, 0)
    return frame


@pytest.fixture(scope="module")
def halved():
    """Uncertainty selection needs half the sentences of random for any F1."""
    return analyze(strategies(2.0), n_boot=300, target_f1=0.76)


def _saving(analysis, goal: str):
    (saving,) = [s for s in analysis.selection.savings if s.goal == goal]
    return saving


def test_the_sentences_saved_at_the_target_are_near_the_truth_and_covered(halved) -> None:
    truth = _needed(0.76) / 2  # random needs n, uncertainty n/2
    saving = _saving(halved, "target")
    assert saving.reliable
    assert saving.ci[0] <= truth <= saving.ci[1]
    assert saving.saved == pytest.approx(truth, rel=0.35)


def test_the_sentences_saved_at_randoms_largest_set_are_near_the_truth(halved) -> None:
    saving = _saving(halved, "plateau")
    truth = saving.at / 2  # uncertainty reaches any random F1 with half the sentences
    assert saving.at == halved.runs["n_sentences"].max()
    assert saving.ci[0] <= truth <= saving.ci[1]
    assert saving.saved == pytest.approx(truth, rel=0.25)


def test_the_words_say_how_many_fewer_sentences_with_a_ci(halved) -> None:
    text = halved.selection_words()["spacy"]
    assert re.search(r"^spacy: uncertainty selection reaches F1 0\.76 with [\d,]+ fewer "
                     r"sentences than random \(95% CI [\d,]+–[\d,]+\)", text), text
    assert re.search(r"uncertainty selection matches random selection's F1 at its largest "
                     r"training set \(0\.\d\d at [\d,]+ sentences\) with [\d,]+ fewer sentences "
                     r"than random \(95% CI [\d,]+–[\d,]+\)", text), text
    assert ("Choosing the subsets cost uncertainty selection 60 minutes of computing "
            "(training and embedding) and 360 extra training runs for its 120 subsets.") in text
    assert text in halved.recommendation_text()


def test_the_main_analysis_rests_on_the_random_subsets_alone(halved) -> None:
    runs = strategies(2.0)
    alone = analyze(runs.loc[runs["selection"] == "random"], n_boot=300, target_f1=0.76)
    assert set(halved.runs["selection"]) == {"random"}
    for name in ("descriptive", "curves", "thresholds", "regression", "power_law"):
        pd.testing.assert_frame_equal(halved.tables()[name], alone.tables()[name])
    assert halved.models["spacy"].recommendation == alone.models["spacy"].recommendation
    assert len(halved.tables()["runs"]) == len(runs)  # the runs table keeps every run
    assert any("rest on the random subsets alone" in n for n in halved.notes)
    assert alone.selection is None and "selection" not in alone.tables()


def test_the_table_has_each_strategy_with_its_cost(halved) -> None:
    table = halved.tables()["selection"].set_index("strategy")
    assert list(table.index) == ["random", "uncertainty"]
    assert table.loc["random", "baseline"] and not table.loc["uncertainty", "baseline"]
    assert table.loc["uncertainty", "runs"] == 120 and table.loc["uncertainty", "subsets"] == 120
    assert table.loc["uncertainty", "selection_seconds"] == 3600.0
    assert table.loc["uncertainty", "selection_runs"] == 360
    assert table.loc["uncertainty", "selection_rounds"] == 4.0
    assert table.loc["random", "selection_seconds"] == 0.0
    assert table.loc["uncertainty", "saved_target_reliable"]
    assert (table.loc["uncertainty", "target_sentences"]
            < table.loc["random", "target_sentences"])
    sizes = halved.tables()["selection_sizes"]
    assert set(sizes["strategy"]) == {"random", "uncertainty"}
    assert sizes.groupby("strategy")["runs"].sum().to_dict() == {"random": 120,
                                                                  "uncertainty": 120}


def test_the_same_curve_gives_no_reliable_difference() -> None:
    analysis = analyze(strategies(1.0, seed=3), n_boot=300, target_f1=0.76)
    saving = _saving(analysis, "target")
    assert saving.decided and not saving.reliable
    assert saving.ci[0] <= 0 <= saving.ci[1]
    text = analysis.selection_words()["spacy"]
    assert "no reliable difference between uncertainty and random selection at F1 0.76" in text
    assert "fewer" not in text


def test_a_target_beyond_the_curves_gives_no_difference_and_says_why() -> None:
    analysis = analyze(strategies(2.0), n_boot=300, target_f1=0.97)
    saving = _saving(analysis, "target")
    assert not saving.decided and not saving.reliable
    text = analysis.selection_words()["spacy"]
    target_part = text.split("; uncertainty selection matches")[0]
    assert "no difference in sentences can be given" in target_part
    assert "F1 0.97" in target_part and "fewer" not in target_part
    assert "fewer sentences than random" in text  # the plateau level is still compared


def test_seeds_of_a_subset_are_counted_once_in_the_cost() -> None:
    runs = strategies(2.0, n_subsets=40)
    again = runs.assign(seed=1, f1=np.clip(runs["f1"] + 0.01, 0, 1),
                        job_id=runs["job_id"] + "-b")
    analysis = analyze(pd.concat([runs, again], ignore_index=True), n_boot=200,
                       target_f1=0.76)
    row = analysis.tables()["selection"].set_index("strategy").loc["uncertainty"]
    assert row["runs"] == 80 and row["subsets"] == 40
    assert row["selection_seconds"] == 1200.0 and row["selection_runs"] == 120


def test_a_trajectory_costs_its_largest_subset_once() -> None:
    """A replicate's selected subsets are prefixes of one trajectory, each costed up to its
    own size (ids ``<stratum>#<index>@<strategy>``): the strategy's cost is the sum over
    trajectories of their largest subset's, not the sum over subsets."""
    runs = strategies(2.0, n_subsets=40)
    chosen = runs["selection"] == "uncertainty"
    ids = list(dict.fromkeys(runs.loc[chosen, "subset_id"]))  # 40 subsets: 10 trajectories
    position = {sid: k for k, sid in enumerate(ids)}
    k = runs.loc[chosen, "subset_id"].map(position)
    runs.loc[chosen, "subset_id"] = [f"s{i % 4}#{i // 4:04d}@uncertainty" for i in k]
    runs.loc[chosen, "selection_seconds"] = 10.0 * (k % 4 + 1)  # 10, 20, 30, 40 per trajectory
    runs.loc[chosen, "selection_runs"] = k % 4 + 1
    analysis = analyze(runs, n_boot=200, target_f1=0.76)
    row = analysis.tables()["selection"].set_index("strategy").loc["uncertainty"]
    assert row["subsets"] == 40
    assert row["selection_seconds"] == 400.0 and row["selection_runs"] == 40


def test_without_random_the_first_strategy_by_name_is_the_baseline() -> None:
    runs = strategies(2.0, names=("diversity", "uncertainty"), n_subsets=60)
    assert main_strategy(sorted(set(runs["selection"]))) == "diversity"
    analysis = analyze(runs, n_boot=200, target_f1=0.76)
    assert analysis.selection.baseline == "diversity"
    assert set(analysis.runs["selection"]) == {"diversity"}
    assert any("no random subsets, so the first strategy by name" in n for n in analysis.notes)
    assert "uncertainty selection reaches F1 0.76 with" in analysis.selection_words()["spacy"]


def test_classification_compares_examples_not_sentences() -> None:
    runs = strategies(2.0, n_subsets=80)
    runs["n_docs"] = runs["n_sentences"]
    runs["minority_share"] = np.clip(runs.pop("eps") / 5, 0, 0.5)
    analysis = analyze(runs.drop(columns=["n_sentences"]), n_boot=200, target_f1=0.76)
    text = analysis.selection_words()["spacy"]
    assert "fewer examples than random" in text and "sentences" not in text
    assert "macro-F1 0.76" in text


def test_validation_defaults_and_checks_the_selection_columns() -> None:
    plain = simulate_runs({"m": RANDOM_CURVE}, n_subsets=12)
    frame, _ = validate_runs(plain)
    assert "selection" not in frame.columns  # a table without it is left as it is
    assert set(selection_of(frame)) == {"random"}
    partial = plain.assign(selection=["uncertainty"] * 6 + [None, ""] * 3,
                           selection_seconds=[1.5] * 6 + [None] * 6)
    frame, _ = validate_runs(partial)
    assert list(frame["selection"]) == ["uncertainty"] * 6 + ["random"] * 6
    assert list(frame["selection_seconds"]) == [1.5] * 6 + [0.0] * 6
    with pytest.raises(AnalysisError, match="selection_runs is not a number of at least 0"):
        validate_runs(plain.assign(selection_runs=-1), first_line=2)


def test_a_csv_of_runs_with_the_selection_column_is_compared(tmp_path) -> None:
    from nercurve.analysis import load_runs

    runs = strategies(2.0, n_subsets=40)
    runs.loc[runs["selection"] == "random", ["selection", "selection_seconds"]] = None
    runs.to_csv(tmp_path / "runs.csv", index=False)  # random as empty cells
    loaded = load_runs(tmp_path / "runs.csv")
    assert sorted(set(loaded.frame["selection"])) == ["random", "uncertainty"]
    analysis = analyze(loaded, n_boot=200, target_f1=0.76)
    assert analysis.selection is not None and analysis.selection.baseline == "random"
    assert "fewer sentences than random" in analysis.recommendation_text()


def test_the_report_shows_the_strategies_side_by_side(halved, tmp_path) -> None:
    from nercurve.report import write_report

    written = write_report(halved, tmp_path / "report.html")
    page = written.html.read_text(encoding="utf-8")
    folder = tmp_path / "report_files"
    assert '<section id="selection">' in page
    said = page.index("uncertainty selection reaches F1 0.76 with")
    assert page.index('id="recommendation"') < said < page.index('id="corpus"')  # up top too
    assert page.count("uncertainty selection reaches F1 0.76 with") == 2
    assert (folder / "selection_curves.png").exists() and (folder / "selection_curves.svg").exists()
    table = pd.read_csv(folder / "selection.csv")
    assert list(table["strategy"]) == ["random", "uncertainty"]
    assert (folder / "selection_sizes.csv").exists()
    assert "Saved vs random at F1 0.76" in page


def test_one_strategy_gives_no_section_and_no_figure(tmp_path) -> None:
    from nercurve.report import write_report

    analysis = analyze(simulate_runs({"m": RANDOM_CURVE}, n_subsets=40, seed=2), n_boot=200)
    assert analysis.selection is None and analysis.selection_words() == {}
    written = write_report(analysis, tmp_path / "report.html")
    page = written.html.read_text(encoding="utf-8")
    assert 'id="selection"' not in page
    assert not (tmp_path / "report_files" / "selection_curves.png").exists()
    assert not (tmp_path / "report_files" / "selection.csv").exists()
