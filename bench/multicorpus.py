"""Multi-corpus studies: does training on public corpora too save target annotation?

One study (``[[corpora]]``, ``[multitask]``) with:

- target: NCBI-disease (the PubTator training file, the four mention types merged into
  ``Disease``), sized by the design in sentences (``--sizes``, default 50, 100 and 200);
- auxiliary: BC5CDR (its training file, the ``Disease`` entities only: the same label as
  the target's) and BC2GM (``GENE``; the first ``--bc2gm-docs`` documents of 10 sentences of
  its IOB training file), each added to the multi-task arm at ``--aux-docs`` documents of
  its training part (its test part is scored);
- test-only (unseen): BC5CDR's other entity type, ``Chemical`` (the first ``--unseen-docs``
  documents of its test file).

Arms: the spaCy arm trained on the target subset alone (single-task) and on the target
subset plus the auxiliary corpora in one model with one merged label set (multi-task), on
the same subsets and seeds (``--subsets`` per size, ``--seeds``), under a cut spaCy budget
(``--max-steps``, evaluation every ``--eval-frequency`` steps, patience ``--patience``) so
that it takes at most 45 minutes on 2 cores. Every model is scored on the target's test set,
on each auxiliary corpus's test set and on the unseen corpus, each on its own labels only.

Prints the mean test F1 per size, arm and test set, and from the analysis
(``nercurve.analysis.analyze``): the target sentences the multi-task arm saves at the
target F1 (``--target-f1``) and at the single-task plateau, with their 95% bootstrap CIs,
and the transfer to the unseen corpus. ``--json`` writes every figure; ``--work DIR`` keeps
the study (a rerun goes on from it). Usage:

    .venv/bin/python bench/multicorpus.py --json multicorpus.json        # < 45 min
    .venv/bin/python bench/multicorpus.py --sizes 50 --subsets 1 --seeds 1  # smoke
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
from bench_corpora import bc2gm_section, bc5cdr_section, ncbi_section

ROOT = Path(__file__).resolve().parents[1]


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--corpora", type=Path, default=ROOT.parent / "shared" / "corpora")
    ap.add_argument("--sizes", default="50,100,200", help="target sizes in sentences")
    ap.add_argument("--subsets", type=int, default=3, help="subsets per size")
    ap.add_argument("--seeds", type=int, default=2, help="training seeds per subset")
    ap.add_argument("--aux-docs", type=int, default=60,
                    help="documents of each auxiliary corpus's training part in the multi arm")
    ap.add_argument("--bc2gm-docs", type=int, default=200,
                    help="BC2GM documents (of 10 sentences) read, before its split")
    ap.add_argument("--unseen-docs", type=int, default=100, help="BC5CDR test documents scored")
    ap.add_argument("--share", default="equal", choices=("proportional", "equal"))
    ap.add_argument("--max-steps", type=int, default=500, help="the cut spaCy budget")
    ap.add_argument("--eval-frequency", type=int, default=50)
    ap.add_argument("--patience", type=int, default=250)
    ap.add_argument("--target-f1", type=float, default=0.6, help="the F1 to save sentences for")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--n-boot", type=int, default=500, help="bootstrap resamples of the CIs")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    ap.add_argument("--work", type=Path,
                    help="keep the study in this folder (a rerun continues it; default: a "
                    "temporary folder)")
    return ap.parse_args()


def corpora(args: argparse.Namespace, work: Path) -> list[dict[str, Any]] | None:
    """The study's ``[[corpora]]`` tables (``None``: a corpus's files are absent)."""
    from nercurve.corpus.io import ReadOptions, read_corpus, write_corpus

    target = ncbi_section(args.corpora)
    bc5cdr = bc5cdr_section(args.corpora, "Disease")
    bc2gm = bc2gm_section(args.corpora, work, args.bc2gm_docs)
    unseen = bc5cdr_section(args.corpora, "Chemical", "Test")
    if None in (target, bc5cdr, bc2gm, unseen):
        return None
    assert unseen is not None
    read = read_corpus(Path(unseen["path"]), "pubtator",
                       ReadOptions(labels=frozenset(unseen["labels"])))
    write_corpus(read.docs[: args.unseen_docs], work / "bc5cdr-chemical.jsonl")
    return [
        {"name": "ncbi", "role": "target", **target},
        {"name": "bc5cdr", "role": "auxiliary", "size": args.aux_docs, **bc5cdr},
        {"name": "bc2gm", "role": "auxiliary", "size": args.aux_docs, **bc2gm},
        {"name": "bc5cdr_chemical", "role": "test-only",
         "path": str(work / "bc5cdr-chemical.jsonl")},
    ]


def run(args: argparse.Namespace, work: Path) -> dict[str, Any] | None:
    """Run the study and summarise it; ``None`` when a corpus is absent."""
    from nercurve.study.config import parse_config
    from nercurve.study.runner import run_study
    from nercurve.study.store import results_frame

    tables = corpora(args, work)
    if tables is None:
        print(f"a corpus is not in {args.corpora}; skipped")
        return None
    config = parse_config({
        "name": "multicorpus", "output": str(work / "study"),
        "seeds": list(range(args.seeds)), "corpora": tables,
        "multitask": {"arms": ["single", "multi"], "share": args.share},
        "split": {"test": 0.3, "dev": 0.1, "seed": 0},
        "design": {"unit": "sentences", "sizes": [int(s) for s in args.sizes.split(",")],
                   "subsets_per_size": args.subsets, "seed": 0},
        "backends": [{"name": "spacy", "type": "spacy", "params": {
            "max_steps": args.max_steps, "eval_frequency": args.eval_frequency,
            "patience": args.patience}}],
    }, source=work / "multicorpus.toml")
    started = time.perf_counter()
    study = run_study(config, workers=args.workers)
    wall = time.perf_counter() - started
    frame = results_frame(study, include_failed=True)
    failed = frame[frame["status"] != "done"]
    if len(failed):
        raise SystemExit(f"{len(failed)} jobs failed: {failed['error'].iloc[0]}")
    tests = ["f1", *(f"f1_{t['name']}" for t in tables if t["role"] != "target")]
    return {"wall_s": wall, "runs": len(frame), "tests": tests,
            "means": means(frame, tests), "analysis": analysis(study, args)}


def means(frame: Any, tests: list[str]) -> list[dict[str, Any]]:
    """Mean test F1 per size and arm on each test set, with the mean target sentences."""
    rows = []
    for (stratum, training), group in frame.groupby(["stratum", "training"], sort=True):
        row = {"stratum": str(stratum), "training": str(training), "runs": len(group),
               "sentences": float(group["n_sentences"].mean()),
               "seconds": float(group["seconds"].mean())}
        row.update({t: float(group[t].mean()) for t in tests})
        rows.append(row)
    return rows


def analysis(study: Path, args: argparse.Namespace) -> dict[str, Any] | str:
    """The analysis's multi-task tables and words, or why there are none."""
    from nercurve.analysis import analyze, load_runs
    from nercurve.errors import NercurveError

    try:
        result = analyze(load_runs(study), n_boot=args.n_boot, target_f1=args.target_f1)
    except NercurveError as err:
        return f"no analysis: {err}"
    found = result.tables()
    tables = {name: [{k: (None if isinstance(v, float) and math.isnan(v) else v)
                      for k, v in row.items()} for row in table.to_dict("records")]
              for name, table in found.items() if name.startswith("multitask")}
    words = list(result.multitask_words().values())
    return {"tables": tables, "words": words}


def show(result: dict[str, Any]) -> None:
    """Print the study's figures."""
    print(f"\n== multi-corpus: {result['runs']} runs, {result['wall_s'] / 60:.1f} min")
    tests = result["tests"]
    print(f"  {'size':>5s} {'arm':>7s} {'sent.':>6s} " + " ".join(f"{t:>18s}" for t in tests))
    for row in result["means"]:
        print(f"  {row['stratum']:>5s} {row['training']:>7s} {row['sentences']:6.0f} "
              + " ".join(f"{row[t]:18.4f}" for t in tests))
    found = result["analysis"]
    if isinstance(found, str):
        print(f"  {found}")
        return
    for name, rows in found["tables"].items():
        print(f"  {name}:")
        for row in rows:
            print("    " + ", ".join(f"{k}={_num(v)}" for k, v in row.items()))
    for words in found["words"]:
        print(f"  {words}")


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        result = run(args, work)
    if result is None:
        return
    show(result)
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                         **result}, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
