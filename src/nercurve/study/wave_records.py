"""The waves of an adaptive design, as recorded in the study's store.

Every wave is one record in the store's ``meta`` table under ``adaptive.waves`` (a JSON list,
stamped with a digest of the study's identity, so that waves drawn for another corpus or
design — set aside by ``--drop-changed`` — are forgotten): its subsets, the sizes drawn, the
interval of sentences its focused part was drawn from, and, once its jobs are done, the
estimate, CI and runs behind them, and whether the design stopped there. The subsets
themselves are rows of the store's ``subsets`` table, so a rerun finds every wave's
documents and keeps its jobs active whatever the config draws.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from nercurve.study.design import Subset
from nercurve.study.store import Store

WAVES_KEY = "adaptive.waves"


@dataclass(frozen=True)
class WaveRecord:
    """One wave: what was drawn, and what the estimate was once its jobs had run.

    ``sizes`` are the subset sizes drawn (in the design's unit); ``focus`` the interval of
    training sentences the focused part of the wave was drawn from (None for the first,
    stratified wave, or a wave drawn over the whole range); ``runs`` the driving arm's
    finished runs behind ``estimate``; ``note`` why there is no estimate; ``stopped`` why the
    design stopped after this wave (``"ci_width"`` or ``"max_runs"``).
    """

    wave: int
    subsets: tuple[str, ...]
    sizes: tuple[int, ...]
    focus: tuple[float, float] | None = None
    estimate: float | None = None
    ci: tuple[float, float] | None = None
    runs: int | None = None
    note: str | None = None
    stopped: str | None = None

    @property
    def estimated(self) -> bool:
        """True once the wave's estimate (or the reason there is none) is recorded."""
        return self.estimate is not None or self.note is not None

    @property
    def width(self) -> float:
        """The CI's width (NaN before the estimate)."""
        if self.ci is None:
            return math.nan
        return self.ci[1] - self.ci[0]

    def to_json(self) -> dict[str, Any]:
        """The record as JSON-ready data (an infinite bound is written as None)."""
        data = asdict(self)
        if self.ci is not None:
            data["ci"] = [v if math.isfinite(v) else None for v in self.ci]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WaveRecord:
        """A record as :meth:`to_json` wrote it."""
        ci = data.get("ci")
        focus = data.get("focus")
        return cls(
            wave=int(data["wave"]), subsets=tuple(data["subsets"]), sizes=tuple(data["sizes"]),
            focus=tuple(focus) if focus is not None else None, estimate=data.get("estimate"),
            ci=(None if ci is None else tuple(math.inf if v is None else float(v) for v in ci)),
            runs=data.get("runs"), note=data.get("note"), stopped=data.get("stopped"),
        )

    def with_estimate(self, **values: Any) -> WaveRecord:
        """A copy with the estimate fields set."""
        return replace(self, **values)


def _identity(store: Store) -> str:
    text = store.get_meta("identity") or ""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_waves(store: Store) -> list[WaveRecord]:
    """The recorded waves of the study as it now is, in order (none for a study that is not
    adaptive, or whose waves were drawn for another corpus or design)."""
    text = store.get_meta(WAVES_KEY)
    if not text:
        return []
    data = json.loads(text)
    if data.get("identity") != _identity(store):
        return []
    return [WaveRecord.from_json(item) for item in data["waves"]]


def write_waves(store: Store, waves: list[WaveRecord]) -> None:
    """Record the waves (replacing what was recorded)."""
    store.set_meta(WAVES_KEY, json.dumps({"identity": _identity(store),
                                          "waves": [w.to_json() for w in waves]}))


def recorded_subsets(store: Store) -> list[Subset]:
    """The subsets of the waves after the first (the first is the config's own design)."""
    return store.subsets([s for wave in read_waves(store)[1:] for s in wave.subsets])
