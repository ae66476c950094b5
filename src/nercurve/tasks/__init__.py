"""Tasks: what a study's gold, scores, columns and words are (NER, text classification).

A study's task is decided once: its config names it (checked against :data:`TASK_MODULES`),
the store's meta records it (``task``, and ``metric`` where the task has a choice of outcome;
a store without it is an NER study's), and the analysis reads it from the study folder, or,
for a bare table of runs, from its columns (:func:`task_of_frame`).

Adding a task: a module ``nercurve/tasks/<name>.py`` that defines ``TASK`` (an instance of a
:class:`Task` subclass), plus its name in :data:`TASK_MODULES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from nercurve.corpus.model import Doc
from nercurve.errors import ConfigError
from nercurve.tasks.base import Scores, Task, Words, title

__all__ = ["Scores", "Task", "Words", "get_task", "task_names", "task_of_docs",
           "task_of_frame", "task_of_meta", "title"]

#: The registered tasks: each names a module of this package that defines ``TASK``.
TASK_MODULES = ("ner", "classify")


@cache
def _registry() -> dict[str, Task]:
    tasks = [importlib.import_module(f"nercurve.tasks.{m}").TASK for m in TASK_MODULES]
    return {t.name: t for t in tasks}


def task_names() -> tuple[str, ...]:
    """The names of the registered tasks, NER first."""
    return tuple(_registry())


def get_task(name: str, metric: str | None = None) -> Task:
    """The task registered as ``name``, with ``metric`` as its outcome where it has a choice;
    raises ConfigError naming the known tasks."""
    task = _registry().get(name)
    if task is None:
        raise ConfigError(f"unknown task {name!r}",
                          hint=f"choose one of: {', '.join(task_names())}")
    return task.with_metric(metric)


def task_of_meta(meta: Mapping[str, str | None]) -> Task:
    """The task a study's store records (``task`` and ``metric`` in its meta); NER where a
    store written before tasks were recorded has none."""
    return get_task(meta.get("task") or "ner", meta.get("metric"))


def task_of_frame(frame: Any, corpus_stats: Mapping[str, Any] | None = None) -> Task:
    """The task of a bare table of runs, from its columns: the first registered task other
    than NER whose composition column is there and NER's (``eps``) is not, NER otherwise.
    The outcome comes from a ``metric`` column, else from a study's ``corpus_stats.json``,
    else the task's default."""
    ner = _registry()["ner"]
    columns = set(frame.columns)
    for task in _registry().values():
        if task is ner or task.density not in columns or ner.density in columns:
            continue
        metric = (corpus_stats or {}).get("metric")
        if "metric" in columns and frame["metric"].notna().any():
            metric = str(frame["metric"].dropna().iloc[0])
        return task.with_metric(metric)
    return ner


def task_of_docs(docs: Iterable[Doc]) -> Task:
    """The task of gold documents given without a study (``nercurve evaluate --task auto``):
    classification when they carry classes and no spans, NER otherwise."""
    from nercurve.corpus.classes import has_classes

    docs = list(docs)
    if has_classes(docs) and not any(d.spans for d in docs):
        return _registry()["classify"]
    return _registry()["ner"]
