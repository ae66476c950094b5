"""Document-level seeded splits: sizes, determinism, EPS stratification, written parts."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from nercurve.corpus.io import ReadOptions, read_corpus
from nercurve.corpus.model import Corpus, Doc, Span
from nercurve.corpus.split import split_corpus, write_split
from nercurve.corpus.stats import doc_counts
from nercurve.errors import InputError


def make_corpus(n: int, seed: int = 0) -> Corpus:
    """Documents of 1-6 sentences ("abcdef." each) whose entity rates differ widely (0-3 EPS)."""
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        n_sent = rng.randint(1, 6)
        rate = rng.choice([0, 0.5, 1, 2, 3])
        text = " ".join(["abcdef."] * n_sent)
        spans = tuple(
            Span(8 * k + 2 * j, 8 * k + 2 * j + 1, rng.choice("AB"))
            for k in range(n_sent)
            for j in range(3)
            if rng.random() < rate / 3
        )
        # sentences and tokens fixed, so no segmentation is needed here
        sentences = tuple((8 * k, 8 * k + 7) for k in range(n_sent))
        tokens = tuple(
            t for k in range(n_sent) for t in ((8 * k, 8 * k + 6), (8 * k + 6, 8 * k + 7))
        )
        docs.append(Doc(f"doc{i:03d}", text, spans, sentences=sentences, tokens=tokens))
    return Corpus(docs, source="made-up")


def test_parts_partition_the_documents_in_corpus_order() -> None:
    corpus = make_corpus(105)
    split = split_corpus(corpus, test=0.3, dev=0.1, seed=3)
    # 31.5 and 10.5 documents round up
    assert (len(split.train_ids), len(split.dev_ids), len(split.test_ids)) == (62, 11, 32)
    ids = [*split.train_ids, *split.dev_ids, *split.test_ids]
    assert sorted(ids) == sorted(corpus.ids)  # every document in exactly one part
    for part in (split.train_ids, split.dev_ids, split.test_ids):
        assert list(part) == [i for i in corpus.ids if i in set(part)]


@pytest.mark.parametrize("stratify", [False, True])
def test_seed_determines_the_split(stratify: bool) -> None:
    corpus = make_corpus(80)
    a = split_corpus(corpus, seed=1, stratify=stratify)
    b = split_corpus(corpus, seed=1, stratify=stratify)
    c = split_corpus(corpus, seed=2, stratify=stratify)
    assert a == b
    assert a.test_ids != c.test_ids
    assert (a.seed, a.stratify) == (1, stratify)


def test_dev_may_be_empty() -> None:
    split = split_corpus(make_corpus(10), test=0.2, dev=0.0, seed=0)
    assert (len(split.train_ids), len(split.dev_ids), len(split.test_ids)) == (8, 0, 2)


@pytest.mark.parametrize(
    ("n", "test", "dev", "message"),
    [
        (10, 1.0, 0.0, "test fraction"),
        (10, 0.3, -0.1, "dev fraction"),
        (10, 0.6, 0.4, "nothing for training"),
        (3, 0.3, 0.1, "too few"),
    ],
)
def test_bad_fractions_are_input_errors(n: int, test: float, dev: float, message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        split_corpus(make_corpus(n), test=test, dev=dev)
    assert info.value.hint


def test_duplicate_ids_are_refused() -> None:
    doc = make_corpus(1)[0]
    with pytest.raises(InputError, match="more than once"):
        split_corpus([doc, doc, doc, doc], test=0.25, dev=0.0)


def _part_eps(corpus: Corpus, ids: tuple[str, ...]) -> float:
    return doc_counts(corpus).describe(ids).eps


def test_stratification_balances_eps_across_parts() -> None:
    corpus = make_corpus(300, seed=5)
    counts = doc_counts(corpus)
    overall = counts.describe().eps

    def spread(stratify: bool, seed: int) -> float:
        s = split_corpus(corpus, test=0.3, dev=0.1, seed=seed, stratify=stratify, counts=counts)
        return max(
            abs(counts.describe(ids).eps - overall) for ids in (s.train_ids, s.dev_ids, s.test_ids)
        )

    stratified = [spread(True, seed) for seed in range(20)]
    random_ = [spread(False, seed) for seed in range(20)]
    assert np.mean(stratified) < 0.25 * np.mean(random_)
    assert max(stratified) < 0.05 * overall
    # exact sizes as without stratification
    s = split_corpus(corpus, test=0.3, dev=0.1, seed=0, stratify=True)
    assert (len(s.train_ids), len(s.dev_ids), len(s.test_ids)) == (180, 30, 90)


def test_write_split_writes_parts_and_manifest(tmp_path: Path) -> None:
    corpus = make_corpus(20)
    split = split_corpus(corpus, test=0.25, dev=0.0, seed=4, stratify=True)
    manifest = write_split(corpus, split, tmp_path / "out")
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "test.jsonl", "train.jsonl"]
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == manifest
    assert (on_disk["seed"], on_disk["test"], on_disk["dev"], on_disk["stratify"]) == (
        4,
        0.25,
        0.0,
        True,
    )
    assert on_disk["parts"]["test"]["ids"] == list(split.test_ids)
    assert on_disk["parts"]["dev"] == {
        "file": None,
        "documents": 0,
        "sentences": 0,
        "tokens": 0,
        "entities": 0,
        "eps": 0.0,
        "ids": [],
    }
    back = read_corpus(out / "test.jsonl")
    assert back.ids == list(split.test_ids)
    by_id = corpus.by_id()
    assert all(d.text == by_id[d.id].text and d.spans == by_id[d.id].spans for d in back)
    entities = sum(len(by_id[i].spans) for i in split.train_ids)
    assert on_disk["parts"]["train"]["entities"] == entities


def test_write_split_never_overwrites_unless_asked(tmp_path: Path) -> None:
    corpus = make_corpus(10)
    split = split_corpus(corpus, test=0.2, dev=0.1, seed=0)
    write_split(corpus, split, tmp_path)
    before = (tmp_path / "train.jsonl").read_bytes()
    other = split_corpus(corpus, test=0.2, dev=0.1, seed=9)
    with pytest.raises(InputError, match="overwrite") as info:
        write_split(corpus, other, tmp_path)
    assert "--force" in (info.value.hint or "")
    assert (tmp_path / "train.jsonl").read_bytes() == before
    write_split(corpus, other, tmp_path, overwrite=True)
    assert read_corpus(tmp_path / "train.jsonl").ids == list(other.train_ids)


def test_write_split_refuses_unknown_format(tmp_path: Path) -> None:
    corpus = make_corpus(10)
    with pytest.raises(InputError, match="brat"):
        write_split(corpus, split_corpus(corpus), tmp_path, fmt="brat")


def test_ncbi_pubtator_split_keeps_documents_whole(shared_corpora: Path) -> None:
    options = ReadOptions(duplicate_ids="keep-first", mismatch="strip")
    path = shared_corpora / "ncbi-disease" / "pubtator" / "NCBItrainset_corpus.txt"
    corpus = read_corpus(path, options=options)
    counts = doc_counts(corpus)
    split = split_corpus(corpus, test=0.3, dev=0.1, seed=0, stratify=True, counts=counts)
    assert (len(split.train_ids), len(split.dev_ids), len(split.test_ids)) == (355, 59, 178)
    assert set(split.train_ids).isdisjoint(split.test_ids)
    assert set(split.dev_ids).isdisjoint(split.test_ids)
    overall = counts.describe().eps
    for ids in (split.train_ids, split.dev_ids, split.test_ids):
        assert counts.describe(ids).eps == pytest.approx(overall, rel=0.03)
