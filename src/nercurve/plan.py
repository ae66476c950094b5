"""``nercurve plan`` as a library function: a small study on a pilot set, run and analysed, and
how many sentences reach the target F1.

It needs the study runner and the analysis both, so it sits above both packages (the study
package knows nothing of the analysis): :func:`plan_config` builds the study's config,
:func:`run_plan` runs and analyses it and answers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nercurve.analysis import analyze, load_runs
from nercurve.analysis.data import MIN_RUNS
from nercurve.analysis.recommend import plan_answer
from nercurve.errors import AnalysisError
from nercurve.study.config import StudyConfig, corpus_section, parse_config
from nercurve.study.runner import run_study

if TYPE_CHECKING:
    from nercurve.corpus.io import ReadOptions
    from nercurve.corpus.model import Notice
    from nercurve.study.executors.protocol import ProgressCallback


@dataclass(frozen=True)
class PilotPlan:
    """What ``plan`` found: the study folder, how many runs it analysed, and the answer."""

    study_dir: Path
    runs: int
    answer: str


def plan_config(
    pilot: Path,
    *,
    backend: str,
    fmt: str | None,
    options: ReadOptions,
    sizes: Sequence[int],
    seeds: int = 2,
    subsets: int | None = None,
    out: Path | None = None,
    test: float = 0.3,
    dev: float = 0.1,
    max_steps: int | None = None,
    workers: int | None = None,
    task: str = "ner",
    metric: str | None = None,
) -> StudyConfig:
    """The config of a pilot study: ``backend`` trained on subsets of ``sizes`` documents
    with ``seeds`` seeds each; ``subsets`` per size (default: enough for the analysis'
    :data:`~nercurve.analysis.data.MIN_RUNS` runs); the study folder ``out`` (default:
    ``<pilot name>_plan`` beside the pilot)."""
    out = out or pilot.resolve().parent / f"{pilot.stem}_plan"
    seed_list = list(range(seeds))
    size_list = sorted(set(sizes))
    per_size = subsets or max(1, math.ceil(MIN_RUNS / (len(size_list) * len(seed_list))))
    params: dict[str, Any] = {} if max_steps is None else {"max_steps": max_steps}
    return parse_config({
        "name": f"plan-{pilot.stem}", "output": str(out.resolve()), "seeds": seed_list,
        "corpus": corpus_section(pilot.resolve(), fmt, options),
        "split": {"test": test, "dev": dev, "seed": 0},
        "design": {"sizes": size_list, "subsets_per_size": per_size, "seed": 0},
        "backends": [{"name": backend, "type": backend, "params": params}],
        "run": {"workers": workers} if workers else {},
        "task": task, **({"metric": metric} if metric is not None else {}),
    }, source=pilot)


def run_plan(
    config: StudyConfig,
    *,
    target_f1: float,
    n_boot: int = 1000,
    minutes_per_sentence: float | None = None,
    on_progress: ProgressCallback | None = None,
    on_notices: Callable[[list[Notice]], None] | None = None,
    drop_changed: bool = False,
) -> PilotPlan:
    """Run the pilot study of :func:`plan_config` (a rerun continues it), fit its learning
    curve and say how many sentences reach ``target_f1``; raises AnalysisError when no curve
    could be fitted."""
    study_dir = run_study(config, on_progress=on_progress, on_notices=on_notices,
                          drop_changed=drop_changed)
    analysis = analyze(load_runs(study_dir), target_f1=target_f1, n_boot=n_boot,
                       minutes_per_sentence=minutes_per_sentence)
    backend = config.backends[0].name
    model = analysis.models[backend]
    if model.curve is None or model.target is None:
        reasons = "; ".join(n for n in analysis.notes if n.startswith(f"{backend}:"))
        raise AnalysisError(f"no learning curve could be fitted to the pilot study: {reasons}",
                            file=study_dir, hint="use more sizes, seeds or a larger pilot")
    pilot_sentences = float(analysis.runs[analysis.task.size].max())
    answer = plan_answer(backend, model.target, model.curve, pilot_sentences,
                         minutes_per_sentence, analysis.task)
    return PilotPlan(study_dir=study_dir, runs=len(analysis.runs), answer=answer)
