"""The ``[corpus]`` tables of the benchmark corpora that several benches share.

The synthetic COI corpus (490 statements, written to the bench's work folder) and
NCBI-disease (the PubTator training file from ``../shared/corpora``, its four mention types
merged into ``Disease``).
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
