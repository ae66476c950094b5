"""The task registry: names, lookups, the task of a study's config, store or table of runs,
and each task's words."""

from __future__ import annotations

import pandas as pd
import pytest

from nercurve.analysis.recommend import describe_threshold, plan_answer
from nercurve.analysis.simulate import simulate_runs
from nercurve.analysis.threshold import threshold_analysis
from nercurve.errors import ConfigError
from nercurve.study.config import parse_config
from nercurve.study.example import example_config
from nercurve.tasks import get_task, task_names, task_of_frame, task_of_meta, title

BACKENDS = [{"name": "s", "type": "spacy"}]


def test_the_registry_names_every_task_and_refuses_others():
    assert task_names() == ("ner", "classify")
    assert get_task("ner").name == "ner" and get_task("classify").metric == "macro_f1"
    with pytest.raises(ConfigError, match="unknown task 'relations'") as err:
        get_task("relations")
    assert err.value.hint == "choose one of: ner, classify"


def test_a_config_names_a_registered_task_and_a_metric_of_it():
    config = parse_config({"corpus": {"path": "x"}, "backends": BACKENDS, "task": "classify"})
    assert config.study_task() == get_task("classify", "macro_f1")
    assert parse_config({"corpus": {"path": "x"}, "backends": BACKENDS}).study_task().name == "ner"
    with pytest.raises(ConfigError, match="unknown task 'relations'; known tasks: ner, classify"):
        parse_config({"corpus": {"path": "x"}, "backends": BACKENDS, "task": "relations"})
    with pytest.raises(ConfigError, match="choose one of: macro_f1, micro_f1, accuracy"):
        parse_config({"corpus": {"path": "x"}, "backends": BACKENDS, "task": "classify",
                      "metric": "kappa"})
    with pytest.raises(ConfigError, match='metric is for task = "classify"'):
        parse_config({"corpus": {"path": "x"}, "backends": BACKENDS, "metric": "accuracy"})


def test_every_task_has_an_example_config_that_parses(tmp_path):
    import tomllib

    for name in task_names():
        data = tomllib.loads(example_config(name))
        assert data.get("task", "ner") == name


def test_the_task_of_a_store_and_of_a_table_of_runs():
    assert task_of_meta({}).name == "ner"  # a store written before tasks were recorded
    assert task_of_meta({"task": "classify", "metric": "accuracy"}).words.outcome == "accuracy"
    ner = pd.DataFrame({"n_sentences": [1], "eps": [0.5], "f1": [0.5]})
    assert task_of_frame(ner).name == "ner"
    runs = pd.DataFrame({"n_docs": [1], "minority_share": [0.2], "f1": [0.5],
                         "metric": ["micro_f1"]})
    assert task_of_frame(runs) == get_task("classify", "micro_f1")
    assert task_of_frame(runs.drop(columns="metric"), {"metric": "accuracy"}).metric == "accuracy"
    assert task_of_frame(runs.assign(eps=0.1)).name == "ner"


def test_one_sentence_in_the_words_of_each_task():
    frame = simulate_runs({"m": (0.9, 2.0, 0.5)}, n_subsets=60, seed=3)
    th = threshold_analysis(frame["n_sentences"].to_numpy(float), frame["f1"].to_numpy(float),
                            families=("upperhinge",), n_boot=100, seed=0)
    ner = describe_threshold(th, "n_sentences")
    classify = describe_threshold(th, "n_docs", get_task("classify", "accuracy"))
    assert "sentences" in ner and "examples" not in ner
    assert classify == (ner.replace("sentences", "examples").replace("F1", "accuracy"))
    assert title(get_task("classify").words.outcome) == "Macro-F1"


def test_plan_answers_in_the_units_of_the_task():
    from nercurve.analysis.families import fit_curves

    frame = simulate_runs({"m": (0.9, 2.0, 0.5)}, n_subsets=60, seed=3)
    frame = frame.loc[frame["n_sentences"] < 250]  # so that the target lies beyond the data
    curves = fit_curves(frame["n_sentences"].to_numpy(float), frame["f1"].to_numpy(float),
                        n_boot=100, seed=0)
    target = curves.sentences_for(0.8)
    task = get_task("classify")
    text = plan_answer("m", target, curves.best, 100.0, 0.5, task)
    assert "examples" in text and "sentences" not in text and "per example" in text
    assert plan_answer("m", target, curves.best, 100.0, 0.5) == (
        text.replace("examples", "sentences").replace("per example", "per sentence")
        .replace("macro-F1", "F1"))
