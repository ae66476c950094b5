"""The training schedules that ``plan``, ``init-study`` and the demo give their arms, chosen
by measurement: ``bench/schedules.py`` (README, "Schedules that scale with the data").

A backend's own defaults are left as they are, so an arm that names no schedule trains as it
always did and a resumed study's remaining jobs train as its finished ones. Only the arms
the bench measured have an entry; the others keep their backend's defaults.
"""

from __future__ import annotations

from typing import Any

#: Per (task, backend type): the schedule parameters that passed the bench's guards (mean
#: test F1 per size within 0.005 of spaCy's own schedule, the same hinge threshold and
#: curve family) on the COI, NCBI-disease and BC2GM corpora. spaCy NER: evaluation every
#: 200 steps (spaCy's), patience 1,000 steps instead of 1,600.
MEASURED: dict[tuple[str, str], dict[str, Any]] = {
    ("ner", "spacy"): {"patience": 1000},
}


def measured_schedule(task: str, backend_type: str) -> dict[str, Any]:
    """The measured schedule parameters of a ``backend_type`` arm in ``task`` (empty where the
    bench has not measured that arm: its backend's defaults hold)."""
    return dict(MEASURED.get((task, backend_type), {}))
