"""Inter-annotator agreement against hand-worked examples.

Documents carry their own tokens (a word/punctuation split) and one sentence, so these
tests need no spaCy model.
"""

from __future__ import annotations

import pytest
from marked_docs import doc
from scipy.stats import f as f_dist

from nercurve.agreement.aligned import align, annotator_names
from nercurve.agreement.icc import ICC_FORM, count_icc
from nercurve.agreement.kappa import cohen_kappa, fleiss, krippendorff_nominal
from nercurve.agreement.scores import compute_agreement
from nercurve.agreement.tokens import token_pieces
from nercurve.corpus.model import Corpus, Doc, Span
from nercurve.errors import InputError

TEXT = "Alice Smith met Bob Jones at Acme Corp and Zed Inc in Paris."


@pytest.fixture(scope="module")
def two() -> tuple[Corpus, Corpus]:
    a = Corpus([doc("d1", TEXT, ("Alice Smith", "PERSON"), ("Bob Jones", "PERSON"),
                    ("Acme Corp", "ORG"), ("Zed Inc", "ORG"))], source="a.jsonl")
    b = Corpus([doc("d1", TEXT, ("Alice Smith", "PERSON"), ("Bob", "PERSON"),
                    ("Acme Corp", "PERSON"), ("Paris", "ORG"))], source="b.jsonl")
    return a, b


def test_pairwise_overall_hand_worked(two: tuple[Corpus, Corpus]) -> None:
    report = compute_agreement(two)
    s = report.pairs[0].overall
    assert (report.pairs[0].a, report.pairs[0].b) == ("A", "B")
    assert (s.n_a, s.n_b) == (4, 4)
    # exact: only Alice Smith matches on both sides -> R = P = 1/4 -> F1 = 0.25
    assert s.f1_exact == pytest.approx(0.25)
    # boundaries: A's Alice Smith and Acme Corp have B spans with the same offsets (2/4);
    # B's Alice Smith and Acme Corp likewise (2/4) -> F1 = 0.5
    assert s.f1_boundary == pytest.approx(0.5)
    # overlap: every span but A's Zed Inc and B's Paris touches one of the other side's
    # -> R = P = 3/4 -> F1 = 0.75
    assert s.f1_overlap == pytest.approx(0.75)
    # mentions (distinct offsets either marked): Alice Smith, Bob Jones, Bob, Acme Corp,
    # Zed Inc, Paris = 6, of which both marked 2 -> 1/3
    assert (s.mentions, s.mentions_matched) == (6, 2)
    assert s.boundary_agreement == pytest.approx(1 / 3)
    # type on the 2 boundary-matched mentions: (PERSON, PERSON), (ORG, PERSON):
    # po = 1/2; marginals A: PERSON 1/2, ORG 1/2; B: PERSON 1 -> pe = 1/2 -> kappa = 0
    assert s.type_units == 2
    assert s.type_agreement == pytest.approx(0.5)
    assert s.type_kappa == pytest.approx(0.0)


def test_pairwise_per_label_hand_worked(two: tuple[Corpus, Corpus]) -> None:
    per = compute_agreement(two).pairs[0].per_label
    person, org = per["PERSON"], per["ORG"]
    # PERSON: A has Alice Smith, Bob Jones (2); B has Alice Smith, Bob, Acme Corp (3).
    assert (person.n_a, person.n_b) == (2, 3)
    # exact: R = 1/2, P = 1/3 -> F1 = 2 (1/6) / (5/6) = 0.4
    assert person.f1_exact == pytest.approx(0.4)
    # boundaries: A side 1/2 (Alice Smith); B side 2/3 (Alice Smith, and Acme Corp whose
    # offsets A marked as ORG) -> F1 = 2 (1/3) / (7/6) = 4/7
    assert person.f1_boundary == pytest.approx(4 / 7)
    assert person.f1_overlap == pytest.approx(1.0)
    # mentions labelled PERSON by either: Alice Smith, Bob Jones, Bob, Acme Corp;
    # both marked Alice Smith and Acme Corp -> 1/2
    assert person.boundary_agreement == pytest.approx(0.5)
    # type: matched mentions with PERSON on either side: both; agreeing: Alice -> 1/2
    assert person.type_agreement == pytest.approx(0.5)
    # ORG: A has Acme Corp, Zed Inc; B has Paris: no exact, B side 0 -> F1 0
    assert (org.n_a, org.n_b, org.f1_exact, org.f1_boundary) == (2, 1, 0.0, 0.0)
    # mentions: Acme Corp, Zed Inc, Paris; both marked Acme Corp -> 1/3
    assert org.boundary_agreement == pytest.approx(1 / 3)
    # the one matched mention with ORG on a side (Acme Corp) has ORG vs PERSON -> 0
    assert (org.type_units, org.type_agreement) == (1, 0.0)


