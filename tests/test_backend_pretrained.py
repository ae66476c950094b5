"""The pretrained backend: spaCy's small English pipeline applied as is, with a label map."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from nercurve.backends import get_backend
from nercurve.backends.spacy.pretrained import DEFAULT_PIPELINE, PretrainedBackend, PretrainedParams
from nercurve.corpus.model import Doc, Span
from nercurve.errors import BackendError
from nercurve.tasks.ner_scores import strict_prf

TEXT = (
    "Conflict of interest: John Smith received grants from Pfizer and consulting fees "
    "from Novartis. Jane Doe is an employee of Merck."
)


def _at(text: str, mention: str, label: str) -> Span:
    start = text.index(mention)
    return Span(start, start + len(mention), label)


@pytest.fixture(scope="module")
def docs() -> list[Doc]:
    gold = [_at(TEXT, m, lab) for m, lab in [
        ("John Smith", "PERSON"), ("Pfizer", "ORG"), ("Novartis", "ORG"),
        ("Jane Doe", "PERSON"), ("Merck", "ORG"),
    ]]
    second = "The authors thank Maria Garcia of Harvard University for comments."
    return [
        Doc("d1", TEXT, tuple(gold)),
        Doc("d2", second, (_at(second, "Maria Garcia", "PERSON"),
                           _at(second, "Harvard University", "ORG"))),
    ]


def test_registered_and_needs_no_training_data():
    backend = get_backend("pretrained")
    assert isinstance(backend, PretrainedBackend)
    assert backend.needs_training_data is False
    assert PretrainedParams().model == DEFAULT_PIPELINE


def test_finds_people_and_organizations(docs):
    result = PretrainedBackend().train(docs, [], PretrainedParams(), seed=0)
    assert (result.steps, result.best_step, result.dev_f1) == (0, 0, None)
    predicted = result.model.predict(docs)
    found = {(docs[0].text[s.start:s.end], s.label) for s in predicted[0]}
    assert ("John Smith", "PERSON") in found
    assert ("Merck", "ORG") in found
    assert all(s.label in {"PERSON", "ORG"} for spans in predicted for s in spans)
    assert strict_prf([d.spans for d in docs], predicted).f1 > 0.6


def test_label_map_renames_and_drops(docs):
    params = PretrainedParams(label_map={"ORG": "SPONSOR"})
    predicted = PretrainedBackend().train([], [], params, seed=0).model.predict(docs)
    orgs = PretrainedBackend().train([], [], PretrainedParams(), 0).model.predict(docs)
    assert predicted[0]
    assert all(s.label == "SPONSOR" for spans in predicted for s in spans)
    assert [[(s.start, s.end) for s in spans] for spans in predicted] == [
        [(s.start, s.end) for s in spans if s.label == "ORG"] for spans in orgs
    ]


def test_ignores_training_documents_and_scores_dev(docs):
    junk = [Doc("j", "Nothing here.", (Span(0, 7, "ORG"),))]
    a = PretrainedBackend().train(junk, docs, PretrainedParams(), seed=1)
    b = PretrainedBackend().train([], docs, PretrainedParams(), seed=2)
    assert a.model.predict(docs) == b.model.predict(docs)
    expected = strict_prf([d.spans for d in docs], a.model.predict(docs)).f1
    assert a.dev_f1 == pytest.approx(expected) and 0 < expected <= 1


def test_missing_pipeline_names_the_package():
    with pytest.raises(BackendError, match="en_core_web_trf") as err:
        PretrainedParams(model="en_core_web_trf")
    assert "pip install en-core-web-trf" in err.value.hint


def test_label_not_predicted_by_the_pipeline():
    params = PretrainedParams(label_map={"AUTHOR": "PERSON"})
    with pytest.raises(BackendError, match="AUTHOR") as err:
        PretrainedBackend().train([], [], params, seed=0)
    assert "PERSON" in err.value.hint and "ORG" in err.value.hint


@pytest.mark.parametrize("label_map", [{}, {"ORG": ""}, {" ": "ORG"}])
def test_bad_label_map(label_map):
    with pytest.raises(ValidationError, match="label_map"):
        PretrainedParams(label_map=label_map)
