"""The schedule new study arms start from: declared once (loop.STUDY_SCHEDULE), given by the
backend that was measured with it (spaCy NER), and used by ``plan``, ``init-study`` and the
demo's config."""

from __future__ import annotations

import tomllib
from pathlib import Path

from nercurve.backends import get_backend, study_defaults
from nercurve.backends.loop import STUDY_SCHEDULE, ScheduleParams
from nercurve.corpus.io import ReadOptions
from nercurve.plan import plan_config
from nercurve.study.example import example_config


def test_the_measured_backend_declares_the_schedule_and_others_start_bare():
    assert study_defaults("spacy") == STUDY_SCHEDULE
    assert study_defaults("gazetteer") == {}
    assert study_defaults("tfidf", "classify") == {}
    # the schedule is valid for the backend that declares it
    params = get_backend("spacy").Params(**STUDY_SCHEDULE)
    assert isinstance(params, ScheduleParams)
    assert params.model_dump(include=set(STUDY_SCHEDULE)) == STUDY_SCHEDULE


def test_plan_arms_start_from_the_schedule_and_keep_a_step_cap(tmp_path: Path):
    pilot = tmp_path / "pilot.jsonl"
    pilot.write_text('{"id": "a", "text": "x", "spans": []}\n')
    common = {"fmt": "jsonl", "options": ReadOptions(), "sizes": [5, 10]}
    arm = plan_config(pilot, backend="spacy", **common).backends[0]
    assert arm.params == STUDY_SCHEDULE
    capped = plan_config(pilot, backend="spacy", max_steps=300, **common).backends[0]
    assert capped.params == {**STUDY_SCHEDULE, "max_steps": 300}
    assert plan_config(pilot, backend="gazetteer", **common).backends[0].params == {}


def test_the_example_config_gives_its_spacy_arm_the_schedule():
    arms = {a["name"]: a for a in tomllib.loads(example_config("ner"))["backends"]}
    params = arms["spacy"]["params"]
    assert {k: params[k] for k in STUDY_SCHEDULE} == STUDY_SCHEDULE
