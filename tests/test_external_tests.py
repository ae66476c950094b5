"""Extra test sets from unseen corpora: every trained model is scored on each."""

from __future__ import annotations

from pathlib import Path

import pytest
from study_fixtures import NAMES, ORGS, write_study

from nercurve.corpus.io import write_corpus
from nercurve.corpus.model import Doc, Span
from nercurve.errors import ConfigError
from nercurve.study.config import load_config
from nercurve.study.runner import prepare, run_study
from nercurve.study.store import results_frame


def unseen_docs(known_share: float) -> list[Doc]:
    """'NAME works at ORG.' where a ``known_share`` of the names occur in the toy corpus;
    labels spelled the other corpus's way, plus a label the study does not have."""
    docs = []
    for i in range(20):
        name = NAMES[i % len(NAMES)] if i < known_share * 20 else f"Zed Unknown{i}"
        org = ORGS[i % len(ORGS)]
        text = f"{name} works at {org} in Basel."
        spans = (Span(0, len(name), "Person"),
                 Span(len(name) + 10, len(name) + 10 + len(org), "Company"),
                 Span(len(text) - 6, len(text) - 1, "City"))
        docs.append(Doc(id=f"u{i}", text=text, spans=spans))
    return docs


EXTERNAL = """
[[external_tests]]
name = "{name}"
path = "{path}"
label_map = {{ Person = "PERSON", Company = "ORG" }}
"""


def test_every_model_is_scored_on_each_external_test_set(tmp_path: Path) -> None:
    write_corpus(unseen_docs(1.0), tmp_path / "same_names.jsonl")
    write_corpus(unseen_docs(0.5), tmp_path / "half_names.jsonl")
    extra = (EXTERNAL.format(name="same", path="same_names.jsonl")
             + EXTERNAL.format(name="half", path="half_names.jsonl"))
    cfg = write_study(tmp_path, seeds="[0]", extra=extra)
    prepared = prepare(load_config(cfg))
    assert set(prepared.data.external) == {"same", "half"}
    assert {s.label for d in prepared.data.external["same"] for s in d.spans} == {
        "PERSON", "ORG"}
    dropped = [n for n in prepared.notices if n.kind == "external-label-dropped"]
    assert len(dropped) == 40 and "'City'" in dropped[0].message

    out = run_study(load_config(cfg))
    frame = results_frame(out)
    for name in ("same", "half"):
        assert {f"f1_{name}", f"precision_{name}", f"recall_{name}"} <= set(frame.columns)
        assert frame[f"f1_{name}"].between(0, 1).all()
    # a gazetteer knows the names it was trained on: half unknown names cost recall
    big = frame.loc[frame["n_docs"] == frame["n_docs"].max()].iloc[0]
    assert big["recall_half"] < big["recall_same"]
    assert big["precision_same"] == 1.0


def test_adding_an_external_test_to_a_finished_study_is_a_changed_study(tmp_path: Path) -> None:
    write_corpus(unseen_docs(1.0), tmp_path / "same_names.jsonl")
    cfg = write_study(tmp_path, seeds="[0]")
    run_study(load_config(cfg))
    cfg.write_text(cfg.read_text() + EXTERNAL.format(name="same", path="same_names.jsonl"))
    with pytest.raises(ConfigError) as err:
        run_study(load_config(cfg))
    assert "external test 'same' changed" in err.value.message
    out = run_study(load_config(cfg), drop_changed=True)
    assert results_frame(out)["f1_same"].notna().all()


def test_an_external_test_named_like_a_label_is_refused(tmp_path: Path) -> None:
    write_corpus(unseen_docs(1.0), tmp_path / "u.jsonl")
    cfg = write_study(tmp_path, seeds="[0]", extra=EXTERNAL.format(name="ORG", path="u.jsonl"))
    with pytest.raises(ConfigError, match="also an entity label"):
        prepare(load_config(cfg))


def test_external_test_names_are_checked_in_the_config(tmp_path: Path) -> None:
    write_corpus(unseen_docs(1.0), tmp_path / "u.jsonl")
    twice = EXTERNAL.format(name="u", path="u.jsonl") * 2
    with pytest.raises(ConfigError, match="external test names must be unique"):
        load_config(write_study(tmp_path, extra=twice))
    with pytest.raises(ConfigError, match=r"external_tests\[0\]\.name"):
        load_config(write_study(tmp_path, extra=EXTERNAL.format(name="1 bad", path="u.jsonl")))
