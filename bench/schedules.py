"""Training schedules: candidate schedules of study arms against spaCy's step schedule.

On each benchmark corpus the design's subsets are trained with its seeds once each, and each
run is followed under every schedule at once (``bench/schedule_trace.py``): a spaCy run's
trajectory does not depend on when the dev set is scored or when the run would stop, so the
one run gives each schedule's run exactly (``--check`` trains one subset under each schedule
on its own and compares), and the schedules are compared on the same subsets, seeds and
trajectories. The schedules (:data:`SCHEDULES`):

- ``old``: spaCy's own schedule, the ``spacy`` backend's defaults (the Majdik et al. rule):
  evaluate every 200 steps, stop after 1,600 steps without a better dev F1;
- candidates in steps (``patience-1200``, ``-1000``, ``-800``: spaCy's evaluation, less
  patience) and in passes over the training subset
  (:class:`nercurve.backends.loop.ScheduleParams`): evaluation and patience counted in
  passes, with a floor and a ceiling in steps, denser evaluation early, and (``-noise``)
  patience renewed only by progress beyond the dev score's bootstrap SE.

A candidate that passes the guards on every corpus may become the schedule that
``init-study``, ``plan`` and the demo give their arms; until then they keep spaCy's step
schedule.

Corpora: the synthetic COI corpus (490 statements), NCBI-disease (the PubTator training file,
592 abstracts, the four mention types merged) and BC2GM (the IOB training file in
documents of 10 sentences; the first ``--bc2gm-docs`` of them) from ``../shared/corpora``
(skipped with a note when absent). Each study holds out 30% for test and 10% for dev, and
draws ``--subsets`` subsets of each of ``--sizes`` documents, trained with ``--seeds`` seeds.

Prints, per corpus and candidate: training steps and seconds against ``old``, as a ratio
measured in the same run (target: at least 3x fewer steps, or less time); the mean test F1
per size of each and the difference (guard: within 0.005, with the paired 95% CI); the hinge
threshold (in sentences) of each with its 95% bootstrap CI (guard: each estimate inside the
other's CI); and the chosen learning-curve family of each (guard: the same). A candidate
that fails a guard on a corpus says FAILS. ``--json`` writes every figure; ``--work DIR``
keeps each finished run's outcomes (a rerun goes on from them).

    .venv/bin/python bench/schedules.py --work /tmp/sched       # all corpora
    .venv/bin/python bench/schedules.py --only coi --sizes 10,20 --seeds 2
    .venv/bin/python bench/schedules.py --check                  # the trace against real runs
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from functools import cache
from multiprocessing import get_context
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_corpora import bc2gm_section, coi_section, ncbi_section
from schedule_trace import check, trace

ROOT = Path(__file__).resolve().parents[1]
F1_GUARD = 0.005
_PASSES = {"eval_every_epochs": 1.0, "min_eval_steps": 25, "eval_schedule": "dense-early"}
#: The benchmark corpora: a candidate becomes the default only by passing on all of them.
CORPORA = ("coi", "ncbi", "bc2gm")
#: The schedules followed on every run: ``old`` (spaCy's) and the candidates.
SCHEDULES: dict[str, dict[str, Any]] = {
    "old": {},
    "patience-1200": {"patience": 1200},
    "patience-1000": {"patience": 1000},
    "patience-800": {"patience": 800},
    "passes-5-noise": {"eval_every_epochs": 1.0, "patience_epochs": 5.0,
                       "min_patience_steps": 200, "eval_schedule": "dense-early",
                       "min_eval_steps": 10, "stop": "noise"},
    "passes-10-800": {**_PASSES, "patience_epochs": 10.0, "min_patience_steps": 800},
    "passes-10-800-noise": {**_PASSES, "patience_epochs": 10.0, "min_patience_steps": 800,
                            "stop": "noise"},
}


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--corpora", type=Path, default=ROOT.parent / "shared" / "corpora")
    ap.add_argument("--only", default=",".join(CORPORA), help="comma-separated corpora")
    ap.add_argument("--sizes", default="10,20,40,80", help="subset sizes in documents")
    ap.add_argument("--seeds", type=int, default=3, help="training seeds per subset")
    ap.add_argument("--subsets", type=int, default=1, help="subsets per size")
    ap.add_argument("--bc2gm-docs", type=int, default=600,
                    help="BC2GM documents of 10 sentences read (the pool, dev and test)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--check", action="store_true",
                    help="check the trace: one COI subset under each schedule on its own")
    ap.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples of the CIs")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    ap.add_argument("--work", type=Path,
                    help="keep the studies in this folder (a rerun continues them; default: a "
                    "temporary folder)")
    return ap.parse_args()


def corpus_section(name: str, work: Path, args: argparse.Namespace) -> dict[str, Any] | None:
    """The study's ``[corpus]`` table for a benchmark corpus (``None``: its files are absent)."""
    if name == "coi":
        return coi_section(work)
    if name == "ncbi":
        return ncbi_section(args.corpora)
    if name == "bc2gm":
        return bc2gm_section(args.corpora, work, args.bc2gm_docs)
    raise SystemExit(f"unknown corpus {name!r}: choose from {', '.join(CORPORA)}")


