"""Chance-corrected agreement: Cohen's κ, Fleiss' κ and Krippendorff's α (nominal).

A figure that is undefined (no items, or every rating in one category) is ``None``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from nercurve.agreement.aligned import Aligned


def cohen_kappa(a: Sequence[Any], b: Sequence[Any]) -> float | None:
    """Cohen's κ (scikit-learn); ``None`` when there are no items or only one category."""
    if not a or len(set(a) | set(b)) < 2:
        return None
    from sklearn.metrics import cohen_kappa_score

    value = float(cohen_kappa_score(list(a), list(b)))
    return value if math.isfinite(value) else None


def fleiss(ratings: Sequence[Sequence[Any]]) -> float | None:
    """Fleiss' κ (statsmodels) for units each rated by the same raters (rows = units)."""
    if not ratings:
        return None
    categories = sorted({r for unit in ratings for r in unit}, key=str)
    if len(categories) < 2:
        return None
    import numpy as np
    from statsmodels.stats.inter_rater import fleiss_kappa

    code = {c: n for n, c in enumerate(categories)}
    table = np.zeros((len(ratings), len(categories)))
    for row, unit in enumerate(ratings):
        for r in unit:
            table[row, code[r]] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        value = float(fleiss_kappa(table, method="fleiss"))
    return value if math.isfinite(value) else None


def krippendorff_nominal(ratings: Sequence[Sequence[Any]]) -> float | None:
    """Krippendorff's α, nominal (``krippendorff`` package); ``None`` marks a missing rating.

    ``ratings`` has one row per unit and one entry per rater. Units with fewer than two
    ratings cannot be paired and do not count.
    """
    units = [u for u in ratings if sum(r is not None for r in u) >= 2]
    categories = sorted({r for u in units for r in u if r is not None}, key=str)
    if len(categories) < 2:
        return None
    import krippendorff
    import numpy as np

    code = {c: float(n) for n, c in enumerate(categories)}
    data = np.array([[code[r] if r is not None else np.nan for r in u] for u in units]).T
    value = float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))
    return value if math.isfinite(value) else None


def mention_ratings(aligned: Aligned, label: str | None = None) -> list[list[Any]]:
    """One row per mention (a distinct document, start, end any annotator marked).

    Each row holds every annotator's label for it (``None`` where the annotator did not
    mark those boundaries); for one ``label``, ``True``/``False`` for "is that label".
    """
    k = len(aligned.names)
    units: list[list[Any]] = []
    for row in aligned.docs:
        marks: dict[tuple[int, int], list[Any]] = defaultdict(lambda: [None] * k)
        for j, doc in enumerate(row):
            for s in doc.spans:
                marks[(s.start, s.end)][j] = s.label if label is None else s.label == label
        units.extend(marks[bounds] for bounds in sorted(marks))
    return units
