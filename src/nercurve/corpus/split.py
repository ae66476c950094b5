"""Document-level, seeded train/dev/test splits.

Whole documents are assigned to exactly one part. Part sizes are ``round(test ·
n)`` and ``round(dev · n)`` documents (halves round up), the rest is train.

Without stratification the documents are shuffled with ``random.Random(seed)``
and cut. With ``stratify=True`` each part gets a similar entities-per-sentence
(EPS, entities / sentences of the part). A part's EPS equals the corpus EPS
exactly when its documents' *entity surplus*, ``entities - EPS_corpus ·
sentences``, sums to zero, so documents are ordered by their surplus (ties broken
at random), the part labels are laid along that order evenly interleaved in
proportion to the part sizes (smooth weighted round robin), and the labels are
shuffled within consecutive blocks of about one smallest-part share: which
document lands where is random, but every surplus range feeds every part in
proportion. (Ordering by surplus balances the pooled EPS of the parts better than
ordering by each document's own EPS, which ignores document length.)

Classification corpora are stratified by class instead (``classes`` given): documents are
ordered by their combination of classes (at random within one) and the interleaved part
labels laid along that order without block shuffling, so every class feeds every part in
proportion, to within one document.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nercurve.corpus.model import Corpus, Doc
from nercurve.errors import InputError

if TYPE_CHECKING:
    from nercurve.corpus.classes import ClassCounts
    from nercurve.corpus.stats import DocCounts

PARTS = ("train", "dev", "test")
SUFFIXES = {
    "jsonl": ".jsonl",
    "conll": ".conll",
    "docbin": ".spacy",
    "pubtator": ".pubtator",
    "bioc": ".xml",
}
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Split:
    """Document ids of each part (in corpus order) and the settings that made them."""

    train_ids: tuple[str, ...]
    dev_ids: tuple[str, ...]
    test_ids: tuple[str, ...]
    test: float = 0.3
    dev: float = 0.1
    seed: int = 0
    stratify: bool = False

    def ids(self, part: str) -> tuple[str, ...]:
        """The ids of ``part`` ("train", "dev" or "test")."""
        return {"train": self.train_ids, "dev": self.dev_ids, "test": self.test_ids}[part]


def _round_half_up(x: float) -> int:
    return math.floor(round(x, 9) + 0.5)  # 0.3 * 105 is 31.4999...96 in floating point


def part_sizes(n: int, test: float, dev: float) -> dict[str, int]:
    """Documents per part for ``n`` documents; an InputError when the fractions cannot work."""
    for name, frac in (("test", test), ("dev", dev)):
        if not 0.0 <= frac < 1.0:
            raise InputError(
                f"the {name} fraction must be at least 0 and below 1, got {frac}",
                hint="e.g. --test 0.3 --dev 0.1",
            )
    if test + dev >= 1.0:
        raise InputError(
            f"test + dev fractions ({test} + {dev}) leave nothing for training",
            hint="keep test + dev below 1, e.g. --test 0.3 --dev 0.1",
        )
    sizes = {"test": _round_half_up(test * n), "dev": _round_half_up(dev * n)}
    sizes["train"] = n - sizes["test"] - sizes["dev"]
    requested = {"test": test, "dev": dev, "train": 1.0}
    empty = [p for p in PARTS if requested[p] > 0 and sizes[p] < 1]
    if empty:
        raise InputError(
            f"{n} documents are too few for these fractions: "
            f"{', '.join(empty)} would get no document",
            hint="use a larger corpus, larger fractions, or set a fraction to 0",
        )
    return sizes


def split_corpus(
    corpus: Corpus | Sequence[Doc],
    test: float = 0.3,
    dev: float = 0.1,
    seed: int = 0,
    stratify: bool = False,
    *,
    counts: DocCounts | None = None,
    classes: ClassCounts | None = None,
) -> Split:
    """Split documents into train, dev and test parts (see the module docstring).

    ``counts`` (from :func:`nercurve.corpus.stats.doc_counts` on the same documents)
    saves segmenting the corpus again when stratifying; with ``classes`` (from
    :func:`nercurve.corpus.classes.class_counts` on the same documents), ``stratify``
    stratifies by class instead of EPS.
    """
    docs = list(corpus)
    ids = [d.id for d in docs]
    if len(set(ids)) != len(ids):
        raise InputError(
            "the corpus holds a document id more than once",
            hint="give every document a unique id before splitting",
        )
    sizes = part_sizes(len(docs), test, dev)
    rng = random.Random(seed)
    if stratify:
        assignment = _stratified(docs, sizes, rng, counts, classes)
    else:
        order = list(range(len(docs)))
        rng.shuffle(order)
        labels = ["test"] * sizes["test"] + ["dev"] * sizes["dev"] + ["train"] * sizes["train"]
        assignment = dict(zip(order, labels, strict=True))
    parts = {p: tuple(ids[i] for i in range(len(ids)) if assignment[i] == p) for p in PARTS}
    return Split(
        parts["train"],
        parts["dev"],
        parts["test"],
        test=test,
        dev=dev,
        seed=seed,
        stratify=stratify,
    )


def _stratified(
    docs: list[Doc], sizes: dict[str, int], rng: random.Random, counts: DocCounts | None,
    classes: ClassCounts | None = None,
) -> dict[int, str]:
    from nercurve.corpus.stats import doc_counts

    if classes is not None:  # ordered by combination of classes
        order_key = classes.keys()[classes.positions(d.id for d in docs)]
    else:
        if counts is None:
            counts = doc_counts(docs)
        pos = counts.positions(d.id for d in docs)
        entities, sentences = counts.entities[pos], counts.sentences[pos]
        eps = entities.sum() / max(int(sentences.sum()), 1)
        order_key = entities - eps * sentences  # each document's entity surplus
    tiebreak = [rng.random() for _ in docs]
    order = sorted(range(len(docs)), key=lambda i: (order_key[i], tiebreak[i]))
    sequence = _interleave(sizes)
    # a class is a group of tied keys whose order is already random: only surpluses (a
    # continuous order) have their labels shuffled within blocks
    block = 1 if classes is not None else max(
        1, round(len(docs) / min(v for v in sizes.values() if v > 0)))
    for lo in range(0, len(sequence), block):
        chunk = sequence[lo : lo + block]
        rng.shuffle(chunk)
        sequence[lo : lo + block] = chunk
    return dict(zip(order, sequence, strict=True))


def _interleave(sizes: dict[str, int]) -> list[str]:
    """Part labels, each exactly ``sizes[part]`` times, spread evenly (smooth round robin)."""
    total = sum(sizes.values())
    current = dict.fromkeys(PARTS, 0)
    out: list[str] = []
    for _ in range(total):
        for p in PARTS:
            current[p] += sizes[p]
        pick = max(PARTS, key=lambda p: current[p])
        current[pick] -= total
        out.append(pick)
    return out


def write_split(
    corpus: Corpus,
    split: Split,
    out_dir: str | Path,
    fmt: str = "jsonl",
    overwrite: bool = False,
    *,
    counts: DocCounts | None = None,
    classes: ClassCounts | None = None,
) -> dict[str, Any]:
    """Write each non-empty part as ``<part><suffix>`` and a ``manifest.json`` into ``out_dir``.

    The manifest records the source, the fractions, the seed, whether the split was
    stratified, and per part its file, ids and size (documents, sentences, tokens,
    entities, EPS; with ``classes``, documents per class). Existing files are never replaced
    unless ``overwrite``. Returns the manifest.
    """
    from nercurve.corpus.io import write_corpus
    from nercurve.corpus.stats import doc_counts

    if fmt not in SUFFIXES:
        raise InputError(
            f"cannot write split parts as {fmt!r}",
            hint=f"choose one of: {', '.join(SUFFIXES)}",
        )
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} exists and is not a folder", hint="give a folder for -o")
    files = {p: f"{p}{SUFFIXES[fmt]}" for p in PARTS if split.ids(p)}
    targets = [out / name for name in [*files.values(), MANIFEST]]
    clash = [str(t) for t in targets if t.exists()]
    if clash and not overwrite:
        raise InputError(
            f"would overwrite {', '.join(clash)}",
            hint="choose another output folder or pass --force",
        )
    if counts is None:
        counts = doc_counts(corpus)
    manifest: dict[str, Any] = {
        "source": corpus.source,
        "test": split.test,
        "dev": split.dev,
        "seed": split.seed,
        "stratify": split.stratify,
        "format": fmt,
        "parts": {},
    }
    for p in PARTS:
        ids = split.ids(p)
        manifest["parts"][p] = {
            "file": files.get(p),
            **counts.describe(ids).to_dict(),
            **({"classes": classes.counts(ids)} if classes is not None else {}),
            "ids": list(ids),
        }
    out.mkdir(parents=True, exist_ok=True)
    for p, name in files.items():
        write_corpus(corpus.subset(list(split.ids(p))), out / name, fmt)
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest
