"""A backend of the tests' own whose F1 follows a known learning curve: loaded by the
runner as ``known_curve_backend:KnownCurve``.

Its model looks at the test documents' gold spans (which a real model never sees) and
returns each with probability ``p(n) = F/(2 − F)``, where ``F`` is the curve's F1 at ``n``
training sentences, so precision is 1, recall about ``p`` and F1 about ``F``: a rise of
``slope`` per sentence up to ``threshold`` sentences, then flat at ``plateau``.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from nercurve.backends.base import BackendParams, TrainResult
from nercurve.corpus.model import Doc, Span


class CurveParams(BackendParams):
    """The known curve: F1 = plateau + slope·min(n − threshold, 0), at least 0.02."""

    plateau: float = 0.9
    slope: float = 0.01
    threshold: float = 60.0
    sleep_s: float = 0.0


class Oracle:
    """Returns each gold span with probability ``p``, decided per seed, document and span."""

    def __init__(self, p: float, seed: int) -> None:
        self.p, self.seed = p, seed

    def predict(self, docs: Sequence[Doc]) -> list[tuple[Span, ...]]:
        """Some of each document's gold spans."""
        out = []
        for doc in docs:
            rng = np.random.default_rng([self.seed, zlib.crc32(doc.id.encode())])
            keep = rng.random(len(doc.spans)) < self.p
            out.append(tuple(s for s, k in zip(doc.spans, keep, strict=True) if k))
        return out


class KnownCurve:
    """Trains nothing; its model's F1 follows the curve of its parameters."""

    name: ClassVar[str] = "known-curve"
    Params: ClassVar[type[BackendParams]] = CurveParams

    def train(self, train: Sequence[Doc], dev: Sequence[Doc], params: CurveParams,
              seed: int) -> TrainResult:
        """A model at the curve's F1 for this many training sentences (after ``sleep_s``)."""
        time.sleep(params.sleep_s)
        n = sum(len(d.sentences or ()) for d in train)
        f1 = max(0.02, params.plateau + params.slope * min(n - params.threshold, 0.0))
        salt = zlib.crc32(" ".join(d.id for d in train).encode())
        return TrainResult(model=Oracle(f1 / (2 - f1), seed * 100_003 + salt))
