"""Jobs: subset × backend arm × seed, with deterministic ids, and how one job runs.

The runner knows nothing of a backend's internals: it validates parameters with the
backend's ``Params`` model, has the study's task train it and score its predictions
(:meth:`nercurve.tasks.Task.score`: strict entity P/R/F1 for NER, the study's metric as
``f1`` in a classification study).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import resource
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nercurve.corpus.model import Doc
from nercurve.errors import ConfigError
from nercurve.study.config import MULTI_SUFFIX, BackendEntry
from nercurve.study.design import Subset
from nercurve.study.gpu_packing import GpuMeter, peak_numbers
from nercurve.study.store import ClaimedJob, JobOutcome, JobSpec
from nercurve.tasks import Scores, Task
from nercurve.tasks.doc_scores import outcome_ci, seed_of
from nercurve.tasks.ner import TASK as NER
from nercurve.tasks.ner_scores import only_labels

#: The subset id of a final model's job: the whole training pool (:mod:`nercurve.study.final`).
FINAL_SUBSET = "pool#final"

#: The subset a backend that ignores training data (an off-the-shelf baseline) runs on.
ZERO_SUBSET = Subset(
    subset_id="zero#0000", stratum="0", target=0, doc_ids=(), n_docs=0, n_sentences=0,
    n_tokens=0, n_entities=0,
)


@dataclass(frozen=True)
class StudyData:
    """What every job reads: the training pool by id, the selection set, the test set and
    any external test sets by name, the study's task (with its outcome) and what the task
    reads gold with (``scheme``: a classification study's class scheme; None for NER).

    A multi-corpus study (``[[corpora]]``) also names its ``target`` corpus (whose parts
    are ``pool``, ``dev`` and ``test``) and gives each corpus's labels, the auxiliary
    corpora's training documents (what the ``multi_arms`` add, mixed by ``share``) and the
    auxiliary and test-only corpora's test sets."""

    pool: dict[str, Doc]
    dev: tuple[Doc, ...]
    test: tuple[Doc, ...]
    external: dict[str, tuple[Doc, ...]] = field(default_factory=dict)
    task: Task = NER
    scheme: Any = None
    #: The folder of kept models (:mod:`nercurve.study.keep`) where each job leaves its
    #: trained model for the job driver to settle; None: jobs save nothing.
    keep: str | None = None
    #: The target corpus's name in a multi-corpus study; None: a study of one corpus.
    target: str | None = None
    #: Each corpus's (mapped) labels by name, the target's included: each test set is
    #: scored on its corpus's labels only.
    corpus_labels: dict[str, frozenset[str]] = field(default_factory=dict)
    #: The auxiliary corpora's training documents by name.
    auxiliary: dict[str, tuple[Doc, ...]] = field(default_factory=dict)
    #: The test sets of the auxiliary and test-only corpora by name.
    corpus_tests: dict[str, tuple[Doc, ...]] = field(default_factory=dict)
    #: The names of the multi-task arms (they train on the auxiliary documents too).
    multi_arms: frozenset[str] = frozenset()
    #: How the multi-task arms mix the corpora: ``"proportional"`` or ``"equal"``.
    share: str = "proportional"

    def labels_of(self, test_set: str | None) -> frozenset[str] | None:
        """The labels a test set is scored on (``None``: the target's test set), or None in
        a study of one corpus (all predicted spans count). An external test set is scored
        on the target's labels (its spans were kept to them)."""
        if self.target is None:
            return None
        return self.corpus_labels.get(test_set or self.target, self.corpus_labels[self.target])


@dataclass(frozen=True)
class Arm:
    """A backend entry with its parameters validated and defaults filled in."""

    name: str
    type: str
    params: dict[str, Any]
    needs_training_data: bool
    task: str = "ner"
    #: ``"single"``: trained on the target subset alone; ``"multi"``: plus the auxiliary
    #: corpora of a multi-corpus study.
    training: str = "single"
    #: A multi-task arm's digest of the auxiliary documents and how they are mixed (part of
    #: its job ids); None for a single-task arm.
    auxiliary: str | None = None

    @property
    def base_backend(self) -> str:
        """The backend entry's name: ``X`` for both ``X`` and its multi-task arm ``X+multi``."""
        return self.name.removesuffix(MULTI_SUFFIX) if self.training == "multi" else self.name


def validate_arms(entries: Sequence[BackendEntry], task: str = "ner") -> list[Arm]:
    """Validate each backend entry's parameters with its backend's ``Params`` model (the
    backends of ``task``: ner or classify)."""
    from pydantic import ValidationError

    from nercurve.backends import get_backend

    arms = []
    for index, entry in enumerate(entries):
        backend = get_backend(entry.type, task)
        try:
            params = backend.Params.model_validate(entry.params)
        except ValidationError as err:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
            )
            raise ConfigError(
                f"invalid parameters for backend '{entry.name}' (backends[{index}].params): "
                f"{problems}",
                hint=f"see the parameters of the '{entry.type}' backend in the README",
            ) from None
        check = getattr(backend, "check", None)  # optional: e.g. is the model there?
        if check is not None:
            check(params)
        needs = getattr(backend, "needs_training_data", True)  # a flag, or a function of params
        arms.append(
            Arm(
                name=entry.name,
                type=entry.type,
                params=params.model_dump(mode="json"),
                needs_training_data=bool(needs(params) if callable(needs) else needs),
                task=task,
            )
        )
    return arms


