"""In-domain against unseen-corpus F1: how much training data buys how much transfer.

A study may score every model on external test sets (``[[external_tests]]``); their scores
are the runs' ``f1_<name>`` columns, and the study folder's ``corpus_stats.json`` names
them. The table sets the in-domain and unseen F1 side by side per stratum, with the share
of the in-domain F1 that carries over ("retained"), against the study's training size
(sentences for NER, examples for classification: :class:`~nercurve.tasks.Task`).
"""

from __future__ import annotations

import pandas as pd

from nercurve.tasks import Task
from nercurve.tasks.ner import TASK as NER


def external_names(frame: pd.DataFrame, corpus_stats: dict | None) -> list[str]:
    """The external test sets a study scored, in config order, that have an F1 column."""
    names = list(((corpus_stats or {}).get("external_tests") or {}).keys())
    return [n for n in names if f"f1_{n}" in frame.columns]


def transfer_table(frame: pd.DataFrame, names: list[str], task: Task = NER) -> pd.DataFrame:
    """One row per backend and stratum: runs, the mean training size (a column named by the
    unit: ``sentences`` or ``examples``), mean in-domain F1, and per external set its mean F1
    and the share of the in-domain F1 it retains."""
    rows = []
    for (backend, stratum), group in frame.groupby(["backend", "stratum"], sort=False):
        row = {"backend": backend, "stratum": stratum, "runs": len(group),
               task.words.unit: float(group[task.size].mean()),
               "f1_in_domain": float(group["f1"].mean())}
        for name in names:
            unseen = float(group[f"f1_{name}"].mean())
            row[f"f1_{name}"] = unseen
            row[f"retained_{name}"] = (unseen / row["f1_in_domain"]
                                       if row["f1_in_domain"] > 0 else float("nan"))
        rows.append(row)
    table = pd.DataFrame(rows)
    return table.sort_values(["backend", task.words.unit], kind="stable").reset_index(drop=True)


def transfer_sentence(backend: str, rows: pd.DataFrame, names: list[str],
                      task: Task = NER) -> str:
    """Plain words on transfer at the largest and smallest training sizes of one backend, in
    the task's words."""
    if not names or rows.empty:
        return ""
    table = transfer_table(rows, names, task)
    small, large = table.iloc[0], table.iloc[-1]
    w = task.words
    parts = []
    for name in names:
        parts.append(
            f"on the unseen test set '{name}' it reaches {w.outcome} {large[f'f1_{name}']:.3f} "
            f"at about {large[w.unit]:.0f} training {w.unit} ({large[f'retained_{name}']:.0%} "
            f"of its in-domain {large['f1_in_domain']:.3f}; {small[f'f1_{name}']:.3f} at about "
            f"{small[w.unit]:.0f} {w.unit})"
        )
    return f"Transfer ({backend}): " + "; ".join(parts) + "."
