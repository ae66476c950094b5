"""Stratified random subset designs over a training pool (document ids only).

Subsets are whole documents. With strata in sentences, documents are added in random
order until the stratum's drawn size is reached, passing over any document that would
carry the subset past the top of its stratum.

Each subset is drawn from its own random stream, seeded by ``(design seed, stratum,
index)``, so a design is reproducible from its seed and growing
``subsets_per_stratum`` keeps every subset already drawn.

In a classification study each subset also records its documents per class, and with
``stratify_labels`` it is drawn class by class: each combination of classes (each class, in
single-label data) gets the subset size times its share of the pool, rounded by largest
remainder (ties to the combination first in order), and its documents are drawn at random.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from nercurve.corpus.classes import ClassCounts, minority_share
from nercurve.corpus.stats import DocCounts
from nercurve.errors import ConfigError
from nercurve.study.config import DesignSection


@dataclass(frozen=True)
class Subset:
    """One training subset of the pool and what it holds."""

    subset_id: str
    stratum: str
    target: int
    doc_ids: tuple[str, ...]
    n_docs: int
    n_sentences: int
    n_tokens: int
    n_entities: int
    #: Documents per class, in the order of the study's classes (classification studies).
    classes: tuple[tuple[str, int], ...] = ()
    #: How the subset was chosen (:data:`nercurve.study.config.SELECTION_STRATEGIES`), the
    #: selection rounds (model trainings) that led to it, their training or embedding time
    #: and the training runs they took; the strategy's parameters as JSON (None: random).
    selection: str = "random"
    selection_rounds: int = 0
    selection_seconds: float = 0.0
    selection_runs: int = 0
    selection_params: str | None = None

    @property
    def minority_share(self) -> float:
        """The share of the subset's documents that carry its rarest class (0 without classes;
        see :mod:`nercurve.corpus.classes`)."""
        return minority_share(dict(self.classes), self.n_docs)

    @property
    def eps(self) -> float:
        """Entities per sentence."""
        return self.n_entities / self.n_sentences if self.n_sentences else 0.0

    @property
    def content_hash(self) -> str:
        """A digest of the sorted document ids (and, for a selected subset, its strategy):
        two random subsets with the same documents agree, a selected one never agrees with
        a random one."""
        if self.selection == "random":
            return content_hash(self.doc_ids)
        joined = f"{self.selection}\x1e" + "\x1f".join(sorted(self.doc_ids))
        return hashlib.sha256(joined.encode()).hexdigest()[:16]


def content_hash(doc_ids: Iterable[str]) -> str:
    """A digest of a set of documents' sorted ids (a subset's, the whole pool's)."""
    joined = "\x1f".join(sorted(doc_ids)).encode()
    return hashlib.sha256(joined).hexdigest()[:16]


def _stratum_label(low: int, high: int) -> str:
    return f"{low}-{high}"


@dataclass(frozen=True)
class Slot:
    """One place of the design: a stratum (or size) and a replicate index, with the size
    drawn for it (in the design's unit) and the stratum's bounds within the pool."""

    stratum: str
    index: int
    target: int
    bounds: tuple[int, int]

    @property
    def subset_id(self) -> str:
        """The id of the random subset drawn for this slot."""
        return f"{self.stratum}#{self.index:04d}"


def design_slots(design: DesignSection,
                 counts: DocCounts) -> list[tuple[Slot, np.random.Generator]]:
    """Every slot of the design in a stable order (stratum, then index), each with its own
    random stream (seeded by ``(design seed, stratum, index)``) just past the draw of its
    size."""
    n_pool = len(counts.ids)
    if n_pool == 0:
        raise ConfigError("the training pool is empty", hint="lower split.test / split.dev")
    if design.sizes is not None:
        plan = [(str(s), s, s, design.subsets_per_size) for s in design.sizes]
    else:
        plan = [
            (_stratum_label(lo, hi), lo, hi, design.subsets_per_stratum) for lo, hi in design.strata
        ]
    capacity = n_pool if design.unit == "documents" else int(counts.sentences.sum())
    slots = []
    for s_index, (label, low, high, n_subsets) in enumerate(plan):
        if low > capacity:
            raise ConfigError(
                f"design stratum/size {label} asks for at least {low} {design.unit}, but the "
                f"training pool holds only {capacity}",
                hint="use smaller strata or sizes, or lower split.test / split.dev",
            )
        high = min(high, capacity)
        for k in range(n_subsets):
            rng = np.random.default_rng([design.seed, s_index, k])
            target = int(rng.integers(low, high + 1))
            slots.append((Slot(label, k, target, (low, high)), rng))
    return slots


