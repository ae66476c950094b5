"""A text-classification learning curve on the synthetic smoking corpus, on a CPU.

Runs real nercurve studies (the runner, its worker processes and store) on ``--docs``
synthetic smoking-status notes (30% test, 10% dev, split stratified by class): training
subsets of ``--sizes`` notes × ``--seeds`` seeds for the arms ``tfidf`` (TF-IDF + logistic
regression, C chosen on dev), ``spacy`` (a spaCy textcat, ``--spacy-architecture``) and
``hf`` (MiniLM from its PyPI package, mean-pooled head, ``--hf-epochs`` passes and at least
``--hf-min-steps`` steps), one study
per arm in turn (the same split and subsets), so that each arm's workers and peak memory
are its own. Then each study's own analysis.

Prints, per arm: macro-F1 per training size (mean ± SD over seeds), runs per hour (3600 s
over the mean seconds of one run in one worker, training and scoring included), the largest
per-run peak memory, and the threshold the analysis finds on training examples (best
threshold family with its CI, or that a line fits as well); then the targets: MiniLM
macro-F1 at 300 notes >= 0.85 and above tfidf, the whole benchmark <= 30 minutes. Figures
on a shared machine vary with its load. Usage:

    .venv/bin/python bench/classify_curve.py                      # the full benchmark
    .venv/bin/python bench/classify_curve.py --sizes 25,100,300 --seeds 1 --arms tfidf,hf
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--docs", type=int, default=600, help="synthetic notes in the corpus")
    ap.add_argument("--sizes", default="25,50,100,200,300", help="training sizes (notes)")
    ap.add_argument("--seeds", type=int, default=3, help="training seeds per subset")
    ap.add_argument("--arms", default="tfidf,spacy,hf", help="comma-separated: tfidf, spacy, hf")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--spacy-architecture", default="bow", choices=("bow", "ensemble"))
    ap.add_argument("--spacy-steps", type=int, default=800, help="spaCy max_steps")
    ap.add_argument("--hf-epochs", type=float, default=4.0)
    ap.add_argument("--hf-min-steps", type=int, default=40,
                    help="the fewest hf steps a small subset gets (with --hf-epochs)")
    ap.add_argument("--hf-max-steps", type=int, default=2000,
                    help="hf step limit (with --hf-epochs: whichever comes first)")
    ap.add_argument("--hf-lr", type=float, default=2e-4)
    ap.add_argument("--hf-batch", type=int, default=16)
    ap.add_argument("--hf-max-length", type=int, default=256)
    ap.add_argument("--n-boot", type=int, default=500, help="bootstrap resamples of the analysis")
    ap.add_argument("--out", type=Path, help="study folder (default: a temporary folder)")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    return ap.parse_args()


ARMS: dict[str, Any] = {
    "tfidf": lambda a: {"name": "tfidf", "type": "tfidf"},
    "spacy": lambda a: {"name": "spacy", "type": "spacy", "params": {
        "architecture": a.spacy_architecture, "max_steps": a.spacy_steps,
        "eval_frequency": 100, "patience": 400, "batch_start": 1000, "batch_stop": 1000}},
    "hf": lambda a: {"name": "minilm", "type": "hf", "params": {
        "model": "minilm", "device": "cpu", "epochs": a.hf_epochs,
        "learning_rate": a.hf_lr, "warmup_steps": 5, "batch_size": a.hf_batch,
        "max_length": a.hf_max_length, "eval_every": 1000, "min_steps": a.hf_min_steps,
        "max_steps": a.hf_max_steps}},
}


def run(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Write the corpus, run one study per arm, analyse each; returns the figures."""
    from nercurve.corpus.io import write_corpus
    from nercurve.synthetic.smoking import generate_smoking

    out.mkdir(parents=True, exist_ok=True)
    corpus = out / "smoking.jsonl"
    write_corpus(generate_smoking(args.docs, seed=0), corpus)
    sizes = [int(s) for s in args.sizes.split(",")]
    figures: dict[str, Any] = {"sizes": sizes, "arms": {}, "recommendation": {}}
    started = time.perf_counter()
    for arm in args.arms.split(","):
        figures["arms"].update(run_arm(ARMS[arm](args), args, corpus, sizes, out, figures))
    figures["wall_s"] = time.perf_counter() - started
    return figures


