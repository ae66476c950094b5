"""The ``spacy`` backend: a blank spaCy tok2vec + ner pipeline trained in-process.

The pipeline is built from spaCy's quickstart config for English NER ("efficiency",
CPU; see :mod:`nercurve.backends.spacy.config`) or from the user's own
``config.cfg``, with dotted-key overrides. The optimizer, batcher and dropout are the
ones that config defines, built by spaCy's registry, and the loop follows
``spacy train`` step for step (same seeding, shuffling, batching, evaluation
schedule, early stopping and tie rule) with three differences that make it fast and
keep it honest: nothing touches the disk, the dev set is scored with the project's
strict scorer (:func:`nercurve.tasks.ner_scores.strict_prf`) on the original character spans,
and the best model is kept in memory as a byte snapshot. The loop is a generator of
progress records (:meth:`_Run.steps`) that :func:`nercurve.backends.loop.follow` drives.

Dev documents drive model selection only. An empty dev set means no early stopping:
training runs ``max_steps`` steps and keeps the last model.

The schedule may scale with the data (:class:`~nercurve.backends.loop.ScheduleParams`:
``eval_every_epochs``, ``patience_epochs``, ``min_eval_steps``, ``eval_schedule``, ``stop``).
A pass over the training subset is as many steps as a fresh copy of the run's batcher makes
batches of the training examples in their stored order: the first pass's length, since
spaCy's batches (sized in words, compounding from ``batch_start`` to ``batch_stop``) grow as
training goes, so later passes take fewer steps. Counting does not touch the run's own
batcher or random state.
"""

from __future__ import annotations

import gc
import hashlib
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import replace
from typing import Any, ClassVar

from pydantic import Field, model_validator

from nercurve.backends.base import (
    SE_KEY,
    BackendParams,
    TrainResult,
    dev_strict_f1,
    require_training,
    validated,
)
from nercurve.backends.loop import (
    STUDY_SCHEDULE,
    Cadence,
    Progress,
    ScheduleParams,
    cadence,
    follow,
)
from nercurve.backends.spacy.config import (
    DEFAULT_CONFIG,
    build_config,
    check_overrides,
    parse_config,
    read_config_file,
    require_pipeline,
)
from nercurve.backends.spacy.docs import SpacyModel, examples, predict_tokenized
from nercurve.corpus.model import Doc
from nercurve.errors import BackendError

_STATIC_VECTORS_KEY = "components.tok2vec.model.embed.include_static_vectors"


