"""Corpus statistics: hand-counted documents, subset sums, and the real NCBI-disease files."""

from __future__ import annotations

import json
import random
import statistics
from pathlib import Path

import pytest

from nercurve.corpus.io import ReadOptions, read_corpus
from nercurve.corpus.model import Doc, Span
from nercurve.corpus.stats import Summary, corpus_stats, describe, doc_counts
from nercurve.errors import InputError

# 2 sentences, 14 tokens: Alice met Bob Smith . | They left for New York - based Pfizer .
TEXT = "Alice met Bob Smith. They left for New York-based Pfizer."
RAW = Doc(
    "raw",
    TEXT,
    (Span(0, 5, "PER"), Span(10, 19, "PER"), Span(39, 47, "LOC"), Span(50, 56, "ORG")),
)


def fixed(doc_id: str, n_sent: int, n_tok: int, spans: tuple[Span, ...] = ()) -> Doc:
    """A document whose format fixed its sentences and tokens (one char per token)."""
    text = " ".join("w" * 1 for _ in range(n_tok))
    tokens = tuple((2 * i, 2 * i + 1) for i in range(n_tok))
    per = n_tok // n_sent
    sentences = tuple(
        (tokens[k * per][0], tokens[n_tok - 1 if k == n_sent - 1 else (k + 1) * per - 1][1])
        for k in range(n_sent)
    )
    return Doc(doc_id, text, spans, sentences=sentences, tokens=tokens)


def test_describe_segments_documents_without_boundaries() -> None:
    stats = describe([RAW])
    assert (stats.documents, stats.sentences, stats.tokens, stats.entities) == (1, 2, 14, 4)
    assert stats.eps == 2.0


def test_describe_keeps_boundaries_the_format_fixed() -> None:
    docs = [
        fixed("a", 2, 10, (Span(0, 1, "X"),)),
        fixed("b", 3, 9, (Span(0, 3, "X"), Span(4, 5, "Y"))),
    ]
    stats = describe(docs)
    assert (stats.documents, stats.sentences, stats.tokens, stats.entities) == (2, 5, 19, 3)
    assert stats.eps == pytest.approx(3 / 5)
    assert stats.to_dict()["eps"] == pytest.approx(0.6)


def test_empty_input_has_zero_eps() -> None:
    stats = describe([])
    assert (stats.documents, stats.sentences, stats.entities, stats.eps) == (0, 0, 0, 0.0)


def test_doc_counts_subsets_equal_describe_of_the_subset() -> None:
    rng = random.Random(7)
    docs = [
        fixed(
            f"d{i}",
            rng.randint(1, 5),
            rng.randint(5, 30),
            tuple(Span(2 * k, 2 * k + 1, "X") for k in range(rng.randint(0, 4))),
        )
        for i in range(60)
    ]
    counts = doc_counts(docs)
    for _ in range(25):
        ids = rng.sample([d.id for d in docs], rng.randint(1, 60))
        subset = [d for d in docs if d.id in set(ids)]
        assert counts.describe(ids) == describe(subset)
    eps = counts.eps
    assert eps[0] == pytest.approx(len(docs[0].spans) / len(docs[0].sentences or ()))


def test_unknown_subset_id_is_an_input_error() -> None:
    counts = doc_counts([fixed("a", 1, 3)])
    with pytest.raises(InputError, match="'zz'"):
        counts.describe(["a", "zz"])


def test_corpus_stats_by_hand() -> None:
    docs = [
        RAW,
        fixed("b", 1, 4, (Span(0, 3, "PER"),)),  # one PER over two tokens "w w"
        fixed("c", 3, 6),
    ]
    cs = corpus_stats(docs)
    assert (cs.documents, cs.sentences, cs.tokens, cs.entities) == (3, 6, 24, 5)
    assert cs.entities_per_label == {"LOC": 1, "ORG": 1, "PER": 3}
    assert cs.eps == pytest.approx(5 / 6)
    assert cs.eps_per_label == pytest.approx({"LOC": 1 / 6, "ORG": 1 / 6, "PER": 3 / 6})
    # sentences per document: 2, 1, 3
    assert cs.sentences_per_doc == Summary(3, 2.0, 1.0, 1.0, 2.0, 3.0)
    # entity lengths: Alice=1, Bob Smith=2, "York-bas" overlaps York/-/based=3, Pfizer=1, "w w"=2
    assert cs.entity_token_counts == {1: 2, 2: 2, 3: 1}
    assert cs.entity_tokens.mean == pytest.approx(9 / 5)
    chars = [5, 9, 8, 6, 3]
    assert cs.entity_chars.mean == pytest.approx(statistics.mean(chars))
    assert cs.entity_chars.sd == pytest.approx(statistics.stdev(chars))
    assert cs.entity_chars.median == 6.0
    data = json.loads(json.dumps(cs.to_dict()))
    assert data["entity_token_counts"] == {"1": 2, "2": 2, "3": 1}


def test_summary_of_few_values() -> None:
    assert Summary.of([]) == Summary(0, None, None, None, None, None)
    assert Summary.of([4]) == Summary(1, 4.0, None, 4.0, 4.0, 4.0)


def test_ncbi_iob_train_counts(shared_corpora: Path) -> None:
    corpus = read_corpus(shared_corpora / "ncbi-disease" / "iob" / "train.tsv", "conll")
    cs = corpus_stats(corpus)
    assert (cs.sentences, cs.tokens, cs.entities) == (5424, 135701, 5134)
    assert cs.entities_per_label == {"Disease": 5134}
    assert cs.eps == pytest.approx(5134 / 5424)
    assert cs.entity_token_counts[1] > cs.entity_token_counts[2] > cs.entity_token_counts[5]


def test_ncbi_pubtator_train_is_segmented(shared_corpora: Path) -> None:
    options = ReadOptions(
        label_map={
            t: "Disease"
            for t in ("SpecificDisease", "Modifier", "DiseaseClass", "CompositeMention")
        },
        duplicate_ids="keep-first",
        mismatch="strip",
    )
    corpus = read_corpus(
        shared_corpora / "ncbi-disease" / "pubtator" / "NCBItrainset_corpus.txt", options=options
    )
    cs = corpus_stats(corpus)
    assert cs.documents == 592
    assert cs.entities == sum(len(d.spans) for d in corpus)
    assert set(cs.entities_per_label) == {"Disease"}
    # abstracts of roughly ten sentences; tokens of the same order as the IOB copy
    assert 8 < cs.sentences_per_doc.mean < 12
    assert 120_000 < cs.tokens < 150_000
