"""What ``nercurve status`` shows, read from a study's store (no printing here)."""

from __future__ import annotations

import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nercurve.study.keep import folder_bytes, kept_models, models_dir
from nercurve.study.store import open_store, runner_gone
from nercurve.study.wave_records import WaveRecord, read_waves


@dataclass
class StudyStatus:
    """Job counts and what holds the running ones.

    ``per_backend`` maps an arm to its counts of pending, running, left (running jobs of a
    runner that is gone), done and failed active jobs, and ``secs`` (mean seconds per
    finished run). ``inactive`` counts stored jobs per arm that the current config no
    longer names; ``archived`` those set aside by ``--drop-changed``. ``waves`` are an
    adaptive design's waves with their estimates (empty for a fixed design). ``kept_models``
    and ``kept_bytes``: how many models the study keeps (``run.keep``) and the disk space
    they use, with the scratch folder of models not settled yet.
    """

    counts: dict[str, int]
    per_backend: dict[str, dict[str, Any]] = field(default_factory=dict)
    left: int = 0
    holders: list[str] = field(default_factory=list)
    inactive: dict[str, int] = field(default_factory=dict)
    archived: int = 0
    failures: list[Any] = field(default_factory=list)
    mean_seconds: float | None = None
    waves: list[WaveRecord] = field(default_factory=list)
    kept_models: int = 0
    kept_bytes: int = 0


def study_status(study_dir: str | Path, *, errors: int = 5) -> StudyStatus:
    """Read a study's status from its store."""
    now, host = time.time(), socket.gethostname()
    with open_store(study_dir) as store:
        report = StudyStatus(counts=store.counts())
        rows = store.job_states()
        report.failures = store.failures(errors)
        report.inactive = store.inactive_counts()
        report.archived = store.archived_count()
        report.waves = read_waves(store)
    holders: Counter[str] = Counter()
    seconds: dict[str, list[float]] = {}
    for r in rows:
        entry = report.per_backend.setdefault(r["backend"], {"secs": None})
        state = r["status"]
        if state == "running":
            if runner_gone(r, now, host):
                state = "left"
                report.left += 1
            else:
                holders[f"host {r['host']}, process {r['owner_pid']}"] += 1
        entry[state] = entry.get(state, 0) + 1
        if r["status"] == "done" and r["seconds"] is not None:
            seconds.setdefault(r["backend"], []).append(r["seconds"])
    for backend, values in seconds.items():
        report.per_backend[backend]["secs"] = sum(values) / len(values)
    every = [v for values in seconds.values() for v in values]
    report.mean_seconds = sum(every) / len(every) if every else None
    report.holders = [f"{n} job(s) held by {who}" for who, n in sorted(holders.items())]
    report.kept_models = len(kept_models(study_dir))
    report.kept_bytes = folder_bytes(models_dir(study_dir))
    return report
