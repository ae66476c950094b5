"""The ``spacy`` backend of text classification: a blank spaCy textcat pipeline.

The pipeline comes from spaCy's quickstart config for English text classification on a CPU
(``spacy init config -p textcat``): ``architecture = "ensemble"`` (the "accuracy" config: a
bag-of-words model and a CNN over a tok2vec layer, ``spacy.TextCatEnsemble.v2``) or ``"bow"``
(the "efficiency" config: bag-of-words alone, ``spacy.TextCatBOW.v3``); static vectors are
used only when ``vectors`` names a pipeline that has them. Multi-label data use the
``textcat_multilabel`` factory with the same model, classes not exclusive. The parameters,
dotted-key ``config`` overrides and ``config_file`` are those of the NER ``spacy`` backend
(:class:`~nercurve.backends.spacy.config.SpacyParams`); a ``config_file`` must hold a component
named ``textcat``.

It trains as the NER backend does (:class:`~nercurve.backends.spacy.run.SpacyRun`: the loop
of ``spacy train``, nothing on disk, the best model kept in memory, the schedule of
:class:`~nercurve.backends.loop.ScheduleParams`), selecting on the dev set's macro-F1 by the
project's scorer (:func:`~nercurve.backends.base.dev_macro_f1`). Every training document
carries every class of the study (1.0 or 0.0), so the model knows all classes even when a
small subset lacks one.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Literal

from nercurve.backends.base import TrainResult, dev_macro_f1, require_training, validated
from nercurve.backends.spacy.config import SpacyParams
from nercurve.backends.spacy.run import SpacyRun, pipeline
from nercurve.corpus.classes import ClassScheme, doc_classes
from nercurve.corpus.model import Doc
from nercurve.errors import BackendError

COMPONENT = "textcat"


@cache
def default_config(architecture: str) -> str:
    """spaCy's quickstart textcat config for English on a CPU (``ensemble``: the accuracy
    config, ``bow``: the efficiency one), without static vectors."""
    from spacy.cli.init_config import init_config

    config = init_config(lang="en", pipeline=[COMPONENT],
                         optimize="accuracy" if architecture == "ensemble" else "efficiency",
                         gpu=False)
    embed = config["components"].get("tok2vec", {}).get("model", {}).get("embed")
    if embed is not None:
        embed["include_static_vectors"] = False
    config["paths"]["vectors"] = None  # the accuracy config names en_core_web_lg
    return config.to_str()


class TextcatParams(SpacyParams):
    """Parameters of the ``spacy`` textcat backend: those of the NER ``spacy`` backend, and
    the ``architecture`` of spaCy's default config."""

    architecture: Literal["ensemble", "bow"] = "ensemble"

    def base_config(self) -> tuple[str, str]:
        """The config text training starts from, and a name for it in messages."""
        if self.config_file is None:
            return default_config(self.architecture), (
                f"the default spaCy textcat config ({self.architecture})")
        return super().base_config()


class TextcatModel:
    """A trained spaCy text classifier."""

    def __init__(self, nlp: Any) -> None:
        self.nlp = nlp

    def predict(self, docs: Sequence[Doc]) -> list[dict[str, float]]:
        """The textcat's score for every class of each document."""
        return [dict(sdoc.cats) for sdoc in self.nlp.pipe(d.text for d in docs)]

    def uncertainty(self, docs: Sequence[Doc], measure: str) -> list[float]:
        """How unsure the classifier is of each document (``"margin"`` or ``"entropy"`` of
        its class scores; :func:`nercurve.backends.uncertainty.scores_uncertainty`)."""
        from nercurve.backends.uncertainty import scores_uncertainty

        return scores_uncertainty(self.predict(docs), measure)

    def save(self, path: Path) -> None:
        """The pipeline as a spaCy pipeline folder (``spacy.load(path)`` reads it)."""
        self.nlp.to_disk(path)


class TextcatBackend:
    """Trains a blank spaCy textcat pipeline (see the module docstring)."""

    name: ClassVar[str] = "spacy"
    Params: ClassVar[type[TextcatParams]] = TextcatParams
    #: The measures its models' ``uncertainty`` scores (uncertainty selection).
    uncertainty_measures: ClassVar[tuple[str, ...]] = ("margin", "entropy")

    def train(self, train: Sequence[Doc], dev: Sequence[Doc], params: Any, seed: int,
              scheme: ClassScheme) -> TrainResult:
        """Train on ``train`` and keep the step with the best dev macro-F1."""
        p = validated(TextcatParams, params)
        require_training(train, "spacy")
        if not dev and p.max_steps == 0:
            raise BackendError("without dev documents training stops only at max_steps, "
                               "which is 0", hint="give dev documents or set max_steps")
        gc.collect()  # free earlier runs' pipelines (they hold reference cycles)
        return _train(p, seed, train, dev, scheme)

    def load(self, path: Path) -> TextcatModel:
        """A model that :meth:`TextcatModel.save` wrote: the spaCy pipeline folder ``path``."""
        from nercurve.backends.spacy.ner import load_pipeline

        return TextcatModel(load_pipeline(path))


def _train(p: TextcatParams, seed: int, train: Sequence[Doc], dev: Sequence[Doc],
           scheme: ClassScheme) -> TrainResult:
    from spacy.training import Example

    config = p.training_config(seed)
    component = config["components"].get(COMPONENT)
    if component is None:
        raise BackendError(f"the spaCy config has no component named {COMPONENT!r}",
                           file=p.config_file, hint="name the text classifier 'textcat'")
    if scheme.multi_label and p.config_file is None:
        component["factory"] = "textcat_multilabel"
        component["threshold"] = 0.5
        component["scorer"] = {"@scorers": "spacy.textcat_multilabel_scorer.v2"}
        model = component["model"]
        (model.get("linear_model") or model)["exclusive_classes"] = False
    nlp, training = pipeline(config, seed, p.config_file)
    examples = [Example.from_dict(nlp.make_doc(d.text), {"cats": scheme.cats(doc_classes(d))})
                for d in train]
    classifier = TextcatModel(nlp)

    def score(se: bool) -> tuple[float, dict[str, float]]:
        return dev_macro_f1(scheme, dev, classifier.predict(dev), se=se)

    return SpacyRun(p, seed, nlp, training, examples, score if dev else None).train(classifier)