class SpacyParams(ScheduleParams):
    """Parameters of the ``spacy`` backend; the schedule defaults are spaCy's own.

    ``config_file`` replaces the built-in quickstart config with a full ``config.cfg``
    (its SHA-256 is recorded in ``config_file_sha256``, so editing the file makes new
    jobs instead of silently mixing results). ``config`` overrides existing keys by
    dotted name, e.g. ``{"components.tok2vec.model.encode.width": 128}``; keys that a
    parameter below controls, the seed, and the data sections are refused.
    ``patience = 0`` disables early stopping and ``max_steps = 0`` the step limit (not
    both). ``eval_frequency`` and ``patience`` may scale with the data instead (the
    schedule parameters of :class:`~nercurve.backends.loop.ScheduleParams`: they are then
    the ceilings). The batch size, in words, follows spaCy's compounding schedule from
    ``batch_start`` to ``batch_stop``. ``vectors`` names an installed spaCy pipeline (or
    a pipeline folder) whose static word vectors the embedding layer also reads.
    """

    config_file: str | None = None
    config_file_sha256: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    learn_rate: float = Field(0.001, gt=0)
    beta1: float = Field(0.9, ge=0, lt=1)
    beta2: float = Field(0.999, ge=0, lt=1)
    dropout: float = Field(0.1, ge=0, lt=1)
    eval_frequency: int = Field(200, ge=1)
    patience: int = Field(1600, ge=0)
    max_steps: int = Field(20000, ge=0)
    batch_start: int = Field(100, ge=1)
    batch_stop: int = Field(1000, ge=1)
    batch_compound: float = Field(1.001, ge=1)
    vectors: str | None = Field(None, min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _hash_config_file(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not data.get("config_file"):
            return data
        digest = hashlib.sha256(read_config_file(str(data["config_file"])).encode()).hexdigest()
        recorded = data.get("config_file_sha256")
        if recorded is not None and recorded != digest:
            raise ValueError(
                f"config_file {data['config_file']!r} changed since these parameters were "
                f"recorded (sha256 {recorded[:12]}…, now {digest[:12]}…); restore it or "
                "start a new study"
            )
        return {**data, "config_file_sha256": digest}

    @model_validator(mode="after")
    def _check(self) -> SpacyParams:
        if self.config_file is None and self.config_file_sha256 is not None:
            raise ValueError("config_file_sha256 is set but config_file is not")
        if self.patience == 0 and self.max_steps == 0:
            raise ValueError("patience = 0 and max_steps = 0 would never stop; set one")
        if self.batch_stop < self.batch_start:
            raise ValueError("batch_stop must be at least batch_start")
        text, source = self.base_config()
        check_overrides(parse_config(text, source), self.config, source)
        if self.vectors is not None:
            require_pipeline(self.vectors, "vectors")
        return self

    def base_config(self) -> tuple[str, str]:
        """The config text training starts from, and a name for it in messages."""
        if self.config_file is None:
            return DEFAULT_CONFIG, "the default spaCy NER config"
        return read_config_file(self.config_file), f"config_file {self.config_file!r}"

    def training_config(self, seed: int) -> Any:
        """The complete (not interpolated) spaCy config of one run with ``seed``."""
        text, source = self.base_config()
        settings: dict[str, Any] = {
            "system.seed": seed,
            "training.seed": seed,
            "training.optimizer.learn_rate": self.learn_rate,
            "training.optimizer.beta1": self.beta1,
            "training.optimizer.beta2": self.beta2,
            "training.dropout": self.dropout,
            "training.eval_frequency": self.eval_frequency,
            "training.patience": self.patience,
            "training.max_steps": self.max_steps,
            "training.batcher.size": {
                "@schedules": "compounding.v1",
                "start": self.batch_start,
                "stop": self.batch_stop,
                "compound": self.batch_compound,
                "t": 0.0,
            },
        }
        if self.vectors is not None:
            settings["initialize.vectors"] = self.vectors
            settings[_STATIC_VECTORS_KEY] = True
        try:
            return build_config(text, source, self.config, settings)
        except ValueError as err:
            raise BackendError(str(err), file=self.config_file) from None


class SpacyBackend:
    """Trains a blank spaCy NER pipeline on the training documents (see the module doc)."""

    name: ClassVar[str] = "spacy"
    Params: ClassVar[type[BackendParams]] = SpacyParams
    #: What a new study arm starts from (``init-study``, ``plan``, the demo).
    study_defaults: ClassVar[dict[str, Any]] = STUDY_SCHEDULE

    def train(
        self, train: Sequence[Doc], dev: Sequence[Doc], params: Any, seed: int
    ) -> TrainResult:
        """Train on ``train``, select the best step on ``dev``; see the module docstring."""
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
        return _Run(params, seed, train, dev).train()


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


class _Run:
    """One training run: the pipeline, the data, and the loop of ``spacy train``."""

    def __init__(self, params: SpacyParams, seed: int, train: Sequence[Doc], dev: Sequence[Doc]):
        import spacy
        from spacy.schemas import ConfigSchemaTraining
        from thinc.api import fix_random_seed

        self.params = params
        self.seed = seed
        config = params.training_config(seed)
        fix_random_seed(seed)
        try:
            self.nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
            training = spacy.util.registry.resolve(
                self.nlp.config.interpolate()["training"], schema=ConfigSchemaTraining
            )
        except Exception as err:  # spaCy/confection raise many types for a bad config
            raise BackendError(
                f"spaCy cannot build the pipeline from the config: {err}",
                file=params.config_file,
                hint="check the `config` overrides and the config file against spaCy's docs",
            ) from None
        self.optimizer = training["optimizer"]
        self.batcher = training["batcher"]
        self.accumulate = training["accumulate_gradient"]
        self.max_epochs: int = training["max_epochs"]
        self.frozen = list(training["frozen_components"])
        self.annotating = list(training["annotating_components"])
        self.before_update: Callable[..., None] | None = training["before_update"]
        self.examples, self.alignment = examples(self.nlp, train)
        self.dev_sdocs = [self.nlp.make_doc(d.text) for d in dev]
        self.dev_gold = [d.spans for d in dev]

    def train(self) -> TrainResult:
        """Follow :meth:`steps` until patience or ``max_steps`` runs out (spaCy's rule: the
        latest of equal best scores is kept, patience counts from the first), and return the
        kept model with the schedule in force and why training stopped."""
        p, nlp = self.params, self.nlp
        snapshot = b""

        def keep() -> None:
            nonlocal snapshot
            with nlp.use_params(self.optimizer.averages):
                snapshot = nlp.to_bytes(exclude=["vocab", "tokenizer"])

        plan = cadence(p, eval_every=p.eval_frequency, patience=p.patience,
                       per_epoch=self.batches_per_pass)
        if not self.dev_sdocs:
            plan = replace(plan, patience=0)
        followed = follow(self.steps(plan), patience=plan.patience, max_steps=p.max_steps,
                          keep=keep, ties="latest", noise=plan.noise)
        step = followed.last.step if followed.last is not None else 0
        kept_step = followed.kept_step
        if kept_step is None:  # no dev set: keep the last model
            keep()
            kept_step = step
        nlp.from_bytes(snapshot, exclude=["vocab", "tokenizer"])
        return TrainResult(
            model=SpacyModel(nlp, alignment=self.alignment),
            steps=step + 1,
            best_step=kept_step,
            dev_f1=followed.best_score,
            history=followed.history,
            extra=plan.numbers(),
            stop_reason=followed.reason,
        )

    def batches_per_pass(self) -> float:
        """Steps in one pass over the training examples (see the module docstring)."""
        import spacy

        section = self.nlp.config.interpolate()["training"]["batcher"]
        batcher = spacy.util.registry.resolve({"batcher": section})["batcher"]
        return float(sum(1 for _ in batcher(self.examples)))

    def steps(self, plan: Cadence) -> Generator[Progress, None, None]:
        """Initialize, then update step by step as ``spacy train`` does, reporting every step
        (with the dev scores when ``plan`` says they are due)."""
        from spacy.training.loop import create_train_batches, subdivide_batch
        from thinc.api import fix_random_seed

        p, nlp, optimizer = self.params, self.nlp, self.optimizer
        with nlp.select_pipes(disable=self.frozen):
            nlp.initialize(lambda: self.examples, sgd=optimizer)
        fix_random_seed(self.seed)  # as `spacy train` does after initializing
        losses: dict[str, float] = {}
        started = time.perf_counter()
        batches = create_train_batches(nlp, lambda _: self.examples, self.batcher,
                                       self.max_epochs)
        for step, (epoch, batch) in enumerate(batches):
            if self.before_update is not None:
                self.before_update(nlp, {"step": step, "epoch": epoch})
            for sub in subdivide_batch(batch, self.accumulate):
                nlp.update(sub, drop=p.dropout, losses=losses, sgd=False, exclude=self.frozen,
                           annotates=self.annotating)
            for name, proc in nlp.pipeline:
                if (name not in self.frozen and getattr(proc, "is_trainable", False)
                        and proc.model not in (True, False, None)):
                    proc.finish_update(optimizer)
            optimizer.step_schedules()
            if not self.dev_sdocs or not plan.due(step):
                yield Progress(step)
                continue
            with nlp.use_params(optimizer.averages):
                predicted = predict_tokenized(self.nlp, [d.copy() for d in self.dev_sdocs])
            score, numbers = dev_strict_f1(self.dev_gold, predicted, se=plan.noise)
            row = {
                "step": float(step), "epoch": float(epoch),
                "loss": float(sum(losses.values())),
                **numbers, "seconds": time.perf_counter() - started,
            }
            losses = {}
            yield Progress(step, score, row, se=numbers.get(SE_KEY))