def with_trainings(arms: Sequence[Arm], trainings: Sequence[str], auxiliary: str) -> list[Arm]:
    """A multi-corpus study's arms: each arm that trains as itself (with ``"single"`` in
    ``trainings``) and as its multi-task arm ``X+multi`` (with ``"multi"``), whose job ids
    cover ``auxiliary`` (a digest of the auxiliary documents and their mixing); an arm that
    ignores training data stays as it is, with no multi-task arm."""
    out: list[Arm] = []
    for arm in arms:
        if not arm.needs_training_data or "single" in trainings:
            out.append(arm)
        if arm.needs_training_data and "multi" in trainings:
            out.append(dataclasses.replace(arm, name=arm.name + MULTI_SUFFIX, training="multi",
                                           auxiliary=auxiliary))
    return out


def job_id(subset: Subset, arm: Arm, seed: int) -> str:
    """A digest of what determines a job's result: documents, arm, parameters and seed (and
    a multi-task arm's auxiliary documents)."""
    key: dict[str, Any] = {
        "subset": subset.content_hash,
        "backend": arm.name,
        "type": arm.type,
        "params": arm.params,
        "seed": seed,
    }
    if arm.auxiliary is not None:
        key["auxiliary"] = arm.auxiliary
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]


def mix_training(target: Sequence[Doc], auxiliary: Mapping[str, Sequence[Doc]],
                 share: str) -> list[Doc]:
    """The training documents of a multi-task arm: the target subset, then each auxiliary
    corpus's documents. ``"proportional"``: as they are; ``"equal"``: each corpus (the
    target's subset included) repeated, in order, up to as many documents as the largest
    holds, so each contributes equally (repeats get ids ``<id>#r<k>``)."""
    parts = [list(target), *(list(docs) for docs in auxiliary.values())]
    if share == "proportional":
        return [d for part in parts for d in part]
    most = max(len(part) for part in parts)
    mixed = []
    for part in parts:
        for i in range(most if part else 0):
            doc, k = part[i % len(part)], i // len(part)
            mixed.append(doc if k == 0 else dataclasses.replace(doc, id=f"{doc.id}#r{k}"))
    return mixed


def plan_jobs(
    subsets: Sequence[Subset], arms: Sequence[Arm], seeds: Sequence[int]
) -> list[JobSpec]:
    """All jobs, ordered so that early results already span every stratum.

    Subsets are interleaved across strata (first subset of each stratum, then the
    second, ...). An arm that ignores training data runs once per seed on the
    empty subset instead of once per subset.
    """
    index_in_stratum: dict[str, int] = {}
    ranked = []
    for s in subsets:
        k = index_in_stratum.get(s.stratum, 0)
        index_in_stratum[s.stratum] = k + 1
        ranked.append((k, len(ranked), s))
    ordered = [s for _, _, s in sorted(ranked, key=lambda t: (t[0], t[1]))]
    jobs: list[JobSpec] = []
    for arm in arms:
        if not arm.needs_training_data:
            jobs.extend(_spec(ZERO_SUBSET, arm, seed) for seed in seeds)
    for subset in ordered:
        for arm in arms:
            if arm.needs_training_data:
                jobs.extend(_spec(subset, arm, seed) for seed in seeds)
    return jobs


def _spec(subset: Subset, arm: Arm, seed: int) -> JobSpec:
    return JobSpec(
        job_id=job_id(subset, arm, seed),
        subset_id=subset.subset_id,
        backend=arm.name,
        backend_type=arm.type,
        params=arm.params,
        seed=seed,
    )


