"""Run a study: read the corpus, split it, draw the design, plan jobs, execute, record.

A study folder holds ``results.sqlite`` (the store), ``study.toml`` (the config file
as run, when run from one), ``study.json`` (the validated config with absolute
paths), ``corpus_stats.json``, ``design.csv`` and ``split.json``; with ``run.keep``, also
``models/`` (:mod:`nercurve.study.keep`) and, for ``"final"``, ``final_models.json``.
Running the same config again skips finished jobs; a config whose split or design differs
from the stored one is refused (a study folder holds one study), while new backend arms,
seeds or more subsets per stratum are added to it.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nercurve.corpus.model import Corpus, Doc, Notice
from nercurve.errors import ConfigError
from nercurve.study.config import CorpusSection, ExternalTestSection, StudyConfig
from nercurve.study.design import Subset, draw_design
from nercurve.study.executors import EXECUTORS
from nercurve.study.executors.protocol import Executor, ProgressCallback
from nercurve.study.jobs import (
    ZERO_SUBSET,
    Arm,
    StudyData,
    plan_jobs,
    validate_arms,
    with_trainings,
)
from nercurve.study.keep import check_keep, models_dir
from nercurve.study.selection import (
    check_selection,
    select_subsets,
    selected_strategies,
    selection_identity,
)
from nercurve.study.store import STORE_NAME, Store
from nercurve.study.wave_records import recorded_subsets

if TYPE_CHECKING:
    from nercurve.corpus.io import ReadOptions
    from nercurve.study.wave_policy import Estimator
    from nercurve.tasks import Task


@dataclass(frozen=True)
class PreparedStudy:
    """Everything a run needs before any job starts."""

    config: StudyConfig
    data: StudyData
    subsets: list[Subset]
    arms: list[Arm]
    split_ids: dict[str, list[str]]
    notices: list[Notice] = field(default_factory=list)


def read_options(section: CorpusSection, where: str = "corpus") -> ReadOptions:
    """The reader options of a ``[corpus]`` (or ``[[external_tests]]``) section."""
    from nercurve.corpus.io import ReadOptions

    try:
        return ReadOptions(
            label_map=section.label_map,
            labels=frozenset(section.labels) if section.labels is not None else None,
            overlap=section.overlap,
            mismatch=section.mismatch,
            **section.options,
        )
    except TypeError as err:
        raise ConfigError(
            f"invalid key in {where}.options: {err}",
            hint="see nercurve.corpus.io.ReadOptions for the reader options",
        ) from None


def _read(config: StudyConfig, path: Path) -> Corpus:
    from nercurve.corpus.io import read_corpus

    return read_corpus(path, config.corpus.format, read_options(config.corpus))


def read_external_test(
    section: ExternalTestSection, labels: set[str], where: str, task: Task
) -> tuple[list[Doc], list[Notice]]:
    """An extra test set kept to the study's ``labels`` by its ``task`` (NER: spans of other
    labels are dropped; classification: documents carrying a class the study lacks are left
    out), with a counted notice for each. Its name must not be one of the labels (the result
    columns ``f1_<name>`` and ``f1_<LABEL>`` would clash)."""
    from nercurve.corpus.io import read_corpus

    _check_name(section.name, labels, where, task)
    corpus = read_corpus(section.path, section.format, read_options(section, where))
    notices = list(corpus.notices)
    docs = []
    for doc in corpus.docs:
        kept, dropped = task.external_doc(doc, labels, section.name, str(section.path))
        notices += dropped
        if kept is not None:
            docs.append(kept)
    if not docs:
        raise ConfigError(f"{where}: the external test set '{section.name}' has no documents",
                          file=section.path)
    if not task.labels(docs, None):
        notices.append(Notice(
            kind="test-set-without-labels", file=str(section.path),
            message=f"{where}: the test set '{section.name}' keeps no entity of the study's "
                    f"labels ({', '.join(sorted(labels))}): every model scores 0 on it; map "
                    "its labels onto the study's with label_map, or leave it out"))
    return docs, notices


def _check_name(name: str, labels: set[str], where: str, task: Task) -> None:
    """A test set's name must not be one of the study's labels (the result columns
    ``f1_<name>`` and ``f1_<LABEL>`` would clash)."""
    if name in labels:
        raise ConfigError(
            f"{where}.name '{name}' is also {task.words.label} of the study",
            hint="choose another name: results carry both f1_<LABEL> and f1_<name> columns",
        )


@dataclass(frozen=True)
class OtherCorpora:
    """The auxiliary and test-only corpora of a multi-corpus study, as its jobs read them."""

    #: Each corpus's (mapped) labels by name.
    labels: dict[str, frozenset[str]]
    #: The auxiliary corpora's training documents (``size`` of them when given).
    training: dict[str, tuple[Doc, ...]]
    #: The auxiliary corpora's test parts and the test-only corpora, by name.
    tests: dict[str, tuple[Doc, ...]]


def tag_corpus(docs: Sequence[Doc], name: str, labels: Iterable[str]) -> tuple[Doc, ...]:
    """The documents with ``meta["corpus"]`` (the corpus's name) and ``meta["corpus_labels"]``
    (its labels, a sorted tuple) set, as every document of a multi-corpus study carries."""
    tag = {"corpus": name, "corpus_labels": tuple(sorted(labels))}
    return tuple(dataclasses.replace(d, meta={**d.meta, **tag}) for d in docs)


def read_other_corpora(config: StudyConfig, target_labels: set[str],
                       task: Task) -> tuple[OtherCorpora, list[Notice]]:
    """Read, split and segment the auxiliary corpora (the study's test fraction and split
    seed; a seeded draw of ``size`` training documents) and read the test-only ones whole
    (kept to the labels of the target and the auxiliary corpora, as an external test set)."""
    import random

    from nercurve.corpus.io import read_corpus
    from nercurve.corpus.segment import segment
    from nercurve.corpus.split import split_corpus

    sp = config.split
    notices: list[Notice] = []
    labels: dict[str, frozenset[str]] = {}
    training: dict[str, tuple[Doc, ...]] = {}
    tests: dict[str, tuple[Doc, ...]] = {}
    where = {c.name: f"corpora[{i}]" for i, c in enumerate(config.corpora)}
    for entry in config.auxiliaries:
        corpus = read_corpus(entry.path, entry.format, read_options(entry, where[entry.name]))
        notices += corpus.notices
        parts = split_corpus(corpus, test=sp.test, dev=0.0, seed=sp.seed)
        index = corpus.by_id()
        train = [index[i] for i in parts.train_ids]
        if entry.size is not None:
            if entry.size > len(train):
                raise ConfigError(
                    f"{where[entry.name]}.size: {entry.size} documents asked of the auxiliary "
                    f"corpus '{entry.name}', whose training part holds {len(train)}",
                    file=entry.path, hint="lower size, or leave it out to use them all")
            kept = set(random.Random(f"{sp.seed}:{entry.name}").sample(
                range(len(train)), entry.size))
            train = [d for i, d in enumerate(train) if i in kept]
        test = [index[i] for i in parts.test_ids]
        if not test:
            raise ConfigError(f"{where[entry.name]}: the auxiliary corpus '{entry.name}' leaves "
                              "no test documents", file=entry.path, hint="raise split.test")
        labels[entry.name] = frozenset(task.labels(corpus.docs, None))
        training[entry.name], tests[entry.name] = tuple(segment(train)), tuple(segment(test))
    known = set(target_labels).union(*labels.values())
    for entry in config.corpora:
        if entry.role == "auxiliary":
            _check_name(entry.name, known, where[entry.name], task)
        elif entry.role == "test-only":
            docs, found = read_external_test(entry, known, where[entry.name], task)
            notices += found
            labels[entry.name] = frozenset(task.labels(docs, None))
            tests[entry.name] = tuple(segment(docs))
    for name in training:
        training[name] = tag_corpus(training[name], name, labels[name])
    tests = {name: tag_corpus(docs, name, labels[name]) for name, docs in tests.items()}
    return OtherCorpora(labels, training, tests), notices


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
        classes = None
        if sp.stratify:
            classes = config.study_task().split_classes(corpus.docs,
                                                        _scheme(config, corpus.docs))
        parts = split_corpus(
            corpus, test=sp.test, dev=dev_fraction, seed=sp.seed, stratify=sp.stratify,
            classes=classes,
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


def _scheme(config: StudyConfig, docs: Sequence[Doc]) -> Any:
    """What the study's task reads gold with, from its documents (and its ``labels``)."""
    return config.study_task().scheme(docs, config.corpus.labels,
                                      source=str(config.corpus.path))


def prepare(config: StudyConfig) -> PreparedStudy:
    """Read, split and segment the corpus, draw the design's random subsets and validate
    the backends (and that they can carry out the design's selection; selected subsets are
    made by :func:`add_selected`, where the study runs)."""
    from nercurve.corpus.segment import segment
    from nercurve.corpus.stats import doc_counts

    task = config.study_task()
    arms = validate_arms(config.backends, task.name)
    check_selection(config, arms)
    check_keep(arms, config.run.keep)
    pool, dev, test, notices = split_documents(config)
    pool, dev, test = segment(pool), segment(dev), segment(test)
    scheme = _scheme(config, [*pool, *dev, *test])
    subsets = draw_design(config.design, doc_counts(pool), task.split_classes(pool, scheme))
    labels = task.labels([*pool, *dev, *test], scheme)
    external: dict[str, tuple[Doc, ...]] = {}
    for index, section in enumerate(config.external_tests):
        docs, found = read_external_test(section, labels, f"external_tests[{index}]", task)
        external[section.name] = tuple(segment(docs))
        notices += found
    multi: dict[str, Any] = {}
    target = config.target
    if target is not None:
        other, found = read_other_corpora(config, labels, task)
        notices += found
        pool, dev, test = (tag_corpus(docs, target.name, labels) for docs in (pool, dev, test))
        external = {name: tag_corpus(docs, name, labels) for name, docs in external.items()}
        multi = {"target": target.name, "corpus_labels": {target.name: frozenset(labels),
                                                          **other.labels},
                 "auxiliary": other.training, "corpus_tests": other.tests,
                 "share": config.share}
        mixing = {"auxiliary": {n: _content_digest(d) for n, d in other.training.items()},
                  "share": config.share}
        arms = with_trainings(arms, config.trainings, _digest(mixing))
        multi["multi_arms"] = frozenset(a.name for a in arms if a.training == "multi")
    return PreparedStudy(
        config=config,
        data=StudyData(pool={d.id: d for d in pool}, dev=tuple(dev), test=tuple(test),
                       external=external, task=task, scheme=scheme,
                       keep=(str(models_dir(Path(config.output).resolve()))
                             if config.run.keep == "best" else None), **multi),
        subsets=subsets,
        arms=arms,
        split_ids={
            "train": [d.id for d in pool],
            "dev": [d.id for d in dev],
            "test": [d.id for d in test],
        },
        notices=notices,
    )


def _legacy_fingerprint(prepared: PreparedStudy) -> str:
    """The single digest that stores written before study identities were kept hold."""
    cfg = prepared.config
    key = {
        "split": prepared.split_ids,
        "design": cfg.design.identity(),
        "select_on": cfg.split.select_on,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def _content_digest(docs: Sequence[Doc]) -> str:
    """A digest of documents' ids, texts and spans: what a result depends on."""
    return _digest([[d.id, d.text, [[s.start, s.end, s.label] for s in d.spans]] for d in docs])


def study_identity(prepared: PreparedStudy) -> dict[str, str]:
    """What every stored row depends on, as ``{what: value or digest}``.

    The parts' documents (ids and content), the reading options (labels, label map,
    policies) and the design; not the corpus's path or format (moving or converting a
    file changes no result) and not ``subsets_per_stratum`` (growing it adds subsets).
    """
    cfg = prepared.config
    data = prepared.data
    identity = {
        f"split: the {name} documents": _digest(ids) for name, ids in prepared.split_ids.items()
    }
    parts = {"training pool": list(data.pool.values()), "dev set": data.dev,
             "test set": data.test}
    identity.update(
        {f"corpus: the text or annotations of the {name}": _content_digest(docs)
         for name, docs in parts.items()}
    )
    # options left at their defaults are not listed, so an option added to a later version
    # of the readers does not make every stored study look changed
    defaults = dataclasses.asdict(type(read_options(cfg.corpus))())
    reading = dataclasses.asdict(read_options(cfg.corpus))
    identity.update(
        {f"corpus.{k}": json.dumps(v, sort_keys=True, default=sorted)
         for k, v in reading.items() if v != defaults.get(k)}
    )
    identity.update({f"design.{k}": json.dumps(v) for k, v in cfg.design.identity().items()})
    # selected subsets depend on the arm that selects them (none without uncertainty)
    identity.update(selection_identity(cfg, prepared.arms))
    identity["split.select_on"] = json.dumps(cfg.split.select_on)
    # models are not kept: runs made before an external test set was added cannot be scored
    # on it, so a changed list of external tests is a changed study
    for name, docs in data.external.items():
        identity[f"external test '{name}'"] = _content_digest(docs)
    if data.target is not None:  # a multi-corpus study: every corpus, its role, the mixing
        identity["corpora.target"] = json.dumps(data.target)
        roles = {c.name: c.role for c in cfg.corpora}
        for name, docs in data.auxiliary.items():
            identity[f"corpus: the training part of the auxiliary corpus '{name}'"] = (
                _content_digest(docs))
        for name, docs in data.corpus_tests.items():
            identity[f"corpus: the test set of the {roles[name]} corpus '{name}'"] = (
                _content_digest(docs))
        identity["multitask.share"] = json.dumps(cfg.share)
    identity.update(data.task.identity(parts))  # none for NER: its identity stays as it was
    return identity


def _changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``what: old → new`` for each key whose value differs (digests just 'changed')."""
    out = []
    for key in sorted(old.keys() | new.keys()):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if key.startswith(("split:", "corpus:", "external test")):
            out.append(f"{key} changed")
        else:
            out.append(f"{key}: {before if before is not None else '(default)'} → "
                       f"{after if after is not None else '(default)'}")
    return out


_WAYS_OUT = (
    "set `output` to a new folder for the new study, restore the config that made these "
    "rows (its copy is study.toml in the folder), or rerun with --drop-changed to set the "
    "old rows aside (they stay in the store, listed by `status`, but leave the results)"
)


def _check_identity(store: Store, prepared: PreparedStudy, drop_changed: bool) -> None:
    """Refuse (or, with ``drop_changed``, archive) rows made from another corpus or design."""
    identity = study_identity(prepared)
    stored_text = store.get_meta("identity")
    legacy = store.get_meta("fingerprint")
    if stored_text is not None:
        changes = _changes(json.loads(stored_text), identity)
    elif legacy is not None and legacy != _legacy_fingerprint(prepared):
        changes = ["the split or the design (stored by an earlier nercurve version)"]
    else:
        changes = []
    if changes and not drop_changed:
        raise ConfigError(
            "this output folder holds a study made from another corpus, split or design; "
            "what changed: " + "; ".join(changes),
            file=store.path,
            hint=_WAYS_OUT,
        )
    if changes:
        store.archive(reason="corpus, split or design changed: " + "; ".join(changes))
    store.set_meta("identity", json.dumps(identity, sort_keys=True))
    store.set_meta("fingerprint", _legacy_fingerprint(prepared))


def _check_arms(store: Store, arms: Sequence[Arm], drop_changed: bool) -> None:
    """Refuse (or, with ``drop_changed``, archive) rows of an arm stored with other settings."""
    stored = store.arm_definitions()
    problems: dict[str, str] = {}
    for arm in arms:
        for before in stored.get(arm.name, []):
            if before != {"type": arm.type, "params": arm.params}:
                old = {"type": before["type"], **before["params"]}
                new = {"type": arm.type, **arm.params}
                problems[arm.name] = "; ".join(_changes(
                    {k: json.dumps(v, sort_keys=True) for k, v in old.items()},
                    {k: json.dumps(v, sort_keys=True) for k, v in new.items()},
                ))
    if problems and not drop_changed:
        described = "; ".join(f"'{name}' ({what})" for name, what in problems.items())
        raise ConfigError(
            f"backend arm(s) changed under the same name, which would mix two settings in "
            f"one arm: {described}",
            file=store.path,
            hint="give the changed arm a new `name` (both are kept and compared), " + _WAYS_OUT,
        )
    for arm in arms:
        if arm.name in problems:
            store.archive(backends={arm.name: (arm.type, arm.params)},
                          reason=f"arm settings changed: {problems[arm.name]}")


def _write_files(prepared: PreparedStudy, out: Path, config_text: str | None) -> None:
    data = prepared.data

    def described(docs: Sequence[Doc]) -> dict[str, Any]:
        """A part's corpus statistics, as the study's task gives them."""
        return data.task.part_stats(docs, data.scheme)

    if config_text is not None:
        (out / "study.toml").write_text(config_text, encoding="utf-8")
    # study.json parses as the config again: [[corpora]] stands for [corpus], and a study
    # of one corpus keeps its study.json as it was
    resolved = prepared.config.model_dump(
        mode="json", exclude={"corpus"} if data.target is not None else {"corpora", "multitask"})
    (out / "study.json").write_text(json.dumps(resolved, indent=2), encoding="utf-8")
    stats = {
        "pool": described(list(data.pool.values())),
        "dev": described(data.dev),
        "test": described(data.test),
        "external_tests": {name: described(docs) for name, docs in
                           {**data.external, **_test_only(prepared)}.items()},
        **({"corpora": _corpora_stats(prepared)} if data.target is not None else {}),
        "select_on": prepared.config.split.select_on,
        "reading_notices": dict(Counter(n.kind for n in prepared.notices)),
        **data.task.stats_meta(),
    }
    (out / "corpus_stats.json").write_text(json.dumps(stats, indent=2), encoding="utf-8")
    (out / "split.json").write_text(json.dumps(prepared.split_ids, indent=1), encoding="utf-8")
    with open(out / "design.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        # a design that selects records how (a random-only design.csv stays as it was)
        selective = any(s.selection != "random" for s in prepared.subsets)
        costs = ("selection", "selection_rounds", "selection_seconds", "selection_runs")
        writer.writerow(
            ["subset_id", "stratum", *(costs if selective else ()), "target", "n_docs",
             "n_sentences", "n_tokens", *data.task.design_columns, "doc_ids"]
        )
        for s in prepared.subsets:
            writer.writerow(
                [s.subset_id, s.stratum,
                 *([getattr(s, c) for c in costs] if selective else []), s.target, s.n_docs,
                 s.n_sentences, s.n_tokens, *data.task.design_row(s), " ".join(s.doc_ids)]
            )


def _test_only(prepared: PreparedStudy) -> dict[str, tuple[Doc, ...]]:
    """The test-only corpora of a multi-corpus study, by name (listed as external tests)."""
    return {c.name: prepared.data.corpus_tests[c.name] for c in prepared.config.corpora
            if c.role == "test-only"}


def _corpora_stats(prepared: PreparedStudy) -> dict[str, dict[str, Any]]:
    """Each corpus of a multi-corpus study: its role, labels, and the documents, sentences
    and test documents the study uses of it."""
    data = prepared.data
    out = {}
    for entry in prepared.config.corpora:
        if entry.role == "target":
            test, docs = data.test, [*data.pool.values(), *data.dev, *data.test]
        else:
            test = data.corpus_tests[entry.name]
            docs = [*data.auxiliary.get(entry.name, ()), *test]
        out[entry.name] = {"role": entry.role, "labels": sorted(data.corpus_labels[entry.name]),
                           "documents": len(docs),
                           "sentences": sum(len(d.sentences or ()) for d in docs),
                           "test_documents": len(test)}
    return out


def _output(prepared: PreparedStudy) -> Path:
    """The study folder, created if need be."""
    out = Path(prepared.config.output)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"cannot create the output folder: {err.strerror}", file=out) from None
    return out


def add_selected(prepared: PreparedStudy, *, drop_changed: bool = False,
                 on_round: Callable[[str], None] | None = None) -> PreparedStudy:
    """``prepared`` with the subsets of the design's non-random selection strategies (see
    :mod:`nercurve.study.selection`), each after the random subset of its slot. The store's
    study identity and arms are checked first, so that no selection is spent on a study the
    folder would refuse; finished trajectories are read from the study folder."""
    if not selected_strategies(prepared.config):
        return prepared
    out = _output(prepared)
    with Store(out / STORE_NAME) as store:
        _check_identity(store, prepared, drop_changed)
        _check_arms(store, prepared.arms, drop_changed)
    key = _digest(study_identity(prepared))
    selected = select_subsets(prepared.config, prepared.data, prepared.arms, out, key,
                              on_round=on_round)
    slot = {s.subset_id: i for i, s in enumerate(prepared.subsets)}
    merged = sorted([*prepared.subsets, *selected],
                    key=lambda s: slot.get(s.subset_id.split("@")[0], len(slot)))
    if not slot:  # no random arm: the selected subsets in their slots' order
        merged = selected
    return dataclasses.replace(prepared, subsets=merged)


def initialise(
    prepared: PreparedStudy, *, config_text: str | None = None, drop_changed: bool = False
) -> Path:
    """Create or extend the study folder and its store; returns the store path.

    The store's jobs become exactly the config's jobs: new ones are added, finished ones
    kept, and ones the config no longer names are left inactive (kept, not run, not in
    the results). Rows made from another corpus, split, design or arm settings are
    refused with what changed; with ``drop_changed`` they are set aside instead.
    """
    out = _output(prepared)
    store_path = out / STORE_NAME
    with Store(store_path) as store:
        _check_identity(store, prepared, drop_changed)
        _check_arms(store, prepared.arms, drop_changed)
        planned = list(prepared.subsets)
        if prepared.config.design.adaptive is not None:  # the waves drawn so far stay active
            planned += recorded_subsets(store)
        subsets = list(planned)
        data = prepared.data
        if any(not a.needs_training_data for a in prepared.arms):
            subsets.append(data.task.zero_subset(ZERO_SUBSET, data.scheme))
        store.add_subsets(subsets)
        store.add_jobs(plan_jobs(planned, prepared.arms, prepared.config.seeds))
        if store.get_meta("name") is None:
            store.set_meta("name", prepared.config.name)
        if data.target is not None:
            store.set_arm_trainings({a.name: (a.training, a.base_backend)
                                     for a in prepared.arms})
        for key, value in data.task.store_meta().items():
            store.set_meta(key, value)
    _write_files(dataclasses.replace(prepared, subsets=planned), out, config_text)
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
    drop_changed: bool = False,
    estimator: Estimator | None = None,
    on_selection: Callable[[str], None] | None = None,
) -> Path:
    """Run every job of a study that has not finished yet; returns the study folder.

    ``workers`` defaults to the config's ``run.workers``, else the number of cores
    (or, when some arm wants a GPU and GPUs are present, GPUs × ``runs_per_gpu``, which
    defaults to the config's ``run.runs_per_gpu``).
    ``on_notices`` receives what reading the corpus repaired or left out (their counts by
    kind are also kept in ``corpus_stats.json``), before any job starts. ``drop_changed``
    sets aside rows made with another corpus, design or arm settings instead of refusing
    to run (see :func:`initialise`). ``estimator`` estimates an adaptive design's target
    after each wave (required for an adaptive design: the study package knows nothing of
    the analysis; pass :func:`nercurve.analysis.wave_estimate.estimate_target`).
    A design with non-random ``selection`` selects its subsets first (trajectories kept in
    the study folder; ``on_selection`` hears one line per selection round).
    """
    if config.design.adaptive is not None and estimator is None:
        raise ConfigError("an adaptive design needs an estimator of its target",
                          hint="pass estimator=nercurve.analysis.wave_estimate.estimate_target"
                               " to run_study (the CLI does)")
    prepared = prepare(config)
    if on_notices is not None and prepared.notices:
        on_notices(prepared.notices)
    prepared = add_selected(prepared, drop_changed=drop_changed, on_round=on_selection)
    store_path = initialise(prepared, config_text=config_text, drop_changed=drop_changed)
    with Store(store_path) as store:
        store.recover_orphans()
        if retry_failed:
            store.retry_failed()
    executor = choose_executor(config, prepared.arms, workers=workers,
                               runs_per_gpu=runs_per_gpu or config.run.runs_per_gpu)
    if config.design.adaptive is not None:
        from nercurve.study.adaptive import run_waves

        run_waves(config, prepared.data, prepared.subsets, store_path, executor, on_progress,
                  extend=lambda: initialise(prepared), estimator=estimator)
    else:
        executor.execute(store_path, prepared.data, on_progress)
    if config.run.keep == "final":
        from nercurve.study.final import train_final

        train_final(Path(config.output), prepared.data, prepared.arms, config.seeds[0])
    if config.tracking.mlflow:
        from nercurve.study.tracking import track_study

        track_study(Path(config.output), uri=config.tracking.uri,
                    experiment=config.tracking.experiment)
    return Path(config.output)


def choose_executor(
    config: StudyConfig, arms: Sequence[Arm], *, workers: int | None, runs_per_gpu: int
) -> Executor:
    """The executor ``config.run.executor`` names, set up for the study's arms by its
    registered builder (:data:`nercurve.study.executors.EXECUTORS`)."""
    entry = EXECUTORS[config.run.executor]
    executor: Executor = entry.build(config, gpu_arms=_gpu_arms(arms),
                                     workers=workers or config.run.workers,
                                     runs_per_gpu=runs_per_gpu)
    return executor


def _gpu_arms(arms: Sequence[Arm]) -> frozenset[str]:
    """The names of the arms whose backend wants a GPU."""
    from nercurve.backends import get_backend

    wanting = set()
    for arm in arms:
        backend = get_backend(arm.type, arm.task)
        wants = getattr(backend, "wants_gpu", None)
        if wants is not None and wants(backend.Params.model_validate(arm.params)):
            wanting.add(arm.name)
    return frozenset(wanting)

