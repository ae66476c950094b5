"""Training schedules: the default schedule of study arms against spaCy's step schedule.

On each benchmark corpus one study trains the same subsets with the same seeds under two
schedules, as two arms of the study (so that both see the same split, subsets and seeds):

- ``old``: spaCy's own schedule, the ``spacy`` backend's defaults (the Majdik et al. rule):
  evaluate every 200 steps, stop after 1,600 steps without a better dev F1;
- ``new``: :data:`CANDIDATE`, a schedule in passes over the training subset
  (:class:`nercurve.backends.loop.ScheduleParams`): evaluation and patience counted in
  passes, with a floor and a ceiling in steps, denser evaluation early, and patience renewed
  only by progress beyond the dev score's bootstrap SE. A candidate that passes the guards
  on every corpus may become the schedule that ``init-study``, ``plan`` and the demo give
  their arms; until then they keep spaCy's step schedule.

Corpora: the synthetic COI corpus (490 statements), NCBI-disease (the PubTator training file,
592 abstracts, the four mention types merged) and BC2GM (the IOB training file in
documents of 10 sentences; the first ``--bc2gm-docs`` of them) from ``../shared/corpora``
(skipped with a note when absent). Each study holds out 30% for test and 10% for dev, and
draws ``--subsets`` subsets of each of ``--sizes`` documents, trained with ``--seeds`` seeds.

Prints, per corpus: training steps and the seconds of the jobs per arm, with the old/new
ratio measured in the same run (target: at least 3x fewer steps, or less time); the mean test
F1 per size of each arm and the difference (guard: within 0.005, with the paired 95% CI);
the hinge threshold (in sentences) of each arm with its 95% bootstrap CI (guard: each estimate
inside the other's CI); and the chosen learning-curve family of each (guard: the same). A
corpus where the new schedule fails a guard says FAILS. ``--json`` writes every figure.
With ``--minilm`` the COI study also has MiniLM arms (the ``hf`` backend, CPU, 128-subword
windows) under the ``hf`` backend's step schedule and under the same candidate. Usage:

    .venv/bin/python bench/schedules.py                      # all corpora, about an hour
    .venv/bin/python bench/schedules.py --only coi --sizes 10,20 --seeds 2
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NCBI_MERGE = {k: "Disease" for k in ("SpecificDisease", "Modifier", "DiseaseClass",
                                      "CompositeMention")}
F1_GUARD = 0.005
#: The schedule measured against spaCy's step schedule (see the module doc).
CANDIDATE: dict[str, Any] = {
    "eval_every_epochs": 1.0, "patience_epochs": 5.0, "min_patience_steps": 200,
    "eval_schedule": "dense-early", "min_eval_steps": 10, "stop": "noise",
}


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--corpora", type=Path, default=ROOT.parent / "shared" / "corpora")
    ap.add_argument("--only", default="coi,ncbi,bc2gm", help="comma-separated corpora")
    ap.add_argument("--sizes", default="10,20,40,80", help="subset sizes in documents")
    ap.add_argument("--seeds", type=int, default=3, help="training seeds per subset")
    ap.add_argument("--subsets", type=int, default=1, help="subsets per size")
    ap.add_argument("--bc2gm-docs", type=int, default=600,
                    help="BC2GM documents of 10 sentences read (the pool, dev and test)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--minilm", action="store_true", help="MiniLM arms on the COI corpus")
    ap.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples of the CIs")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    ap.add_argument("--work", type=Path,
                    help="keep the studies in this folder (a rerun continues them; default: a "
                    "temporary folder)")
    return ap.parse_args()


def corpus_section(name: str, work: Path, args: argparse.Namespace) -> dict[str, Any] | None:
    """The study's ``[corpus]`` table for a benchmark corpus (``None``: its files are absent)."""
    from nercurve.corpus.io import ReadOptions, read_corpus, write_corpus

    if name == "coi":
        from nercurve.synthetic.coi import generate_coi

        write_corpus(generate_coi(490, seed=7), work / "coi.jsonl")
        return {"path": str(work / "coi.jsonl")}
    if name == "ncbi":
        path = args.corpora / "ncbi-disease" / "pubtator" / "NCBItrainset_corpus.txt"
        if not path.exists():
            return None
        return {"path": str(path), "format": "pubtator", "label_map": NCBI_MERGE,
                "duplicate_ids": "keep-first", "mismatch": "strip"}
    if name == "bc2gm":
        path = args.corpora / "bc2gm" / "iob" / "train.tsv"
        if not path.exists():
            return None
        docs = read_corpus(path, "conll", ReadOptions(sentences_per_doc=10))
        write_corpus(docs.docs[: args.bc2gm_docs], work / "bc2gm.jsonl")
        return {"path": str(work / "bc2gm.jsonl")}
    raise SystemExit(f"unknown corpus {name!r}: choose from coi, ncbi, bc2gm")


