"""Run a study: read the corpus, split it, draw the design, plan jobs, execute, record.

A study folder holds ``results.sqlite`` (the store), ``study.toml`` (the config file
as run, when run from one), ``study.json`` (the validated config with absolute
paths), ``corpus_stats.json``, ``design.csv`` and ``split.json``. Running the same
config again skips finished jobs; a config whose split or design differs from the
stored one is refused (a study folder holds one study), while new backend arms,
seeds or more subsets per stratum are added to it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nercurve.corpus.model import Corpus, Doc, Notice
from nercurve.errors import ConfigError
from nercurve.study.config import StudyConfig
from nercurve.study.design import Subset, draw_design
from nercurve.study.executor import LocalExecutor, ProgressCallback, detect_gpus
from nercurve.study.jobs import ZERO_SUBSET, Arm, StudyData, plan_jobs, validate_arms
from nercurve.study.store import STORE_NAME, Store


@dataclass(frozen=True)
class PreparedStudy:
    """Everything a run needs before any job starts."""

    config: StudyConfig
    data: StudyData
    subsets: list[Subset]
    arms: list[Arm]
    split_ids: dict[str, list[str]]
    notices: list[Notice] = field(default_factory=list)


def _read(config: StudyConfig, path: Path) -> Corpus:
    from nercurve.corpus.io import ReadOptions, read_corpus

    section = config.corpus
    try:
        options = ReadOptions(
            label_map=section.label_map,
            labels=frozenset(section.labels) if section.labels is not None else None,
            overlap=section.overlap,
            mismatch=section.mismatch,
            **section.options,
        )
    except TypeError as err:
        raise ConfigError(
            f"invalid key in corpus.options: {err}",
            hint="see nercurve.corpus.io.ReadOptions for the reader options",
        ) from None
    return read_corpus(path, section.format, options)


def split_documents(
    config: StudyConfig,
) -> tuple[list[Doc], list[Doc], list[Doc], list[Notice]]:
    """The training pool, the selection (dev) set and the test set of a study, and the
    notices (counted repairs) of reading them."""
    from nercurve.corpus.split import split_corpus

    sp = config.split
    notices: list[Notice] = []
    if sp.train_file is not None and sp.test_file is not None:
        parts_read = [_read(config, sp.train_file), _read(config, sp.test_file)]
        if sp.dev_file is not None:
            parts_read.append(_read(config, sp.dev_file))
        for part in parts_read:
            notices += part.notices
        pool, test = parts_read[0].docs, parts_read[1].docs
        dev = parts_read[2].docs if sp.dev_file is not None else []
    else:
        corpus = _read(config, config.corpus.path)
        notices += corpus.notices
        dev_fraction = 0.0 if sp.select_on == "test" else sp.dev
        parts = split_corpus(
            corpus, test=sp.test, dev=dev_fraction, seed=sp.seed, stratify=sp.stratify
        )
        index = corpus.by_id()
        pool = [index[i] for i in parts.train_ids]
        dev = [index[i] for i in parts.dev_ids]
        test = [index[i] for i in parts.test_ids]
    if sp.select_on == "test":
        dev = list(test)
    if not test:
        raise ConfigError("the test set is empty", hint="raise split.test or give a test_file")
    if not dev:
        raise ConfigError("the dev set is empty", hint="raise split.dev or give a dev_file")
    return pool, dev, test, notices


def prepare(config: StudyConfig) -> PreparedStudy:
    """Read, split and segment the corpus, draw the design and validate the backends."""
    from nercurve.corpus.segment import segment
    from nercurve.corpus.stats import doc_counts

    arms = validate_arms(config.backends)
    pool, dev, test, notices = split_documents(config)
    pool, dev, test = segment(pool), segment(dev), segment(test)
    subsets = draw_design(config.design, doc_counts(pool))
    return PreparedStudy(
        config=config,
        data=StudyData(pool={d.id: d for d in pool}, dev=tuple(dev), test=tuple(test)),
        subsets=subsets,
        arms=arms,
        split_ids={
            "train": [d.id for d in pool],
            "dev": [d.id for d in dev],
            "test": [d.id for d in test],
        },
        notices=notices,
    )


def _fingerprint(prepared: PreparedStudy) -> str:
    cfg = prepared.config
    key = {
        "split": prepared.split_ids,
        "design": cfg.design.model_dump(
            mode="json", exclude={"subsets_per_stratum", "subsets_per_size"}
        ),
        "select_on": cfg.split.select_on,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def _write_files(prepared: PreparedStudy, out: Path, config_text: str | None) -> None:
    from nercurve.corpus.stats import corpus_stats

    data = prepared.data
    if config_text is not None:
        (out / "study.toml").write_text(config_text, encoding="utf-8")
    resolved = prepared.config.model_dump(mode="json")
    (out / "study.json").write_text(json.dumps(resolved, indent=2), encoding="utf-8")
    stats = {
        "pool": corpus_stats(list(data.pool.values())).to_dict(),
        "dev": corpus_stats(list(data.dev)).to_dict(),
        "test": corpus_stats(list(data.test)).to_dict(),
        "select_on": prepared.config.split.select_on,
        "reading_notices": dict(Counter(n.kind for n in prepared.notices)),
    }
    (out / "corpus_stats.json").write_text(json.dumps(stats, indent=2), encoding="utf-8")
    (out / "split.json").write_text(json.dumps(prepared.split_ids, indent=1), encoding="utf-8")
    with open(out / "design.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            ["subset_id", "stratum", "target", "n_docs", "n_sentences", "n_tokens",
             "n_entities", "eps", "doc_ids"]
        )
        for s in prepared.subsets:
            writer.writerow(
                [s.subset_id, s.stratum, s.target, s.n_docs, s.n_sentences, s.n_tokens,
                 s.n_entities, f"{s.eps:.6f}", " ".join(s.doc_ids)]
            )


def initialise(prepared: PreparedStudy, *, config_text: str | None = None) -> Path:
    """Create or extend the study folder and its store; returns the store path."""
    out = Path(prepared.config.output)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"cannot create the output folder: {err.strerror}", file=out) from None
    store_path = out / STORE_NAME
    fingerprint = _fingerprint(prepared)
    with Store(store_path) as store:
        stored = store.get_meta("fingerprint")
        if stored is not None and stored != fingerprint:
            raise ConfigError(
                "this output folder holds a study with a different split or design",
                file=store_path,
                hint="set `output` to a new folder, or restore the study's original config "
                "(its copy is study.toml in that folder)",
            )
        subsets = list(prepared.subsets)
        if any(not a.needs_training_data for a in prepared.arms):
            subsets.append(ZERO_SUBSET)
        store.add_subsets(subsets)
        store.add_jobs(plan_jobs(prepared.subsets, prepared.arms, prepared.config.seeds))
        if stored is None:
            store.set_meta("fingerprint", fingerprint)
            store.set_meta("name", prepared.config.name)
    _write_files(prepared, out, config_text)
    return store_path


def run_study(
    config: StudyConfig,
    *,
    workers: int | None = None,
    retry_failed: bool = False,
    on_progress: ProgressCallback | None = None,
    config_text: str | None = None,
    runs_per_gpu: int | None = None,
    on_notices: Callable[[list[Notice]], None] | None = None,
) -> Path:
    """Run every job of a study that has not finished yet; returns the study folder.

    ``workers`` defaults to the config's ``run.workers``, else the number of cores
    (or, when some arm wants a GPU and GPUs are present, GPUs × ``runs_per_gpu``, which
    defaults to the config's ``run.runs_per_gpu``).
    ``on_notices`` receives what reading the corpus repaired or left out (their counts by
    kind are also kept in ``corpus_stats.json``), before any job starts.
    """
    prepared = prepare(config)
    if on_notices is not None and prepared.notices:
        on_notices(prepared.notices)
    store_path = initialise(prepared, config_text=config_text)
    with Store(store_path) as store:
        store.recover_orphans()
        if retry_failed:
            store.retry_failed()
    gpus = detect_gpus() if _wants_gpu(prepared.arms) else []
    runs_per_gpu = runs_per_gpu or config.run.runs_per_gpu
    n_workers = workers or config.run.workers
    if n_workers is None:
        n_workers = len(gpus) * runs_per_gpu if gpus else (os.cpu_count() or 1)
    executor = LocalExecutor(
        workers=n_workers,
        timeout_s=config.run.timeout_s,
        gpus=gpus or None,
        runs_per_gpu=runs_per_gpu,
    )
    executor.execute(store_path, prepared.data, on_progress)
    return Path(config.output)


def _wants_gpu(arms: Sequence[Arm]) -> bool:
    from nercurve.backends import get_backend

    for arm in arms:
        backend = get_backend(arm.type)
        wants = getattr(backend, "wants_gpu", None)
        if wants is not None and wants(backend.Params.model_validate(arm.params)):
            return True
    return False