def test_token_bio_kappa_hand_worked() -> None:
    text = "Alice Smith met Bob Jones"
    a = Corpus([doc("d", text, ("Alice Smith", "PERSON"), ("Bob Jones", "PERSON"))])
    b = Corpus([doc("d", text, ("Alice Smith", "PERSON"), ("Bob", "PERSON"))])
    s = compute_agreement([a, b]).pairs[0].overall
    # tags A: B I O B I; B: B I O B O -> 4 of 5 agree
    # pe = (2*2 [B] + 2*1 [I] + 1*2 [O]) / 25 = 8/25; kappa = (4/5 - 8/25) / (17/25) = 12/17
    assert s.tokens == 5
    assert s.token_agreement == pytest.approx(0.8)
    assert s.token_kappa == pytest.approx(12 / 17)


def test_character_shift_splits_tokens() -> None:
    text = "Alice Smith met Bob"
    a = Corpus([doc("d", text, ("Alice Smith", "PERSON"))])
    b = Corpus([doc("d", text, ("Alice Smit", "PERSON"))])
    # "Smith" is cut at B's end: pieces Alice | Smit | h | met | Bob
    assert token_pieces(a[0], {0, 10, 11}) == [(0, 5), (6, 10), (10, 11), (12, 15), (16, 19)]
    s = compute_agreement([a, b]).pairs[0].overall
    # A: B I I O O; B: B I O O O -> 4/5 agree; the one-character miss is visible
    assert s.tokens == 5
    assert s.token_agreement == pytest.approx(0.8)
    assert s.f1_overlap == 1.0 and s.f1_boundary == 0.0


def test_type_kappa_on_ten_mentions() -> None:
    text = " ".join(f"w{i}" for i in range(10))
    labels_a = ["P"] * 6 + ["O"] * 4
    labels_b = ["P"] * 5 + ["O"] * 4 + ["P"]
    a = Corpus([doc("d", text, *((f"w{i}", lab) for i, lab in enumerate(labels_a)))])
    b = Corpus([doc("d", text, *((f"w{i}", lab) for i, lab in enumerate(labels_b)))])
    s = compute_agreement([a, b]).pairs[0].overall
    # po = 8/10; both annotators give P 6/10, O 4/10 -> pe = .36 + .16 = .52
    # kappa = (.8 - .52) / .48 = 7/12
    assert s.type_units == 10
    assert s.type_agreement == pytest.approx(0.8)
    assert s.type_kappa == pytest.approx(7 / 12)
    assert s.f1_boundary == 1.0
    assert s.f1_exact == pytest.approx(0.8)


def test_kappa_undefined_with_one_category() -> None:
    assert cohen_kappa(["X", "X"], ["X", "X"]) is None
    assert cohen_kappa([], []) is None
    assert fleiss([["X", "X", "X"]]) is None
    assert krippendorff_nominal([["X", None, "X"]]) is None


