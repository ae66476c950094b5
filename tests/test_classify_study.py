"""Text-classification studies on the study road: config, class-stratified splits and designs,
a real run with the tfidf arm, the store's columns and their migration, identity checks, the
analysis and report in the words of examples and class balance, and the CLI."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nercurve.analysis import analyze, load_runs
from nercurve.corpus.classes import class_counts, class_scheme, doc_classes
from nercurve.corpus.io import write_corpus
from nercurve.corpus.split import split_corpus
from nercurve.corpus.stats import DocCounts
from nercurve.errors import ConfigError
from nercurve.study.config import DesignSection, load_config, parse_config
from nercurve.study.design import draw_design
from nercurve.study.runner import run_study
from nercurve.study.store import Store, results_frame
from nercurve.synthetic.smoking import generate_smoking
from nercurve.tasks import get_task

NERCURVE = str(Path(sys.executable).parent / "nercurve")


def _config(**changes):
    data = {"corpus": {"path": "x.jsonl"}, "backends": [{"name": "t", "type": "tfidf"}],
            "task": "classify", **changes}
    return parse_config(data)


def test_config_task_metric_and_stratified_labels():
    config = _config()
    assert (config.metric, config.design.stratify_labels) == ("macro_f1", False)
    assert "stratify_labels" not in config.design.identity()  # NER identities stay as they were
    with pytest.raises(ConfigError, match='metric is for task = "classify"'):
        parse_config({"corpus": {"path": "x"}, "backends": [{"name": "s", "type": "spacy"}],
                      "metric": "accuracy"})
    with pytest.raises(ConfigError, match="stratify_labels is for task"):
        parse_config({"corpus": {"path": "x"}, "backends": [{"name": "s", "type": "spacy"}],
                      "design": {"stratify_labels": True}})
    with pytest.raises(ConfigError, match='design\\.unit must be "documents"'):
        _config(design={"unit": "sentences"})
    assert _config(design={"stratify_labels": True}).design.identity()["stratify_labels"]


def test_the_words_of_a_classification_study():
    task = get_task("classify", "accuracy")
    w = task.words
    assert (w.unit, w.unit_one, w.density, w.density_long, w.theme, w.outcome) == (
        "examples", "example", "minority share", "minority-class share", "class balance",
        "accuracy")
    assert task.per("n_docs") == ("examples", 100.0, "per 100 examples")
    assert task.per("minority_share") == ("minority share", 0.1, "per 0.1 minority share")
    assert task.per_abbr("n_docs") == (100.0, "/100 ex.")
    assert (task.label("n_docs"), task.label("minority_share")) == ("Examples", "Minority share")
    assert get_task("classify").words.outcome == "macro-F1"
    assert get_task("ner").words.outcome == "F1"


def test_designs_record_classes_and_stratify_them():
    docs = generate_smoking(300, seed=0, balance={"CURRENT": 1, "NEVER": 4}).docs
    scheme = class_scheme(docs)
    zeros = np.zeros(len(docs), dtype=np.int64)  # sentences and tokens play no part here
    counts = DocCounts(tuple(d.id for d in docs), zeros, zeros, zeros)
    classes = class_counts(docs, scheme)
    pool_share = classes.counts()["CURRENT"] / len(docs)
    free = draw_design(DesignSection(sizes=[40], subsets_per_size=30), counts, classes)
    strat = draw_design(DesignSection(sizes=[40], subsets_per_size=30, stratify_labels=True),
                        counts, classes)
    for subsets in (free, strat):
        for s in subsets:
            assert sum(n for _, n in s.classes) == s.n_docs == 40
            assert s.minority_share == pytest.approx(min(n for _, n in s.classes) / 40)
    assert {dict(s.classes)["CURRENT"] for s in strat} == {round(40 * pool_share)}
    assert len({dict(s.classes)["CURRENT"] for s in free}) > 3  # free draws vary
    unstratified = draw_design(DesignSection(sizes=[40], subsets_per_size=30), counts)
    assert [s.doc_ids for s in unstratified] == [s.doc_ids for s in free]


def test_split_stratified_by_class_gives_every_part_the_corpus_shares():
    docs = generate_smoking(203, seed=2).docs
    classes = class_counts(docs, class_scheme(docs))
    parts = split_corpus(docs, test=0.3, dev=0.1, seed=0, stratify=True, classes=classes)
    total = classes.counts()
    for part in ("train", "dev", "test"):
        ids = parts.ids(part)
        for label, n in classes.counts(ids).items():
            assert abs(n - total[label] * len(ids) / len(docs)) <= 1.0


def _write_study(folder: Path, *, extra: str = "", backends: str | None = None) -> Path:
    write_corpus(generate_smoking(90, seed=0), folder / "smk.jsonl")
    backends = backends or '[[backends]]\nname = "tfidf"\ntype = "tfidf"\nparams = { C = [10.0] }'
    config = folder / "study.toml"
    config.write_text(f"""name = "smk"
