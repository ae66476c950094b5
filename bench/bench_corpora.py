"""The ``[corpus]`` tables of the benchmark corpora that several benches share.

The synthetic COI corpus (490 statements, written to the bench's work folder),
NCBI-disease (the PubTator training file from ``../shared/corpora``, its four mention types
merged into ``Disease``), BC2GM (the IOB training file in documents of 10 sentences, the first
so many written to the work folder) and BC5CDR (a PubTator file, one entity type kept).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

NCBI_MERGE = {k: "Disease" for k in ("SpecificDisease", "Modifier", "DiseaseClass",
                                      "CompositeMention")}


def coi_section(work: Path) -> dict[str, Any]:
    """Write the synthetic COI corpus into ``work`` and return its ``[corpus]`` table."""
    from nercurve.corpus.io import write_corpus
    from nercurve.synthetic.coi import generate_coi

    write_corpus(generate_coi(490, seed=7), work / "coi.jsonl")
    return {"path": str(work / "coi.jsonl")}


def ncbi_section(corpora: Path) -> dict[str, Any] | None:
    """NCBI-disease's ``[corpus]`` table (``None``: its file is not under ``corpora``)."""
    path = corpora / "ncbi-disease" / "pubtator" / "NCBItrainset_corpus.txt"
    if not path.exists():
        return None
    return {"path": str(path), "format": "pubtator", "label_map": NCBI_MERGE,
            "mismatch": "strip", "options": {"duplicate_ids": "keep-first"}}


def bc2gm_section(corpora: Path, work: Path, docs: int) -> dict[str, Any] | None:
    """BC2GM's ``[corpus]`` table: the first ``docs`` documents of 10 sentences of its IOB
    training file, written to ``work`` (``None``: the file is not under ``corpora``)."""
    from nercurve.corpus.io import ReadOptions, read_corpus, write_corpus

    path = corpora / "bc2gm" / "iob" / "train.tsv"
    if not path.exists():
        return None
    read = read_corpus(path, "conll", ReadOptions(sentences_per_doc=10))
    write_corpus(read.docs[:docs], work / "bc2gm.jsonl")
    return {"path": str(work / "bc2gm.jsonl")}


def bc5cdr_section(corpora: Path, label: str, file: str = "Training") -> dict[str, Any] | None:
    """A BC5CDR PubTator file's ``[corpus]`` table with only ``label`` (``Chemical`` or
    ``Disease``) kept; ``file``: ``Training``, ``Development`` or ``Test`` (``None``: the file
    is not under ``corpora``)."""
    path = corpora / "bc5cdr" / "pubtator" / f"CDR_{file}Set.PubTator.txt"
    if not path.exists():
        return None
    return {"path": str(path), "format": "pubtator", "labels": [label]}
