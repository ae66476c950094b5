"""The ``tfidf`` backend (text classification): scikit-learn TF-IDF features and logistic
regression, the fast, strong floor that clinical classification papers report.

Words (scikit-learn's default token pattern, lower-cased) and their n-grams up to
``ngram_max`` are weighted by TF-IDF (``sublinear_tf``: 1 + log tf) on the training
documents; a logistic regression (one multinomial model for single-label data, one per class
for multi-label data) is fitted for each inverse regularization strength in ``C`` and the one
with the best dev macro-F1 is kept (the first of equals; without dev documents, the first).
``class_weight = "balanced"`` weighs each class inversely to its frequency, which suits a
macro-averaged outcome. A training subset holding a single class predicts it for every
document. Training is deterministic: the seed changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from nercurve.backends.base import (
    BackendParams,
    TrainResult,
    dev_macro_f1,
    require_training,
    validated,
)
from nercurve.corpus.classes import ClassScheme, doc_classes
from nercurve.corpus.model import Doc

#: The file a saved tfidf model is in.
FILE = "model.joblib"


class TfidfParams(BackendParams):
    """Parameters of the ``tfidf`` backend."""

    ngram_max: int = Field(2, ge=1, le=5)
    """Word n-grams from 1 to this length."""
    min_df: int = Field(1, ge=1)
    """Leave out n-grams found in fewer training documents."""
    max_features: int | None = Field(None, ge=1)
    """Keep only this many most frequent n-grams (all when unset)."""
    sublinear_tf: bool = True
    C: list[float] = Field(default_factory=lambda: [1.0, 10.0, 100.0], min_length=1)
    """Inverse regularization strengths to try; the best on the dev set is kept."""
    class_weight: Literal["balanced", "none"] = "balanced"
    max_iter: int = Field(1000, ge=1)


class TfidfModel:
    """A fitted TF-IDF + logistic regression pipeline that scores every class."""

    def __init__(self, pipeline: Any, scheme: ClassScheme, fitted: Sequence[str]) -> None:
        self.pipeline = pipeline
        self.scheme = scheme
        self.fitted = list(fitted)

    def save(self, path: Path) -> None:
        """The fitted pipeline, the classes and those it was fitted on as ``model.joblib``
        in the folder ``path`` (a pickle: load only files you trust)."""
        import joblib

        joblib.dump({"pipeline": self.pipeline, "labels": list(self.scheme.labels),
                     "multi_label": self.scheme.multi_label, "fitted": self.fitted},
                    path / FILE)

    def predict(self, docs: Sequence[Doc]) -> list[dict[str, float]]:
        """A probability per class for each document (0 for classes training never saw)."""
        texts = [d.text for d in docs]
        if len(self.fitted) == 1 and not self.scheme.multi_label:
            return [self.scheme.cats(self.fitted) for _ in texts]
        proba = self.pipeline.predict_proba(texts)
        return [{**self.scheme.cats(()), **dict(zip(self.fitted, map(float, row), strict=True))}
                for row in proba]

    def uncertainty(self, docs: Sequence[Doc], measure: str) -> list[float]:
        """How unsure the classifier is of each document (``"margin"`` or ``"entropy"`` of
        its class scores; :func:`nercurve.backends.uncertainty.scores_uncertainty`)."""
        from nercurve.backends.uncertainty import scores_uncertainty

        return scores_uncertainty(self.predict(docs), measure)


class TfidfBackend:
    """TF-IDF features and logistic regression (see the module docstring)."""

    name: ClassVar[str] = "tfidf"
    Params: ClassVar[type[TfidfParams]] = TfidfParams
    #: The measures its models' ``uncertainty`` scores (uncertainty selection).
    uncertainty_measures: ClassVar[tuple[str, ...]] = ("margin", "entropy")

    def train(self, train: Sequence[Doc], dev: Sequence[Doc], params: Any, seed: int,
              scheme: ClassScheme) -> TrainResult:
        """Fit one pipeline per ``C`` and keep the best on ``dev`` (macro-F1)."""
        p = validated(TfidfParams, params)
        require_training(train, "tfidf")
        best: tuple[float, int, TfidfModel] | None = None
        history = []
        for step, c in enumerate(p.C):
            model = _fit(train, p, c, scheme)
            if not dev:
                return TrainResult(model, steps=1, best_step=0)
            score, numbers = dev_macro_f1(scheme, dev, model.predict(dev))
            history.append({"step": float(step), "C": c, **numbers})
            if best is None or score > best[0]:
                best = (score, step, model)
        assert best is not None
        return TrainResult(best[2], steps=len(p.C), best_step=best[1], dev_f1=best[0],
                           history=history)

    def load(self, path: Path) -> TfidfModel:
        """A model that :meth:`TfidfModel.save` wrote into the folder ``path``."""
        import joblib

        from nercurve.errors import BackendError

        try:
            saved = joblib.load(path / FILE)
            scheme = ClassScheme(tuple(saved["labels"]), bool(saved["multi_label"]))
            return TfidfModel(saved["pipeline"], scheme, saved["fitted"])
        except (OSError, ValueError, KeyError, TypeError, EOFError) as err:
            raise BackendError(f"cannot read a saved tfidf model: {err}", file=path / FILE,
                               hint="give a folder that a kept tfidf model was saved in"
                               ) from None


def _fit(train: Sequence[Doc], p: TfidfParams, c: float, scheme: ClassScheme) -> TfidfModel:
    """One pipeline fitted on the training documents with regularization ``c``."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MultiLabelBinarizer

    vectorizer = TfidfVectorizer(ngram_range=(1, p.ngram_max), min_df=p.min_df,
                                 max_features=p.max_features, sublinear_tf=p.sublinear_tf)
    weight = None if p.class_weight == "none" else "balanced"
    regression = LogisticRegression(C=c, class_weight=weight, max_iter=p.max_iter)
    texts = [d.text for d in train]
    if scheme.multi_label:
        binarizer = MultiLabelBinarizer(classes=list(scheme.labels))
        targets = binarizer.fit_transform([doc_classes(d) for d in train])
        pipeline = make_pipeline(vectorizer, OneVsRestClassifier(regression))
        pipeline.fit(texts, targets)
        return TfidfModel(pipeline, scheme, scheme.labels)
    labels = [doc_classes(d)[0] for d in train]
    if len(set(labels)) == 1:
        return TfidfModel(None, scheme, labels[:1])
    pipeline = make_pipeline(vectorizer, regression)
    pipeline.fit(texts, labels)
    return TfidfModel(pipeline, scheme, [str(c) for c in pipeline.classes_])