output = "out"
task = "classify"
seeds = [0, 1]
{extra}
[corpus]
path = "smk.jsonl"
[split]
stratify = true
[design]
sizes = [8, 16, 24, 32, 40]
subsets_per_size = 1
{backends}
[run]
workers = 1
""", encoding="utf-8")
    return config


@pytest.fixture(scope="module")
def tfidf_study(tmp_path_factory) -> Path:
    """A real classification study with the tfidf arm: 5 sizes × 2 seeds."""
    folder = tmp_path_factory.mktemp("tfidf-study")
    return run_study(load_config(_write_study(folder)))


def test_a_tfidf_study_records_class_descriptors_and_the_outcome(tfidf_study):
    frame = results_frame(tfidf_study)
    assert len(frame) == 10
    assert {"minority_share", "metric", "share_CURRENT", "f1_PAST", "accuracy", "macro_f1",
            "micro_f1"} <= set(frame.columns)
    assert not {"eps", "n_entities"} & set(frame.columns)
    assert (frame["metric"] == "macro_f1").all()
    assert np.allclose(frame["f1"], frame["macro_f1"])
    shares = frame[[c for c in frame.columns if c.startswith("share_")]]
    assert np.allclose(shares.sum(axis=1), 1.0)  # single-label: the shares add up
    assert np.allclose(frame["minority_share"], shares.min(axis=1))
    stats = json.loads((tfidf_study / "corpus_stats.json").read_text())
    assert stats["task"] == "classify" and stats["pool"]["classes"]["counts"]
    assert "minority_share" in (tfidf_study / "design.csv").read_text().splitlines()[0]


def test_design_show_gives_the_minority_share_of_every_subset(tfidf_study):
    from typer.testing import CliRunner

    from nercurve.cli import app

    shown = CliRunner().invoke(app, ["design", "show", str(tfidf_study), "--all"],
                               terminal_width=200)
    assert shown.exit_code == 0, shown.output
    assert "minority share" in shown.output and "EPS" not in shown.output
    with Store(tfidf_study / "results.sqlite") as store:
        shares = [r["minority_share"] for r in store.subset_rows()]
    assert all(f"{share:.2f}" in shown.output for share in shares)


def test_analysis_and_report_speak_of_examples_and_class_balance(tfidf_study, tmp_path):
    runs = load_runs(tfidf_study)
    assert runs.task == get_task("classify", "macro_f1")
    analysis = analyze(runs, n_boot=100, target_f1=0.95)
    text = analysis.recommendation_text()
    assert "examples" in text and "macro-F1" in text
    assert "sentences" not in text and " F1 " not in text
    assert analysis.training_eps == runs.corpus_stats["pool"]["classes"]["minority_share"]
    assert set(analysis.descriptive["variable"]) >= {"Documents", "Minority share", "F1"}
    from nercurve.report import write_report

    html = write_report(analysis, tmp_path / "r.html").html.read_text(encoding="utf-8")
    assert "Training examples" in html and "Macro-F1 and class balance" in html
    assert "per class (documents and their share)" in html
    from nercurve.report.tables import curve_display, threshold_display

    assert {"Macro-F1 at max n", "Next 100 ex. (points)", "n for macro-F1 0.95"} <= set(
        curve_display(analysis).columns)
    assert "Macro-F1 at threshold" in threshold_display(analysis).columns


def test_a_rerun_as_another_task_or_metric_is_refused(tfidf_study, tmp_path):
    config = load_config(tfidf_study.parent / "study.toml")
    with pytest.raises(ConfigError, match='metric: "macro_f1" → "accuracy"'):
        run_study(config.model_copy(update={"metric": "accuracy"}))


def test_an_older_store_gains_the_class_columns(tmp_path):
    path = tmp_path / "results.sqlite"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE subsets (subset_id TEXT PRIMARY KEY, stratum TEXT NOT NULL,
            target INTEGER NOT NULL, content_hash TEXT NOT NULL, n_docs INTEGER NOT NULL,
            n_sentences INTEGER NOT NULL, n_tokens INTEGER NOT NULL,
            n_entities INTEGER NOT NULL, eps REAL NOT NULL, doc_ids TEXT NOT NULL);
        INSERT INTO subsets VALUES ('a#0000', 'a', 1, 'h', 1, 2, 3, 1, 0.5, '["d1"]');
    """)
    db.close()
    with Store(path) as store:
        rows = store.subset_rows()
        assert [(r["subset_id"], r["classes"], r["minority_share"]) for r in rows] == [
            ("a#0000", None, None)]
        store.archive(reason="test")  # copies subsets with every column
        assert len(store.subset_rows()) == 1


def test_cli_split_and_evaluate_classes(tmp_path):
    corpus = tmp_path / "s.jsonl"
    write_corpus(generate_smoking(40, seed=1), corpus)
    done = subprocess.run([NERCURVE, "split", str(corpus), "--stratify-classes", "-o",
                           str(tmp_path / "parts"), "--json"], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    manifest = json.loads(done.stdout)
    assert sum(manifest["parts"]["test"]["classes"].values()) == 12
    gold = tmp_path / "parts" / "test.jsonl"
    done = subprocess.run([NERCURVE, "evaluate", str(gold), str(gold), "--json"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    scores = json.loads(done.stdout)
    assert scores["accuracy"] == 1.0 and scores["macro"]["f1"] == 1.0
    assert set(scores["per_class"]) == {doc_classes(d)[0] for d in generate_smoking(40, 1)}
