"""The report's first screen: the corpus as one compact table, and F1 axes that follow the data."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from study_fixtures import toy_docs

from nercurve.analysis import Analysis, analyze
from nercurve.analysis.data import Runs
from nercurve.analysis.simulate import simulate_runs
from nercurve.corpus.stats import corpus_stats
from nercurve.report import write_report
from nercurve.report.corpus import corpus_display, corpus_table, entity_lengths_display
from nercurve.report.figures import curve_overview, f1_limits, learning_curves


@pytest.fixture(scope="module")
def stats() -> dict:
    """corpus_stats.json as the study runner writes it, for three parts of a toy corpus."""
    docs = toy_docs(60, seed=1)
    return {
        "pool": corpus_stats(docs[:40]).to_dict(),
        "dev": corpus_stats(docs[40:45]).to_dict(),
        "test": corpus_stats(docs[45:]).to_dict(),
        "select_on": "dev",
        "reading_notices": {"overlap": 2},
        "fingerprint": "abc123",
    }


@pytest.fixture(scope="module")
def analysis(stats: dict) -> Analysis:
    runs = simulate_runs({"spacy": (0.86, 1.5, 0.5), "roberta": (0.93, 3.0, 0.6)},
                         n_subsets=60, seed=3)
    baseline = pd.DataFrame([{"backend": "pretrained", "n_sentences": 0, "eps": 1.3,
                              "f1": 0.31, "status": "done", "subset_id": "none"}])
    frame = pd.concat([runs, baseline], ignore_index=True)
    return analyze(Runs(frame=frame, source="toy", corpus_stats=stats), n_boot=200)


class Tables(HTMLParser):
    """The cell texts of every table in a page, with the id of the section holding it."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self.section = ""
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "section":
            self.section = dict(attrs).get("id", "")
        elif tag == "table":
            self.tables.append({"section": self.section, "head": [], "body": []})
        elif tag == "tr" and self.tables:
            self.tables[-1]["current"] = []
        elif tag in {"td", "th"}:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in {"td", "th"} and self._cell is not None and self.tables:
            self.tables[-1]["current"].append((tag, "".join(self._cell).strip()))
            self._cell = None
        elif tag == "tr" and self.tables:
            row = self.tables[-1].pop("current")
            kind = "head" if all(t == "th" for t, _ in row) else "body"
            self.tables[-1][kind].append([text for _, text in row])

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_corpus_table_has_one_row_per_part_with_totals_and_labels(stats: dict) -> None:
    table = corpus_table(stats)
    assert list(table["part"]) == ["pool", "dev", "test"]
    pool = table.iloc[0]
    assert pool["documents"] == 40
    assert pool["entities"] == stats["pool"]["entities"]
    assert pool["entities_ORG"] == stats["pool"]["entities_per_label"]["ORG"]
    assert pool["eps_PERSON"] == pytest.approx(stats["pool"]["eps_per_label"]["PERSON"])
    assert list(table.columns) == ["part", "documents", "sentences", "tokens", "entities", "eps",
                                   "entities_ORG", "eps_ORG", "entities_PERSON", "eps_PERSON"]


def test_corpus_display_groups_each_label_over_its_entities_and_eps(stats: dict) -> None:
    shown = corpus_display(stats)
    assert ("ORG", "Entities") in shown.columns and ("PERSON", "EPS") in shown.columns
    assert shown[("", "EPS")].iloc[0] == f"{stats['pool']['eps']:.2f}"
    assert corpus_display(None).empty and corpus_table({"select_on": "dev"}).empty


def test_entity_lengths_lump_the_longest() -> None:
    stats = {"pool": {"entity_token_counts": {"1": 5, "2": 3, "12": 1, "15": 2}},
             "test": {"entity_token_counts": {"1": 2}}}
    shown = entity_lengths_display(stats)
    assert list(shown.columns) == ["Part", "1", "2", "10+"]
    assert shown.iloc[0].tolist() == ["pool", "5", "3", "3"]
    assert shown.iloc[1].tolist() == ["test", "2", "0", "0"]


