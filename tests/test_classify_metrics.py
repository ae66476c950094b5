"""The class scorer: hand-computed cases, and scikit-learn's classification_report on the same
inputs; matching documents by id; deciding classes from a model's scores."""

from __future__ import annotations

import random

import pytest
from sklearn.metrics import accuracy_score, classification_report

from nercurve.corpus.classes import ClassScheme
from nercurve.corpus.model import Doc
from nercurve.errors import InputError
from nercurve.tasks.classify_scores import evaluate_classes, score_classes


def test_single_label_by_hand():
    # gold A A B C, predicted A B B A: A tp 1 fp 1 fn 1; B tp 1 fp 1 fn 0; C tp 0 fp 0 fn 1
    sc = score_classes([["A"], ["A"], ["B"], ["C"]], [["A"], ["B"], ["B"], ["A"]],
                       multi_label=False)
    assert sc.accuracy == pytest.approx(0.5)
    assert sc.per_class["A"].f1 == pytest.approx(0.5)
    assert sc.per_class["B"].f1 == pytest.approx(2 / 3)
    assert sc.per_class["C"].f1 == 0.0 and sc.per_class["C"].support == 1
    assert sc.macro.f1 == pytest.approx((0.5 + 2 / 3 + 0) / 3)
    assert sc.macro.precision == pytest.approx((0.5 + 0.5 + 0) / 3)
    assert sc.micro.f1 == pytest.approx(0.5)  # micro-F1 is accuracy in single-label data
    assert sc.confusion == {"A": {"A": 1, "B": 1, "C": 0}, "B": {"A": 0, "B": 1, "C": 0},
                            "C": {"A": 1, "B": 0, "C": 0}}
    assert sc.outcome("macro_f1") == sc.macro.f1 and sc.outcome("accuracy") == 0.5


def test_a_missing_prediction_is_a_miss_not_a_class():
    sc = score_classes([["A"], ["B"]], [["A"], []], multi_label=False)
    assert sc.labels == ("A", "B") and sc.accuracy == 0.5
    assert sc.per_class["B"].recall == 0.0 and sc.per_class["A"].precision == 1.0
    assert sc.micro.precision == 1.0 and sc.micro.recall == 0.5


def test_multi_label_by_hand():
    # doc1 {A,B} vs {A}; doc2 {B} vs {B,C}; doc3 {} vs {}
    sc = score_classes([["A", "B"], ["B"], []], [["A"], ["B", "C"], []], multi_label=True)
    assert sc.accuracy == pytest.approx(1 / 3)  # exact set matches: doc3 only
    assert sc.per_class["A"].f1 == 1.0
    assert sc.per_class["B"].f1 == pytest.approx(2 / 3)
    assert sc.per_class["C"].f1 == 0.0
    assert sc.micro.f1 == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    assert sc.samples_f1 == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)  # zero division gives 0
    assert sc.confusion["C"] == {"tp": 0, "fp": 1, "fn": 0, "tn": 2}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_sklearn_classification_report(seed):
    rng = random.Random(seed)
    labels = ["CURRENT", "PAST", "NEVER", "UNKNOWN"]
    gold = [rng.choice(labels) for _ in range(200)]
    pred = [g if rng.random() < 0.6 else rng.choice(labels[:3]) for g in gold]
    sc = score_classes([[g] for g in gold], [[p] for p in pred], multi_label=False)
    report = classification_report(gold, pred, output_dict=True, zero_division=0)
    for label in labels:
        ours, theirs = sc.per_class[label], report[label]
        assert (ours.precision, ours.recall, ours.f1) == pytest.approx(
            (theirs["precision"], theirs["recall"], theirs["f1-score"]))
        assert ours.support == theirs["support"]
    macro = report["macro avg"]
    assert (sc.macro.precision, sc.macro.recall, sc.macro.f1) == pytest.approx(
        (macro["precision"], macro["recall"], macro["f1-score"]))
    assert sc.accuracy == pytest.approx(report["accuracy"])


def test_multi_label_agrees_with_sklearn_classification_report():
    from sklearn.preprocessing import MultiLabelBinarizer

    rng = random.Random(7)
    labels = ["A", "B", "C"]
    gold = [[c for c in labels if rng.random() < 0.4] for _ in range(100)]
    pred = [[c for c in labels if (c in g) != (rng.random() < 0.2)] for g in gold]
    sc = score_classes(gold, pred, multi_label=True)
    binarizer = MultiLabelBinarizer(classes=labels)
    y_true, y_pred = binarizer.fit_transform(gold), binarizer.transform(pred)
    report = classification_report(y_true, y_pred, target_names=labels, output_dict=True,
                                   zero_division=0)
    for label in labels:
        assert sc.per_class[label].f1 == pytest.approx(report[label]["f1-score"])
    for ours, key in ((sc.macro, "macro avg"), (sc.micro, "micro avg")):
        assert ours.f1 == pytest.approx(report[key]["f1-score"])
    assert sc.samples_f1 == pytest.approx(report["samples avg"]["f1-score"])
    assert sc.accuracy == pytest.approx(accuracy_score(y_true, y_pred))


def test_evaluate_matches_documents_by_id_and_decides_from_scores():
    scheme = ClassScheme(("A", "B"), multi_label=False)
    gold = [Doc("1", "x", cats={"A": 1.0}), Doc("2", "y", cats={"B": 1.0}),
            Doc("3", "z", cats={"B": 1.0})]
    pred = [Doc("2", "y", cats={"A": 0.3, "B": 0.7}), Doc("1", "x", cats={"A": 0.9, "B": 0.1})]
    with pytest.raises(InputError, match="1 missing from PRED \\('3'\\)"):
        evaluate_classes(gold, pred, scheme)
    sc = evaluate_classes(gold, pred, scheme, allow_missing=True)
    assert sc.missing_in_pred == ("3",) and sc.accuracy == pytest.approx(2 / 3)


def test_scheme_decides_best_class_or_every_class_over_half():
    single = ClassScheme(("A", "B", "C"), multi_label=False)
    assert single.decide({"A": 0.2, "B": 0.5, "C": 0.3}) == ("B",)
    assert single.decide({"A": 0.4, "B": 0.4}) == ("A",)  # a tie goes to the first class
    multi = ClassScheme(("A", "B", "C"), multi_label=True)
    assert multi.decide({"A": 0.7, "B": 0.5, "C": 0.1}) == ("A", "B")
    assert multi.cats(["B"]) == {"A": 0.0, "B": 1.0, "C": 0.0}
