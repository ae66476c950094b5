"""Running an adaptive design: waves of jobs, each placed by the estimate of the last.

The first wave is the config's own (stratified) design. After every wave the runner
re-estimates the design's target from the driving arm's finished runs with the estimator its
caller handed it (:class:`~nercurve.study.wave_policy.Estimator`), records the estimate
and its CI with the wave, and either stops (:func:`~nercurve.study.wave_policy.stop_reason`)
or draws the next wave (:func:`~nercurve.study.wave_policy.next_sizes`), records it, and
hands it to the usual road: the study's ``extend`` (the runner's ``initialise``) adds its
subsets' jobs, the executor runs them. Everything a wave is, is in the store before its
first job runs, so a run that is killed resumes the wave in progress; and because the next
wave is a deterministic function of the recorded results (seeded by the design seed and the
wave number), two runners on one study draw the same wave.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nercurve.corpus.classes import ClassCounts
from nercurve.corpus.stats import DocCounts, doc_counts
from nercurve.errors import AnalysisError, ConfigError
from nercurve.study.config import StudyConfig
from nercurve.study.design import Subset, design_range, draw_subset
from nercurve.study.executors.protocol import Executor, ProgressCallback
from nercurve.study.jobs import StudyData
from nercurve.study.store import Store, results_frame
from nercurve.study.wave_policy import (
    Estimate,
    Estimator,
    next_sizes,
    stop_reason,
    wave_size,
)
from nercurve.study.wave_records import WaveRecord, read_waves, write_waves

if TYPE_CHECKING:
    import pandas as pd

#: Keeps the random streams of waves apart from those of the strata of the first wave.
_WAVE_STREAM = 7_777_777


def driving_arm(config: StudyConfig) -> str:
    """The arm whose estimate places the waves: ``adaptive.backend``, else the first arm
    (an off-the-shelf baseline trains on nothing and cannot drive a design; the runner's
    backend registry is not consulted here, so name the arm when the first is one)."""
    settings = config.design.adaptive
    names = [b.name for b in config.backends]
    chosen = settings.backend if settings is not None and settings.backend else names[0]
    if chosen not in names:
        raise ConfigError(f"design.adaptive.backend '{chosen}' is not an arm of the study",
                          hint=f"the arms are: {', '.join(names)}")
    return chosen


def run_waves(config: StudyConfig, data: StudyData, first_wave: list[Subset], store_path: Path,
              executor: Executor, on_progress: ProgressCallback | None,
              extend: Callable[[], object], estimator: Estimator) -> None:
    """Run waves until the design stops, or until jobs remain that another runner holds;
    ``estimator`` estimates the target after each wave."""
    arm = driving_arm(config)
    pool = list(data.pool.values())
    counts = doc_counts(pool)
    classes = data.task.split_classes(pool, data.scheme)
    with Store(store_path) as store:
        if not read_waves(store):
            write_waves(store, [WaveRecord(wave=0, subsets=tuple(s.subset_id for s in first_wave),
                                           sizes=tuple(s.target for s in first_wave))])
    while True:
        with Store(store_path) as store:
            pending = store.counts()["pending"]
        if pending:  # a finished study (a rerun) needs no workers started
            executor.execute(store_path, data, on_progress)
        with Store(store_path) as store:
            left = store.counts()
            if left["pending"] or left["running"]:
                return
            subsets = _after_wave(config, arm, counts, store, estimator, classes)
        if not subsets:
            return
        extend()


def _after_wave(config: StudyConfig, arm: str, counts: DocCounts, store: Store,
                estimator: Estimator, classes: ClassCounts | None = None) -> list[Subset]:
    """Record the finished wave's estimate; draw, store and record the next wave (returned),
    or record why the design stops (and return nothing). ``classes``: the pool's, in a
    classification study."""
    settings = config.design.adaptive
    waves = read_waves(store)
    runs = results_frame(store.path.parent)
    runs = runs.loc[runs["backend"] == arm]
    current = _estimate(waves, runs, config, estimator)
    seeds = len(config.seeds)
    planned = sum(len(w.subsets) for w in waves) * seeds
    reason = stop_reason(current, settings, planned, seeds)
    waves[-1] = waves[-1].with_estimate(stopped=reason)
    if reason is not None:
        write_waves(store, waves)
        return []
    number = waves[-1].wave + 1
    per_sentence = _sentences_per_unit(runs, config.design.unit)
    low, high = design_range(config.design, counts)
    rng = np.random.default_rng([config.design.seed, _WAVE_STREAM, number])
    sizes, focus = next_sizes(current, (low * per_sentence, high * per_sentence),
                              wave_size(settings, planned, seeds), settings.spread, rng)
    targets = np.clip(np.round(sizes / per_sentence), max(low, 1), high).astype(int)
    subsets = [
        draw_subset(counts, config.design.unit, int(t), _bounds(int(t), config.design.unit),
                    np.random.default_rng([config.design.seed, _WAVE_STREAM, number, k]),
                    subset_id=f"wave{number}#{k:04d}", stratum=f"wave{number}",
                    classes=classes, stratify=config.design.stratify_labels)
        for k, t in enumerate(targets)
    ]
    store.add_subsets(subsets)  # before the record: a wave recorded is a wave stored
    waves.append(WaveRecord(wave=number, subsets=tuple(s.subset_id for s in subsets),
                            sizes=tuple(int(t) for t in targets), focus=focus))
    write_waves(store, waves)
    return subsets


def _estimate(waves: list[WaveRecord], runs: pd.DataFrame, config: StudyConfig,
              estimator: Estimator) -> Estimate | None:
    """The estimate after the last wave, recorded with it (in ``waves``) the first time; None
    when the runs cannot support one yet."""
    wave = waves[-1]
    if wave.estimated:
        if wave.estimate is None:
            return None
        return Estimate(value=wave.estimate, ci=wave.ci, runs=wave.runs)
    current, note = estimate_wave(runs, config, wave.wave, estimator)
    waves[-1] = wave.with_estimate(
        estimate=None if current is None else current.value,
        ci=None if current is None else current.ci,
        runs=None if current is None else current.runs, note=note)
    return current


def estimate_wave(runs: pd.DataFrame, config: StudyConfig, wave: int, estimator: Estimator
                  ) -> tuple[Estimate | None, str | None]:
    """The target estimated from the driving arm's runs after ``wave``, or why not."""
    try:
        found = estimator(runs["n_sentences"], runs["f1"], config.design.adaptive,
                          cluster=runs["subset_id"].to_numpy(), seed=config.design.seed + wave)
    except AnalysisError as err:
        return None, err.message
    return found, None


def _sentences_per_unit(runs: pd.DataFrame, unit: str) -> float:
    """Training sentences per design unit, from the runs (1 when the unit is sentences)."""
    if unit == "sentences" or runs.empty or runs["n_docs"].sum() == 0:
        return 1.0
    return float(runs["n_sentences"].sum() / runs["n_docs"].sum())


def _bounds(target: int, unit: str) -> tuple[int, int]:
    """The bounds a wave's subset keeps within: its own size, or up to 10% over it in
    sentences (whole documents rarely add up exactly)."""
    return (target, target) if unit == "documents" else (target, max(target + 1,
                                                                     round(1.1 * target)))
