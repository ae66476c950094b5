"""Backends on NCBI-disease: the spaCy backend against the hf backend with MiniLM, on a CPU.

Reads the PubTator release of NCBI-disease from ``../shared/corpora`` (the four
mention types merged into one ``Disease`` label; the repeated training document
is dropped and the one mention with trailing spaces is stripped), trains each arm
on the full training set (592 abstracts) with the development set for model
selection, and scores the test set (100 abstracts, 960 mentions) with the
project's strict entity-level scorer. Each arm runs in its own fresh process so
that its peak resident memory is its own.

Prints, per arm: test precision/recall/F1, training wall time, training
sentences per second (training-set sentences × epochs run ÷ training seconds,
dev evaluations included; spaCy's epochs are found by replaying its batcher of
whole documents on the training-set token counts), steps, the best step, and peak memory. Targets on
this CPU: the better arm reaches test F1 >= 0.80, MiniLM's peak memory stays
under 4 GB, the whole benchmark within 40 minutes. Usage:

    .venv/bin/python bench/backends_ncbi.py                       # both arms, defaults below
    .venv/bin/python bench/backends_ncbi.py --arms hf --hf-steps 300 --threads 1
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MERGE = {k: "Disease" for k in ("SpecificDisease", "Modifier", "DiseaseClass", "CompositeMention")}
FILES = {
    "train": "NCBItrainset_corpus.txt",
    "dev": "NCBIdevelopset_corpus.txt",
    "test": "NCBItestset_corpus.txt",
}


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--corpora", type=Path, default=ROOT.parent / "shared" / "corpora")
    ap.add_argument("--arms", default="spacy,hf", help="comma-separated: spacy, hf")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--spacy-steps", type=int, default=3000, help="spaCy max_steps")
    ap.add_argument("--hf-model", default="minilm")
    ap.add_argument("--hf-steps", type=int, default=450, help="hf max_steps")
    ap.add_argument("--hf-eval-every", type=int, default=150)
    ap.add_argument("--hf-lr", type=float, default=2e-4)
    ap.add_argument("--hf-batch", type=int, default=8, help="hf windows per batch")
    ap.add_argument("--hf-max-length", type=int, default=256, help="hf subwords per window")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    return ap.parse_args()


def read_split(corpora: Path) -> dict[str, list[Any]]:
    """Train, dev and test documents of NCBI-disease (PubTator), tokenized and sentence-split."""
    from nercurve.corpus.io import ReadOptions, read_corpus
    from nercurve.corpus.segment import segment

    options = ReadOptions(label_map=MERGE, duplicate_ids="keep-first", mismatch="strip")
    folder = corpora / "ncbi-disease" / "pubtator"
    return {k: segment(read_corpus(folder / f, "pubtator", options).docs) for k, f in FILES.items()}


def run_arm(arm: str, args: argparse.Namespace) -> dict[str, Any]:
    """Train one arm in this (fresh) process and score it; returns the figures."""
    import torch

    from nercurve.backends import get_backend
    from nercurve.tasks.ner_scores import evaluate

    if args.threads:
        torch.set_num_threads(args.threads)
    data = read_split(args.corpora)
    if arm == "hf":
        params: dict[str, Any] = {
            "model": args.hf_model, "device": "cpu", "batch_size": args.hf_batch,
            "max_length": args.hf_max_length, "window_overlap": 32,
            "learning_rate": args.hf_lr, "warmup_steps": min(50, args.hf_steps // 5),
            "max_steps": args.hf_steps, "eval_every": args.hf_eval_every,
        }
    else:
        params = {"max_steps": args.spacy_steps}
    backend = get_backend(arm)
    started = time.perf_counter()
    result = backend.train(data["train"], data["dev"], params, args.seed)
    seconds = time.perf_counter() - started
    predicted = result.model.predict(data["test"])
    test = data["test"]
    scored = evaluate(test, [d.with_spans(p) for d, p in zip(test, predicted, strict=True)])
    sentences = sum(len(d.sentences) for d in data["train"])
    return {
        "arm": arm if arm == "spacy" else f"hf:{args.hf_model}",
        "params": params,
        "test_precision": scored.micro.precision,
        "test_recall": scored.micro.recall,
        "test_f1": scored.micro.f1,
        "dev_f1": result.dev_f1,
        "steps": result.steps,
        "best_step": result.best_step,
        "train_seconds": seconds,
        "epochs": _epochs(arm, result, data["train"], params),
        "train_sentences": sentences,
        "threads": torch.get_num_threads(),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "history": result.history,
    }


def _epochs(arm: str, result: Any, train: list[Any], params: dict[str, Any]) -> float:
    """Passes over the training set the run made."""
    if arm == "hf":
        windows = len(result.model.encoder.examples(train, _words(train)))
        return result.steps * params["batch_size"] / windows
    # spaCy batches whole documents by words (compounding sizes): replay its batcher
    from itertools import cycle

    from spacy.training.batchers import minibatch_by_words
    from thinc.api import compounding

    from nercurve.backends import get_backend

    p = get_backend("spacy").Params(**params)
    sizes = compounding(p.batch_start, p.batch_stop, p.batch_compound)
    lengths = [len(d.tokens) for d in train]
    batches = minibatch_by_words(cycle(lengths), size=sizes, get_length=lambda n: n)
    consumed = sum(len(next(batches)) for _ in range(result.steps))
    return consumed / len(lengths)


def _words(docs: list[Any]) -> list[Any]:
    from nercurve.backends.hf.align import doc_words

    return [doc_words(d) for d in docs]


def main() -> None:
    args = parse_args()
    if not (args.corpora / "ncbi-disease").is_dir():
        raise SystemExit(f"NCBI-disease not found under {args.corpora}")
    ctx = mp.get_context("spawn")
    started = time.perf_counter()
    rows = []
    for arm in args.arms.split(","):
        with ctx.Pool(1) as pool:
            row = pool.apply(run_arm, (arm.strip(), args))
        row["sentences_per_s"] = row["train_sentences"] * row["epochs"] / row["train_seconds"]
        rows.append(row)
        print(
            f"{row['arm']:<12} test P/R/F1 {row['test_precision']:.3f}/{row['test_recall']:.3f}/"
            f"{row['test_f1']:.3f}  dev F1 {row['dev_f1']:.3f}  steps {row['steps']} "
            f"(best {row['best_step']})  epochs {row['epochs']:.1f}  "
            f"train {row['train_seconds'] / 60:.1f} min  "
            f"{row['sentences_per_s']:.1f} train sentences/s  peak {row['peak_mb']:.0f} MB  "
            f"threads {row['threads']}",
            flush=True,
        )
    total = time.perf_counter() - started
    best = max(r["test_f1"] for r in rows)
    print(f"whole benchmark {total / 60:.1f} min; best test F1 {best:.3f} (target >= 0.80)")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "total_seconds": total}, indent=1))


if __name__ == "__main__":
    main()
