"""The models a study keeps (``[run] keep``): saved in their backend's own format, each in a
folder of ``models/`` in the study folder with its model card, never more than one per place.

Layout of ``<study>/models/``:

- ``best/<arm>/<stratum>/`` — ``keep = "best"``: the model of the run with the best test F1
  of that arm and stratum so far (a stratum is the part of a subset id before ``#``:
  ``1-40``, ``wave2``; ``zero`` for an arm that trains on nothing);
- ``final/<arm>/`` — ``keep = "final"``: the model trained on the whole training pool
  (:mod:`nercurve.study.final`);
- ``.scratch/<job id>/`` — where a worker leaves the model of a job it ran (written under a
  ``.partial-`` name first and renamed when complete, model card last), until the job driver
  settles it (:func:`settle`): it is moved into its place when its test F1 beats the kept
  model's, else deleted;
- ``.trash/`` — a kept model on its way out, or a loser on its way to deletion.

Each kept folder is the backend's own (``spacy.load``, ``from_pretrained``, ...; see
:class:`~nercurve.backends.base.Keepable`) with ``model_card.json`` beside the backend's files:
the data digest, the arm's type and validated parameters, the seed, the metrics, the task
and the nercurve version. Replacing a kept model is two renames under a lock file: the old
folder into ``.trash`` and the new one into its place. A kill between them leaves the old
one in ``.trash`` and the job unrecorded (the driver settles before it records the job): the
next settle puts the old one back before the rerun job competes again, so no place ever holds
two models or a half-written one. Only the job driver settles; workers only write scratch.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nercurve.errors import ConfigError, InputError, StoreError

#: The folder of kept models in a study folder, the card's file name, and the kinds.
MODELS = "models"
CARD = "model_card.json"
SCRATCH = ".scratch"
TRASH = ".trash"
PARTIAL = ".partial-"
KEEP_NAMES = ("none", "best", "final")


@dataclass(frozen=True)
class KeptModel:
    """A kept model: its folder, what it is and how it scored (from its card)."""

    path: Path
    kind: str
    arm: str
    stratum: str | None
    f1: float
    dev_f1: float | None
    size_bytes: int
    card: dict[str, Any]


def models_dir(study_dir: str | Path) -> Path:
    """The folder of a study's kept models."""
    return Path(study_dir) / MODELS


def stratum_of(subset_id: str) -> str:
    """A subset's stratum as its id names it (ids are ``<stratum>#<index>``)."""
    return subset_id.rpartition("#")[0] or subset_id


def check_keep(arms: Sequence[Any], keep: str) -> None:
    """Raise :class:`ConfigError` before any job when ``keep`` asks to keep models and an
    arm's backend cannot save them (it declares no ``load``; see
    :func:`nercurve.backends.base.can_keep`)."""
    if keep == "none":
        return
    from nercurve.backends import get_backend
    from nercurve.backends.base import can_keep

    for arm in arms:
        if not can_keep(get_backend(arm.type, arm.task)):
            raise ConfigError(
                f"run.keep = \"{keep}\" but the backend of arm '{arm.name}' (type "
                f"'{arm.type}') cannot save its models",
                hint="set run.keep = \"none\", or leave that arm out of this study",
            )


