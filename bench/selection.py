"""Selection strategies: random vs uncertainty vs diversity subsets, spaCy arm.

On each benchmark corpus one study has three selection arms (``[design] selection =
["random", "uncertainty", "diversity"]``) over the same split, sizes and training seeds:

- ``random``: today's random draw;
- ``uncertainty``: a random seed set of ``--seed-docs`` documents, then rounds that train the
  spaCy arm on what is chosen so far and add the ``--batch-docs`` documents (of at most
  ``--candidates`` drawn at random) whose predicted sequence the model is least sure of
  (both default to the corpus's smallest size: 7 rounds per trajectory up to 8 times it);
- ``diversity``: k-means++ seeding over the pool's MiniLM document embeddings.

Corpora: the synthetic COI corpus (490 statements) and NCBI-disease (the PubTator training
file, 592 abstracts, the four mention types merged) from ``../shared/corpora`` (skipped with
a note when absent). Each study holds out 30% for test and 10% for dev and draws
``--subsets`` subsets (replicate trajectories) of each of the corpus's sizes in documents
(``--coi-sizes``, ``--ncbi-sizes``), each trained with ``--seeds`` seeds, under a cut spaCy
budget (``--max-steps``, evaluation every ``--eval-frequency`` steps, patience
``--patience``), so that both corpora take at most 45 minutes on 2 cores.

Prints, per corpus and strategy: the mean test F1 (and SD) per size, the selection cost
(training runs, rounds and seconds of the largest subsets) and, from the analysis
(``nercurve.analysis.analyze``, its ``selection`` comparison where this nercurve has it),
the sentences each strategy saves over random to reach the target F1 and the random arm's
plateau, with their bootstrap CIs. ``--json`` writes every figure. Usage:

    .venv/bin/python bench/selection.py --json selection.json     # both corpora, < 45 min
    .venv/bin/python bench/selection.py --only coi --coi-sizes 20 --subsets 1 --seeds 1  # smoke
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_corpora import coi_section, ncbi_section

ROOT = Path(__file__).resolve().parents[1]
STRATEGIES = ("random", "uncertainty", "diversity")


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--corpora", type=Path, default=ROOT.parent / "shared" / "corpora")
    ap.add_argument("--only", default="coi,ncbi", help="comma-separated corpora")
    ap.add_argument("--coi-sizes", default="20,40,80,160", help="COI subset sizes (documents)")
    ap.add_argument("--ncbi-sizes", default="10,20,40,80", help="NCBI subset sizes (documents)")
    ap.add_argument("--subsets", type=int, default=3, help="subsets (trajectories) per size")
    ap.add_argument("--seeds", type=int, default=1, help="training seeds per subset")
    ap.add_argument("--seed-docs", type=int,
                    help="uncertainty: the seed set (default: the corpus's smallest size)")
    ap.add_argument("--batch-docs", type=int,
                    help="uncertainty: documents a round (default: the corpus's smallest size)")
    ap.add_argument("--candidates", type=int, default=300,
                    help="uncertainty: pool documents scored a round")
    ap.add_argument("--max-steps", type=int, default=200, help="the cut spaCy budget")
    ap.add_argument("--eval-frequency", type=int, default=50)
    ap.add_argument("--patience", type=int, default=100)
    ap.add_argument("--target-f1", type=float, default=0.8, help="the F1 to save sentences for")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--n-boot", type=int, default=500, help="bootstrap resamples of the CIs")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    ap.add_argument("--work", type=Path,
                    help="keep the studies in this folder (a rerun continues them, selections "
                    "included; default: a temporary folder)")
    return ap.parse_args()


def corpus_section(name: str, work: Path, args: argparse.Namespace) -> dict[str, Any] | None:
    """The study's ``[corpus]`` table for a benchmark corpus (``None``: its files are absent)."""
    if name == "coi":
        return coi_section(work)
    if name == "ncbi":
        return ncbi_section(args.corpora)
    raise SystemExit(f"unknown corpus {name!r}: choose from coi, ncbi")