def test_fleiss_and_krippendorff_hand_worked() -> None:
    units = [["P", "P", "P"], ["P", "P", "O"], ["O", "O", "O"], ["P", "O", "O"]]
    # Fleiss: per-unit agreement 1, 1/3, 1, 1/3 -> mean 2/3; P and O each 6/12 -> pe 1/2
    # kappa = (2/3 - 1/2) / (1/2) = 1/3
    assert fleiss(units) == pytest.approx(1 / 3)
    # Krippendorff (nominal): coincidences o_PP = 4, o_OO = 4, o_PO = o_OP = 2, n = 12,
    # n_P = n_O = 6; D_o = 4/12; D_e = 2*6*6 / (12*11) = 6/11 -> alpha = 1 - 11/18 = 7/18
    assert krippendorff_nominal(units) == pytest.approx(7 / 18)
    # a unit with a single rating cannot be paired and changes nothing
    assert krippendorff_nominal([*units, ["P", None, None]]) == pytest.approx(7 / 18)


def test_three_annotators_multi_scores() -> None:
    text = "u1 u2 u3 u4 u5"
    rows = [["P", "P", "P"], ["P", "P", "O"], ["O", "O", "O"], ["P", "O", "O"]]
    corpora = []
    for j in range(3):
        marks = [(f"u{i + 1}", row[j]) for i, row in enumerate(rows)]
        if j == 0:
            marks.append(("u5", "P"))  # only A marks u5
        corpora.append(Corpus([doc("d", text, *marks)]))
    report = compute_agreement(corpora)
    assert report.annotators == ("A", "B", "C")
    assert [(p.a, p.b) for p in report.pairs] == [("A", "B"), ("A", "C"), ("B", "C")]
    m = report.multi
    assert m is not None
    assert (m.type_units_all, m.type_units_any2) == (4, 4)
    assert m.fleiss_kappa == pytest.approx(1 / 3)  # as in the hand-worked example above
    assert m.krippendorff_alpha == pytest.approx(7 / 18)
    # one-vs-rest for P is the same two-category problem
    assert report.multi_per_label["P"].fleiss_kappa == pytest.approx(1 / 3)


def test_two_annotators_have_no_multi_scores(two: tuple[Corpus, Corpus]) -> None:
    report = compute_agreement(two)
    assert report.multi is None and report.multi_per_label == {}


def _count_corpus(counts: list[int]) -> Corpus:
    docs = []
    for i, c in enumerate(counts):
        text = " ".join(f"t{k}" for k in range(6))
        docs.append(doc(f"d{i}", text, *((f"t{k}", "E") for k in range(c))))
    return Corpus(docs)


def test_icc_hand_worked() -> None:
    a, b = _count_corpus([1, 2, 3, 4]), _count_corpus([2, 2, 4, 5])
    icc = count_icc(align([a, b]))
    # n = 4 documents, k = 2 annotators; grand mean 23/8
    # SSR = 2 * sum((row mean - 23/8)^2) = 11.375 -> MSR = 11.375 / 3
    # SSC = 4 * (0.375^2 * 2) = 1.125 -> MSC = 1.125
    # SST = 12.875 -> SSE = 0.375 -> MSE = 0.375 / 3 = 0.125
    # ICC(A,1) = (MSR - MSE) / (MSR + (k-1) MSE + k (MSC - MSE) / n) = 44/53
    msr, msc, mse, n, k = 11.375 / 3, 1.125, 0.125, 4, 2
    assert icc.form == ICC_FORM == "ICC(A,1)"
    assert icc.icc == pytest.approx(44 / 53)
    assert icc.mean_count == {"A": 2.5, "B": 3.25}
    # 95% CI of McGraw & Wong (1996), case 2A, from the same mean squares
    r = 44 / 53
    fj = msc / mse
    v = ((k - 1) * (n - 1) * (k * r * fj + n * (1 + (k - 1) * r) - k * r) ** 2) / (
        (n - 1) * k**2 * r**2 * fj**2 + (n * (1 + (k - 1) * r) - k * r) ** 2
    )
    fu, fl = f_dist.ppf(0.975, n - 1, v), f_dist.ppf(0.975, v, n - 1)
    low = n * (msr - fu * mse) / (fu * (k * msc + (k * n - k - n) * mse) + n * msr)
    high = n * (fl * msr - mse) / (k * msc + (k * n - k - n) * mse + n * fl * msr)
    assert icc.ci_low == pytest.approx(low, rel=1e-9)  # not rounded to 2 decimals
    assert icc.ci_high == pytest.approx(high, rel=1e-9)


