"""Selected subsets: the ``uncertainty`` and ``diversity`` arms of ``[design] selection``.

Each strategy fills the same slots as the random draw (:func:`nercurve.study.design.
design_slots`: the strata or sizes, their drawn sizes and replicate indices), so the arms
compare at the same sizes. A strategy builds one *trajectory* per replicate index: an order
in which pool documents are chosen, as a team annotating would choose them. Each slot's
subset is the shortest prefix of its replicate's trajectory that reaches the slot's size
(documents, or sentences), so the subsets of one replicate are nested, and a subset's cost
is the trajectory's cost up to that prefix.

- ``uncertainty``: a random seed set of ``seed_docs`` documents; then rounds, each training
  the selector arm's backend on the documents chosen so far (with the study's dev set) and
  adding the ``batch_docs`` pool documents (of ``candidates`` drawn at random, or all) its
  model is least sure of (``model.uncertainty``), until the replicate's largest size is
  reached. A round costs one training run.
- ``diversity``: every pool document embedded once with MiniLM
  (:func:`nercurve.backends.hf.embed.embed_documents`), then k-means++ seeding (D² sampling:
  each next document drawn with probability proportional to its squared distance from the
  nearest one chosen) from a random first document. No training; its cost is the
  embedding time.

Every random choice comes from a stream seeded by ``(design seed, strategy, replicate,
round)``; trainings are deterministic on a CPU, so a trajectory is reproducible. Each is
kept in the study folder (``selection/``, written atomically after every round), so a
killed study resumes where selection stopped and reuses finished trajectories.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from nercurve.corpus.stats import doc_counts
from nercurve.errors import ConfigError
from nercurve.study.config import UNCERTAINTY_MEASURES, StudyConfig
from nercurve.study.design import Slot, Subset, describe_subset, design_slots
from nercurve.study.jobs import Arm, StudyData

#: The study folder's sub-folder that keeps trajectories and embeddings.
SELECTION_DIR = "selection"
#: Tags of the random streams (kept apart from the random draw's ``(seed, stratum, k)``).
_STREAM = 0x5E1EC7
_CODES = {"uncertainty": 1, "diversity": 2}


def selected_id(subset_id: str, strategy: str) -> str:
    """The id of the subset ``strategy`` chose for the random design's slot ``subset_id``
    (``<stratum>#<index>``): ``<stratum>#<index>@<strategy>``. The subsets of one replicate
    ``index`` are prefixes of one trajectory (:func:`trajectory_of`)."""
    return f"{subset_id}@{strategy}"


def trajectory_of(subset_id: str) -> str | None:
    """The trajectory (``<strategy>#<index>``) a selected subset's id belongs to
    (:func:`selected_id`); None for any other id (a random draw, runs from elsewhere)."""
    found = re.fullmatch(r"[^@]*#(\d+)@(.+)", subset_id)
    return None if found is None else f"{found[2]}#{found[1]}"


@dataclass
class Trajectory:
    """The documents a strategy chose for one replicate, in order, and what each round cost:
    round r left ``marks[r]`` documents chosen, took ``seconds[r]`` and ``runs[r]`` training
    runs (round 0: the seed set, or for diversity the embedding and picking)."""

    order: list[str]
    marks: list[int]
    seconds: list[float]
    runs: list[int]

    def prefix(self, slot: Slot, unit: str, sentences: dict[str, int]) -> int:
        """How many documents of the order the slot's subset takes: its size in documents,
        or the shortest prefix reaching its size in sentences (all when none does)."""
        if unit == "documents":
            return min(slot.target, len(self.order))
        total = 0
        for n, doc_id in enumerate(self.order, start=1):
            total += sentences[doc_id]
            if total >= slot.target:
                return n
        return len(self.order)

    def cost(self, n_docs: int) -> tuple[int, float, int]:
        """Rounds after the seed set, seconds and training runs that choosing the first
        ``n_docs`` documents took."""
        last = next((r for r, mark in enumerate(self.marks) if mark >= n_docs),
                    len(self.marks) - 1)
        return last, float(sum(self.seconds[:last + 1])), int(sum(self.runs[:last + 1]))


def selected_strategies(config: StudyConfig) -> list[str]:
    """The design's strategies that need selection (all but ``"random"``)."""
    return [s for s in config.design.strategies if s != "random"]


def selector_arm(config: StudyConfig, arms: Sequence[Arm]) -> Arm:
    """The arm whose backend trains during uncertainty selection, checked to score the
    measure (:class:`~nercurve.errors.ConfigError` naming the arm otherwise)."""
    from nercurve.backends import get_backend

    settings = config.design.uncertainty_settings
    if settings.selector is not None:
        arm = next(a for a in arms if a.name == settings.selector)
    else:
        arm = next((a for a in arms if a.needs_training_data), arms[0])
    where = "design.uncertainty.selector" if settings.selector else "the first arm that trains"
    if not arm.needs_training_data:
        raise ConfigError(
            f"uncertainty selection needs an arm that trains; '{arm.name}' ({where}) does not",
            hint="name an arm that trains in [design.uncertainty] selector")
    measure = uncertainty_measure(config)
    scores = getattr(get_backend(arm.type, arm.task), "uncertainty_measures", ())
    if measure not in scores:
        raise ConfigError(
            f"uncertainty selection trains arm '{arm.name}' ({where}), but its backend "
            f"'{arm.type}' cannot score the uncertainty measure {measure!r}"
            + (f" (it scores: {', '.join(scores)})" if scores else " (it scores none)"),
            hint="name another arm in [design.uncertainty] selector (spacy, hf, tfidf score "
                 "uncertainty), choose another measure, or leave uncertainty out of selection")
    return arm


def uncertainty_measure(config: StudyConfig) -> str:
    """The configured measure, or the task's first."""
    return config.design.uncertainty_settings.measure or UNCERTAINTY_MEASURES[config.task][0]


def selection_identity(config: StudyConfig, arms: Sequence[Arm]) -> dict[str, str]:
    """What selected subsets depend on beyond the design's settings: the selector arm's
    type and parameters, its training seed and the measure (none without uncertainty)."""
    if "uncertainty" not in config.design.strategies:
        return {}
    arm = selector_arm(config, arms)
    settings = config.design.uncertainty_settings
    return {"design.uncertainty selector": json.dumps({
        "arm": arm.name, "type": arm.type, "params": arm.params,
        "seed": settings.seed if settings.seed is not None else config.seeds[0],
        "measure": uncertainty_measure(config)}, sort_keys=True)}


def check_selection(config: StudyConfig, arms: Sequence[Arm]) -> None:
    """Refuse, before any work, a selection the study's arms cannot carry out."""
    if "uncertainty" in config.design.strategies:
        selector_arm(config, arms)


def select_subsets(config: StudyConfig, data: StudyData, arms: Sequence[Arm], folder: Path,
                   key: str, *, on_round: Callable[[str], None] | None = None) -> list[Subset]:
    """The selected subsets of every non-random strategy of the design, in slot order per
    strategy; trajectories are read from, and written to, ``folder/selection`` under the
    study's identity digest ``key`` (see the module docstring). ``on_round`` hears one line
    per finished round."""
    strategies = selected_strategies(config)
    if not strategies:
        return []
    pool = list(data.pool.values())
    counts = doc_counts(pool)
    classes = data.task.split_classes(pool, data.scheme)
    slots = [slot for slot, _ in design_slots(config.design, counts)]
    sentences = dict(zip(counts.ids, (int(n) for n in counts.sentences), strict=True))
    cache = Path(folder) / SELECTION_DIR
    out: list[Subset] = []
    for strategy in strategies:
        if strategy == "uncertainty":
            maker = _Uncertainty(config, data, selector_arm(config, arms))
        else:
            maker = _Diversity(config, data, cache, key)
        params = json.dumps(maker.params, sort_keys=True)
        for index in sorted({s.index for s in slots}):
            mine = [s for s in slots if s.index == index]
            need = max(s.target for s in mine)
            path = cache / f"{strategy}-{index:04d}-{_digest([key, maker.params])}.json"
            traj = _grow(maker, index, path, _enough(config.design.unit, need, sentences),
                         on_round)
            for slot in mine:
                n = traj.prefix(slot, config.design.unit, sentences)
                rounds, seconds, runs = traj.cost(n)
                chosen = counts.positions(traj.order[:n])
                subset = describe_subset(counts, chosen,
                                         subset_id=selected_id(slot.subset_id, strategy),
                                         stratum=slot.stratum, target=slot.target,
                                         classes=classes)
                out.append(_with_cost(subset, strategy, rounds, seconds, runs, params))
    return out


def _with_cost(subset: Subset, strategy: str, rounds: int, seconds: float, runs: int,
               params: str) -> Subset:
    return replace(subset, selection=strategy, selection_rounds=rounds,
                   selection_seconds=seconds, selection_runs=runs, selection_params=params)


def _enough(unit: str, need: int, sentences: dict[str, int]) -> Callable[[list[str]], bool]:
    """Whether an order reaches the replicate's largest size."""
    if unit == "documents":
        return lambda order: len(order) >= need
    return lambda order: sum(sentences[d] for d in order) >= need


def _grow(maker: Any, index: int, path: Path, enough: Callable[[list[str]], bool],
          on_round: Callable[[str], None] | None) -> Trajectory:
    """The replicate's trajectory, read from ``path`` and grown round by round (each round
    written back atomically) until ``enough`` or the pool is spent."""
    traj = _read(path)
    if traj is None:
        traj = maker.start(index, enough)
        _write(path, traj)
    while not enough(traj.order) and len(traj.order) < len(maker.pool_ids):
        started = time.perf_counter()
        added, runs = maker.step(index, len(traj.marks), traj.order)
        if not added:
            break
        traj.order += added
        traj.marks.append(len(traj.order))
        traj.seconds.append(time.perf_counter() - started)
        traj.runs.append(runs)
        _write(path, traj)
        if on_round is not None:
            on_round(f"{maker.name} selection, replicate {index}: round {len(traj.marks) - 1}, "
                     f"{len(traj.order)} documents")
    return traj


class _Uncertainty:
    """Rounds of training the selector and taking what its model is least sure of."""

    name = "uncertainty"

    def __init__(self, config: StudyConfig, data: StudyData, arm: Arm) -> None:
        from nercurve.backends import get_backend

        self.design_seed = config.design.seed
        self.settings = config.design.uncertainty_settings
        self.measure = uncertainty_measure(config)
        self.train_seed = self.settings.seed if self.settings.seed is not None else config.seeds[0]
        self.data = data
        self.arm = arm
        self.backend = get_backend(arm.type, arm.task)
        self.pool_ids = list(data.pool)
        self.params = {
            "strategy": "uncertainty", "seed_docs": self.settings.seed_docs,
            "batch_docs": self.settings.batch_docs, "measure": self.measure,
            "candidates": self.settings.candidates, "selector": arm.name,
            "selector_type": arm.type, "selector_params": arm.params, "seed": self.train_seed,
        }

    def start(self, index: int, enough: Callable[[list[str]], bool]) -> Trajectory:
        """The random seed set."""
        rng = np.random.default_rng([self.design_seed, _STREAM, _CODES["uncertainty"], index])
        first = rng.permutation(len(self.pool_ids))[: self.settings.seed_docs]
        return Trajectory([self.pool_ids[i] for i in first], [len(first)], [0.0], [0])

    def step(self, index: int, round_: int, order: list[str]) -> tuple[list[str], int]:
        """One round: train on ``order``, take the next batch; one training run."""
        rng = np.random.default_rng([self.design_seed, _STREAM, _CODES["uncertainty"], index,
                                     round_])
        taken = set(order)
        left = [i for i in self.pool_ids if i not in taken]
        if self.settings.candidates is not None and len(left) > self.settings.candidates:
            keep = np.sort(rng.choice(len(left), self.settings.candidates, replace=False))
            left = [left[i] for i in keep]
        params = self.backend.Params.model_validate(self.arm.params)
        result = self.data.task.train(self.backend, [self.data.pool[i] for i in order],
                                      list(self.data.dev), params, self.train_seed,
                                      self.data.scheme)
        scores = np.asarray(result.model.uncertainty([self.data.pool[i] for i in left],
                                                     self.measure), dtype=float)
        ranked = np.lexsort((rng.random(len(left)), -scores))  # ties broken at random
        return [left[i] for i in ranked[: self.settings.batch_docs]], 1


class _Diversity:
    """k-means++ seeding over the pool's MiniLM document embeddings."""

    name = "diversity"

    def __init__(self, config: StudyConfig, data: StudyData, cache: Path, key: str) -> None:
        from nercurve.backends.hf.embed import EMBEDDER

        self.design_seed = config.design.seed
        self.data = data
        self.pool_ids = list(data.pool)
        self.cache = cache
        self.key = key
        self.params = {"strategy": "diversity", "embedding": EMBEDDER, "method": "kmeans++"}
        self._vectors: tuple[np.ndarray, float] | None = None

    def vectors(self) -> tuple[np.ndarray, float]:
        """The pool's document embeddings and the seconds they took (kept in the cache)."""
        if self._vectors is None:
            path = self.cache / f"embeddings-{_digest([self.key, self.params])}.npz"
            if path.is_file():
                with np.load(path) as stored:
                    self._vectors = (stored["vectors"], float(stored["seconds"]))
            else:
                from nercurve.backends.hf.embed import embed_documents

                started = time.perf_counter()
                vectors = embed_documents(list(self.data.pool.values()))
                self._vectors = (vectors, time.perf_counter() - started)
                _atomic(path, lambda fh: np.savez(fh, vectors=vectors,
                                                  seconds=self._vectors[1]))
        return self._vectors

    def start(self, index: int, enough: Callable[[list[str]], bool]) -> Trajectory:
        """The whole order, in one round 0 that costs the embedding (and picking) time."""
        vectors, seconds = self.vectors()
        started = time.perf_counter()
        rng = np.random.default_rng([self.design_seed, _STREAM, _CODES["diversity"], index])
        order: list[str] = []
        for i in kmeanspp(vectors, rng):
            order.append(self.pool_ids[i])
            if enough(order):
                break
        return Trajectory(order, [len(order)], [seconds + time.perf_counter() - started], [0])

    def step(self, index: int, round_: int, order: list[str]) -> tuple[list[str], int]:
        """Nothing more: the order of :meth:`start` is complete."""
        return [], 0


def kmeanspp(vectors: np.ndarray, rng: np.random.Generator) -> Iterator[int]:
    """Row indices in k-means++ seeding order: a first row at random, then each next drawn
    with probability proportional to its squared distance from the nearest row chosen (rows
    at distance 0 from those chosen, at random, only once no other row is left)."""
    return (i for i, _ in kmeanspp_scored(vectors, rng))


def kmeanspp_scored(vectors: np.ndarray, rng: np.random.Generator,
                    centres: np.ndarray | None = None) -> Iterator[tuple[int, float]]:
    """:func:`kmeanspp` with each row's squared distance, when drawn, from the nearest row
    chosen before it or of ``centres`` (points already chosen, such as documents already
    annotated: then the first row is drawn by that distance too; without them it is drawn
    at random, at distance ``inf``)."""
    n = len(vectors)
    if n == 0:
        return
    taken = np.zeros(n, dtype=bool)
    nearest = np.full(n, np.inf)
    for centre in centres if centres is not None else ():
        nearest = np.minimum(nearest, ((vectors - centre) ** 2).sum(axis=1))
    pick = _draw(nearest, taken, rng) if centres is not None and len(centres) else int(
        rng.integers(n))
    while True:
        yield pick, float(nearest[pick])
        taken[pick] = True
        if taken.all():
            return
        nearest = np.minimum(nearest, ((vectors - vectors[pick]) ** 2).sum(axis=1))
        pick = _draw(nearest, taken, rng)


def _draw(nearest: np.ndarray, taken: np.ndarray, rng: np.random.Generator) -> int:
    """A row not yet taken, drawn with probability proportional to ``nearest`` (at random
    among those left when all of them are 0)."""
    weights = np.where(taken, 0.0, nearest)
    total = weights.sum()
    if total > 0:
        return int(rng.choice(len(nearest), p=weights / total))
    return int(rng.choice(np.flatnonzero(~taken)))


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def _read(path: Path) -> Trajectory | None:
    """A trajectory kept at ``path``, or None when there is none (or it cannot be read:
    then it is made afresh)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Trajectory(list(data["order"]), list(data["marks"]), list(data["seconds"]),
                          list(data["runs"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write(path: Path, traj: Trajectory) -> None:
    text = json.dumps({"order": traj.order, "marks": traj.marks, "seconds": traj.seconds,
                       "runs": traj.runs})
    _atomic(path, lambda fh: fh.write(text.encode()))


def _atomic(path: Path, write: Callable[[Any], Any]) -> None:
    """Write a file by ``write(binary handle)`` so that it appears whole or not at all."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as err:
        raise ConfigError(f"cannot write the selection record: {err.strerror}",
                          file=path) from None
