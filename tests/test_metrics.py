"""Entity-level scoring: hand-computed cases and cross-checks against seqeval and nervaluate."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nervaluate import Evaluator
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching
from seqeval.metrics.v1 import precision_recall_fscore_support  # the strict mode
from seqeval.scheme import IOB2

from nercurve.corpus.model import Doc, Span
from nercurve.errors import InputError
from nercurve.tasks.ner_scores import OUTSIDE, PRF, evaluate, strict_prf

TEXT = "x" * 100


def doc(doc_id: str, *spans: tuple[int, int, str], text: str = TEXT) -> Doc:
    return Doc(doc_id, text, tuple(Span(*s) for s in spans))


# --- hand-computed -----------------------------------------------------------------------


def test_hand_computed_mixed_errors() -> None:
    gold = [doc("d1", (0, 5, "PERSON"), (10, 20, "ORG"), (25, 30, "PERSON"))]
    pred = [
        doc(
            "d1",
            (0, 5, "PERSON"),  # correct
            (10, 18, "ORG"),  # boundary error
            (25, 30, "ORG"),  # label error: a PERSON called ORG
            (40, 45, "PERSON"),  # spurious
        )
    ]
    ev = evaluate(gold, pred)
    assert (ev.micro.tp, ev.micro.fp, ev.micro.fn) == (1, 3, 2)
    assert ev.micro.precision == pytest.approx(1 / 4)
    assert ev.micro.recall == pytest.approx(1 / 3)
    assert ev.micro.f1 == pytest.approx(2 / 7)
    assert ev.per_label["PERSON"] == PRF(1, 1, 1, 0.5, 0.5, 0.5)
    assert ev.per_label["ORG"] == PRF(0, 2, 1, 0.0, 0.0, 0.0)
    assert ev.macro.precision == pytest.approx(0.25)
    assert ev.macro.recall == pytest.approx(0.25)
    assert ev.macro.f1 == pytest.approx(0.25)
    # partial: PERSON 0-5 and ORG 10-20 ~ 10-18 match; the ORG at 25-30 has the wrong label
    assert (ev.partial.tp, ev.partial.fp, ev.partial.fn) == (2, 2, 1)
    assert ev.partial_per_label["ORG"].f1 == pytest.approx(2 / 3)
    assert ev.confusion == {
        "O": {"PERSON": 1},
        "ORG": {"ORG": 1},
        "PERSON": {"ORG": 1, "PERSON": 1},
    }
    assert ev.errors == {
        "correct": 1,
        "label": 1,
        "boundary": 1,
        "label_and_boundary": 0,
        "missed": 0,
        "spurious": 1,
    }
    assert ev.labels == ("ORG", "PERSON")
    assert ev.documents == 1


def test_missed_and_label_and_boundary_error() -> None:
    gold = [doc("a", (0, 10, "PERSON"), (20, 30, "ORG"))]
    pred = [doc("a", (2, 12, "ORG"))]
    ev = evaluate(gold, pred)
    assert ev.confusion == {"ORG": {"O": 1}, "PERSON": {"ORG": 1}}
    assert ev.errors["label_and_boundary"] == 1
    assert ev.errors["missed"] == 1
    assert ev.partial.tp == 0


def test_zero_division_conventions() -> None:
    empty = evaluate([doc("a")], [doc("a")])
    assert empty.micro == PRF(0, 0, 0, 0.0, 0.0, 0.0)
    assert empty.macro == PRF(0, 0, 0, 0.0, 0.0, 0.0)
    assert empty.per_label == {}
    nothing_predicted = evaluate([doc("a", (0, 3, "X"))], [doc("a")])
    assert nothing_predicted.micro == PRF(0, 0, 1, 0.0, 0.0, 0.0)
    nothing_to_find = evaluate([doc("a")], [doc("a", (0, 3, "X"))])
    assert nothing_to_find.micro == PRF(0, 1, 0, 0.0, 0.0, 0.0)


def test_spans_count_as_multisets() -> None:
    gold = [doc("a", (0, 3, "X"))]
    pred = [doc("a", (0, 3, "X"), (0, 3, "X"))]
    ev = evaluate(gold, pred)
    assert (ev.micro.tp, ev.micro.fp, ev.micro.fn) == (1, 1, 0)
    assert ev.confusion == {"O": {"X": 1}, "X": {"X": 1}}


def test_partial_is_one_to_one() -> None:
    # one long prediction covering two gold spans is credited once
    ev = evaluate([doc("a", (0, 5, "X"), (6, 10, "X"))], [doc("a", (0, 10, "X"))])
    assert (ev.partial.tp, ev.partial.fp, ev.partial.fn) == (1, 0, 1)
    # a greedy closest-boundary choice would give P1 to G2 and leave P2 unmatched;
    # the maximum matching pairs P1-G1 and P2-G2
    ev = evaluate([doc("a", (0, 5, "X"), (6, 10, "X"))], [doc("a", (4, 7, "X"), (8, 9, "X"))])
    assert (ev.partial.tp, ev.partial.fp, ev.partial.fn) == (2, 0, 0)
    assert ev.micro.tp == 0
    # the long gold span must leave the nested prediction to the nested gold span
    ev = evaluate([doc("a", (0, 10, "X"), (2, 3, "X"))], [doc("a", (2, 3, "X"), (9, 10, "X"))])
    assert (ev.partial.tp, ev.partial.fp, ev.partial.fn) == (2, 0, 0)


def test_macro_includes_labels_only_predicted() -> None:
    ev = evaluate([doc("a", (0, 3, "X"))], [doc("a", (0, 3, "X"), (5, 8, "Y"))])
    assert ev.per_label["Y"] == PRF(0, 1, 0, 0.0, 0.0, 0.0)
    assert ev.macro.f1 == pytest.approx(0.5)
    assert ev.micro.f1 == pytest.approx(2 / 3)


def test_documents_are_matched_by_id_not_order() -> None:
    gold = [doc("a", (0, 3, "X")), doc("b", (5, 9, "Y"))]
    pred = [doc("b", (5, 9, "Y")), doc("a", (0, 3, "X"))]
    assert evaluate(gold, pred).micro.f1 == 1.0


def test_missing_and_extra_documents() -> None:
    gold = [doc("a", (0, 3, "X")), doc("b", (5, 9, "X"))]
    pred = [doc("a", (0, 3, "X")), doc("c", (1, 2, "X"))]
    with pytest.raises(InputError) as info:
        evaluate(gold, pred)
    assert "'b'" in info.value.message and "'c'" in info.value.message
    assert "allow-missing" in (info.value.hint or "")
    ev = evaluate(gold, pred, allow_missing=True)
    assert ev.missing_in_pred == ("b",) and ev.missing_in_gold == ("c",)
    assert (ev.micro.tp, ev.micro.fp, ev.micro.fn) == (1, 1, 1)
    assert ev.documents == 3


def test_many_missing_ids_are_abbreviated() -> None:
    gold = [doc(f"g{i}") for i in range(12)]
    with pytest.raises(InputError, match=r"12 missing from PRED .*7 more"):
        evaluate(gold, [])


def test_duplicate_ids_and_text_mismatch_are_errors() -> None:
    with pytest.raises(InputError, match="more than once"):
        evaluate([doc("a"), doc("a")], [doc("a")])
    with pytest.raises(InputError, match="'a': its text in PRED differs from its text in GOLD"):
        evaluate([doc("a", text="abc")], [doc("a", text="abd")])
    with pytest.raises(InputError, match=r"its text in p\.jsonl differs from its text in g\.jsonl"):
        evaluate([doc("a", text="abc")], [doc("a", text="abd")], names=("g.jsonl", "p.jsonl"))


def test_strict_prf_matches_evaluate_and_checks_lengths() -> None:
    gold = [doc("a", (0, 3, "X"), (4, 6, "Y")), doc("b", (1, 2, "X"))]
    pred = [doc("a", (0, 3, "X"), (4, 7, "Y")), doc("b", (1, 2, "Y"))]
    fast = strict_prf([d.spans for d in gold], [d.spans for d in pred])
    assert fast == evaluate(gold, pred).micro
    with pytest.raises(InputError):
        strict_prf([()], [(), ()])


def test_to_dict_is_json() -> None:
    ev = evaluate([doc("a", (0, 3, "X"))], [doc("a", (0, 4, "X"))])
    data = json.loads(json.dumps(ev.to_dict()))
    assert data["micro"]["f1"] == 0.0
    assert data["partial"]["f1"] == 1.0
    assert data["confusion"] == {"X": {"X": 1}}


# --- cross-checks on randomized token-aligned inputs ------------------------------------

LABELS = ("PER", "ORG", "LOC")


@st.composite
def tagged_sentence(draw: st.DrawFn, n_tokens: int) -> list[str]:
    """A valid IOB2 tag sequence of ``n_tokens`` tags."""
    tags = ["O"] * n_tokens
    i = 0
    while i < n_tokens:
        if draw(st.booleans()):
            length = draw(st.integers(1, min(4, n_tokens - i)))
            label = draw(st.sampled_from(LABELS))
            tags[i] = f"B-{label}"
            for k in range(i + 1, i + length):
                tags[k] = f"I-{label}"
            i += length
        else:
            i += 1
    return tags


@st.composite
def gold_and_pred(draw: st.DrawFn) -> tuple[list[list[str]], list[list[str]]]:
    lengths = draw(st.lists(st.integers(1, 12), min_size=1, max_size=6))
    gold = [draw(tagged_sentence(n)) for n in lengths]
    pred = []
    for g in gold:
        # predictions: often the gold tags with some tags redrawn, sometimes independent
        if draw(st.booleans()):
            p = draw(tagged_sentence(len(g)))
        else:
            p = list(g)
            for k in draw(st.lists(st.integers(0, len(g) - 1), max_size=3)):
                p[k] = draw(st.sampled_from(["O", *(f"{b}-{lab}" for b in "BI" for lab in LABELS)]))
            p = _repair_iob2(p)
        pred.append(p)
    return gold, pred


def _repair_iob2(tags: list[str]) -> list[str]:
    """Make a dangling I- tag a B- tag, so the sequence is valid IOB2 on both sides."""
    out: list[str] = []
    for tag in tags:
        if tag.startswith("I-") and (not out or out[-1] == "O" or out[-1][2:] != tag[2:]):
            tag = "B-" + tag[2:]
        out.append(tag)
    return out


def _to_doc(doc_id: str, tags: list[str]) -> Doc:
    """Tokens "t0 t1 ..." joined by spaces, with the spans the IOB2 tags spell."""
    words = [f"t{i}" for i in range(len(tags))]
    starts = [sum(len(w) + 1 for w in words[:i]) for i in range(len(words))]
    spans = []
    i = 0
    while i < len(tags):
        if tags[i].startswith("B-"):
            j = i + 1
            while j < len(tags) and tags[j] == "I-" + tags[i][2:]:
                j += 1
            spans.append(Span(starts[i], starts[j - 1] + len(words[j - 1]), tags[i][2:]))
            i = j
        else:
            i += 1
    return Doc(doc_id, " ".join(words), tuple(spans))


def _docs(seqs: list[list[str]]) -> list[Doc]:
    return [_to_doc(f"s{i}", tags) for i, tags in enumerate(seqs)]


@settings(max_examples=150, deadline=None)
@given(gold_and_pred())
def test_strict_scores_match_seqeval(data: tuple[list[list[str]], list[list[str]]]) -> None:
    gold, pred = data
    ev = evaluate(_docs(gold), _docs(pred))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy warns when averaging over no labels
        micro, macro, per = (
            precision_recall_fscore_support(
                gold, pred, average=average, scheme=IOB2, zero_division=0
            )
            for average in ("micro", "macro", None)
        )
    p, r, f, support = per
    assert ev.micro.precision == pytest.approx(micro[0])
    assert ev.micro.recall == pytest.approx(micro[1])
    assert ev.micro.f1 == pytest.approx(micro[2])
    if ev.labels:  # seqeval averages over no labels as nan
        assert ev.macro.precision == pytest.approx(macro[0])
        assert ev.macro.recall == pytest.approx(macro[1])
        assert ev.macro.f1 == pytest.approx(macro[2])
    assert len(p) == len(ev.labels)  # seqeval lists labels sorted, as we do
    for k, label in enumerate(ev.labels):
        got = ev.per_label[label]
        assert (got.precision, got.recall, got.f1) == pytest.approx((p[k], r[k], f[k]))
        assert got.support == support[k]


@settings(max_examples=100, deadline=None)
@given(gold_and_pred())
def test_strict_scores_match_nervaluate(data: tuple[list[list[str]], list[list[str]]]) -> None:
    gold, pred = data
    ev = evaluate(_docs(gold), _docs(pred))
    result = Evaluator(gold, pred, tags=list(LABELS), loader="list").evaluate()
    overall = result["overall"]["strict"]
    assert (overall.correct, overall.actual, overall.possible) == (
        ev.micro.tp,
        ev.micro.tp + ev.micro.fp,
        ev.micro.tp + ev.micro.fn,
    )
    assert ev.micro.f1 == pytest.approx(overall.f1)
    for label, per in result["entities"].items():
        strict = per["strict"]
        assert ev.per_label[label].tp == strict.correct
        assert ev.per_label[label].precision == pytest.approx(strict.precision)
        assert ev.per_label[label].recall == pytest.approx(strict.recall)


# --- partial matching and confusion invariants on arbitrary (also overlapping) spans ----

span_st = st.builds(
    lambda s, n, lab: Span(s, s + n, lab),
    st.integers(0, 20),
    st.integers(1, 12),
    st.sampled_from(("A", "B")),
)
doc_spans = st.lists(span_st, max_size=8)


def _max_pairs(gold: tuple[Span, ...], pred: tuple[Span, ...]) -> int:
    if not gold or not pred:
        return 0
    adj = np.array([[g.label == p.label and g.overlaps(p) for p in pred] for g in gold])
    match = maximum_bipartite_matching(csr_matrix(adj.astype(int)), perm_type="column")
    return int((match >= 0).sum())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(doc_spans, doc_spans), min_size=1, max_size=4))
def test_partial_matching_is_maximum_and_confusion_adds_up(
    pairs: list[tuple[list[Span], list[Span]]],
) -> None:
    gold = [doc(f"d{i}", *[(s.start, s.end, s.label) for s in g]) for i, (g, _) in enumerate(pairs)]
    pred = [doc(f"d{i}", *[(s.start, s.end, s.label) for s in p]) for i, (_, p) in enumerate(pairs)]
    ev = evaluate(gold, pred)
    expected = sum(_max_pairs(g.spans, p.spans) for g, p in zip(gold, pred, strict=True))
    n_gold = sum(len(d.spans) for d in gold)
    n_pred = sum(len(d.spans) for d in pred)
    assert ev.partial.tp == expected
    assert ev.partial.tp + ev.partial.fn == n_gold
    assert ev.partial.tp + ev.partial.fp == n_pred
    assert ev.partial.tp >= ev.micro.tp
    assert ev.errors["correct"] == ev.micro.tp
    assert sum(ev.errors.values()) - ev.errors["spurious"] == n_gold
    assert sum(ev.errors.values()) - ev.errors["missed"] == n_pred
    for label in ev.labels:
        row = ev.confusion.get(label, {})
        assert sum(row.values()) == ev.per_label[label].support
        column = sum(r.get(label, 0) for r in ev.confusion.values())
        assert column == ev.per_label[label].tp + ev.per_label[label].fp
    assert OUTSIDE not in ev.confusion.get(OUTSIDE, {})