def reset_peak_rss() -> bool:
    """Start measuring this process's peak memory afresh (Linux); False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB: since the last :func:`reset_peak_rss`
    where the system keeps that figure (Linux ``VmHWM``), else over its whole life."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _score(model: Any, docs: Sequence[Doc], data: StudyData,
           predicted: Sequence[Any] | None = None, test_set: str | None = None) -> Scores:
    """A model's scores on ``docs`` (predicted when not given), by the study's task, on the
    labels of ``test_set``'s corpus (:meth:`StudyData.labels_of`; None: the target's)."""
    if predicted is None:
        predicted = model.predict(list(docs))
    labels = data.labels_of(test_set)
    if labels is not None:
        predicted = only_labels(predicted, labels)
    return data.task.score(docs, predicted, data.scheme)


def execute_job(job: ClaimedJob, data: StudyData) -> JobOutcome:
    """Train one model on the job's subset, predict the test set once and score it (and
    each external test set: ``f1_<name>``, ``precision_<name>``, ``recall_<name>`` in
    ``extra``, without an interval). A multi-task arm trains on the subset plus the
    auxiliary corpora (:func:`mix_training`); in a multi-corpus study each test set is scored
    on its corpus's labels only, and each auxiliary and test-only corpus's test set is
    scored as an external one.

    The test score's interval is a bootstrap over test documents from the score's
    per-document counts (no further prediction), seeded by the job id, so it is the same
    whenever the job runs (:func:`nercurve.tasks.doc_scores.outcome_ci`).

    ``peak_mb`` is the worker's peak memory during this job alone (where Linux lets the
    peak be reset; elsewhere the worker's peak so far); a job that used a GPU also reports
    its peak GPU memory (``gpu_peak_mb``, of ``gpu_device_mb``).
    """
    from nercurve.backends import get_backend

    reset_peak_rss()
    meter = GpuMeter()
    meter.start()
    started = time.perf_counter()
    backend = get_backend(job.backend_type, data.task.name)
    params = backend.Params.model_validate(job.params)
    train_docs = [data.pool[i] for i in job.doc_ids]
    if job.backend in data.multi_arms:
        train_docs = mix_training(train_docs, data.auxiliary, data.share)
    result = data.task.train(backend, train_docs, list(data.dev), params, job.seed, data.scheme)
    predicted = result.model.predict(list(data.test))
    diagnostics = getattr(result.model, "diagnostics", None)
    extra = {**result.extra, **(diagnostics() if diagnostics is not None else {})}
    scored = _score(result.model, data.test, data, predicted)
    extra.update(scored.numbers)
    for name, docs in {**data.external, **data.corpus_tests}.items():
        unseen = _score(result.model, docs, data, test_set=name)
        extra.update({f"precision_{name}": unseen.precision, f"recall_{name}": unseen.recall,
                      f"f1_{name}": unseen.f1})
    extra.update(peak_numbers(meter.stop()))
    low, high = outcome_ci(scored.doc_counts, data.task.outcome_of_counts, scored.f1,
                           seed=seed_of(job.job_id))
    outcome = JobOutcome(
        precision=scored.precision,
        recall=scored.recall,
        f1=scored.f1,
        per_label=scored.per_label,
        dev_f1=result.dev_f1,
        steps=result.steps,
        best_step=result.best_step,
        seconds=time.perf_counter() - started,
        peak_mb=peak_rss_mb(),
        extra=extra,
        stop_reason=result.stop_reason,
        f1_ci_low=low,
        f1_ci_high=high,
        doc_counts=scored.doc_counts,
    )
    if data.keep is not None:
        save_model(Path(data.keep), job, data, result.model, outcome)
    return outcome


def save_model(models: Path, job: ClaimedJob, data: StudyData, model: Any,
               outcome: JobOutcome) -> Path:
    """Leave the job's trained model with its model card in the scratch folder of the kept
    models' folder ``models`` (:func:`nercurve.study.keep.save_scratch`); the job driver
    settles it."""
    from nercurve.study.design import content_hash
    from nercurve.study.keep import model_card, save_scratch, stratum_of

    final = job.subset_id == FINAL_SUBSET
    card = model_card(
        kind="final" if final else "best", task=data.task.name, arm=job.backend,
        backend=job.backend_type, params=job.params, seed=job.seed, job_id=job.job_id,
        stratum=None if final else stratum_of(job.subset_id),
        data={"subset_id": job.subset_id, "documents": len(job.doc_ids),
              "content_hash": content_hash(job.doc_ids)},
        metrics={"f1": outcome.f1, "precision": outcome.precision, "recall": outcome.recall,
                 "dev_f1": outcome.dev_f1, "steps": outcome.steps,
                 "best_step": outcome.best_step, "test_documents": len(data.test)},
    )
    return save_scratch(models, job.job_id, model, card)
