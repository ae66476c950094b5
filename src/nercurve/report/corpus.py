"""The corpus a study ran on, as tables: the parts' sizes, and their distributions.

They are read from a study folder's ``corpus_stats.json``: one
:meth:`~nercurve.corpus.stats.CorpusStats.to_dict` per part (``pool``, ``dev``, ``test``),
and a few entries about the study (``select_on``, ``reading_notices``). The parts of a
classification study also hold their class distribution (``classes``), shown in place of
entities and EPS.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from nercurve.report.tables import num

PARTS = ("pool", "dev", "test")
TOTALS = (("documents", "Documents"), ("sentences", "Sentences"), ("tokens", "Tokens"),
          ("entities", "Entities"), ("eps", "EPS"))
SUMMARIES = (("sentences_per_doc", "Sentences per document"),
             ("tokens_per_doc", "Tokens per document"),
             ("entity_tokens", "Entity length (tokens)"),
             ("entity_chars", "Entity length (characters)"))
LONGEST_LENGTH = 10  # entity lengths of this many tokens or more share one column
KNOWN_ENTRIES = {*PARTS, "select_on", "reading_notices"}


def corpus_parts(stats: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The parts' statistics in ``corpus_stats.json`` (pool, dev, test: those present)."""
    if not stats:
        return {}
    return {part: stats[part] for part in PARTS if isinstance(stats.get(part), dict)}


def _labels(parts: dict[str, dict[str, Any]]) -> list[str]:
    return sorted({label for s in parts.values() for label in s.get("entities_per_label") or {}})


def _classes(parts: dict[str, dict[str, Any]]) -> list[str]:
    return sorted({label for s in parts.values()
                   for label in (s.get("classes") or {}).get("counts") or {}})


def corpus_table(stats: dict[str, Any] | None) -> pd.DataFrame:
    """One row per part: documents, sentences, tokens, entities and EPS, then entities and
    EPS per label (columns ``entities_<label>``, ``eps_<label>``), at full precision.

    A classification study's parts: documents, sentences, tokens and the minority-class share,
    then documents and their share per class (``documents_<class>``, ``share_<class>``)."""
    parts = corpus_parts(stats)
    classes = _classes(parts)
    if classes:
        return pd.DataFrame([
            {"part": part, **{key: s.get(key) for key in ("documents", "sentences", "tokens")},
             "minority_share": (s.get("classes") or {}).get("minority_share"),
             **{f"{what}_{c}": ((s.get("classes") or {}).get(key) or {}).get(c, 0)
                for c in classes
                for what, key in (("documents", "counts"), ("share", "shares"))}}
            for part, s in parts.items()
        ])
    labels = _labels(parts)
    rows = []
    for part, s in parts.items():
        row: dict[str, Any] = {"part": part, **{key: s.get(key) for key, _ in TOTALS}}
        for label in labels:
            row[f"entities_{label}"] = (s.get("entities_per_label") or {}).get(label, 0)
            row[f"eps_{label}"] = (s.get("eps_per_label") or {}).get(label, 0.0)
        rows.append(row)
    return pd.DataFrame(rows)


def _count(value: Any) -> str:
    return num(value, 0)


def _whole_or_half(value: Any) -> str:
    """A count, or a median between two counts (one decimal)."""
    return num(value, 0 if value is None or float(value).is_integer() else 1)


def corpus_display(stats: dict[str, Any] | None) -> pd.DataFrame:
    """:func:`corpus_table` for the page: numbers rounded, and two header levels (a label
    over its entities and EPS; ``""`` over the columns of all labels)."""
    table = corpus_table(stats)
    if table.empty:
        return table
    classes = _classes(corpus_parts(stats))
    out = pd.DataFrame({("", "Part"): table["part"]})
    if classes:
        for key, title in TOTALS[:3]:
            out[("", title)] = table[key].map(_count)
        out[("", "Minority share")] = table["minority_share"].map(num)
        for c in classes:
            out[(c, "Documents")] = table[f"documents_{c}"].map(_count)
            out[(c, "Share")] = table[f"share_{c}"].map(num)
        out.columns = pd.MultiIndex.from_tuples(out.columns)
        return out
    labels = _labels(corpus_parts(stats))
    for key, title in TOTALS:
        out[("", title)] = table[key].map(num if key == "eps" else _count)
    for label in labels:
        out[(label, "Entities")] = table[f"entities_{label}"].map(_count)
        out[(label, "EPS")] = table[f"eps_{label}"].map(num)
    out.columns = pd.MultiIndex.from_tuples(out.columns)
    return out


def distributions_display(stats: dict[str, Any] | None) -> pd.DataFrame:
    """Document sizes and entity lengths per part: n, mean, SD, min, median, max."""
    rows = []
    parts = corpus_parts(stats)
    for key, title in SUMMARIES:
        for part, s in parts.items():
            summary = s.get(key)
            if not isinstance(summary, dict):
                continue
            rows.append({
                "Distribution": title, "Part": part, "n": _count(summary.get("n")),
                "Mean": num(summary.get("mean"), 1), "SD": num(summary.get("sd"), 1),
                **{name.capitalize(): _whole_or_half(summary.get(name))
                   for name in ("min", "median", "max")},
            })
    return pd.DataFrame(rows)


def entity_lengths_display(stats: dict[str, Any] | None) -> pd.DataFrame:
    """How many entities are 1, 2, ... tokens long in each part (the longest lumped together)."""
    parts = {p: s.get("entity_token_counts") for p, s in corpus_parts(stats).items()}
    parts = {p: {int(k): int(v) for k, v in c.items()} for p, c in parts.items() if c}
    lengths = sorted({k for c in parts.values() for k in c if k < LONGEST_LENGTH})
    lumped = any(k >= LONGEST_LENGTH for c in parts.values() for k in c)
    rows = []
    for part, counts in parts.items():
        row = {"Part": part, **{str(k): _count(counts.get(k, 0)) for k in lengths}}
        if lumped:
            row[f"{LONGEST_LENGTH}+"] = _count(
                sum(v for k, v in counts.items() if k >= LONGEST_LENGTH))
        rows.append(row)
    return pd.DataFrame(rows)


def other_entries(stats: dict[str, Any] | None) -> dict[str, Any]:
    """The entries of ``corpus_stats.json`` that the tables above do not show."""
    return {k: v for k, v in (stats or {}).items() if k not in KNOWN_ENTRIES}
