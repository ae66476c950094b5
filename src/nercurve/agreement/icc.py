"""ICC of the number of entities each annotator marked per document, with its 95% CI.

The form is ICC(A,1) in McGraw and Wong's notation (see :mod:`nercurve.agreement.scores`
for why this form).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

from nercurve.agreement.aligned import Aligned

ICC_FORM = "ICC(A,1)"
ICC_FORM_DESCRIPTION = (
    "ICC(A,1) (McGraw & Wong) = ICC(2,1) (Shrout & Fleiss): two-way random effects, "
    "absolute agreement, single rater"
)
ICC_MIN_DOCS = 3


@dataclass(frozen=True)
class IccResult:
    """ICC of per-document entity counts (form :data:`ICC_FORM`) with its 95% CI."""

    icc: float | None
    ci_low: float | None
    ci_high: float | None
    n_docs: int
    mean_count: dict[str, float]
    form: str = ICC_FORM



def count_icc(aligned: Aligned, label: str | None = None) -> IccResult:
    """ICC(A,1) of per-document entity counts (of one label, or all) with its 95% CI.

    Undefined (``None``) for fewer than :data:`ICC_MIN_DOCS` documents or counts that
    never vary.
    """
    counts = {
        name: [sum(label is None or s.label == label for s in row[j].spans)
               for row in aligned.docs]
        for j, name in enumerate(aligned.names)
    }
    means = {name: sum(c) / len(c) for name, c in counts.items()}
    n = len(aligned.docs)
    flat = [c for cs in counts.values() for c in cs]
    if n < ICC_MIN_DOCS or len(set(flat)) < 2:
        return IccResult(None, None, None, n, means)
    import numpy as np
    import pandas as pd
    import pingouin

    frame = pd.DataFrame(
        [
            {"doc": doc_index, "annotator": name, "count": float(c)}
            for name, cs in counts.items()
            for doc_index, c in enumerate(cs)
        ]
    )
    saved = pingouin.options.get("round.column.CI95")
    pingouin.options["round.column.CI95"] = None  # full precision for the interval
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pingouin's deprecation and 0/0 noise
            table = pingouin.intraclass_corr(frame, targets="doc", raters="annotator",
                                             ratings="count")
    finally:
        pingouin.options["round.column.CI95"] = saved
    row = table.set_index("Type").loc[ICC_FORM]
    low, high = (float(x) for x in row["CI95"])
    value = float(row["ICC"])
    return IccResult(
        icc=value if math.isfinite(value) else None,
        ci_low=low if math.isfinite(low) else None,
        ci_high=high if math.isfinite(high) else None,
        n_docs=n,
        mean_count=means,
    )