def model_card(*, kind: str, task: str, arm: str, backend: str, params: dict[str, Any],
               seed: int, data: dict[str, Any], metrics: dict[str, Any],
               job_id: str | None = None, stratum: str | None = None) -> dict[str, Any]:
    """What ``model_card.json`` holds (see the module docstring)."""
    from nercurve import __version__

    return {
        "kind": kind, "task": task, "arm": arm, "backend": backend, "params": params,
        "seed": seed, "job_id": job_id, "stratum": stratum, "data": data, "metrics": metrics,
        "nercurve": __version__,
        "saved": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def save_scratch(models: Path, job_id: str, model: Any, card: dict[str, Any]) -> Path:
    """Save ``model`` (its own ``save``) and its ``card`` as ``.scratch/<job_id>`` of
    ``models``: written under a partial name and renamed when complete (a scratch folder of an
    earlier attempt at the job is replaced)."""
    scratch = models / SCRATCH
    scratch.mkdir(parents=True, exist_ok=True)
    partial = scratch / f"{job_id}{PARTIAL}{uuid.uuid4().hex}"
    partial.mkdir()
    try:
        model.save(partial)
        write_card(partial, card)
        done = scratch / job_id
        if done.exists():
            shutil.rmtree(done)
        os.rename(partial, done)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return done


def write_card(folder: Path, card: dict[str, Any]) -> None:
    """Write ``card`` as the model card of ``folder``."""
    (folder / CARD).write_text(json.dumps(card, indent=1, sort_keys=True), encoding="utf-8")


def read_card(folder: Path) -> dict[str, Any] | None:
    """The model card of ``folder``; None when it has none (or an unreadable one)."""
    try:
        card = json.loads((folder / CARD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return card if isinstance(card, dict) else None


def settle(study_dir: Path, job_id: str, finished: bool) -> Path | None:
    """What the job driver does with the model a worker left for a job, before it records
    the job: when the job ``finished`` and its test F1 beats the kept model of its arm and
    stratum (or none is kept), it takes that model's place; otherwise it is deleted, with
    what a worker killed while saving left of it. Returns the kept folder when it was kept,
    else None (also when the job left no model)."""
    models = models_dir(study_dir)
    scratch = models / SCRATCH / job_id
    if not (models / SCRATCH).is_dir():
        return None
    for partial in (models / SCRATCH).glob(f"{job_id}{PARTIAL}*"):  # a worker killed midway
        shutil.rmtree(partial, ignore_errors=True)
    if not scratch.is_dir():
        return None
    try:
        with _locked(models):
            _recover(models)
            card = read_card(scratch) if finished else None
            if card is None:
                _drop(models, scratch)
                return None
            place = models / "best" / card["arm"] / card["stratum"]
            kept = read_card(place) if place.exists() else None
            if kept is not None and card["metrics"]["f1"] <= kept["metrics"]["f1"]:
                _drop(models, scratch)
                return None
            replace(models, scratch, place)
            return place
    except OSError as err:
        raise StoreError(f"cannot keep the model of job {job_id}: {err}", file=scratch,
                         hint="free disk space in the study folder and run the same command "
                         "again; finished results are kept") from None


def replace(models: Path, new: Path, place: Path) -> None:
    """Put the folder ``new`` at ``place`` (whatever was there goes), by renames that a kill
    cannot leave half done (see the module docstring); the caller holds the lock."""
    place.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if place.exists():
        old = _trash(models, "old")
        os.rename(place, old)
    os.rename(new, place)
    if old is not None:
        shutil.rmtree(old)


def _trash(models: Path, why: str) -> Path:
    trash = models / TRASH
    trash.mkdir(parents=True, exist_ok=True)
    return trash / f"{uuid.uuid4().hex}.{why}"


def _drop(models: Path, folder: Path) -> None:
    """Delete ``folder`` (renamed into the trash first, so no half is left in its place)."""
    gone = _trash(models, "drop")
    os.rename(folder, gone)
    shutil.rmtree(gone)


def _recover(models: Path) -> None:
    """Finish what a kill interrupted: a kept model caught in the trash with its place empty
    goes back; everything else in the trash is deleted."""
    trash = models / TRASH
    if not trash.is_dir():
        return
    for entry in sorted(trash.iterdir()):
        card = read_card(entry) if entry.suffix == ".old" else None
        if card is not None:
            place = _place_of(models, card)
            if not place.exists():
                place.parent.mkdir(parents=True, exist_ok=True)
                os.rename(entry, place)
                continue
        shutil.rmtree(entry, ignore_errors=True)


def _place_of(models: Path, card: dict[str, Any]) -> Path:
    if card.get("kind") == "final":
        return models / "final" / card["arm"]
    return models / "best" / card["arm"] / card["stratum"]


@contextlib.contextmanager
def _locked(models: Path) -> Iterator[None]:
    """Hold the lock of ``models`` (two runners of one study may settle at once)."""
    models.mkdir(parents=True, exist_ok=True)
    with open(models / ".lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def place_final(study_dir: Path, job_id: str) -> Path:
    """Move the model a final training left in scratch to ``final/<arm>`` (replacing an
    earlier one); returns its folder."""
    models = models_dir(study_dir)
    scratch = models / SCRATCH / job_id
    card = read_card(scratch)
    if card is None:
        raise StoreError("the final model was not saved", file=scratch)
    with _locked(models):
        _recover(models)
        place = _place_of(models, card)
        replace(models, scratch, place)
    return place


def kept_models(study_dir: str | Path) -> list[KeptModel]:
    """The models a study keeps (``final`` first, then ``best`` by arm and stratum)."""
    models = models_dir(study_dir)
    found = []
    for kind, pattern in (("final", "final/*"), ("best", "best/*/*")):
        for folder in sorted(models.glob(pattern)):
            card = read_card(folder)
            if card is None or not folder.is_dir():
                continue
            metrics = card.get("metrics", {})
            found.append(KeptModel(path=folder, kind=kind, arm=str(card.get("arm")),
                                   stratum=card.get("stratum"), f1=float(metrics.get("f1", 0)),
                                   dev_f1=metrics.get("dev_f1"), size_bytes=folder_bytes(folder),
                                   card=card))
    return found


def folder_bytes(folder: Path) -> int:
    """The bytes of every file under ``folder`` (0 when it does not exist)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def load_kept(folder: str | Path) -> tuple[dict[str, Any], Any]:
    """The card of a kept model's ``folder`` and the model, loaded by its backend's
    ``load``."""
    from nercurve.backends import get_backend

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("no such model folder", file=folder,
                         hint="give a folder under models/ of a study run with run.keep")
    card = read_card(folder)
    if card is None:
        raise InputError(f"the folder holds no readable {CARD}", file=folder,
                         hint="give a folder that a study kept (models/best/... or "
                         "models/final/...)")
    backend = get_backend(card["backend"], card["task"])
    return card, backend.load(folder)


def predict_with(card: dict[str, Any], model: Any, docs: Sequence[Any]) -> list[Any]:
    """The documents with the predictions of a kept ``model`` (and its ``card``, from
    :func:`load_kept`) in place of their annotations (its task decides how: spans for NER,
    class scores for classification), segmented as a study segments them."""
    from nercurve.corpus.segment import segment
    from nercurve.tasks import get_task

    task = get_task(card["task"])
    docs = segment(list(docs))
    predicted = model.predict(docs) if docs else []
    return [task.predicted_doc(d, p) for d, p in zip(docs, predicted, strict=True)]
