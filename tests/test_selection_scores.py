"""The uncertainty measures against hand-computed values, the models' own scores, and the
diversity order's reproducibility."""

from __future__ import annotations

import math

import numpy as np
import pytest
from study_fixtures import toy_docs

from nercurve.backends import get_backend
from nercurve.backends.uncertainty import (
    class_uncertainty,
    least_confidence,
    mean_token_entropy,
    scores_uncertainty,
    spans_marginals,
)
from nercurve.corpus.classes import ClassScheme
from nercurve.study.selection import kmeanspp
from nercurve.synthetic.smoking import generate_smoking


def test_least_confidence_and_token_entropy_by_hand():
    assert least_confidence(0.8) == pytest.approx(0.2)
    # one sure token, one split evenly: (0 + ln 2) / 2
    assert mean_token_entropy(np.array([[1.0, 0.0], [0.5, 0.5]])) == pytest.approx(
        math.log(2) / 2)
    assert mean_token_entropy(np.zeros((0, 3))) == 0.0


def test_token_marginals_from_beam_parses():
    parses = [(0.6, [(0, 2, "ORG")]), (0.3, []), (0.1, [(2, 3, "PER")])]
    got = spans_marginals(parses, 3, ["ORG", "PER"])
    assert np.allclose(got, [[0.4, 0.6, 0.0], [0.4, 0.6, 0.0], [0.9, 0.0, 0.1]])
    # tokens 1-2: entropy of (0.4, 0.6); token 3: of (0.9, 0.1)
    h = lambda *p: -sum(x * math.log(x) for x in p)  # noqa: E731
    assert mean_token_entropy(got) == pytest.approx((2 * h(0.4, 0.6) + h(0.9, 0.1)) / 3)


def test_margin_and_entropy_of_class_probabilities_by_hand():
    proba = [[0.7, 0.2, 0.1], [0.5, 0.5, 0.0]]
    assert class_uncertainty(proba, "margin") == pytest.approx([1 - 0.5, 1.0])
    assert class_uncertainty(proba, "entropy") == pytest.approx([
        -(0.7 * math.log(0.7) + 0.2 * math.log(0.2) + 0.1 * math.log(0.1)), math.log(2)])
    # multi-label scores are renormalised per document
    assert scores_uncertainty([{"A": 0.9, "B": 0.3}], "margin") == pytest.approx(
        [1 - (0.75 - 0.25)])


def test_tfidf_scores_its_uncertainty_from_its_probabilities():
    docs = generate_smoking(120, seed=3).docs
    scheme = ClassScheme(("CURRENT", "NEVER", "PAST", "UNKNOWN"), multi_label=False)
    model = get_backend("tfidf", "classify").train(docs[:80], docs[80:100], {}, 0, scheme).model
    rows = model.predict(docs[100:])
    margins = model.uncertainty(docs[100:], "margin")
    for row, got in zip(rows, margins, strict=True):
        best, second = sorted(row.values(), reverse=True)[:2]
        assert got == pytest.approx(1 - (best - second))
    assert all(e >= 0 for e in model.uncertainty(docs[100:], "entropy"))


@pytest.mark.slow
def test_spacy_ner_scores_uncertainty_from_its_beam():
    docs = toy_docs(60)
    model = get_backend("spacy", "ner").train(
        docs[:30], docs[30:40], {"max_steps": 40, "eval_frequency": 20, "patience": 0}, 0).model
    confidence = model.uncertainty(docs[40:], "least_confidence")
    entropy = model.uncertainty(docs[40:], "entropy")
    assert len(confidence) == len(entropy) == 20
    assert all(0 <= c <= 1 for c in confidence) and all(e >= 0 for e in entropy)
    assert model.uncertainty(docs[40:], "least_confidence") == confidence  # deterministic


def test_diversity_order_is_seeded_and_spreads_over_clusters():
    rng = np.random.default_rng(0)
    vectors = np.concatenate([rng.normal(0, 0.01, (50, 4)), rng.normal(5, 0.01, (50, 4))])
    first = list(kmeanspp(vectors, np.random.default_rng(1)))
    assert first == list(kmeanspp(vectors, np.random.default_rng(1)))
    assert first != list(kmeanspp(vectors, np.random.default_rng(2)))
    assert sorted(first) == list(range(100))  # every row once
    assert {i < 50 for i in first[:2]} == {True, False}  # the second pick is the far cluster


@pytest.mark.slow
def test_hf_ner_scores_uncertainty_from_its_word_softmax():
    import torch

    from nercurve.backends.hf.align import doc_words
    from nercurve.backends.hf.ner import HFBackend, with_tokens
    from nercurve.synthetic.coi import generate_coi

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        docs = sorted((d for d in generate_coi(120, seed=0) if d.spans), key=lambda d: len(d.text))
        params = {"model": "minilm", "device": "cpu", "max_steps": 2, "eval_every": 2,
                  "warmup_steps": 0, "batch_size": 4, "max_length": 64, "window_overlap": 8}
        model = HFBackend().train(docs[:12], docs[12:16], params, seed=0).model
        scored = docs[16:22]
        confidence = model.uncertainty(scored, "least_confidence")
        entropy = model.uncertainty(scored, "entropy")
        # by hand from the word distributions: 1 - the product of each word's top probability
        tokenized = with_tokens(scored)
        examples = model.encoder.examples(tokenized, [doc_words(d) for d in tokenized])
        for example, probs in zip(examples, model._word_probabilities(examples), strict=True):
            p = np.array([probs[w] for w in sorted(probs)])
            assert confidence[example.doc] == pytest.approx(1 - np.prod(p.max(axis=1)))
            assert entropy[example.doc] == pytest.approx(mean_token_entropy(p))
        assert all(0 <= c <= 1 for c in confidence)
        assert all(0 <= e <= math.log(len(model.tags)) + 1e-9 for e in entropy)
    finally:
        torch.set_num_threads(threads)


def test_a_slot_takes_the_shortest_prefix_and_its_cost_by_hand():
    from nercurve.study.design import Slot
    from nercurve.study.selection import Trajectory

    traj = Trajectory(order=["a", "b", "c", "d", "e"], marks=[2, 4, 5],
                      seconds=[0.0, 3.0, 5.0], runs=[0, 1, 1])
    sentences = {"a": 2, "b": 1, "c": 4, "d": 1, "e": 3}
    assert traj.prefix(Slot("3", 0, 3, (3, 3)), "documents", sentences) == 3
    assert traj.prefix(Slot("6", 0, 6, (6, 6)), "sentences", sentences) == 3  # 2+1+4 >= 6
    assert traj.prefix(Slot("99", 0, 99, (99, 99)), "sentences", sentences) == 5
    assert traj.cost(2) == (0, 0.0, 0)  # the seed set
    assert traj.cost(3) == (1, 3.0, 1)  # chosen by round 1's model
    assert traj.cost(5) == (2, 8.0, 2)
