"""Descriptive statistics of the training subsets and F1 per backend (Majdik et al., Table 2)."""

from __future__ import annotations

import pandas as pd

# (column in the runs table, label in the table), in the order of the published table.
VARIABLES = (
    ("n_docs", "Documents"),
    ("n_tokens", "Tokens"),
    ("n_sentences", "Sentences"),
    ("eps", "EPS"),
    ("minority_share", "Minority share"),
    ("f1", "F1"),
)


def describe_runs(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per backend and variable: runs, minimum, maximum, mean and SD (n − 1).

    Variables absent from the runs table (documents and tokens in a plain CSV) are left out.
    """
    rows = []
    for backend, group in frame.groupby("backend", sort=False):
        for column, label in VARIABLES:
            if column not in group.columns:
                continue
            values = group[column].dropna()
            if values.empty:
                continue
            rows.append({
                "backend": backend,
                "variable": label,
                "runs": int(values.size),
                "min": float(values.min()),
                "max": float(values.max()),
                "mean": float(values.mean()),
                "sd": float(values.std(ddof=1)) if values.size > 1 else float("nan"),
            })
    return pd.DataFrame(rows, columns=["backend", "variable", "runs", "min", "max", "mean", "sd"])
