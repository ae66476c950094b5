"""The ``spacy`` backend: a blank spaCy tok2vec + ner pipeline trained in-process.

The pipeline is built from spaCy's quickstart config for English NER ("efficiency",
CPU; see :mod:`nercurve.backends.spacy.config`) or from the user's own
``config.cfg``, with dotted-key overrides. It trains as :class:`~nercurve.backends.spacy.run.
SpacyRun` does (the loop of ``spacy train``, nothing on disk, the best model kept in memory,
the schedule of :class:`~nercurve.backends.loop.ScheduleParams`), selecting on the dev set
scored with the project's strict scorer (:func:`nercurve.tasks.ner_scores.strict_prf`) on
the original character spans.

Dev documents drive model selection only. An empty dev set means no early stopping:
training runs ``max_steps`` steps and keeps the last model.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from nercurve.backends.base import (
    BackendParams,
    TrainResult,
    dev_strict_f1,
    require_training,
    validated,
)
from nercurve.backends.spacy.config import SpacyParams
from nercurve.backends.spacy.docs import SpacyModel, examples, predict_tokenized
from nercurve.backends.spacy.run import SpacyRun, pipeline
from nercurve.corpus.model import Doc
from nercurve.errors import BackendError
from nercurve.tasks.ner_scores import corpus_labels


class SpacyBackend:
    """Trains a blank spaCy NER pipeline on the training documents (see the module doc)."""

    name: ClassVar[str] = "spacy"
    Params: ClassVar[type[BackendParams]] = SpacyParams
    #: The measures its models' ``uncertainty`` scores (uncertainty selection).
    uncertainty_measures: ClassVar[tuple[str, ...]] = ("least_confidence", "entropy")

    def train(
        self, train: Sequence[Doc], dev: Sequence[Doc], params: Any, seed: int
    ) -> TrainResult:
        """Train on ``train``, select the best step on ``dev``; see the module docstring."""
        run, model = self.run(train, dev, params, seed)
        return run.train(model)

    def run(self, train: Sequence[Doc], dev: Sequence[Doc], params: Any,
            seed: int) -> tuple[SpacyRun, SpacyModel]:
        """The training run of :meth:`train`, not yet started, and the model that wraps its
        pipeline (``bench/schedules.py`` follows one run under several schedules)."""
        params = validated(SpacyParams, params)
        require_training(train, "spacy")
        if not 0 <= seed < 2**32:
            raise BackendError(f"seed {seed} is out of range", hint="use 0 <= seed < 2**32")
        if not dev and params.max_steps == 0:
            raise BackendError(
                "without dev documents training stops only at max_steps, which is 0",
                hint="give dev documents or set max_steps",
            )
        if params.vectors is not None:
            _require_vectors(params.vectors)
        # spaCy pipelines hold reference cycles: free earlier runs' models now, so that a
        # long-lived worker's memory stays flat (about 0.1 s)
        gc.collect()
        nlp, training = pipeline(params.training_config(seed), seed, params.config_file)
        train_examples, alignment = examples(nlp, train)
        dev_sdocs = [nlp.make_doc(d.text) for d in dev]
        gold = [d.spans for d in dev]
        own = corpus_labels(dev)

        def score(se: bool) -> tuple[float, dict[str, float]]:
            return dev_strict_f1(gold, predict_tokenized(nlp, [d.copy() for d in dev_sdocs]),
                                 se=se, labels=own)

        run = SpacyRun(params, seed, nlp, training, train_examples, score if dev else None)
        return run, SpacyModel(nlp, alignment=alignment)

    def load(self, path: Path) -> SpacyModel:
        """A model that :meth:`SpacyModel.save` wrote: the spaCy pipeline folder ``path``."""
        return SpacyModel(load_pipeline(path))


def load_pipeline(path: Path) -> Any:
    """The spaCy pipeline saved in the folder ``path``; one spaCy cannot read is a
    :class:`BackendError` naming it."""
    import spacy

    try:
        return spacy.load(path)
    except (OSError, ValueError) as err:
        raise BackendError(f"cannot load the spaCy pipeline: {err}", file=path,
                           hint="give a folder that a kept spacy model was saved in") from None


def _require_vectors(name: str) -> None:
    """Raise :class:`BackendError` if the pipeline ``name`` ships no static vectors."""
    import spacy

    try:
        path = spacy.util.get_package_path(name) if spacy.util.is_package(name) else name
        meta = spacy.util.get_model_meta(path)
    except (OSError, ValueError) as err:
        raise BackendError(f"cannot read the spaCy pipeline {name!r}: {err}") from None
    info = meta.get("vectors") or {}
    if not (info.get("vectors") or info.get("keys")):
        raise BackendError(
            f"the spaCy pipeline {name!r} has no static word vectors (its meta.json lists none)",
            hint="small pipelines such as en_core_web_sm ship none; use a md/lg pipeline "
            "(e.g. en_core_web_md) or leave `vectors` unset",
        )