@cache
def _prepared(config_json: str) -> Any:
    """The study's split, data and subsets (once per process)."""
    from nercurve.study.config import parse_config
    from nercurve.study.runner import prepare

    return prepare(parse_config(json.loads(config_json)))


def _run_one(config_json: str, index: int, seed: int) -> dict[str, Any]:
    """Subset ``index`` trained with ``seed``, followed under every schedule."""
    prepared = _prepared(config_json)
    data, subset = prepared.data, prepared.subsets[index]
    train = [data.pool[i] for i in subset.doc_ids]
    outcomes = trace(train, list(data.dev), list(data.test), data.task, {}, SCHEDULES, seed)
    return {name: asdict(outcome) for name, outcome in outcomes.items()}


def study_config(name: str, corpus: dict[str, Any], args: argparse.Namespace,
                 work: Path) -> str:
    """The benchmark study's config (as sorted JSON) on one corpus."""
    return json.dumps({
        "name": f"schedules-{name}", "output": str(work / f"study-{name}"),
        "seeds": list(range(args.seeds)), "corpus": corpus,
        "split": {"test": 0.3, "dev": 0.1, "seed": 0},
        "design": {"sizes": [int(s) for s in args.sizes.split(",")],
                   "subsets_per_size": args.subsets, "seed": 0},
        "backends": [{"name": "spacy", "type": "spacy"}],
    }, sort_keys=True)


def run_corpus(name: str, args: argparse.Namespace, work: Path) -> dict[str, Any] | None:
    """Trace one corpus' runs and compare the candidates with ``old``; ``None`` when the
    corpus is absent."""
    import hashlib
    from concurrent.futures import as_completed

    import pandas as pd

    corpus = corpus_section(name, work, args)
    if corpus is None:
        print(f"\n{name}: its files are not in {args.corpora}; skipped")
        return None
    config_json = study_config(name, corpus, args, work)
    # a run is kept by its subset and seed, so the key leaves the seeds out: a rerun with more
    # seeds goes on from the runs of fewer
    keyed = {k: v for k, v in json.loads(config_json).items() if k != "seeds"}
    key = hashlib.sha256(json.dumps([keyed, SCHEDULES], sort_keys=True).encode())
    kept = work / f"{name}-{key.hexdigest()[:12]}.jsonl"
    done = {}
    if kept.exists():
        for line in kept.read_text().splitlines():
            record = json.loads(line)
            if record["seed"] < args.seeds:
                done[record["subset"], record["seed"]] = record
    subsets = _prepared(config_json).subsets
    todo = [(i, s) for i in range(len(subsets)) for s in range(args.seeds) if (i, s) not in done]
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(_run_one, config_json, i, s): (i, s) for i, s in todo}
        for future in as_completed(futures):
            i, s = futures[future]
            record = {"subset": i, "seed": s, "outcomes": future.result()}
            with kept.open("a") as fh:
                fh.write(json.dumps(record) + "\n")
            done[i, s] = record
            print(f"  {name}: {len(done)}/{len(subsets) * args.seeds} runs traced", flush=True)
    rows = []
    for (i, seed), record in sorted(done.items()):
        sub = subsets[i]
        for schedule, outcome in record["outcomes"].items():
            rows.append({"backend": schedule, "subset_id": sub.subset_id, "seed": seed,
                         "stratum": sub.stratum, "n_docs": sub.n_docs,
                         "n_sentences": sub.n_sentences, "n_tokens": sub.n_tokens,
                         "n_entities": sub.n_entities, "eps": sub.eps, **outcome})
    frame = pd.DataFrame(rows)
    analysis = analyse(frame, work / f"{name}-runs.csv", args.n_boot)
    return {"corpus": name, "wall_s": time.perf_counter() - started, "runs": len(done),
            "pairs": [compare(frame, analysis, "old", c) for c in SCHEDULES if c != "old"]}