def run_corpus(name: str, args: argparse.Namespace, work: Path) -> dict[str, Any] | None:
    """Run one corpus' study and summarise its strategies; ``None`` when the corpus is absent."""
    from nercurve.study.config import parse_config
    from nercurve.study.runner import run_study
    from nercurve.study.store import results_frame

    corpus = corpus_section(name, work, args)
    if corpus is None:
        print(f"\n{name}: its files are not in {args.corpora}; skipped")
        return None
    sizes = [int(s) for s in getattr(args, f"{name}_sizes").split(",")]
    config = parse_config({
        "name": f"selection-{name}", "output": str(work / f"study-{name}"),
        "seeds": list(range(args.seeds)), "corpus": corpus,
        "split": {"test": 0.3, "dev": 0.1, "seed": 0},
        "design": {"sizes": sizes, "subsets_per_size": args.subsets, "seed": 0,
                   "selection": list(STRATEGIES),
                   "uncertainty": {"seed_docs": args.seed_docs or min(sizes),
                                   "batch_docs": args.batch_docs or min(sizes),
                                   "candidates": args.candidates,
                                   "measure": "least_confidence"}},
        "backends": [{"name": "spacy", "type": "spacy", "params": {
            "max_steps": args.max_steps, "eval_frequency": args.eval_frequency,
            "patience": args.patience}}],
    }, source=work / f"{name}.toml")
    started = time.perf_counter()
    study = run_study(config, workers=args.workers)
    wall = time.perf_counter() - started
    frame = results_frame(study, include_failed=True)
    failed = frame[frame["status"] != "done"]
    if len(failed):
        raise SystemExit(f"{name}: {len(failed)} jobs failed: {failed['error'].iloc[0]}")
    return {"corpus": name, "wall_s": wall, "runs": len(frame),
            "strategies": summarise(frame), "savings": savings(study, args)}


def summarise(frame: Any) -> dict[str, Any]:
    """Per strategy: mean and SD of F1 and sentences per size, and the selection cost of the
    subsets of each size (mean over replicates)."""
    out: dict[str, Any] = {}
    for strategy, rows in frame.groupby("selection", sort=False):
        sizes = []
        for stratum, group in rows.groupby("stratum", sort=False):
            per_subset = group.drop_duplicates("subset_id")
            sizes.append({
                "n_docs": int(stratum), "runs": len(group),
                "sentences": float(group["n_sentences"].mean()),
                "f1_mean": float(group["f1"].mean()),
                "f1_sd": float(group["f1"].std()) if len(group) > 1 else math.nan,
                "selection_seconds": float(per_subset["selection_seconds"].mean()),
                "selection_runs": float(per_subset["selection_runs"].mean()),
                "selection_rounds": float(per_subset["selection_rounds"].mean()),
            })
        out[str(strategy)] = sorted(sizes, key=lambda s: s["n_docs"])
    return out


def savings(study: Path, args: argparse.Namespace) -> list[dict[str, Any]] | str:
    """The analysis's comparison of the strategies (sentences saved over random at the target
    F1 and at random's plateau, with CIs), or why there is none."""
    from nercurve.analysis import analyze, load_runs
    from nercurve.errors import NercurveError

    try:
        analysis = analyze(load_runs(study), n_boot=args.n_boot, target_f1=args.target_f1)
    except NercurveError as err:
        return f"no analysis: {err}"
    comparison = getattr(analysis, "selection", None)  # the analysis of selection strategies
    if comparison is None:
        return ("no strategy comparison: this nercurve's analysis does not compare selection "
                "strategies yet, or the runs hold one strategy")
    table = comparison.table()
    words = analysis.selection_words() if hasattr(analysis, "selection_words") else {}
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v)
             for k, v in row.items()} for row in table.to_dict("records")] + [
        {"words": w} for w in words.values()]


def show(result: dict[str, Any]) -> None:
    """Print one corpus' strategies."""
    print(f"\n== {result['corpus']}: {result['runs']} runs, {result['wall_s'] / 60:.1f} min")
    for strategy, sizes in result["strategies"].items():
        print(f"  {strategy}:")
        print(f"    {'docs':>5s} {'sent.':>7s} {'F1':>7s} {'SD':>6s}  selection cost "
              "(runs, rounds, seconds)")
        for s in sizes:
            print(f"    {s['n_docs']:5d} {s['sentences']:7.0f} {s['f1_mean']:7.4f} "
                  f"{s['f1_sd']:6.3f}  {s['selection_runs']:.0f}, {s['selection_rounds']:.0f}, "
                  f"{s['selection_seconds']:.0f} s")
    if isinstance(result["savings"], str):
        print(f"  {result['savings']}")
        return
    for row in result["savings"]:
        if "words" in row:
            print(f"  {row['words']}")
        elif not row.get("baseline"):
            print(f"  {row['strategy']}: saves {_num(row.get('saved_target'))} sentences at "
                  f"F1 {row.get('target_f1')} [{_num(row.get('saved_target_ci_low'))}, "
                  f"{_num(row.get('saved_target_ci_high'))}], {_num(row.get('saved_plateau'))} "
                  f"at random's plateau [{_num(row.get('saved_plateau_ci_low'))}, "
                  f"{_num(row.get('saved_plateau_ci_high'))}]")


def _num(value: Any) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def main() -> None:
    args = parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for name in args.only.split(","):
            result = run_corpus(name.strip(), args, work)
            if result is not None:
                show(result)
                results.append(result)
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                         "corpora": results}, indent=1, default=str),
                             encoding="utf-8")


if __name__ == "__main__":
    main()
