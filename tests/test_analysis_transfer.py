"""In-domain against unseen-corpus F1 in the analysis: hand-checked table and words."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nercurve.analysis import analyze
from nercurve.analysis.data import Runs, validate_runs
from nercurve.analysis.simulate import simulate_runs
from nercurve.analysis.transfer import external_names, transfer_sentence, transfer_table
from nercurve.tasks import get_task


def runs_with_transfer(retained: float) -> Runs:
    frame = simulate_runs({"m": (0.9, 2.0, 0.5)}, n_subsets=80, seed=1)
    edges = [0, 100, 300, 500, np.inf]
    frame["stratum"] = pd.cut(frame["n_sentences"], edges, labels=["a", "b", "c", "d"]).astype(
        str)
    frame["f1_site2"] = frame["f1"] * retained  # the unseen corpus keeps a known share
    frame, left_out = validate_runs(frame)
    return Runs(frame=frame, source="sim", left_out=left_out,
                corpus_stats={"external_tests": {"site2": {}, "never_scored": {}}})


def test_the_transfer_table_by_hand() -> None:
    frame = pd.DataFrame({
        "backend": ["x"] * 4, "stratum": ["s1", "s1", "s2", "s2"],
        "n_sentences": [10, 30, 100, 140], "f1": [0.4, 0.6, 0.8, 0.9],
        "f1_u": [0.2, 0.4, 0.6, 0.6],
    })
    table = transfer_table(frame, ["u"])
    assert table["sentences"].tolist() == [20, 120]
    assert table["f1_in_domain"].tolist() == pytest.approx([0.5, 0.85])
    assert table["f1_u"].tolist() == pytest.approx([0.3, 0.6])
    assert table["retained_u"].tolist() == pytest.approx([0.6, 0.6 / 0.85])


def test_classification_transfer_is_by_examples_not_sentences() -> None:
    frame = pd.DataFrame({
        "backend": ["x"] * 4, "stratum": ["s1", "s1", "s2", "s2"],
        "n_docs": [10, 30, 100, 140], "n_sentences": [90, 270, 900, 1260],
        "f1": [0.4, 0.6, 0.8, 0.9], "f1_u": [0.2, 0.4, 0.6, 0.6],
    })
    task = get_task("classify", "macro_f1")
    table = transfer_table(frame, ["u"], task)
    assert table["examples"].tolist() == [20, 120] and "sentences" not in table.columns
    words = transfer_sentence("x", frame, ["u"], task)
    assert "at about 120 training examples" in words and "at about 20 examples" in words
    assert "sentences" not in words and "in-domain 0.850" in words


def test_analysis_fits_unseen_curves_and_says_how_much_carries_over() -> None:
    runs = runs_with_transfer(0.5)
    assert external_names(runs.frame, runs.corpus_stats) == ["site2"]
    analysis = analyze(runs, n_boot=200)
    assert analysis.external == ("site2",)
    model = analysis.models["m"]
    smooth = model.transfer["site2"]
    in_domain = model.gams["n_sentences"]
    # the unseen curve is half the in-domain one
    assert np.allclose(smooth.fit, 0.5 * in_domain.fit, atol=0.01)
    table = analysis.tables()["transfer"]
    assert table["retained_site2"].to_numpy() == pytest.approx(0.5)
    assert "unseen test set 'site2'" in model.recommendation
    assert "50% of its in-domain" in model.recommendation


def test_no_external_sets_no_transfer_table() -> None:
    frame = simulate_runs({"m": (0.9, 2.0, 0.5)}, n_subsets=40, seed=2)
    analysis = analyze(frame, n_boot=200)
    assert analysis.external == () and "transfer" not in analysis.tables()
    assert "Transfer" not in analysis.models["m"].recommendation


def test_the_report_shows_unseen_curves_beside_in_domain(tmp_path) -> None:
    from nercurve.report import write_report

    analysis = analyze(runs_with_transfer(0.5), n_boot=200)
    written = write_report(analysis, tmp_path / "report.html")
    page = written.html.read_text(encoding="utf-8")
    assert '<section id="transfer">' in page and "unseen: site2" in page
    assert (tmp_path / "report_files" / "transfer_curves.svg").is_file()
    transfer = pd.read_csv(tmp_path / "report_files" / "transfer.csv")
    assert transfer["retained_site2"].to_numpy() == pytest.approx(0.5)
    plain = analyze(simulate_runs({"m": (0.9, 2.0, 0.5)}, n_subsets=40, seed=2), n_boot=200)
    other = write_report(plain, tmp_path / "plain.html").html.read_text(encoding="utf-8")
    assert 'id="transfer"' not in other