def test_icc_undefined_when_counts_never_vary_or_too_few_documents() -> None:
    a, b = _count_corpus([2, 2, 2]), _count_corpus([2, 2, 2])
    icc = count_icc(align([a, b]))
    assert icc.icc is None and icc.ci_low is None and icc.n_docs == 3
    icc = count_icc(align([_count_corpus([1, 2]), _count_corpus([1, 3])]))
    assert icc.icc is None and icc.n_docs == 2


def test_identical_annotations_agree_perfectly(two: tuple[Corpus, Corpus]) -> None:
    a = two[0]
    s = compute_agreement([a, a]).pairs[0].overall
    assert (s.f1_exact, s.f1_boundary, s.f1_overlap, s.boundary_agreement) == (1, 1, 1, 1)
    assert s.token_kappa == pytest.approx(1.0) and s.type_kappa == pytest.approx(1.0)
    assert compute_agreement([a, a]).disagreements == ()


def test_same_id_different_text_is_an_error() -> None:
    a = Corpus([doc("d1", "Alice met Bob.")], source="a.jsonl")
    b = Corpus([doc("d1", "Alice met Bob!")], source="b.jsonl")
    with pytest.raises(InputError) as err:
        compute_agreement([a, b])
    assert err.value.file == "b.jsonl"
    assert "'d1'" in err.value.message and "character 13" in err.value.message
    assert err.value.hint


def test_missing_documents_error_or_left_out() -> None:
    a = Corpus([doc("d1", "x"), doc("d2", "y")], source="a.jsonl")
    b = Corpus([doc("d1", "x")], source="b.jsonl")
    with pytest.raises(InputError) as err:
        align([a, b])
    # the error names the file that lacks the document, and the one that has it
    assert err.value.file == "b.jsonl" and "--allow-missing" in (err.value.hint or "")
    assert "lacks 1 document(s) that annotation A (a.jsonl) has (first: 'd2')" in str(err.value)
    aligned = align([a, b], allow_missing=True)
    assert aligned.ids == ("d1",) and aligned.left_out == {"A": 1}


def test_overlapping_spans_in_one_annotation_are_an_error() -> None:
    bad = Doc("d1", "Acme Corp", (Span(0, 4, "ORG"), Span(0, 9, "ORG")))
    with pytest.raises(InputError) as err:
        align([Corpus([bad], source="a.jsonl"), Corpus([doc("d1", "Acme Corp")])])
    assert err.value.file == "a.jsonl" and "--overlap" in (err.value.hint or "")


def test_one_annotation_is_not_enough() -> None:
    with pytest.raises(InputError):
        align([Corpus([doc("d1", "x")])])


def test_annotator_names() -> None:
    assert annotator_names(3) == ["A", "B", "C"]
    assert annotator_names(28)[25:] == ["Z", "AA", "AB"]


def test_report_dict_is_json_ready(two: tuple[Corpus, Corpus]) -> None:
    import json

    data = json.loads(json.dumps(compute_agreement(two).to_dict()))
    assert data["annotators"] == {"A": "a.jsonl", "B": "b.jsonl"}
    assert data["pairs"][0]["overall"]["f1_exact"] == pytest.approx(0.25)
    assert data["disagreements"] == 4
    assert data["disagreement_kinds"] == {"boundary": 1, "type": 1, "missing": 2}
    assert "two-way random" in data["icc_form"]
