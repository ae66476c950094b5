"""The measured schedules reach the arms that ``plan``, ``init-study`` and the demo write, and
only those: a backend's own defaults, and so every existing study's jobs, stay as they were."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from nercurve.backends.spacy.config import SpacyParams
from nercurve.corpus.io import ReadOptions
from nercurve.plan import plan_config
from nercurve.study.arm_schedules import measured_schedule
from nercurve.study.config import parse_config
from nercurve.study.example import DEMO_MAX_STEPS, demo_config, example_config


def _arm(text: str, name: str) -> dict:
    return next(b for b in tomllib.loads(text)["backends"] if b["name"] == name)


def test_the_measured_spacy_ner_schedule_is_less_patient_than_spacys_own() -> None:
    schedule = measured_schedule("ner", "spacy")
    assert schedule == {"patience": 1000}
    own = SpacyParams()
    measured = SpacyParams(**schedule)
    assert measured.patience < own.patience == 1600
    assert measured.eval_frequency == own.eval_frequency == 200
    # unmeasured arms keep their backend's defaults
    assert measured_schedule("classify", "spacy") == {}
    assert measured_schedule("ner", "hf") == {}
    # the caller's copy is its own
    schedule["patience"] = 1
    assert measured_schedule("ner", "spacy") == {"patience": 1000}


def test_init_study_writes_the_measured_schedule_and_the_demo_caps_it() -> None:
    example, demo = example_config("ner"), demo_config("ner", 4)
    assert _arm(example, "spacy")["params"] == measured_schedule("ner", "spacy")
    assert _arm(demo, "spacy")["params"] == {**measured_schedule("ner", "spacy"),
                                             "max_steps": DEMO_MAX_STEPS}
    assert tomllib.loads(demo)["design"]["subsets_per_stratum"] == 4
    # everything but the spaCy arm's cap and the subsets is the example's
    rest = {k: v for k, v in tomllib.loads(demo).items() if k not in ("backends", "design")}
    assert rest == {k: v for k, v in tomllib.loads(example).items()
                    if k not in ("backends", "design")}
    assert _arm(demo, "off-the-shelf") == _arm(example, "off-the-shelf")
    parse_config(tomllib.loads(demo))


def test_the_classification_demo_is_its_example_with_the_subsets_set() -> None:
    example = tomllib.loads(example_config("classify"))
    demo = tomllib.loads(demo_config("classify", 2))
    assert demo["backends"] == example["backends"]
    assert demo["design"] == {**example["design"], "subsets_per_stratum": 2}


@pytest.mark.parametrize(
    ("backend", "task", "max_steps", "params"),
    [
        ("spacy", "ner", None, {"patience": 1000}),
        ("spacy", "ner", 300, {"patience": 1000, "max_steps": 300}),
        ("spacy", "classify", None, {}),
        ("gazetteer", "ner", None, {}),
    ],
)
def test_plan_gives_its_arm_the_measured_schedule(tmp_path: Path, backend: str, task: str,
                                                 max_steps: int | None, params: dict) -> None:
    pilot = tmp_path / "pilot.jsonl"
    pilot.write_text("", encoding="utf-8")
    config = plan_config(pilot, backend=backend, fmt="jsonl", options=ReadOptions(),
                         sizes=[5, 10], max_steps=max_steps, task=task)
    (arm,) = config.backends
    assert (arm.type, arm.params) == (backend, params)
