"""Simulated annotators: seeded, controlled errors, and the agreement they imply.

The synthetic check: annotators simulated from the synthetic COI corpus at a known noise
reach the agreement figures :func:`expected_agreement` derives from the injected error
rates, within a few standard errors; and the agreement counts equal exactly what the
injected-error records predict.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import replace

import pytest

from nercurve.agreement.scores import compute_agreement
from nercurve.corpus.model import Corpus, Doc, Span
from nercurve.errors import InputError
from nercurve.synthetic.annotators import ERROR_KINDS, expected_agreement, simulate_annotators
from nercurve.synthetic.coi import generate_coi

NOISE = 0.2


def _doc(i: int) -> Doc:
    """A small statement with two PERSON and two ORG entities and its own tokens."""
    text = f"Dr. Ann Lee{i} and Bo Wu received fees from Acme Inc and Zeta GmbH in 20{i:02d}."
    marks = [(f"Ann Lee{i}", "PERSON"), ("Bo Wu", "PERSON"), ("Acme Inc", "ORG"),
             ("Zeta GmbH", "ORG")]
    spans = []
    for sub, label in marks:
        start = text.index(sub)
        spans.append(Span(start, start + len(sub), label))
    tokens = tuple(m.span() for m in re.finditer(r"\w+|[^\w\s]", text))
    return Doc(f"d{i}", text, tuple(spans), sentences=((0, len(text)),), tokens=tokens)


@pytest.fixture(scope="module")
def small() -> Corpus:
    return Corpus([_doc(i) for i in range(60)], source="small")


def test_zero_noise_copies_the_gold(small: Corpus) -> None:
    for annotated in simulate_annotators(small, 2, 0.0, seed=3):
        assert [d.spans for d in annotated] == [d.spans for d in small]
        assert all(d.meta["injected_errors"] == [] for d in annotated)


def test_seeded_and_independent_of_the_number_of_annotators(small: Corpus) -> None:
    two = simulate_annotators(small, 2, NOISE, seed=5)
    three = simulate_annotators(small, 3, NOISE, seed=5)
    again = simulate_annotators(small, 2, NOISE, seed=5)
    other = simulate_annotators(small, 2, NOISE, seed=6)
    spans = [[d.spans for d in c] for c in two]
    assert spans == [[d.spans for d in c] for c in again]
    assert spans == [[d.spans for d in c] for c in three[:2]]
    assert spans != [[d.spans for d in c] for c in other]
    assert spans[0] != spans[1]  # annotators err independently
    assert [d.meta["annotator"] for d in three[2]][:1] == ["C"]


def test_error_records_rebuild_the_annotation(small: Corpus) -> None:
    labels = set(small.labels())
    for annotated in simulate_annotators(small, 2, 0.5, seed=1):
        for gold, d in zip(small, annotated, strict=True):
            spans = set(gold.spans)
            for rec in d.meta["injected_errors"]:
                g = Span(*rec["gold"])
                new = Span(*rec["span"]) if rec["span"] else None
                if rec["kind"] == "spurious":
                    assert new is not None and not any(new.overlaps(s) for s in gold.spans)
                    spans.add(new)
                    continue
                spans.remove(g)
                if rec["kind"] == "boundary":
                    assert new is not None and new.label == g.label and new.overlaps(g)
                    assert (new.start, new.end) != (g.start, g.end)
                    assert not d.text[new.start].isspace()
                    assert not d.text[new.end - 1].isspace()
                if rec["kind"] == "type":
                    assert new is not None and (new.start, new.end) == (g.start, g.end)
                    assert new.label in labels - {g.label}
                if new is not None:
                    spans.add(new)
            assert tuple(sorted(spans)) == d.spans
            assert all(0 <= s.start < s.end <= len(d.text) for s in d.spans)
            assert not any(x.overlaps(y) for x, y in zip(d.spans, d.spans[1:], strict=False))


def test_error_rate_and_mix_follow_noise(small: Corpus) -> None:
    gold_entities = sum(len(d.spans) for d in small)  # 240
    kinds: Counter[str] = Counter()
    annotators = simulate_annotators(small, 4, NOISE, seed=2)
    for annotated in annotators:
        kinds.update(r["kind"] for d in annotated for r in d.meta["injected_errors"])
    trials = 4 * gold_entities  # 960 entity copies, each erring with probability 0.2
    sd = math.sqrt(trials * NOISE * (1 - NOISE))  # binomial standard deviation, ~12.4
    assert abs(sum(kinds.values()) - trials * NOISE) < 4 * sd
    per_kind = trials * NOISE / 4  # every kind applies to these entities: 48 each
    sd_kind = math.sqrt(trials * NOISE / 4 * (1 - NOISE / 4))
    for kind in ERROR_KINDS:
        assert abs(kinds[kind] - per_kind) < 4 * sd_kind, kinds


def test_kinds_can_be_restricted(small: Corpus) -> None:
    (annotated,) = simulate_annotators(small, 1, 0.5, seed=0, kinds=("type",))
    kinds = {r["kind"] for d in annotated for r in d.meta["injected_errors"]}
    assert kinds == {"type"}
    assert [[(s.start, s.end) for s in d.spans] for d in annotated] == [
        [(s.start, s.end) for s in d.spans] for d in small
    ]


def test_single_label_corpus_gets_no_type_errors(small: Corpus) -> None:
    one = Corpus([d.with_spans([Span(s.start, s.end, "E") for s in d.spans]) for d in small])
    (annotated,) = simulate_annotators(one, 1, 1.0, seed=0)
    kinds = Counter(r["kind"] for d in annotated for r in d.meta["injected_errors"])
    assert kinds["type"] == 0 and sum(kinds.values()) == 240  # noise 1: every entity errs


@pytest.mark.parametrize(
    ("n", "noise", "seed", "kinds"),
    [(0, 0.1, 0, ERROR_KINDS), (2, 1.5, 0, ERROR_KINDS), (2, -0.1, 0, ERROR_KINDS),
     (2, 0.1, -1, ERROR_KINDS), (2, 0.1, 0, ("typo",)), (2, 0.1, 0, ())],
)
def test_bad_arguments_are_input_errors(small: Corpus, n: int, noise: float, seed: int,
                                        kinds: tuple[str, ...]) -> None:
    with pytest.raises(InputError) as err:
        simulate_annotators(small, n, noise, seed, kinds=kinds)
    assert err.value.hint


def test_expected_agreement_hand_worked() -> None:
    # noise 0.2 over four kinds: 0.05 each; two labels in equal shares
    # c = 1 - .05*3 = .85; n = 1 - .05 + .05 = 1
    # f1_exact = .85^2 + .05^2 / 1 = .725; f1_boundary = .9^2 = .81; overlap = .95^2
    # boundary agreement = .81 / (2 - .81); t = .05 / .9 = 1/18
    # po = 1 - 2 (1/18)(17/18) = 290/324; pe = .5 -> kappa = (290/324 - .5) / .5
    e = expected_agreement(0.2, {"PERSON": 1, "ORG": 1})
    assert e["f1_exact"] == pytest.approx(0.725)
    assert e["f1_boundary"] == pytest.approx(0.81)
    assert e["f1_overlap"] == pytest.approx(0.9025)
    assert e["boundary_agreement"] == pytest.approx(0.81 / 1.19)
    assert e["type_agreement"] == pytest.approx(290 / 324)
    assert e["type_kappa"] == pytest.approx((290 / 324 - 0.5) / 0.5)


@pytest.fixture(scope="module")
def coi_pair() -> tuple[Corpus, list[Corpus]]:
    # word/punctuation tokens given here spare loading spaCy (its tokens would do as well)
    gold = Corpus([
        replace(d, sentences=((0, len(d.text)),),
                tokens=tuple(m.span() for m in re.finditer(r"\w+|[^\w\s]", d.text)))
        for d in generate_coi(300, seed=0)
    ])
    return gold, simulate_annotators(gold, 2, NOISE, seed=11)


def test_synthetic_check_agreement_matches_injected_rates(
    coi_pair: tuple[Corpus, list[Corpus]],
) -> None:
    gold, annotators = coi_pair
    shares = Counter(s.label for d in gold for s in d.spans)
    n = sum(shares.values())  # ~3,000 gold entities
    expected = expected_agreement(NOISE, shares)
    s = compute_agreement(annotators).pairs[0].overall
    measured = {
        "f1_exact": s.f1_exact,
        "f1_boundary": s.f1_boundary,
        "f1_overlap": s.f1_overlap,
        "boundary_agreement": s.boundary_agreement,
        "type_agreement": s.type_agreement,
        "type_kappa": s.type_kappa,
    }
    for key, value in measured.items():
        # each figure is about a share over n independent entities (type figures over
        # the ~0.8 n boundary-matched ones; kappa's error is about twice its share's):
        # tolerance 4 standard errors of such a share, doubled for kappa
        p = expected[key]
        units = 0.8 * n if key.startswith("type") else n
        tolerance = 4 * math.sqrt(max(p * (1 - p), 0.05) / units)
        if key == "type_kappa":
            tolerance *= 2
        assert value == pytest.approx(p, abs=tolerance), (key, value, p, tolerance)


def _state(annotated: Corpus) -> tuple[dict, set]:
    """Per gold span, what the annotator did to it; and its spurious spans."""
    changed, spurious = {}, set()
    for d in annotated:
        for rec in d.meta["injected_errors"]:
            new = Span(*rec["span"]) if rec["span"] else None
            if rec["kind"] == "spurious":
                spurious.add((d.id, new))
            else:
                changed[(d.id, Span(*rec["gold"]))] = new
    return changed, spurious


def test_synthetic_check_counts_equal_what_the_records_predict(
    coi_pair: tuple[Corpus, list[Corpus]],
) -> None:
    gold, (a, b) = coi_pair
    changed_a, spurious_a = _state(a)
    changed_b, spurious_b = _state(b)
    exact = boundary = 0
    for d in gold:
        for g in d.spans:
            key = (d.id, g)
            sa, sb = changed_a.get(key, g), changed_b.get(key, g)
            if sa is None or sb is None:
                continue
            exact += sa == sb
            boundary += (sa.start, sa.end) == (sb.start, sb.end)
    # spurious spans lie outside every gold span, so they can only meet each other
    exact += len(spurious_a & spurious_b)
    boundary += len({(i, s.start, s.end) for i, s in spurious_a}
                    & {(i, s.start, s.end) for i, s in spurious_b})
    s = compute_agreement([a, b]).pairs[0].overall
    assert s.mentions_matched == boundary
    assert s.f1_exact == pytest.approx(2 * exact / (s.n_a + s.n_b))
