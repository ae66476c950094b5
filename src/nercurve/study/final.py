"""``[run] keep = "final"``: after a study's runs, one model per arm trained on the whole
training pool with the arm's settings, selected on the dev set, scored on the test set and
kept in ``models/final/<arm>/`` (:mod:`nercurve.study.keep`).

The training is a job like the study's own (:func:`~nercurve.study.jobs.execute_job` on the
subset :data:`~nercurve.study.jobs.FINAL_SUBSET`, the pool; the first of the study's seeds),
run in this process after the executor is done. Its scores go to ``final_models.json`` in
the study folder (arm → F1, precision, recall, dev F1, steps, folder) and to the model card.
A final model whose card names the same arm type, parameters, seed and pool is not trained
again when the study is run again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from nercurve.study.design import content_hash
from nercurve.study.jobs import FINAL_SUBSET, Arm, StudyData, execute_job
from nercurve.study.keep import models_dir, place_final, read_card
from nercurve.study.store import ClaimedJob

#: The table of final models' scores in a study folder.
FINAL_FILE = "final_models.json"


def final_job(arm: Arm, pool_ids: tuple[str, ...], seed: int) -> ClaimedJob:
    """The job that trains ``arm``'s final model on the pool documents ``pool_ids``."""
    key = json.dumps({"arm": arm.name, "type": arm.type, "params": arm.params, "seed": seed,
                      "pool": content_hash(pool_ids)}, sort_keys=True)
    return ClaimedJob(
        job_id="final-" + hashlib.sha256(key.encode()).hexdigest()[:16], claim="",
        subset_id=FINAL_SUBSET, doc_ids=pool_ids if arm.needs_training_data else (),
        backend=arm.name, backend_type=arm.type, params=arm.params, seed=seed)


def train_final(study_dir: Path, data: StudyData, arms: Sequence[Arm],
                seed: int) -> dict[str, dict[str, Any]]:
    """Train, score and keep the final model of each of ``arms`` on ``data``'s pool with
    ``seed`` (one already kept with the same settings and pool stays); returns and writes
    ``final_models.json``."""
    data = replace(data, keep=str(models_dir(study_dir)))
    pool_ids = tuple(sorted(data.pool))
    table = read_final(study_dir)
    for arm in arms:
        job = final_job(arm, pool_ids, seed)
        place = models_dir(study_dir) / "final" / arm.name
        card = read_card(place) if place.is_dir() else None
        if card is None or card.get("job_id") != job.job_id or arm.name not in table:
            execute_job(job, data)
            place = place_final(study_dir, job.job_id)
            card = read_card(place) or {}
        metrics = card.get("metrics", {})
        table[arm.name] = {**{k: metrics.get(k) for k in
                              ("f1", "precision", "recall", "dev_f1", "steps")},
                           "seed": seed, "documents": len(job.doc_ids),
                           "path": str(place.relative_to(study_dir))}
        _write_final(study_dir, table)
    return table


def read_final(study_dir: str | Path) -> dict[str, dict[str, Any]]:
    """The final models' scores by arm (empty when the study has none)."""
    try:
        table = json.loads((Path(study_dir) / FINAL_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return table if isinstance(table, dict) else {}


def _write_final(study_dir: Path, table: dict[str, dict[str, Any]]) -> None:
    path = study_dir / FINAL_FILE
    partial = path.with_name(f".{FINAL_FILE}.partial")
    partial.write_text(json.dumps(table, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(partial, path)
