"""Several corpora in one study (``[[corpora]]``): config, mixing, per-corpus scoring, and a
real small spaCy study with a target, an auxiliary and a test-only corpus."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from study_fixtures import NAMES, ORGS, job_rows, toy_docs

from nercurve.backends.base import dev_strict_f1
from nercurve.backends.gazetteer import GazetteerModel
from nercurve.corpus.io import write_corpus
from nercurve.corpus.model import Doc, Span
from nercurve.errors import ConfigError
from nercurve.next_batch import read_study
from nercurve.study.config import load_config, parse_config
from nercurve.study.jobs import (
    Arm,
    StudyData,
    _score,
    execute_job,
    mix_training,
    with_trainings,
)
from nercurve.study.runner import initialise, prepare, run_study
from nercurve.study.store import Store, open_store, results_frame
from nercurve.tasks.ner_scores import corpus_labels

DRUGS = ["Aspirin", "Ibuprofen", "Metformin", "Warfarin", "Heparin"]
BACKEND = [{"name": "a", "type": "gazetteer"}]
TARGET = {"name": "coi", "role": "target", "path": "t.jsonl"}
AUX = {"name": "pharma", "role": "auxiliary", "path": "a.jsonl"}


@pytest.mark.parametrize(("config", "key", "words"), [
    ({"corpus": {"path": "x"}, "corpora": [TARGET]}, "corpus", "exclude each other"),
    ({"corpora": [AUX]}, "corpora", 'exactly one corpus must have role = "target" (found 0)'),
    ({"corpora": [TARGET, {**TARGET, "name": "b"}]}, "corpora", "(found 2)"),
    ({"corpora": [TARGET, {**AUX, "name": "coi"}]}, "corpora", "repeated: coi"),
    ({"corpora": [{**TARGET, "size": 5}]}, "corpora[0].size", 'for role = "auxiliary"'),
    ({"corpora": [TARGET, {**AUX, "role": "other"}]}, "corpora[1].role", "test-only"),
    ({"corpora": [TARGET, {**AUX, "name": "9x"}]}, "corpora[1].name", "pattern"),
    ({"corpora": [TARGET], "multitask": {}}, "multitask", 'role = "auxiliary"'),
    ({"corpus": {"path": "x"}, "multitask": {}}, "multitask", "[[corpora]]"),
    ({"corpora": [TARGET, AUX], "multitask": {"share": "half"}}, "multitask.share", "equal"),
    ({"corpora": [TARGET, AUX], "multitask": {"arms": ["multi", "multi"]}}, "multitask.arms",
     "repeat"),
    ({"corpora": [TARGET, AUX], "external_tests": [{"name": "pharma", "path": "x"}]},
     "external_tests", "both use: pharma"),
    ({"corpora": [TARGET, AUX], "backends": [*BACKEND, {"name": "a+multi", "type": "gazetteer"}]},
     "backends", "a+multi"),
    ({"corpora": [TARGET], "task": "classify"}, "corpora", 'task = "ner"'),
])
def test_config_errors_name_the_key(config: dict, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"backends": BACKEND, **config})
    assert f"at key '{key}'" in str(err.value) and words in str(err.value)


def test_the_target_is_the_corpus_and_the_arms_default_to_both() -> None:
    config = parse_config({"backends": BACKEND, "corpora": [
        {**TARGET, "label_map": {"Person": "PERSON"}}, {**AUX, "size": 3}]})
    assert config.corpus.label_map == {"Person": "PERSON"} and config.target.name == "coi"
    assert config.trainings == ("single", "multi") and config.share == "proportional"
    only_target = parse_config({"backends": BACKEND, "corpora": [TARGET]})
    assert only_target.trainings == ("single",)


def _docs(prefix: str, n: int) -> list[Doc]:
    return [Doc(f"{prefix}{i}", f"text {i}") for i in range(n)]


def test_mixing_proportional_concatenates_and_equal_repeats_the_smaller_corpora() -> None:
    target, big, small = _docs("t", 2), _docs("b", 5), _docs("s", 3)
    mixed = mix_training(target, {"big": big, "small": small}, "proportional")
    assert [d.id for d in mixed] == ["t0", "t1", "b0", "b1", "b2", "b3", "b4", "s0", "s1", "s2"]
    equal = mix_training(target, {"big": big, "small": small}, "equal")
    assert [d.id for d in equal] == [
        "t0", "t1", "t0#r1", "t1#r1", "t0#r2",
        "b0", "b1", "b2", "b3", "b4",
        "s0", "s1", "s2", "s0#r1", "s1#r1"]
    assert equal[2].text == target[0].text
    assert mix_training([], {"big": big}, "equal") == big  # an empty subset adds nothing


def test_each_test_set_is_scored_on_its_own_corpus_labels_only() -> None:
    text = "Alice Smith met Bob Jones about Aspirin."
    model = GazetteerModel({"Alice Smith": "PERSON", "Bob Jones": "ORG", "Aspirin": "DRUG"},
                           case_sensitive=True)
    target = Doc("t", text, (Span(0, 11, "PERSON"), Span(16, 25, "PERSON")))
    aux = Doc("a", text, (Span(0, 11, "PERSON"), Span(32, 39, "DRUG")))
    data = StudyData(pool={}, dev=(), test=(target,), target="coi",
                     corpus_labels={"coi": frozenset({"PERSON", "ORG"}),
                                    "pharma": frozenset({"PERSON", "DRUG"})},
                     corpus_tests={"pharma": (aux,)})
    # target: Alice tp; Bob as ORG is an fp and Bob as PERSON an fn; Aspirin (DRUG) dropped
    on_target = _score(model, data.test, data)
    assert (on_target.precision, on_target.recall, on_target.f1) == (0.5, 0.5, 0.5)
    # pharma: Alice and Aspirin tp; Bob (ORG) dropped
    assert _score(model, (aux,), data, test_set="pharma").f1 == 1.0
    # a study of one corpus counts every predicted span: P = 1/3, R = 1/2
    single = _score(model, data.test, StudyData(pool={}, dev=(), test=(target,)))
    assert single.f1 == pytest.approx(0.4)


def test_the_dev_score_counts_only_the_dev_corpus_labels() -> None:
    """A multi-task model's spans of an auxiliary corpus's labels on the target's dev set are
    dropped before the dev F1 (which selects the model), as on the test sets."""
    text = "Alice Smith got Aspirin."
    gold = [(Span(0, 11, "PERSON"),)]
    predicted = [(Span(0, 11, "PERSON"), Span(16, 23, "DRUG"))]
    tagged = Doc("d", text, gold[0], meta={"corpus": "coi", "corpus_labels": ("ORG", "PERSON")})
    assert corpus_labels([tagged]) == frozenset({"ORG", "PERSON"})
    assert corpus_labels([tagged, Doc("u", text)]) is None  # an untagged document: all count
    assert dev_strict_f1(gold, predicted, labels=corpus_labels([tagged]))[0] == 1.0
    # without labels (a study of one corpus) the DRUG span is a false positive: P 1/2, R 1
    assert dev_strict_f1(gold, predicted)[0] == pytest.approx(2 / 3)


def _write_corpora(folder: Path, drug_seed: int = 0) -> None:
    """A target (PERSON, ORG), an auxiliary (PERSON and DRUG, spelled its own way) and a
    test-only corpus (PERSON, ORG, DRUG and a City label no other corpus has)."""
    write_corpus(toy_docs(30), folder / "target.jsonl")
    rng = random.Random(drug_seed)
    aux = []
    for i in range(20):
        name, drug = rng.choice(NAMES), rng.choice(DRUGS)
        text = f"{name} was given {drug}."
        aux.append(Doc(f"a{i}", text, (Span(0, len(name), "Person"),
                                       Span(len(name) + 11, len(name) + 11 + len(drug), "Drug"))))
    write_corpus(aux, folder / "aux.jsonl")
    unseen = []
    for i in range(6):
        name, org, drug = NAMES[i], ORGS[i], DRUGS[i % len(DRUGS)]
        text = f"{name} of {org} took {drug} in Basel."
        at_org, at_drug = len(name) + 4, len(name) + 4 + len(org) + 6
        unseen.append(Doc(f"u{i}", text, (
            Span(0, len(name), "PERSON"), Span(at_org, at_org + len(org), "ORG"),
            Span(at_drug, at_drug + len(drug), "DRUG"),
            Span(len(text) - 6, len(text) - 1, "City"))))
    write_corpus(unseen, folder / "unseen.jsonl")


SPACY = ('{ max_steps = 6, eval_frequency = 200, patience = 8, eval_every_epochs = 1.0, '
         'patience_epochs = 100.0, min_eval_steps = 4, config = { '
         '"components.tok2vec.model.encode.width" = 64, '
         '"components.tok2vec.model.encode.depth" = 2 } }')


def _write_config(folder: Path, corpora: str, *, backend: str = "spacy",
                  params: str = SPACY) -> Path:
    path = folder / "study.toml"
    path.write_text(f"""name = "mc"
