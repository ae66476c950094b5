"""Stratified designs: reproducible, within bounds, extendable; job planning."""

from __future__ import annotations

import numpy as np
import pytest

from nercurve.corpus.stats import DocCounts
from nercurve.errors import ConfigError
from nercurve.study.config import BackendEntry, DesignSection
from nercurve.study.design import draw_design
from nercurve.study.jobs import Arm, job_id, plan_jobs


def counts(n: int = 300, seed: int = 1) -> DocCounts:
    rng = np.random.default_rng(seed)
    sentences = rng.integers(1, 12, n)
    return DocCounts(
        ids=tuple(f"doc{i}" for i in range(n)),
        sentences=sentences,
        tokens=sentences * 20,
        entities=rng.integers(0, 30, n),
    )


def test_majdik_default_design_is_reproducible_and_within_strata() -> None:
    design = DesignSection(subsets_per_stratum=20)
    first = draw_design(design, counts())
    again = draw_design(design, counts())
    assert first == again
    assert len(first) == 100
    for s in first:
        low, high = (int(x) for x in s.stratum.split("-"))
        assert low <= s.n_docs <= high
        assert len(set(s.doc_ids)) == s.n_docs  # drawn without replacement
    other = draw_design(DesignSection(subsets_per_stratum=20, seed=7), counts())
    assert [s.doc_ids for s in other] != [s.doc_ids for s in first]


def test_subset_statistics_are_sums_of_its_documents() -> None:
    c = counts()
    for s in draw_design(DesignSection(subsets_per_stratum=3), c):
        pos = c.positions(s.doc_ids)
        assert s.n_sentences == c.sentences[pos].sum()
        assert s.n_entities == c.entities[pos].sum()
        assert s.eps == pytest.approx(c.entities[pos].sum() / c.sentences[pos].sum())


def test_growing_a_design_keeps_the_subsets_already_drawn() -> None:
    small = draw_design(DesignSection(subsets_per_stratum=4), counts())
    large = draw_design(DesignSection(subsets_per_stratum=9), counts())
    by_id = {s.subset_id: s for s in large}
    assert all(by_id[s.subset_id] == s for s in small)


def test_sentence_strata_reach_their_target_with_the_fewest_documents() -> None:
    c = counts()
    design = DesignSection(unit="sentences", strata=[(50, 80), (200, 300)], subsets_per_stratum=10)
    for s in draw_design(design, c):
        assert s.n_sentences >= s.target
        assert s.n_sentences - c.sentences[c.positions(s.doc_ids)].max() < s.target or (
            s.n_docs == 1
        )



def test_sentence_subsets_stay_inside_their_stratum() -> None:
    c = counts()  # documents of 1 to 11 sentences
    strata = [(20, 40), (41, 45), (100, 104)]
    design = DesignSection(unit="sentences", strata=strata, subsets_per_stratum=40)
    subsets = draw_design(design, c)
    bounds = {f"{lo}-{hi}": (lo, hi) for lo, hi in strata}
    for s in subsets:
        lo, hi = bounds[s.stratum]
        assert lo <= s.target <= s.n_sentences <= hi, s
    assert draw_design(design, c) == subsets  # still reproducible from the seed


def test_explicit_sizes() -> None:
    subsets = draw_design(DesignSection(sizes=[5, 50], subsets_per_size=2), counts())
    assert [s.n_docs for s in subsets] == [5, 5, 50, 50]


def test_a_stratum_larger_than_the_pool_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="holds only 30"):
        draw_design(DesignSection(strata=[(1, 10), (41, 80)]), counts(30))


def test_jobs_interleave_strata_and_have_stable_distinct_ids() -> None:
    subsets = draw_design(DesignSection(subsets_per_stratum=3), counts())
    trained = Arm("spacy", "spacy", {"max_steps": 10}, True)
    baseline = Arm("base", "pretrained", {}, False)
    jobs = plan_jobs(subsets, [trained, baseline], [0, 1])
    assert len(jobs) == 15 * 2 + 2  # the baseline runs once per seed, not per subset
    assert [j.subset_id for j in jobs[:2]] == ["zero#0000", "zero#0000"]
    first_strata = [j.subset_id.split("#")[0] for j in jobs[2:12:2]]
    assert first_strata == ["1-40", "41-80", "81-120", "121-160", "161-200"]
    assert len({j.job_id for j in jobs}) == len(jobs)
    assert plan_jobs(subsets, [trained, baseline], [0, 1]) == jobs
    changed = Arm("spacy", "spacy", {"max_steps": 11}, True)
    assert job_id(subsets[0], changed, 0) != job_id(subsets[0], trained, 0)


def test_backend_entry_names_are_checked() -> None:
    with pytest.raises(ValueError):
        BackendEntry(name="has space", type="spacy")
