"""``[design] selection`` and ``[design.uncertainty]``: validation, design identity, and the
refusal of a selector arm whose backend cannot score uncertainty."""

from __future__ import annotations

import math

import pytest
from study_fixtures import write_study

from nercurve.errors import ConfigError
from nercurve.study.config import DesignSection, StudyConfig, load_config, parse_config
from nercurve.study.design import Subset
from nercurve.study.runner import prepare


def _config(design: dict, backends: list | None = None, task: str = "ner") -> StudyConfig:
    return parse_config({"corpus": {"path": "x.jsonl"}, "design": design, "task": task,
                         "backends": backends or [{"name": "sp", "type": "spacy"}]})


def test_a_design_without_selection_keeps_its_identity():
    plain = DesignSection().identity()
    assert "selection" not in plain and "uncertainty" not in plain
    assert DesignSection(selection="random").identity() == plain
    assert DesignSection(selection=["random"]).identity() == plain


def test_selection_and_its_parameters_are_part_of_the_identity():
    both = DesignSection(selection=["random", "uncertainty"]).identity()
    assert both["selection"] == ["random", "uncertainty"]
    assert both["uncertainty"]["batch_docs"] == 10
    wider = DesignSection(selection=["random", "uncertainty"],
                          uncertainty={"batch_docs": 20}).identity()
    assert wider != both
    assert "uncertainty" not in DesignSection(selection=["random", "diversity"]).identity()


@pytest.mark.parametrize(("design", "words"), [
    ({"selection": "active"}, "unknown selection strategy 'active'"),
    ({"selection": []}, "at least one strategy"),
    ({"selection": ["random", "random"]}, "must not repeat"),
    ({"selection": "uncertainty", "uncertainty": {"batch": 3}}, "design.uncertainty.batch"),
    ({"selection": "uncertainty", "uncertainty": {"batch_docs": 0}},
     "design.uncertainty.batch_docs"),
    ({"uncertainty": {"batch_docs": 5}}, "[design.uncertainty] goes with"),
    ({"selection": "uncertainty", "uncertainty": {"measure": "margin"}},
     "'margin' does not fit task = \"ner\""),
    ({"selection": "uncertainty", "uncertainty": {"selector": "nope"}},
     "'nope' names no backend arm"),
    ({"selection": ["random", "diversity"], "adaptive": {"ci_width": 50, "max_runs": 20}},
     "adaptive design draws random subsets only"),
])
def test_bad_selection_settings_are_config_errors(design, words):
    with pytest.raises(ConfigError) as err:
        _config(design)
    assert words in str(err.value)
    assert err.value.hint


def test_classification_takes_margin_and_entropy():
    config = _config({"selection": "uncertainty", "uncertainty": {"measure": "margin"}},
                     [{"name": "tf", "type": "tfidf"}], task="classify")
    assert config.design.uncertainty_settings.measure == "margin"


def test_a_selector_that_cannot_score_uncertainty_is_refused_before_any_job(tmp_path):
    path = write_study(tmp_path, strata='[[1, 10]]\nselection = ["random", "uncertainty"]')
    config = load_config(path)
    with pytest.raises(ConfigError) as err:
        prepare(config)
    assert "'arm'" in str(err.value) and "'gazetteer'" in str(err.value)
    assert not (tmp_path / "out").exists()


def test_a_selected_subset_never_shares_a_job_with_a_random_one():
    base = dict(subset_id="a", stratum="1", target=1, doc_ids=("d1", "d2"), n_docs=2,
                n_sentences=2, n_tokens=4, n_entities=0)
    random_one, chosen = Subset(**base), Subset(**base, selection="uncertainty")
    assert random_one.content_hash != chosen.content_hash
    # the digest of a random subset is the one earlier versions stored
    import hashlib
    assert random_one.content_hash == hashlib.sha256(b"d1\x1fd2").hexdigest()[:16]
    assert not math.isnan(chosen.eps)


def test_a_changed_selector_is_a_changed_study(tmp_path):
    """Selected subsets depend on the arm that selected them: changing its settings is
    refused as a change of design (the seed set alone fills these sizes: no training)."""
    from nercurve.study.runner import add_selected

    def config(max_steps: int) -> StudyConfig:
        path = write_study(
            tmp_path, backend_type="spacy", params=f"{{ max_steps = {max_steps} }}", subsets=1,
            strata='[[4, 4], [8, 8]]\nselection = ["random", "uncertainty"]\n'
                   "uncertainty = { seed_docs = 8 }")
        return load_config(path)

    first = add_selected(prepare(config(30)))
    chosen = [s for s in first.subsets if s.selection == "uncertainty"]
    assert [s.selection_runs for s in chosen] == [0, 0]
    assert set(chosen[0].doc_ids) < set(chosen[1].doc_ids)
    with pytest.raises(ConfigError) as err:
        add_selected(prepare(config(40)))
    assert "design.uncertainty selector" in str(err.value)
