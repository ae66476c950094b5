"""The next batch to annotate (``nercurve next-batch``): documents of an unlabelled pool chosen
for a study's annotators, as Label Studio tasks (optionally pre-annotated by the study's kept
model), brat or JSON Lines, with a manifest of what was chosen, why and from which model.

- **The pool** is any corpus (annotations ignored, counted); a document already in the
  study's pool, dev or test set (the same id, or the same text) is left out, counted, and so
  is a repeat of a text earlier in the pool.
- **How many sentences:** ``sentences`` when given, else the recommendation's "about N more"
  (:func:`suggested_size`: the analysis of the study's runs, the arm that reaches the target
  F1 with the fewest sentences, its total minus what the study's pool holds, rounded as the
  words round it). The batch takes documents in the strategy's order until the next would
  pass N, then stops before or after it, whichever is closer to N (at least one document),
  so its sentence count is within one document of N.
- **Strategies** (:data:`STRATEGIES`): ``random`` (a seeded shuffle); ``uncertainty`` (the
  kept model's ``uncertainty(docs, measure)``, most uncertain first, ties broken at random);
  ``diversity`` (MiniLM embeddings, k-means++ seeding from the documents already annotated:
  :func:`nercurve.study.selection.kmeanspp_scored`).
- **The model** (uncertainty, ``pre_annotate``): ``model`` when given, else the study's
  final model of the arm (the recommended arm, else the first that has one), else its best
  model at the largest training size.

It needs both the study and its analysis, so it sits above them (as :mod:`nercurve.plan`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from nercurve.corpus.model import Doc
from nercurve.errors import AnalysisError, ConfigError, InputError

STRATEGIES = ("random", "uncertainty", "diversity")
OUTPUTS = ("labelstudio", "brat", "jsonl")
#: Annotation speed assumed for the annotator hours when none is given.
DEFAULT_MINUTES_PER_SENTENCE = 0.5
_CODES = {"random": 1, "uncertainty": 2, "diversity": 3}


@dataclass(frozen=True)
class StudyDocs:
    """A study folder's config and its pool, dev and test documents (segmented)."""

    folder: Path
    config: Any
    pool: list[Doc]
    dev: list[Doc]
    test: list[Doc]

    @property
    def every(self) -> list[Doc]:
        """Pool, dev and test documents."""
        return [*self.pool, *self.dev, *self.test]


@dataclass(frozen=True)
class Suggested:
    """The recommendation's "about N more": ``sentences`` (N, rounded as the words round it)
    for ``arm`` at ``target_f1``: ``total`` needed, ``have`` already in the study's pool."""

    sentences: int
    arm: str
    target_f1: float
    total: float
    have: float


@dataclass(frozen=True)
class Model:
    """A kept model: its folder, card and the loaded model."""

    path: Path
    card: dict[str, Any]
    model: Any

    @property
    def version(self) -> str:
        """The model version pre-annotations carry: arm and job id."""
        return f"{self.card.get('arm')}/{self.card.get('job_id')}"

    def describe(self) -> dict[str, Any]:
        """The manifest's record of the model."""
        return {"path": str(self.path), "arm": self.card.get("arm"),
                "kind": self.card.get("kind"), "backend": self.card.get("backend"),
                "job_id": self.card.get("job_id"), "stratum": self.card.get("stratum"),
                "f1": self.card.get("metrics", {}).get("f1")}


@dataclass
class Batch:
    """The chosen documents (pre-annotated where asked), the manifest and notes for the
    user."""

    docs: list[Doc]
    manifest: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    labels_from: list[Doc] = field(default_factory=list)
    model: Model | None = None


