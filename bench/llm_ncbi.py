"""The llm backend on NCBI-disease: SmolLM2-135M zero-shot, 5-shot and LoRA-tuned, on a CPU.

Reads the PubTator release of NCBI-disease from ``../shared/corpora`` (the four
mention types merged into one ``Disease`` label, as in the README's convert example)
and works on sentences (spaCy's sentencizer, never cutting a mention):

- test: 200 sentences drawn with ``random.Random(0)`` from the sentences of
  NCBItestset_corpus.txt (their ids go to the ``--json`` file);
- training: one draw of 200 sentences with ``random.Random(1)`` from
  NCBItrainset_corpus.txt; the 50- and 100-sentence subsets are its first 50 and 100
  (nested, so that the sizes differ only in size);
- dev (model selection by dev F1 from greedy decoding): 40 sentences drawn with
  ``random.Random(2)`` from NCBIdevelopset_corpus.txt.

Arms: zero-shot; 5-shot (shots drawn from the 200 training sentences with the seed);
LoRA (r 16, alpha 32, every linear layer, learning rate 1e-3, 3 epochs, batches of 8)
on 50, 100 and 200 sentences; full fine-tuning (every weight, learning rate 5e-5, the
same data and schedule) on 100. Every model is decoded greedily under the answer
grammar (``constrained``, the backend's default) and without it (``free``); the LoRA
arms also with self-consistency under the grammar (k = 5 samples, temperature 0.7,
top-p 0.95, majority vote). With a single entity type the
questions are asked per type (``per_type_prompts``): one question per sentence whose
answer is a JSON list of strings, a third of the tokens of ``{"text", "type"}``
objects. The prompted arms use the backend's default question (type, answer format,
text); the tuned arms a shorter one without the format instruction
(``{types}\\nText: {text}``), which training makes unnecessary and which cuts the
training tokens by a third. Each arm runs in its own fresh process so that its peak
resident memory is its own, ``--parallel`` (2) arms at once, the longest first; torch
uses one thread per process by default (on two cores, two one-thread arms at once
finish far sooner than one two-thread arm after the other, whose threads wait on each
other). The self-consistency and greedy rows of a model run in the same process, one
after the other, so their ratio compares like with like.

Prints per arm: test precision/recall/F1 (strict, the project's scorer),
parse-failure rate (unparseable answers / answers), hallucination rate (named
entities found nowhere in their sentence / entities named), training tokens per
second, training and decoding seconds (wall clock, and CPU seconds of the process:
on a machine shared with other work the wall clock of two runs minutes apart can
differ by a third for the same computation, the CPU time much less), decoding seconds
per answer, peak memory; then the targets: constrained rows (greedy and k = 5) have 0%
parse failures and 0% hallucinations, constrained F1 is not lower than free F1 (within
0.01), k = 5 costs at most 2.5x greedy wall time, peak memory < 6 GB, the whole
benchmark <= 60 minutes. Usage:

    .venv/bin/python bench/llm_ncbi.py
    .venv/bin/python bench/llm_ncbi.py --sizes 50 --test 40 --arms zero,tuned   # a quick look
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
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
TUNED_TEMPLATE = "{types}\nText: {text}"


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--corpora", type=Path, default=ROOT.parent / "shared" / "corpora")
    ap.add_argument("--arms", default="zero,few,tuned,full",
                    help="comma-separated: zero, few, tuned (LoRA), full (full fine-tuning)")
    ap.add_argument("--sizes", default="50,100,200", help="training sentences of the tuned arms")
    ap.add_argument("--full-sizes", default="100", help="training sentences of the full arms")
    ap.add_argument("--full-lr", type=float, default=5e-5, help="learning rate of full tuning")
    ap.add_argument("--test", type=int, default=200, help="test sentences")
    ap.add_argument("--dev", type=int, default=40, help="dev sentences for model selection")
    ap.add_argument("--shots", type=int, default=5)
    ap.add_argument("--samples", type=int, default=5, help="self-consistency samples")
    ap.add_argument("--min-votes", type=int, help="self-consistency votes (default: a majority)")
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--evals", type=int, default=3, help="dev evaluations per tuned run")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    ap.add_argument("--parallel", type=int, default=2,
                    help="arms run at once, each in its own process with --threads threads")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    return ap.parse_args()


def sentence_docs(docs: list[Any]) -> list[Any]:
    """Each sentence of each document as a document of its own (id ``doc:index``)."""
    from nercurve.backends.llm.prompt import units
    from nercurve.corpus.model import Doc

    return [Doc(f"{docs[u.doc_index].id}:{i}", u.text, u.spans)
            for i, u in enumerate(units(docs))]


def read_data(args: argparse.Namespace) -> dict[str, list[Any]]:
    """The fixed test, training and dev sentences (see the module docstring)."""
    from nercurve.corpus.io import ReadOptions, read_corpus

    options = ReadOptions(label_map=MERGE, duplicate_ids="keep-first", mismatch="strip")
    folder = args.corpora / "ncbi-disease" / "pubtator"
    parts = {k: sentence_docs(read_corpus(folder / f, "pubtator", options).docs)
             for k, f in FILES.items()}
    sizes = [int(s) for s in args.sizes.split(",")]
    return {
        "test": _sample(parts["test"], args.test, 0),
        "train": random.Random(1).sample(parts["train"], max(sizes)),
        "dev": _sample(parts["dev"], args.dev, 2),
    }


def _sample(docs: list[Any], n: int, seed: int) -> list[Any]:
    keep = sorted(random.Random(seed).sample(range(len(docs)), min(n, len(docs))))
    return [docs[i] for i in keep]


def run_arm(arm: str, size: int, args: argparse.Namespace) -> dict[str, Any]:
    """One arm in this (fresh) process: train (or prompt), decode the test set, score it."""
    import torch

    from nercurve.backends import get_backend
    from nercurve.backends.llm.params import SelfConsistency
    from nercurve.tasks.ner_scores import evaluate

    if args.threads:
        torch.set_num_threads(args.threads)
    data = read_data(args)
    test = data["test"]
    params: dict[str, Any] = {"model": "smollm2-135m", "device": "cpu", "per_type_prompts": True,
                              "max_new_tokens": args.max_new_tokens, "eval_batch_size": 16}
    train = data["train"][:size]
    if arm in ("tuned", "full"):
        steps = max(1, round(args.epochs * size / 8))
        params.update(template=TUNED_TEMPLATE, learning_rate=args.lr, epochs=args.epochs,
                      batch_size=8, warmup_steps=max(1, steps // 10), target_modules="all-linear",
                      eval_every=max(1, steps // args.evals), dev_units=None)
        if arm == "full":
            params.update(lora=False, learning_rate=args.full_lr)
    else:
        params.update(train=False, shots=args.shots if arm == "few" else 0)
    backend = get_backend("llm")
    started, cpu = time.perf_counter(), time.process_time()
    result = backend.train(train if arm != "zero" else [], data["dev"], params, args.seed)
    train_seconds, train_cpu = time.perf_counter() - started, time.process_time() - cpu
    name = f"{arm}@{size}" if arm != "zero" else "zero"
    rows = [_scored(name, "greedy", result, test, evaluate)]
    rows[0].update(train_seconds=train_seconds, train_cpu_seconds=train_cpu, steps=result.steps,
                   best_step=result.best_step,
                   dev_f1=result.dev_f1, **result.extra)
    model = result.model
    constrained = model.params
    model.params = constrained.model_copy(update={"constrained": False})
    rows.append(_scored(name, "free", result, test, evaluate))
    if arm == "tuned":
        sc = SelfConsistency(samples=args.samples, temperature=0.7, top_p=0.95,
                             min_votes=args.min_votes)
        model.params = constrained.model_copy(update={"self_consistency": sc})
        rows.append(_scored(name, f"sc{args.samples}", result, test, evaluate))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for row in rows:
        row.update(peak_mb=peak, threads=torch.get_num_threads(), params=params)
    return {"rows": rows, "test_ids": [d.id for d in test]}


def _scored(arm: str, decoding: str, result: Any, test: list[Any], evaluate: Any) -> dict:
    started, cpu = time.perf_counter(), time.process_time()
    predicted = result.model.predict(test)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    scored = evaluate(test, [d.with_spans(p) for d, p in zip(test, predicted, strict=True)])
    return {"arm": arm, "decoding": decoding, "test_precision": scored.micro.precision,
            "test_recall": scored.micro.recall, "test_f1": scored.micro.f1,
            **result.model.diagnostics(), "decode_seconds": seconds, "decode_cpu_seconds": cpu}


def main() -> None:
    args = parse_args()
    if not (args.corpora / "ncbi-disease").is_dir():
        raise SystemExit(f"NCBI-disease not found under {args.corpora}")
    sizes = [int(s) for s in args.sizes.split(",")]
    arms = args.arms.split(",")
    plan = [(a, 0) for a in ("zero", "few") if a in arms]
    if "tuned" in arms:
        plan += [("tuned", n) for n in sizes]
    if "full" in arms:
        plan += [("full", int(n)) for n in args.full_sizes.split(",")]
    plan = [(a, max(sizes) if a == "few" else n) for a, n in plan]
    plan.sort(key=lambda a: -_cost_guess(*a))  # the longest first: the processes end together
    ctx = mp.get_context("spawn")
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    test_ids: list[str] = []
    print(f"{'arm':<10} {'decoding':<8} {'P':>5} {'R':>5} {'F1':>5} {'parse-fail':>10} "
          f"{'halluc':>6} {'tok/s':>6} {'train s (cpu)':>13} {'decode s (cpu)':>14} "
          f"{'s/answer':>8} {'peak MB':>7}", flush=True)
    with ctx.Pool(args.parallel, maxtasksperchild=1) as pool:  # a fresh process per arm
        for out in pool.imap_unordered(_run, [(arm, size, args) for arm, size in plan]):
            test_ids = out["test_ids"]
            for row in out["rows"]:
                rows.append(row)
                print(f"{row['arm']:<10} {row['decoding']:<8} {row['test_precision']:5.3f} "
                      f"{row['test_recall']:5.3f} {row['test_f1']:5.3f} "
                      f"{row['parse_failure_rate']:10.1%} {row['hallucination_rate']:6.1%} "
                      f"{row.get('train_tokens_per_s', 0):6.0f} "
                      f"{row.get('train_seconds', 0):6.0f} "
                      f"({row.get('train_cpu_seconds', 0):4.0f}) {row['decode_seconds']:7.0f} "
                      f"({row['decode_cpu_seconds']:4.0f}) "
                      f"{row['decode_seconds'] / max(row['answers'], 1):8.3f} "
                      f"{row['peak_mb']:7.0f}", flush=True)
    total = time.perf_counter() - started
    summary(rows, total, args)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "total_seconds": total,
                                         "test_ids": test_ids}, indent=1))


def _run(task: tuple[str, int, argparse.Namespace]) -> dict[str, Any]:
    return run_arm(*task)


def _cost_guess(arm: str, size: int) -> float:
    """A rough order of the arms' run times (training grows with the size)."""
    return {"zero": 1.0, "few": 1.5}.get(arm, 1.0 + size / 50)


