"""The executors there are: one record each, the one list the config, the runner and the CLI
read.

An executor is a module here that defines ``build(config, *, gpu_arms, workers,
runs_per_gpu)`` (the executor for a study, an object with
``execute(store_path, data, on_progress)``: :class:`~nercurve.study.executors.protocol.Executor`)
and, when it has settings of its own, a pydantic model for its table ``[run.<name>]`` of
the study config. Most executors are a *worker pool* driven by the one job driver
(:mod:`nercurve.study.executors.driver`). Adding one: its module and its line below.

This module imports nothing of nercurve (the config reads it while it validates): an
executor's module is imported when it is used.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class ExecutorEntry:
    """One executor: its name (``run.executor``), its module, what it is in a few words
    (for the CLI's help), and the name of its config table's model in the module, if any."""

    name: str
    module: str
    summary: str
    section: str | None = None

    def load(self) -> ModuleType:
        """The executor's module."""
        return importlib.import_module(self.module)

    def section_model(self) -> Any:
        """The pydantic model of its ``[run.<name>]`` table, or None."""
        return None if self.section is None else getattr(self.load(), self.section)

    def build(self, config: Any, *, gpu_arms: frozenset[str], workers: int | None,
              runs_per_gpu: int) -> Any:
        """The executor set up for a study (``config``, a ``StudyConfig``) whose arms in
        ``gpu_arms`` want a GPU."""
        return self.load().build(config, gpu_arms=gpu_arms, workers=workers,
                                 runs_per_gpu=runs_per_gpu)


EXECUTORS: dict[str, ExecutorEntry] = {e.name: e for e in (
    ExecutorEntry("local", "nercurve.study.executors.local", "worker processes on this machine"),
    ExecutorEntry("ray", "nercurve.study.executors.ray", "a Ray cluster"),
    ExecutorEntry("slurm", "nercurve.study.executors.slurm", "SLURM jobs through submitit",
                  section="SlurmSection"),
)}