def analyse(frame: Any, csv: Path, n_boot: int) -> Any:
    """The runs' analysis (thresholds, curve families) with ``n_boot`` resamples."""
    from nercurve.analysis import analyze, load_runs

    frame.to_csv(csv, index=False)
    return analyze(load_runs(csv), n_boot=n_boot)


def compare(frame: Any, analysis: Any, old: str, new: str) -> dict[str, Any]:
    """Steps, seconds, F1 by size, thresholds and curve families of two arms."""
    from scipy import stats

    keys = ["subset_id", "seed"]
    a = frame[frame["backend"] == old].set_index(keys).sort_index()
    b = frame[frame["backend"] == new].set_index(keys).sort_index()
    diff = (b["f1"] - a["f1"]).rename("diff").reset_index().merge(
        a[["n_docs"]].reset_index(), on=keys)
    sizes = []
    for n_docs, rows in diff.groupby("n_docs"):
        d = rows["diff"].to_numpy()
        half = (stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / len(d) ** 0.5
                if len(d) > 1 else float("nan"))
        sizes.append({"n_docs": int(n_docs),
                      "old_f1": float(a[a["n_docs"] == n_docs]["f1"].mean()),
                      "new_f1": float(b[b["n_docs"] == n_docs]["f1"].mean()),
                      "diff": float(d.mean()), "ci": [float(d.mean() - half),
                                                      float(d.mean() + half)]})
    out: dict[str, Any] = {
        "old": old, "new": new,
        "steps": [int(a["steps"].sum()), int(b["steps"].sum())],
        "seconds": [float(a["seconds"].sum()), float(b["seconds"].sum())],
        "best_after": [float((a["steps"] - a["best_step"]).sum() / a["steps"].sum()),
                       float((b["steps"] - b["best_step"]).sum() / b["steps"].sum())],
        "stop_reasons": {k: int(v) for k, v in b["stop_reason"].value_counts().items()},
        "sizes": sizes,
        "thresholds": [threshold(analysis, old), threshold(analysis, new)],
        "families": [family(analysis, old), family(analysis, new)],
    }
    (t_old, lo_old, hi_old), (t_new, lo_new, hi_new) = out["thresholds"]
    out["guards"] = {
        "f1": all(abs(s["diff"]) <= F1_GUARD for s in sizes),
        "threshold": lo_old <= t_new <= hi_old and lo_new <= t_old <= hi_new,
        "family": out["families"][0] == out["families"][1],
    }
    return out


def threshold(analysis: Any, arm: str) -> tuple[float, float, float]:
    """The arm's hinge threshold on sentences and its 95% percentile-bootstrap CI."""
    thresholds = analysis.models[arm].thresholds
    fit = next(iter(thresholds.values())).fits.get("hinge") if thresholds else None
    if fit is None:
        return math.nan, math.nan, math.nan
    return float(fit.threshold), float(fit.ci_percentile[0]), float(fit.ci_percentile[1])


def family(analysis: Any, arm: str) -> str:
    """The learning-curve family the analysis chose for the arm."""
    curves = analysis.models[arm].curves
    return curves.chosen if curves is not None else "none"


