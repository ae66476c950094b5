"""The annotators' own agreement as the ceiling of the learning curves.

A model scored against one annotator's gold standard can hardly be expected to agree with it
more closely than a second annotator does, so the inter-annotator agreement (the strict
entity-level F1 of ``nercurve agree --json``, exact span and label) is drawn as a ceiling
line, and each backend's curve is compared with it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from nercurve.analysis.families import CurveFit
from nercurve.errors import InputError
from nercurve.tasks import Task
from nercurve.tasks.ner import TASK as NER

_HINT = "write it with `nercurve agree A.jsonl B.jsonl --json > agree.json`"


@dataclass(frozen=True)
class AgreementCeiling:
    """The annotators' agreement: the mean exact-match entity F1 over annotator pairs, with
    its lowest and highest pair."""

    f1: float
    low: float
    high: float
    pairs: int
    source: str

    def label(self, outcome: str = "F1") -> str:
        """'annotator agreement F1 0.93' (with the pairs' range when there are several; the
        outcome named ``outcome``)."""
        spread = f", pairs {self.low:.2f}–{self.high:.2f}" if self.pairs > 1 else ""
        return f"annotator agreement {outcome} {self.f1:.2f}{spread}"


def load_agreement(path: str | Path) -> AgreementCeiling:
    """Read the output of ``nercurve agree --json``; raises InputError when it is not one."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise InputError(f"cannot read the agreement file: {err.strerror}", file=path,
                         hint=_HINT) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"the agreement file is not JSON: {err}", file=path,
                         hint=_HINT) from None
    pairs = data.get("pairs") if isinstance(data, dict) else None
    scores = []
    for pair in pairs if isinstance(pairs, list) else []:
        value = (pair.get("overall") or {}).get("f1_exact") if isinstance(pair, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1:
            scores.append(float(value))
    if not scores:
        raise InputError("the agreement file holds no annotator pair with an exact-match F1 "
                         "(pairs[].overall.f1_exact)", file=path, hint=_HINT)
    return AgreementCeiling(f1=sum(scores) / len(scores), low=min(scores), high=max(scores),
                            pairs=len(scores), source=str(path))


def ceiling_words(backend: str, curve: CurveFit, ceiling: AgreementCeiling,
                  task: Task = NER) -> str:
    """How close a backend's curve comes to the annotators' agreement, in the task's words."""
    w = task.words
    at = curve.n_max
    f1 = float(curve.predict(at))
    lo, hi = (float(v[0]) for v in curve.predict_interval(at))
    gap = ceiling.f1 - f1
    where = (f"{backend} is predicted at {w.outcome} {f1:.2f} ({curve.level:.0%} CI "
             f"{lo:.2f}–{hi:.2f}) with {at:,.0f} training {w.unit}")
    head = f"Against the {ceiling.label(w.outcome)} (exact entity match): {where}, "
    if gap <= 0:
        return (head + f"{-100 * gap:.1f} points above it: closer to the gold standard than a "
                "second annotator is, so check that the test set is not annotated by the "
                "annotator the model learned from, or was seen in training.")
    reach = curve.sentences_for(ceiling.f1)
    if reach.reachable and math.isfinite(reach.sentences):
        more = f"; the curve reaches it at about {reach.sentences:,.0f} {w.unit}"
        if reach.sentences > at:
            more += f" (an extrapolation to {reach.sentences / at:.1f}× the largest training set)"
    elif reach.undecided:
        lo, hi = reach.ceiling_ci
        more = (f"; the curve levels off below it (at {w.outcome} {reach.ceiling:.2f}), but the "
                f"ceiling's CI ({lo:.2f}–{hi:.2f}) includes it, so the runs cannot tell "
                f"whether more annotation reaches it")
    else:
        more = f"; the curve levels off below it (at {w.outcome} {reach.ceiling:.2f})"
    return head + f"{100 * gap:.1f} points below it{more}."