def run_arm(entry: dict[str, Any], args: argparse.Namespace, corpus: Path, sizes: list[int],
            out: Path, figures: dict[str, Any]) -> dict[str, Any]:
    """One arm's study and analysis: its figures by arm name."""
    from nercurve.analysis import analyze, load_runs
    from nercurve.study.config import parse_config
    from nercurve.study.runner import run_study
    from nercurve.study.store import results_frame

    config = parse_config({
        "name": f"classify-curve-{entry['name']}", "output": str(out / entry["name"]),
        "task": "classify", "seeds": list(range(args.seeds)), "corpus": {"path": str(corpus)},
        "split": {"test": 0.3, "dev": 0.1, "seed": 0, "stratify": True},
        "design": {"sizes": sizes, "subsets_per_size": 1, "seed": 0},
        "backends": [entry], "run": {"workers": args.workers, "timeout_s": 3600},
    })
    started = time.perf_counter()
    study = run_study(config)
    wall = time.perf_counter() - started
    rows = results_frame(study)
    analysis = analyze(load_runs(study), n_boot=args.n_boot, target_f1=0.85)
    arm = entry["name"]
    threshold = analysis.models[arm].thresholds.get("n_docs")
    fit = threshold.best_fit() if threshold is not None else None
    figures["recommendation"][arm] = analysis.recommendation_text()
    return {arm: {
        "macro_f1": {int(n): [float(v) for v in g] for n, g in rows.groupby("n_docs")["f1"]},
        "runs_per_hour": 3600.0 / float(rows["seconds"].mean()),
        "wall_s": wall,
        "peak_mb": float(rows["peak_mb"].max()),
        "threshold": None if fit is None else {
            "family": fit.family, "examples": fit.threshold, "ci": list(fit.ci_percentile),
            "p_vs_line": fit.p_value},
        "threshold_words": analysis.threshold_words().get((arm, "n_docs"), ""),
    }}


def report(figures: dict[str, Any]) -> None:
    """Print the figures and the targets."""
    import statistics

    sizes = figures["sizes"]
    print("macro-F1 by training size (mean ± SD over seeds)")
    print("arm      " + "".join(f"{n:>15}" for n in sizes))
    for arm, f in figures["arms"].items():
        cells = []
        for n in sizes:
            values = f["macro_f1"].get(n, [])
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.fmean(values):.3f} ± {sd:.3f}" if values else "–")
        print(f"{arm:<9}" + "".join(f"{c:>15}" for c in cells))
    print()
    for arm, f in figures["arms"].items():
        t = f["threshold"]
        where = ("no threshold model could be fitted" if t is None and not f["threshold_words"]
                 else f["threshold_words"])
        print(f"{arm}: {f['runs_per_hour']:.0f} runs/hour per worker, study {f['wall_s'] / 60:.1f} "
              f"min, peak {f['peak_mb']:.0f} MB; threshold on examples: {where}")
    print(f"\nwall time {figures['wall_s'] / 60:.1f} min")
    arms = figures["arms"]
    top = max(sizes)
    if "minilm" in arms and top in arms["minilm"]["macro_f1"]:
        minilm = statistics.fmean(arms["minilm"]["macro_f1"][top])
        print(f"target: MiniLM macro-F1 at {top} >= 0.85: {minilm:.3f} "
              f"({'met' if minilm >= 0.85 else 'missed'})")
        if "tfidf" in arms:
            tfidf = statistics.fmean(arms["tfidf"]["macro_f1"][top])
            print(f"target: MiniLM above tfidf at {top}: {minilm:.3f} vs {tfidf:.3f} "
                  f"({'met' if minilm > tfidf else 'missed'})")
    print(f"target: bench <= 30 min: {figures['wall_s'] / 60:.1f} min "
          f"({'met' if figures['wall_s'] <= 1800 else 'missed'})")
    for text in figures["recommendation"].values():
        print("\n" + text)


def main() -> None:
    args = parse_args()
    if args.out is not None:
        figures = run(args, args.out)
    else:
        with tempfile.TemporaryDirectory(prefix="nercurve-classify-") as tmp:
            figures = run(args, Path(tmp))
    report(figures)
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