def arms(with_minilm: bool) -> list[dict[str, Any]]:
    """The study arms: spaCy (and MiniLM) under the old and the new schedule."""
    out = [{"name": "old", "type": "spacy", "params": {}},
           {"name": "new", "type": "spacy", "params": dict(CANDIDATE)}]
    if with_minilm:
        base = {"model": "minilm", "device": "cpu", "max_length": 128, "window_overlap": 16,
                "batch_size": 8, "warmup_steps": 10}
        out += [{"name": "minilm-old", "type": "hf", "params": base},
                {"name": "minilm-new", "type": "hf", "params": {**base, **CANDIDATE}}]
    return out


def run_corpus(name: str, args: argparse.Namespace, work: Path) -> dict[str, Any] | None:
    """Run one corpus' study and compare its arms; ``None`` when the corpus is absent."""
    from nercurve.study.config import parse_config
    from nercurve.study.runner import run_study
    from nercurve.study.store import results_frame

    corpus = corpus_section(name, work, args)
    if corpus is None:
        print(f"\n{name}: its files are not in {args.corpora}; skipped")
        return None
    config = parse_config({
        "name": f"schedules-{name}", "output": str(work / f"study-{name}"),
        "seeds": list(range(args.seeds)), "corpus": corpus,
        "split": {"test": 0.3, "dev": 0.1, "seed": 0},
        "design": {"sizes": [int(s) for s in args.sizes.split(",")],
                   "subsets_per_size": args.subsets, "seed": 0},
        "backends": arms(args.minilm and name == "coi"),
    }, source=work / f"{name}.toml")
    started = time.perf_counter()
    study = run_study(config, workers=args.workers)
    wall = time.perf_counter() - started
    frame = results_frame(study, include_failed=True)
    failed = frame[frame["status"] != "done"]
    if len(failed):
        raise SystemExit(f"{name}: {len(failed)} jobs failed: {failed['error'].iloc[0]}")
    pairs = [("old", "new")] + ([("minilm-old", "minilm-new")] if "minilm-old" in
                                 set(frame["backend"]) else [])
    analysis = analyse(study, args.n_boot)
    result = {"corpus": name, "wall_s": wall, "runs": len(frame), "pairs": []}
    for old, new in pairs:
        result["pairs"].append(compare(frame, analysis, old, new))
    return result


def analyse(study: Path, n_boot: int) -> Any:
    """The study's analysis (thresholds, curve families) with ``n_boot`` resamples."""
    from nercurve.analysis import analyze, load_runs

    return analyze(load_runs(study), n_boot=n_boot)


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
        "stop_reasons": dict(b["stop_reason"].value_counts()),
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
              f">= 3); job seconds {t_old:.0f} -> {t_new:.0f} ({t_old / t_new:.2f}x less); "
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


def main() -> None:
    args = parse_args()
    results = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nercurve-bench-schedules-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for name in args.only.split(","):
            result = run_corpus(name, args, work)
            if result is not None:
                show(result)
                results.append(result)
                if args.json:  # after each corpus: a long run's figures so far are kept
                    args.json.write_text(json.dumps(results, indent=1, default=str))
    total = time.perf_counter() - started
    pairs = [p for r in results for p in r["pairs"] if p["old"] == "old"]
    if pairs:
        steps = [sum(p["steps"][i] for p in pairs) for i in (0, 1)]
        seconds = [sum(p["seconds"][i] for p in pairs) for i in (0, 1)]
        passed = [r["corpus"] for r in results for p in r["pairs"]
                  if p["old"] == "old" and all(p["guards"].values())]
        print(f"\nall corpora (spaCy): {steps[0] / steps[1]:.2f}x fewer steps, "
              f"{seconds[0] / seconds[1]:.2f}x less job time; guard passed on "
              f"{len(passed)} of {len(pairs)} corpora ({', '.join(passed) or 'none'}); "
              f"{total / 60:.1f} min in all on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