def read_study(folder: str | Path) -> StudyDocs:
    """The config and documents of a study folder (its ``study.json``, corpus re-read and
    split as the study split it); :class:`InputError` when it is not a study folder."""
    from nercurve.corpus.segment import segment
    from nercurve.study.config import parse_config
    from nercurve.study.runner import split_documents
    from nercurve.study.store import STORE_NAME

    folder = Path(folder)
    spec = folder / "study.json"
    if not folder.is_dir() or not spec.is_file() or not (folder / STORE_NAME).is_file():
        raise InputError("not a study folder (no study.json and results.sqlite)", file=folder,
                         hint="give the output folder of `nercurve run`")
    try:
        data = json.loads(spec.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read the study's config: {err}", file=spec) from None
    # study.json holds every setting, defaults too: leave out the kind of design not given
    design = data.get("design", {})
    for key in (("subsets_per_size",) if design.get("sizes") is None
                else ("strata", "subsets_per_stratum")):
        design.pop(key, None)
    config = parse_config(data, source=spec)
    pool, dev, test, _ = split_documents(config)
    return StudyDocs(folder, config, segment(pool), segment(dev), segment(test))


def suggested_size(folder: str | Path, *, target_f1: float = 0.9,
                   arm: str | None = None) -> Suggested:
    """The recommendation's "about N more sentences" for ``target_f1`` (the analysis's
    defaults otherwise, as ``nercurve report``): of ``arm``, or of the arm that reaches the
    target with the fewest sentences. :class:`AnalysisError` saying why when it cannot say
    (no curve, the target unreachable or undecided, out of reach in practice, already
    reached)."""
    from nercurve.analysis import analyze, annotated, load_runs
    from nercurve.analysis.recommend import FAR, Observed, about

    runs = load_runs(folder)
    analysis = analyze(runs, target_f1=target_f1)
    have = annotated(runs, analysis.runs, analysis.task)
    unit = analysis.task.words.unit
    goal = f"{analysis.task.words.outcome} {target_f1:.2f}"
    if arm is not None and arm not in analysis.models:
        raise InputError(f"the study has no arm '{arm}'", file=folder,
                         hint=f"arms: {', '.join(analysis.models)}")
    why: list[str] = []
    found: list[Suggested] = []
    for name, m in analysis.models.items():
        if arm is not None and name != arm:
            continue
        target, curve = m.target, m.curve
        rows = analysis.runs.loc[analysis.runs["backend"] == name]
        observed = Observed.of(rows[analysis.task.size], rows["f1"])
        if target is None or curve is None:
            why.append(f"{name}: no learning curve")
        elif observed is not None and observed.f1 >= target_f1:
            why.append(f"{name}: {goal} is already reached by the runs at the "
                       f"largest training sizes ({observed.f1:.3f})")
        elif target.undecided:
            why.append(f"{name}: the runs cannot tell whether {goal} is reachable")
        elif not target.reachable:
            why.append(f"{name}: {goal} is above the fitted ceiling "
                       f"({target.ceiling:.2f})")
        elif target.sentences > FAR * curve.n_max:
            why.append(f"{name}: {goal} is out of reach in practice")
        elif target.sentences <= have:
            why.append(f"{name}: {goal} is already reached at about "
                       f"{about(target.sentences)} {unit}, within the "
                       f"{about(have)} annotated")
        else:
            more = int(about(target.sentences - have).replace(",", ""))
            found.append(Suggested(more, name, target_f1, target.sentences, have))
    if not found:
        raise AnalysisError(f"the analysis cannot say how many {unit} to annotate next: "
                            + "; ".join(why), file=folder,
                            hint="give the batch's size with --sentences N (or another "
                                 "--target-f1)")
    return min(found, key=lambda s: s.total)


def read_pool(docs: Sequence[Doc], study: StudyDocs) -> tuple[list[Doc], dict[str, int]]:
    """The pool's documents without annotations, segmented, less those already in the study
    (same id or same text) and repeats of a text; with the counts of what was left out or
    dropped (``annotations_ignored``: documents whose spans or classes were dropped)."""
    from nercurve.corpus.segment import segment

    ids = {d.id for d in study.every}
    texts = {d.text.strip() for d in study.every}
    seen: set[str] = set()
    counts = {"in_study_same_id": 0, "in_study_same_text": 0, "repeated_text": 0,
              "annotations_ignored": 0}
    kept = []
    for doc in docs:
        text = doc.text.strip()
        if doc.id in ids:
            counts["in_study_same_id"] += 1
        elif text in texts:
            counts["in_study_same_text"] += 1
        elif text in seen:
            counts["repeated_text"] += 1
        else:
            seen.add(text)
            if doc.spans or doc.cats:
                counts["annotations_ignored"] += 1
            kept.append(replace(doc, spans=(), cats={}))
    return segment(kept), counts


def kept_model(study: StudyDocs, arm: str | None, path: str | Path | None) -> Model | None:
    """The model to score or pre-annotate with: ``path``, else the study's final model of
    ``arm`` (else of the first arm that has one), else its best model at the largest
    training size (of ``arm`` where it has one); None when the study keeps none."""
    from nercurve.study.keep import kept_models, load_kept

    if path is None:
        kept = kept_models(study.folder)
        order = [a.name for a in study.config.backends]
        rank = {name: i for i, name in enumerate([arm, *order] if arm else order)}
        finals = sorted((m for m in kept if m.kind == "final"),
                        key=lambda m: rank.get(m.arm, len(rank)))
        best = [m for m in kept if m.kind == "best"]
        best = [m for m in best if m.arm == arm] or best
        best.sort(key=lambda m: (-int(m.card.get("data", {}).get("documents", 0)), -m.f1))
        chosen = (finals or best or [None])[0]
        if chosen is None:
            return None
        path = chosen.path
    card, model = load_kept(path)
    return Model(Path(path), card, model)


def ordered(strategy: str, docs: Sequence[Doc], study: StudyDocs, seed: int,
            model: Model | None) -> tuple[list[int], list[float | None], dict[str, Any]]:
    """The pool documents' positions in ``strategy``'s order, each one's score (None for
    random) and the strategy's settings for the manifest."""
    rng = np.random.default_rng([seed, _CODES[strategy]])
    if strategy == "random":
        order = [int(i) for i in rng.permutation(len(docs))]
        return order, [None] * len(order), {"strategy": "random", "seed": seed}
    if strategy == "uncertainty":
        if model is None:
            raise ConfigError(
                "uncertainty needs a model, and the study keeps none",
                file=study.folder, hint='set [run] keep = "final" in the study\'s config and '
                'run it again, or pass --model PATH (a kept model\'s folder)')
        measure = _measure(study, model)
        if not hasattr(model.model, "uncertainty"):
            raise ConfigError(f"the model of {model.path} cannot score uncertainty",
                              hint="pass --model with a spacy, hf or tfidf model")
        scores = np.asarray(model.model.uncertainty(list(docs), measure), dtype=float)
        ranked = np.lexsort((rng.random(len(docs)), -scores))  # ties broken at random
        return ([int(i) for i in ranked], [float(scores[i]) for i in ranked],
                {"strategy": "uncertainty", "seed": seed, "measure": measure})
    from nercurve.backends.hf.embed import EMBEDDER, embed_documents
    from nercurve.study.selection import kmeanspp_scored

    vectors = embed_documents([*docs, *study.pool])
    picked = list(kmeanspp_scored(vectors[:len(docs)], rng, vectors[len(docs):]))
    return ([i for i, _ in picked], [d if np.isfinite(d) else None for _, d in picked],
            {"strategy": "diversity", "seed": seed, "embedding": EMBEDDER,
             "method": "kmeans++ from the study's pool"})


def _measure(study: StudyDocs, model: Model) -> str:
    """The study's uncertainty measure, where the model's backend scores it, else the
    backend's first."""
    from nercurve.backends import get_backend
    from nercurve.study.selection import uncertainty_measure

    measure = uncertainty_measure(study.config)
    scores = getattr(get_backend(model.card["backend"], model.card["task"]),
                     "uncertainty_measures", ())
    if not scores:
        raise ConfigError(f"the model of {model.path} (backend '{model.card['backend']}') "
                          "cannot score uncertainty",
                          hint="pass --model with a spacy, hf or tfidf model")
    return measure if measure in scores else scores[0]


def take(order: Sequence[int], sentences: Sequence[int], n: int) -> int:
    """How many documents of ``order`` the batch takes for ``n`` sentences: until the next
    would pass ``n``, then with or without it, whichever total is closer to ``n`` (without,
    on a tie), and at least one."""
    total = 0
    for k, i in enumerate(order):
        after = total + sentences[i]
        if after > n:
            return k + 1 if k == 0 or after - n < n - total else k
        total = after
    return len(order)


def check_choices(strategy: str = "random", fmt: str = "labelstudio") -> None:
    """Refuse an unknown strategy or output format (:class:`InputError`)."""
    if strategy not in STRATEGIES:
        raise InputError(f"unknown strategy {strategy!r}",
                         hint=f"choose one of: {', '.join(STRATEGIES)}")
    if fmt not in OUTPUTS:
        raise InputError(f"unknown output format {fmt!r}",
                         hint=f"choose one of: {', '.join(OUTPUTS)}")


def next_batch(study_dir: str | Path, pool: Sequence[Doc], *, sentences: int | None = None,
               strategy: str = "random", seed: int = 0, model: str | Path | None = None,
               pre_annotate: bool = False,
               minutes_per_sentence: float = DEFAULT_MINUTES_PER_SENTENCE,
               target_f1: float = 0.9, arm: str | None = None) -> Batch:
    """Choose the next batch to annotate from ``pool`` for the study in ``study_dir`` (see
    the module docstring)."""
    check_choices(strategy)
    if sentences is not None and sentences < 1:
        raise InputError(f"--sentences must be at least 1, not {sentences}")
    if not minutes_per_sentence > 0:
        raise InputError(f"minutes per sentence must be positive, not {minutes_per_sentence}")
    study = read_study(study_dir)
    suggested = None
    if sentences is None:
        suggested = suggested_size(study.folder, target_f1=target_f1, arm=arm)
        sentences = suggested.sentences
    docs, left_out = read_pool(pool, study)
    if not docs:
        raise InputError("the pool holds no document to annotate"
                         + (f" ({_counted(left_out)})" if any(left_out.values()) else ""),
                         hint="give a pool of documents not yet in the study")
    notes = []
    if any(left_out.values()):
        notes.append(f"pool: {_counted(left_out)}")
    from nercurve.corpus.stats import doc_counts

    counts = [int(n) for n in doc_counts(docs).sentences]
    the_arm = arm or (suggested.arm if suggested is not None else None)
    used = (kept_model(study, the_arm, model)
            if strategy == "uncertainty" or pre_annotate or model is not None else None)
    if pre_annotate and used is None:
        raise ConfigError("--pre-annotate needs a model, and the study keeps none",
                          file=study.folder, hint='set [run] keep = "final" in the study\'s '
                          'config and run it again, or pass --model PATH')
    order, scores, why = ordered(strategy, docs, study, seed, used)
    if sum(counts) < sentences:
        notes.append(f"the pool holds {sum(counts)} sentences to annotate, fewer than the "
                     f"{sentences} asked: the batch takes it all")
    k = take(order, counts, sentences)
    chosen = [docs[i] for i in order[:k]]
    got = sum(counts[i] for i in order[:k])
    if pre_annotate and used is not None:
        from nercurve.study.keep import predict_with

        chosen = _decided(study, predict_with(used.card, used.model, chosen))
    manifest = {
        "study": str(study.folder),
        "strategy": why,
        "sentences_asked": sentences,
        "asked_from": ("--sentences" if suggested is None else
                       {"recommendation": f"about {sentences} more sentences",
                        "arm": suggested.arm, "target_f1": suggested.target_f1,
                        "total_sentences": suggested.total,
                        "annotated_sentences": suggested.have}),
        "sentences": got,
        "documents_count": k,
        "minutes_per_sentence": minutes_per_sentence,
        "annotator_hours": round(got * minutes_per_sentence / 60, 2),
        "model": used.describe() if used is not None else None,
        "pre_annotated": pre_annotate,
        "pool": {"documents": len(pool), "candidates": len(docs),
                 "candidate_sentences": sum(counts), **left_out},
        "documents": [{"id": docs[i].id, "sentences": counts[i], "rank": r + 1,
                       "score": scores[r]} for r, i in enumerate(order[:k])],
        "notes": notes,
    }
    return Batch(chosen, manifest, notes, study.every, used)


def _decided(study: StudyDocs, docs: list[Doc]) -> list[Doc]:
    """Predicted documents with their class scores decided as the study decides them (its
    task's scheme: the best class, or every class at 0.5 or more), for pre-annotation."""
    config = study.config
    scheme = config.study_task().scheme(study.every, config.corpus.labels,
                                        source=str(config.corpus.path))
    if not hasattr(scheme, "decide"):  # spans (NER) need no deciding
        return docs
    return [replace(d, cats=scheme.cats(scheme.decide(d.cats))) for d in docs]


def _counted(counts: dict[str, int]) -> str:
    words = {"in_study_same_id": "already in the study (same id)",
             "in_study_same_text": "already in the study (same text)",
             "repeated_text": "repeating a text earlier in the pool",
             "annotations_ignored": "with annotations, ignored"}
    return ", ".join(f"{n} document(s) {words[k]}" for k, n in counts.items() if n)


def outputs(out: Path) -> dict[str, Path]:
    """The files a batch written to ``out`` makes beside it: the manifest and (Label
    Studio) the labeling config."""
    stem = out.parent / out.stem
    return {"manifest": stem.with_name(stem.name + ".manifest.json"),
            "labeling_config": stem.with_name(stem.name + ".labeling_config.xml")}


def write_batch(batch: Batch, out: str | Path, fmt: str = "labelstudio") -> list[Path]:
    """Write the batch to ``out`` in ``fmt`` (:data:`OUTPUTS`; brat: a folder), with its
    manifest (and, for Label Studio, its labeling config) beside it; returns the files."""
    from nercurve.corpus import brat, labelstudio
    from nercurve.corpus.io import write_corpus

    check_choices(fmt=fmt)
    out = Path(out)
    extra = outputs(out)
    written = [out]
    if fmt == "labelstudio":
        tasks = labelstudio.tasks(batch.docs, as_predictions=True,
                                  model_version=batch.model.version if batch.model else None)
        if not batch.manifest["pre_annotated"]:
            tasks = [{"data": t["data"]} for t in tasks]
        _write_text(out, json.dumps(tasks, ensure_ascii=False, indent=1) + "\n")
        _write_text(extra["labeling_config"],
                    labelstudio.labeling_config([*batch.labels_from, *batch.docs]))
        written.append(extra["labeling_config"])
    elif fmt == "brat":
        brat.write_folder(batch.docs, out)
    else:
        write_corpus(batch.docs, out, "jsonl")
    manifest = {**batch.manifest, "output": {"path": str(out), "format": fmt,
                                             "files": [str(p) for p in written]}}
    _write_text(extra["manifest"], json.dumps(manifest, indent=1) + "\n")
    return [*written, extra["manifest"]]


def _write_text(path: Path, text: str) -> None:
    """Write ``path`` whole (renamed into place) or raise :class:`InputError`."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    except OSError as err:
        raise InputError(f"cannot write: {err.strerror or err}", file=path,
                         hint="check the output folder") from None