def draw_design(design: DesignSection, counts: DocCounts,
                classes: ClassCounts | None = None) -> list[Subset]:
    """All random subsets of the design, in a stable order (stratum, then index);
    ``classes`` (the pool's, in a classification study) describes and, with
    ``stratify_labels``, stratifies them. Only a design whose ``selection`` names
    ``"random"`` has them; selected subsets come from :mod:`nercurve.study.selection`."""
    if "random" not in design.strategies:
        design_slots(design, counts)  # the same checks of sizes against the pool
        return []
    return [draw_subset(counts, design.unit, slot.target, slot.bounds, rng,
                        subset_id=slot.subset_id, stratum=slot.stratum, classes=classes,
                        stratify=design.stratify_labels)
            for slot, rng in design_slots(design, counts)]


def describe_subset(counts: DocCounts, positions: np.ndarray, *, subset_id: str, stratum: str,
                    target: int, classes: ClassCounts | None = None) -> Subset:
    """The subset of the pool documents at ``positions`` (of ``counts``) with its counts."""
    ids = tuple(counts.ids[i] for i in sorted(positions.tolist()))
    return Subset(
        subset_id=subset_id,
        stratum=stratum,
        target=target,
        doc_ids=ids,
        n_docs=len(positions),
        n_sentences=int(counts.sentences[positions].sum()),
        n_tokens=int(counts.tokens[positions].sum()),
        n_entities=int(counts.entities[positions].sum()),
        classes=tuple(classes.counts(ids).items()) if classes is not None else (),
    )


def design_range(design: DesignSection, counts: DocCounts) -> tuple[int, int]:
    """The smallest and largest subset size the design asks for, in its unit, within what
    the pool holds."""
    capacity = len(counts.ids) if design.unit == "documents" else int(counts.sentences.sum())
    if design.sizes is not None:
        low, high = min(design.sizes), max(design.sizes)
    else:
        low, high = min(lo for lo, _ in design.strata), max(hi for _, hi in design.strata)
    return min(low, capacity), min(high, capacity)


def draw_subset(counts: DocCounts, unit: str, target: int, bounds: tuple[int, int],
                rng: np.random.Generator, *, subset_id: str, stratum: str,
                classes: ClassCounts | None = None, stratify: bool = False) -> Subset:
    """One subset of about ``target`` documents or sentences (``unit``), whole documents in
    the random order ``rng`` gives, kept within ``bounds`` where whole documents allow.

    ``classes`` (aligned with ``counts``) adds the subset's documents per class; with
    ``stratify``, ``target`` documents are drawn class by class (see the module docstring).
    """
    if stratify and classes is not None:
        chosen = _by_class(classes.keys(), target, rng)
    elif unit == "documents":
        chosen = rng.permutation(len(counts.ids))[:target]
    else:
        chosen = _whole_documents(rng.permutation(len(counts.ids)), counts.sentences, target,
                                  *bounds)
    return describe_subset(counts, chosen, subset_id=subset_id, stratum=stratum,
                           target=target, classes=classes)


def _by_class(keys: np.ndarray, target: int, rng: np.random.Generator) -> np.ndarray:
    """``target`` document positions drawn per class combination (``keys``) in proportion to
    each combination's share (largest remainder; ties to the lower key)."""
    groups, sizes = np.unique(keys, return_counts=True)
    quota = target * sizes / sizes.sum()
    take = np.floor(quota).astype(int)
    order = np.argsort(-(quota - take), kind="stable")
    take[order[: target - int(take.sum())]] += 1
    return np.concatenate([
        rng.permutation(np.flatnonzero(keys == g))[:t] for g, t in zip(groups, take, strict=True)
    ])


def _whole_documents(order: np.ndarray, sentences: np.ndarray, target: int, low: int,
                     high: int) -> np.ndarray:
    """Documents, in the random ``order``, whose sentences add up to ``target`` or just past it.

    A document that would carry the total past ``high`` is passed over, so a subset stays in
    its stratum; only when whole documents cannot fill ``[low, high]`` does the subset take
    the documents in order until ``target`` is reached (its real count is recorded).
    """
    chosen: list[int] = []
    total = 0
    for i in order.tolist():
        n = int(sentences[i])
        if total + n > high:
            continue
        chosen.append(i)
        total += n
        if total >= target:
            break
    if total >= low:
        return np.array(chosen, dtype=int)
    stop = int(np.searchsorted(np.cumsum(sentences[order]), target)) + 1
    return order[:stop]