def show(result: dict[str, Any]) -> None:
    """Print one corpus' comparison."""
    print(f"\n== {result['corpus']}: {result['runs']} runs, {result['wall_s'] / 60:.1f} min")
    for pair in result["pairs"]:
        old, new = pair["old"], pair["new"]
        (s_old, s_new), (t_old, t_new) = pair["steps"], pair["seconds"]
        print(f"{old} -> {new}: steps {s_old} -> {s_new} ({s_old / s_new:.2f}x fewer, target "
              f">= 3); seconds {t_old:.0f} -> {t_new:.0f} ({t_old / t_new:.2f}x less); "
              f"steps after the kept model {pair['best_after'][0]:.0%} -> "
              f"{pair['best_after'][1]:.0%}; {new} stopped by {pair['stop_reasons']}")
        print(f"  {'docs':>5s} {old + ' F1':>12s} {new + ' F1':>12s} {'diff':>8s}  paired 95% CI")
        for s in pair["sizes"]:
            print(f"  {s['n_docs']:5d} {s['old_f1']:12.4f} {s['new_f1']:12.4f} "
                  f"{s['diff']:+8.4f}  [{s['ci'][0]:+.4f}, {s['ci'][1]:+.4f}]")
        for arm, (t, lo, hi), fam in zip((old, new), pair["thresholds"], pair["families"],
                                         strict=True):
            print(f"  {arm}: threshold {t:.0f} sentences [{lo:.0f}, {hi:.0f}]; curve {fam}")
        g = pair["guards"]
        words = ", ".join(f"{k} {'passes' if ok else 'FAILS'}" for k, ok in g.items())
        print(f"  guard (F1 within {F1_GUARD} per size, thresholds in each other's CI, same "
              f"curve family): {words}")


def check_trace(args: argparse.Namespace, work: Path) -> None:
    """Train the smallest COI subset under each schedule on its own (a cut budget) and
    compare with the traced outcomes."""
    corpus = corpus_section("coi", work, args)
    assert corpus is not None
    prepared = _prepared(study_config("coi", corpus, args, work))
    data, subset = prepared.data, prepared.subsets[0]
    train = [data.pool[i] for i in subset.doc_ids]
    problems = check(train, list(data.dev), list(data.test), data.task, {"max_steps": 600},
                     SCHEDULES, 0)
    print("trace check:", "; ".join(problems) or "every schedule's run equals its trace")


def summary(results: list[dict[str, Any]], minutes: float) -> None:
    """Each candidate over the corpora run, and the one that may become the default (only
    when every corpus of :data:`CORPORA` was run)."""
    print(f"\nover {', '.join(r['corpus'] for r in results)}, {minutes:.1f} min on "
          f"{os.cpu_count()} cores:")
    best: tuple[float, str] | None = None
    for name in [c for c in SCHEDULES if c != "old"]:
        pairs = [p for r in results for p in r["pairs"] if p["new"] == name]
        steps = [sum(p["steps"][i] for p in pairs) for i in (0, 1)]
        seconds = [sum(p["seconds"][i] for p in pairs) for i in (0, 1)]
        passed = [r["corpus"] for r in results for p in r["pairs"]
                  if p["new"] == name and all(p["guards"].values())]
        print(f"  {name}: {steps[0] / steps[1]:.2f}x fewer steps, {seconds[0] / seconds[1]:.2f}x "
              f"less time; guard passed on {len(passed)} of {len(pairs)} corpora "
              f"({', '.join(passed) or 'none'})")
        if len(passed) == len(pairs) and (best is None or steps[0] / steps[1] > best[0]):
            best = (steps[0] / steps[1], name)
    missing = [c for c in CORPORA if c not in {r["corpus"] for r in results}]
    if best is None:
        print("  no candidate passes the guard on every corpus: spaCy's step schedule stays")
    elif missing:
        print(f"  {best[1]} passes on every corpus run here ({best[0]:.2f}x fewer steps); a "
              f"default must also pass on {', '.join(missing)}")
    else:
        print(f"  default: {best[1]} ({best[0]:.2f}x fewer steps)")


def main() -> None:
    args = parse_args()
    results = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nercurve-bench-schedules-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if args.check:
            check_trace(args, work)
            return
        for name in args.only.split(","):
            result = run_corpus(name, args, work)
            if result is not None:
                show(result)
                results.append(result)
                if args.json:  # after each corpus: a long run's figures so far are kept
                    args.json.write_text(json.dumps(results, indent=1, default=str))
    if results:
        summary(results, (time.perf_counter() - started) / 60)


if __name__ == "__main__":
    main()