def summary(rows: list[dict[str, Any]], total: float, args: argparse.Namespace) -> None:
    """The targets: constrained answers always parse and never name what is not there, the
    grammar costs no F1, self-consistency costs at most 2.5x greedy, memory and time."""
    greedy = {r["arm"]: r for r in rows if r["decoding"] == "greedy"}
    free = {r["arm"]: r for r in rows if r["decoding"] == "free"}
    sampled = {r["arm"]: r for r in rows if r["decoding"].startswith("sc")}
    held = [r for r in rows if r["decoding"] != "free"]
    fails = max(r["parse_failure_rate"] for r in held)
    made_up = max(r["hallucination_rate"] for r in held)
    print(f"constrained rows: worst parse-failure rate {fails:.1%}, worst hallucination rate "
          f"{made_up:.1%} (targets 0% and 0%)")
    for arm, row in greedy.items():
        if arm in free:
            diff = row["test_f1"] - free[arm]["test_f1"]
            verdict = "ok" if diff >= -0.01 else "LOWER"
            print(f"{arm}: constrained F1 {row['test_f1']:.3f} vs free {free[arm]['test_f1']:.3f} "
                  f"({diff:+.3f}, target >= -0.01: {verdict})")
    for arm, row in sampled.items():
        g = greedy[arm]
        print(f"{arm}: k = {args.samples} costs {row['decode_seconds'] / g['decode_seconds']:.2f}x "
              f"greedy in wall time (target <= 2.5x; CPU seconds {_cost(row, g):.2f}x; generated "
              f"tokens {row['generated_tokens'] / max(g['generated_tokens'], 1):.1f}x); F1 "
              f"{row['test_f1']:.3f} vs {g['test_f1']:.3f}")
    tuned = [r for r in greedy.values() if r["arm"].startswith("tuned")]
    if "zero" in greedy and tuned:
        best = max(tuned, key=lambda r: int(r["arm"].split("@")[1]))
        gain = best["test_f1"] - greedy["zero"]["test_f1"]
        print(f"{best['arm']} (greedy) - zero-shot: {gain:+.3f} F1")
    peak = max(r["peak_mb"] for r in rows)
    cpu = sum(r.get("train_cpu_seconds", 0) + r["decode_cpu_seconds"] for r in rows)
    print(f"peak memory {peak / 1024:.2f} GB (target < 6); whole benchmark {total / 60:.1f} min "
          f"(target <= 60), of which {cpu / 60:.1f} CPU minutes training and decoding")


def _cost(sampled: dict[str, Any], greedy: dict[str, Any]) -> float:
    return float(sampled["decode_cpu_seconds"] / greedy["decode_cpu_seconds"])


if __name__ == "__main__":
    main()