def test_report_corpus_section_is_one_compact_table(analysis: Analysis, stats: dict,
                                                    tmp_path: Path) -> None:
    written = write_report(analysis, tmp_path / "report.html")
    page = written.html.read_text(encoding="utf-8")
    corpus = page[page.index('<section id="corpus">'):page.index('<section id="design">')]
    assert "entity_token_counts" not in page and "pool.sentences" not in page
    parser = Tables()
    parser.feed(corpus)
    first = parser.tables[0]
    assert first["head"] == [["Part", "Documents", "Sentences", "Tokens", "Entities", "EPS",
                              "ORG", "PERSON"], ["Entities", "EPS", "Entities", "EPS"]]
    assert [row[0] for row in first["body"]] == ["pool", "dev", "test"]
    dev = stats["dev"]
    assert first["body"][1] == [
        "dev", f"{dev['documents']}", f"{dev['sentences']}", f"{dev['tokens']}",
        f"{dev['entities']}", f"{dev['eps']:.2f}",
        f"{dev['entities_per_label']['ORG']}", f"{dev['eps_per_label']['ORG']:.2f}",
        f"{dev['entities_per_label']['PERSON']}", f"{dev['eps_per_label']['PERSON']:.2f}"]
    # the distributions wait, collapsed, below the table; nothing in corpus_stats.json is lost
    details = corpus[corpus.index("<details"):]
    assert re.match(r'<details id="corpus-distributions">', details)  # closed: no "open"
    assert corpus.index("<details") > corpus.index("</table>")
    assert "Sentences per document" in details and "Entities by length in tokens" in details
    assert "fingerprint" in details and "abc123" in details
    assert "selected on the dev set" in corpus and "overlap 2" in corpus
    assert (tmp_path / "report_files" / "corpus.csv") in written.tables
    assert list(pd.read_csv(tmp_path / "report_files" / "corpus.csv")["part"]) == [
        "pool", "dev", "test"]


def test_f1_limits_follow_the_values_with_a_margin() -> None:
    low, high = f1_limits(np.array([0.6, 0.7, 0.85]))
    assert 0.55 < low < 0.6 and 0.85 < high < 0.9
    assert f1_limits(np.array([0.6, 0.85]), target=0.9)[1] > 0.9  # a near target stays in view
    assert f1_limits(np.array([0.2, 0.4]), target=0.9)[1] < 0.5  # a far one does not flatten
    assert f1_limits(np.array([0.0, 1.0])) == (0.0, 1.0)
    assert f1_limits(np.array([0.5, 0.5])) == pytest.approx((0.48, 0.52))
    assert f1_limits(np.array([np.nan, -0.3, 0.4])) == pytest.approx((0.0, 0.42))
    assert f1_limits(np.empty(0)) == (0.0, 1.0)


def test_overview_axis_spans_the_curves_not_zero_to_one(analysis: Analysis) -> None:
    fig = curve_overview(analysis)
    ax = fig.axes[0]
    low, high = ax.get_ylim()
    curves = [line.get_ydata() for line in ax.get_lines()[:2]]  # the two power laws
    drawn = np.concatenate([*curves, [0.31]])  # and the pretrained baseline
    assert low == pytest.approx(f1_limits(drawn, analysis.settings.target_f1)[0])
    assert 0.25 < low < 0.31 and 0.9 <= high < 0.95  # baseline 0.31 .. target 0.90
    for band in ax.collections:  # bootstrap bands stay within F1's [0, 1]
        for path in band.get_paths():
            assert path.vertices[:, 1].min() >= 0.0 and path.vertices[:, 1].max() <= 1.0


def test_overview_leaves_out_a_fit_below_zero_and_a_far_target() -> None:
    # a dictionary-like arm: F1 0 for the smallest subsets, a fit that crosses 0 there
    runs = simulate_runs({"gaz": (0.6, 6.0, 0.5)}, n_subsets=60, seed=5, noise=0.3)
    analysis = analyze(runs, n_boot=200)
    ax = curve_overview(analysis).axes[0]
    line = ax.get_lines()[0]
    fitted = analysis.models["gaz"].curve.predict(np.asarray(line.get_xdata()))
    assert (fitted < 0).any() and (fitted > 0).any()
    shown = np.asarray(line.get_ydata(), dtype=float)
    assert np.isnan(shown[fitted < 0]).all()  # not drawn (nor its band) where it is below 0
    assert np.allclose(shown[fitted >= 0], fitted[fitted >= 0])
    assert ax.get_ylim()[0] == 0.0
    assert ax.get_ylim()[1] < analysis.settings.target_f1
    assert "off the axis" in ax.get_legend().get_texts()[-1].get_text()


def test_learning_curve_panels_share_an_axis_that_shows_every_backend(
        analysis: Analysis) -> None:
    fig = learning_curves(analysis)
    low, high = fig.axes[0].get_ylim()
    modelled = analysis.runs[analysis.runs["backend"].isin(["spacy", "roberta"])]
    assert low <= modelled["f1"].min() and high >= modelled["f1"].max()
    assert high < 1.0
    assert all(ax.get_ylim() == (low, high) for ax in fig.axes if ax.get_visible())