output = "out"
seeds = [0]
{corpora}
[design]
strata = [[2, 8]]
subsets_per_stratum = 2
[[backends]]
name = "arm"
type = "{backend}"
params = {params}
[run]
workers = 1
""", encoding="utf-8")
    return path


CORPORA = """[[corpora]]
name = "coi"
role = "target"
path = "target.jsonl"
[[corpora]]
name = "pharma"
role = "auxiliary"
path = "aux.jsonl"
label_map = { Person = "PERSON", Drug = "DRUG" }
size = 10
[[corpora]]
name = "unseen"
role = "test-only"
path = "unseen.jsonl"
[multitask]
share = "SHARE"
"""


def test_single_arm_job_ids_are_those_of_the_target_alone_and_multi_ids_cover_the_mixing(
        tmp_path: Path) -> None:
    _write_corpora(tmp_path)
    multi = prepare(load_config(_write_config(tmp_path, CORPORA.replace("SHARE", "equal"),
                                              backend="gazetteer", params="{}")))
    alone = prepare(load_config(_write_config(tmp_path, '[corpus]\npath = "target.jsonl"',
                                              backend="gazetteer", params="{}")))
    proportional = prepare(load_config(_write_config(
        tmp_path, CORPORA.replace("SHARE", "proportional"), backend="gazetteer", params="{}")))

    def ids(prepared, arm: str) -> set[str]:
        from nercurve.study.jobs import plan_jobs

        return {j.job_id for j in plan_jobs(prepared.subsets, prepared.arms, [0])
                if j.backend == arm}

    assert [a.name for a in multi.arms] == ["arm", "arm+multi"]
    assert ids(multi, "arm") == ids(alone, "arm") == ids(proportional, "arm")
    assert ids(multi, "arm+multi").isdisjoint(ids(proportional, "arm+multi"))
    data = multi.data
    assert data.multi_arms == {"arm+multi"} and data.share == "equal"
    assert len(data.auxiliary["pharma"]) == 10 and len(data.corpus_tests["pharma"]) == 6
    assert data.corpus_labels == {"coi": {"PERSON", "ORG"}, "pharma": {"PERSON", "DRUG"},
                                  "unseen": {"PERSON", "ORG", "DRUG"}}
    everything = [*data.pool.values(), *data.dev, *data.test, *data.auxiliary["pharma"],
                  *data.corpus_tests["pharma"], *data.corpus_tests["unseen"]]
    assert {(d.meta["corpus"], d.meta["corpus_labels"]) for d in everything} == {
        ("coi", ("ORG", "PERSON")), ("pharma", ("DRUG", "PERSON")),
        ("unseen", ("DRUG", "ORG", "PERSON"))}
    assert not any("corpus" in d.meta for d in alone.data.test)
    assert sum(n.kind == "external-label-dropped" for n in multi.notices) == 6  # City

    # the multi-task arm learns the auxiliary corpus's drugs; the single arm knows none
    frame = results_frame(run_study(multi.config))
    by_arm = frame.groupby("backend")["recall_pharma"].mean()
    assert by_arm["arm+multi"] == 1.0 and by_arm["arm"] <= 0.5


def test_a_test_only_corpus_of_other_entity_types_gives_a_notice(tmp_path: Path) -> None:
    """A test-only corpus none of whose labels the study has keeps no entity: every model
    would score 0 on it, and the study says so (with what to do)."""
    _write_corpora(tmp_path)
    cities = [Doc(f"c{i}", f"Lunch in {city}.", (Span(9, 9 + len(city), "City"),))
              for i, city in enumerate(["Basel", "Bern", "Chur"])]
    write_corpus(cities, tmp_path / "unseen.jsonl")
    prepared = prepare(load_config(_write_config(
        tmp_path, CORPORA.replace("SHARE", "equal"), backend="gazetteer", params="{}")))
    found = [n for n in prepared.notices if n.kind == "test-set-without-labels"]
    assert len(found) == 1 and "'unseen' keeps no entity of the study's labels (DRUG, ORG, " \
        "PERSON)" in found[0].message and "label_map" in found[0].message
    assert prepared.data.corpus_labels["unseen"] == frozenset()


def test_an_arm_that_ignores_training_data_gets_no_multi_task_arm() -> None:
    arms = [Arm("zero", "gazetteer", {}, needs_training_data=False),
            Arm("gaz", "gazetteer", {}, needs_training_data=True)]
    assert [(a.name, a.training, a.base_backend) for a in with_trainings(
        arms, ("single", "multi"), "digest")] == [
        ("zero", "single", "zero"), ("gaz", "single", "gaz"), ("gaz+multi", "multi", "gaz")]
    assert [a.name for a in with_trainings(arms, ("multi",), "digest")] == ["zero", "gaz+multi"]


def test_a_spacy_study_of_three_corpora_runs_resumes_and_refuses_a_changed_auxiliary(
        tmp_path: Path) -> None:
    _write_corpora(tmp_path)
    config = load_config(_write_config(tmp_path, CORPORA.replace("SHARE", "equal")))
    prepared = prepare(config)
    store_path = initialise(prepared)
    with Store(store_path) as store:  # a run stopped after two jobs (one of each arm)
        for _ in range(2):
            job = store.claim("first-run", 0, 0)
            assert store.finish(job, execute_job(job, prepared.data))
    out = run_study(config)
    rows = job_rows(out / "results.sqlite")
    assert len(rows) == 4 and {r["status"] for r in rows} == {"done"}
    assert [r["attempts"] for r in rows] == [1, 1, 1, 1]  # none ran twice
    before = results_frame(out)
    run_study(config)  # a rerun repeats nothing and changes nothing
    assert [r["attempts"] for r in job_rows(out / "results.sqlite")] == [1, 1, 1, 1]
    frame = results_frame(out)
    assert frame.equals(before)

    columns = list(frame.columns)
    assert columns.index("training") == columns.index("backend") + 1
    assert columns.index("base_backend") == columns.index("training") + 1
    assert sorted(zip(frame["backend"], frame["training"], frame["base_backend"],
                      strict=True)) == [
        ("arm", "single", "arm")] * 2 + [("arm+multi", "multi", "arm")] * 2
    for name in ("pharma", "unseen"):
        for score in ("f1", "precision", "recall"):
            assert frame[f"{score}_{name}"].between(0, 1).all()
    assert "f1_DRUG" not in columns  # per-label columns are the target's
    multi = frame[frame["training"] == "multi"].sort_values("subset_id")
    single = frame[frame["training"] == "single"].sort_values("subset_id")
    assert list(multi["n_sentences"]) == list(single["n_sentences"])  # the target subset

    stats = json.loads((out / "corpus_stats.json").read_text(encoding="utf-8"))
    assert stats["corpora"]["coi"]["role"] == "target"
    assert stats["corpora"]["pharma"] == {"role": "auxiliary", "labels": ["DRUG", "PERSON"],
                                          "documents": 16, "sentences": 16,
                                          "test_documents": 6}
    assert stats["corpora"]["unseen"]["test_documents"] == 6
    assert set(stats["external_tests"]) == {"unseen"}
    again = read_study(out).config  # study.json reads back (as `next-batch` reads it)
    assert again.corpus == config.corpus and again.corpora == config.corpora

    _write_corpora(tmp_path, drug_seed=1)  # other drugs in the auxiliary corpus
    with pytest.raises(ConfigError, match="auxiliary corpus 'pharma' changed"):
        run_study(load_config(tmp_path / "study.toml"))
    with open_store(out) as store:
        assert store.counts().get("done") == 4


def test_the_commands_run_a_three_corpus_study_and_report_the_saving(tmp_path: Path) -> None:
    """`nercurve run` then `nercurve report`, as a user runs them: the multi-task arm learns
    the target's people from the auxiliary corpus too, and the report gives the saving."""
    import subprocess
    import sys

    _write_corpora(tmp_path)
    write_corpus(toy_docs(120, seed=3), tmp_path / "target.jsonl")
    config = _write_config(tmp_path, CORPORA.replace("SHARE", "proportional"),
                           backend="gazetteer", params="{}")
    text = config.read_text(encoding="utf-8").replace(
        "strata = [[2, 8]]\nsubsets_per_stratum = 2",
        "sizes = [1, 2, 3, 5, 8]\nsubsets_per_size = 4").replace("size = 10\n", "")
    config.write_text(text, encoding="utf-8")
    nercurve = [str(Path(sys.executable).with_name("nercurve"))]
    ran = subprocess.run([*nercurve, "run", str(config)], capture_output=True, text=True,
                         check=False, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    report = tmp_path / "report.html"
    made = subprocess.run([*nercurve, "report", str(tmp_path / "out"), "-o", str(report),
                           "--target-f1", "0.9"], capture_output=True, text=True,
                          check=False, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    html = report.read_text(encoding="utf-8")
    assert 'id="multitask"' in html and "target sentences" in html
    import pandas as pd

    savings = pd.read_csv(next(tmp_path.rglob("multitask_savings.csv")))
    assert set(savings["goal"]) == {"target", "plateau"}  # both levels, even where one
    plateau = savings[savings["goal"] == "plateau"].iloc[0]  # has no F1 in (0, 1) to match
    if not 0 < plateau["f1"] < 1:
        assert "passes F1 1 there, so it gives no level to match" in html
    row = savings[savings["goal"] == "target"].iloc[0]
    # the auxiliary corpus teaches the people the target's smallest subsets lack: a saving
    # whose CI lies above 0
    assert row["saved"] > 0 and row["saved_ci_low"] > 0, row.to_dict()
    runs = results_frame(tmp_path / "out")
    small = runs[runs["stratum"] == runs["stratum"].min()]
    by_arm = small.groupby("training")["f1"].mean()
    assert by_arm["multi"] > by_arm["single"]


@pytest.mark.slow
def test_an_hf_study_of_three_corpora_trains_one_merged_label_set(tmp_path: Path,
                                                                   tiny_bert: Path) -> None:
    """The hf arm of a multi-corpus study (a tiny BERT, a few steps) runs every job and
    scores each test set; the multi-task model's tag set is the corpora's labels merged."""
    _write_corpora(tmp_path)
    params = ('{ max_steps = 3, eval_every = 2, warmup_steps = 1, batch_size = 4, '
              f'device = "cpu", max_length = 64, window_overlap = 8, model = "{tiny_bert}" }}')
    config = load_config(_write_config(tmp_path, CORPORA.replace("SHARE", "equal"),
                                       backend="hf", params=params))
    prepared = prepare(config)
    multi = [a for a in prepared.arms if a.training == "multi"]
    assert [a.name for a in multi] == ["arm+multi"]
    frame = results_frame(run_study(config))
    assert len(frame) == 4 and set(frame["status"]) == {"done"}
    for name in ("pharma", "unseen"):
        assert frame[f"f1_{name}"].between(0, 1).all()
    from nercurve.backends.hf.ner import HFBackend
    from nercurve.study.jobs import mix_training

    train = [prepared.data.pool[i] for i in prepared.subsets[0].doc_ids]
    mixed = mix_training(train, prepared.data.auxiliary, "equal")
    model = HFBackend().train(mixed, list(prepared.data.dev), {
        "max_steps": 2, "eval_every": 1, "warmup_steps": 1, "batch_size": 4, "device": "cpu",
        "max_length": 64, "window_overlap": 8, "model": str(tiny_bert)}, 0).model
    assert {t.split("-", 1)[-1] for t in model.tags} == {"O", "PERSON", "ORG", "DRUG"}
