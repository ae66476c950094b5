"""Runner throughput: `nercurve run` against a naive `python -m spacy train` loop.

The same subsets of a synthetic COI corpus are trained twice with the same spaCy
config, schedule and seeds:

(a) naive: for each subset, write train/dev DocBins and the config to a temp folder,
    run ``python -m spacy train`` in a subprocess, load ``model-best`` and score the
    test set with the project's scorer;
(b) nercurve: ``nercurve run study.toml --workers N`` on a study whose design draws
    those subsets (the naive loop reads them from the prepared study, so both train
    on identical documents);
(c) optionally (``--direct``), the spacy backend called in this one process, serially:
    the per-run cost without process start-up or disk, and without parallel workers.

Prints runs per hour for each, the ratio, the mean test F1 of each (targets: ratio
>= 5, |ΔF1| <= 0.01) and the peak resident memory per worker. Usage:

    .venv/bin/python bench/runner_throughput.py                 # defaults below
    .venv/bin/python bench/runner_throughput.py --workers 2 --max-steps 300 --direct
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--docs", type=int, default=300, help="synthetic corpus size")
    ap.add_argument("--corpus-seed", type=int, default=7)
    ap.add_argument("--strata", default="5-15,16-30,31-45,46-60",
                    help="document strata of the design, low-high,...")
    ap.add_argument("--per-stratum", type=int, default=5, help="subsets drawn per stratum")
    ap.add_argument("--seed", type=int, default=0, help="training seed of every run")
    ap.add_argument("--max-steps", type=int, default=200)
    ap.add_argument("--eval-frequency", type=int, default=25)
    ap.add_argument("--patience", type=int, default=100)
    ap.add_argument("--workers", default=str(os.cpu_count() or 1),
                    help="worker counts for (b), comma-separated: one study per count")
    ap.add_argument("--direct", action="store_true", help="also time (c) in-process calls")
    ap.add_argument("--skip-naive", action="store_true")
    ap.add_argument("--keep", type=Path, default=None, help="keep the work folder here")
    return ap.parse_args()


def write_study(work: Path, args: argparse.Namespace, name: str) -> Path:
    """Write the config of a study in ``work/name`` (on ``work/coi.jsonl``); returns its path."""
    strata = [tuple(int(x) for x in s.split("-")) for s in args.strata.split(",")]
    params = {
        "max_steps": args.max_steps,
        "eval_frequency": args.eval_frequency,
        "patience": args.patience,
    }
    toml = f"""\
name = "{name}"
output = "{name}"
seeds = [{args.seed}]

[corpus]
path = "coi.jsonl"

[split]
test = 0.3
dev = 0.1
seed = 0

[design]
strata = {json.dumps([list(s) for s in strata])}
subsets_per_stratum = {args.per_stratum}
seed = 0

[[backends]]
name = "spacy"
type = "spacy"
params = {{ {", ".join(f"{k} = {v}" for k, v in params.items())} }}
"""
    path = work / f"{name}.toml"
    path.write_text(toml)
    return path


def naive_loop(work: Path, prepared, seed: int) -> tuple[float, dict[str, float], list[float]]:
    """(a): one `python -m spacy train` subprocess per subset.

    Returns wall seconds, test F1 by subset id and the peak memory (MB) of each subprocess.
    """
    import spacy
    from spacy.tokens import DocBin

    from nercurve.backends.spacy.config import SpacyParams
    from nercurve.backends.spacy.docs import SpacyModel, spacy_docs
    from nercurve.tasks.ner_scores import evaluate

    arm = prepared.arms[0]
    params = SpacyParams.model_validate(arm.params)
    data = prepared.data
    test = list(data.test)
    f1s, peaks = {}, []
    started = time.perf_counter()
    blank = spacy.blank("en")
    for k, subset in enumerate(prepared.subsets):
        run = work / f"naive-{k:02d}"
        run.mkdir()
        train_docs = [data.pool[i] for i in subset.doc_ids]
        for name, docs in (("train", train_docs), ("dev", list(data.dev))):
            DocBin(docs=spacy_docs(blank, docs)[0]).to_disk(run / f"{name}.spacy")
        params.training_config(seed).to_disk(run / "config.cfg")
        cmd = [sys.executable, "-m", "spacy", "train", str(run / "config.cfg"),
               "--output", str(run / "out"),
               "--paths.train", str(run / "train.spacy"), "--paths.dev", str(run / "dev.spacy")]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"spacy train failed:\n{proc.stderr.read().decode()[-3000:]}")
        peaks.append(usage.ru_maxrss / 1024)
        model = SpacyModel(spacy.load(run / "out" / "model-best"))
        predicted = model.predict(test)
        scored = evaluate(test, [d.with_spans(p) for d, p in zip(test, predicted, strict=True)])
        f1s[subset.subset_id] = scored.micro.f1
        print(f"  naive {k + 1:2d}/{len(prepared.subsets)}  n_docs={subset.n_docs:3d}  "
              f"f1={scored.micro.f1:.4f}  {time.perf_counter() - started:7.1f}s", flush=True)
    return time.perf_counter() - started, f1s, peaks


def nercurve_run(config_path: Path, workers: int) -> tuple[float, dict[str, float], list[float]]:
    """(b): `nercurve run` as a user would call it: wall seconds, F1 by subset, peak MB per job."""
    from nercurve.study.store import results_frame

    exe = Path(sys.executable).parent / "nercurve"
    started = time.perf_counter()
    subprocess.run([str(exe), "run", str(config_path), "--workers", str(workers)],
                   check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    frame = results_frame(config_path.with_suffix(""))
    return seconds, dict(zip(frame["subset_id"], frame["f1"], strict=True)), list(frame["peak_mb"])


def direct_calls(prepared, seed: int) -> tuple[float, dict[str, float]]:
    """(c): the backend called serially in this process (no start-up, no disk, one core)."""
    from nercurve.backends import get_backend
    from nercurve.tasks.ner_scores import evaluate

    arm = prepared.arms[0]
    backend = get_backend(arm.type)
    params = backend.Params.model_validate(arm.params)
    data = prepared.data
    test = list(data.test)
    f1s = {}
    started = time.perf_counter()
    for subset in prepared.subsets:
        result = backend.train([data.pool[i] for i in subset.doc_ids], list(data.dev), params, seed)
        predicted = result.model.predict(test)
        scored = evaluate(test, [d.with_spans(p) for d, p in zip(test, predicted, strict=True)])
        f1s[subset.subset_id] = scored.micro.f1
    return time.perf_counter() - started, f1s


def main() -> None:
    args = parse_args()
    from nercurve.corpus.io import write_corpus
    from nercurve.study.config import load_config
    from nercurve.study.runner import prepare
    from nercurve.synthetic.coi import generate_coi

    tmp = None if args.keep else tempfile.TemporaryDirectory(prefix="nercurve-bench-")
    work = args.keep or Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    write_corpus(generate_coi(args.docs, seed=args.corpus_seed), work / "coi.jsonl")
    workers = [int(w) for w in args.workers.split(",")]
    configs = {w: write_study(work, args, f"study-{w}w") for w in workers}
    prepared = prepare(load_config(configs[workers[0]]))
    n = len(prepared.subsets)
    print(f"{n} subsets of {sorted(s.n_docs for s in prepared.subsets)} documents; "
          f"dev {len(prepared.data.dev)}, test {len(prepared.data.test)} documents; "
          f"schedule max_steps={args.max_steps} eval_frequency={args.eval_frequency} "
          f"patience={args.patience}; {os.cpu_count()} cores", flush=True)
    rows = []
    if not args.skip_naive:
        seconds, f1s, peaks = naive_loop(work, prepared, args.seed)
        rows.append(("(a) naive `spacy train` loop", seconds, f1s, max(peaks)))
    for w, config_path in configs.items():
        seconds, f1s, peaks = nercurve_run(config_path, w)
        rows.append((f"(b) nercurve run, {w} worker(s)", seconds, f1s, max(peaks)))
    if args.direct:
        seconds, f1s = direct_calls(prepared, args.seed)
        rows.append(("(c) backend in-process, serial", seconds, f1s, float("nan")))

    print(f"\n{'':36s} {'runs/h':>8s} {'s/run':>7s} {'mean F1':>8s} {'peak MB':>8s}")
    for name, seconds, f1s, peak in rows:
        print(f"{name:36s} {n / seconds * 3600:8.1f} {seconds / n:7.2f} "
              f"{statistics.mean(f1s.values()):8.4f} {peak:8.0f}")
    if not args.skip_naive:
        _, base_s, base_f1, _ = rows[0]
        for name, seconds, f1s, _ in rows[1:]:
            diffs = [abs(f1s[k] - base_f1[k]) for k in base_f1]
            delta = statistics.mean(f1s.values()) - statistics.mean(base_f1.values())
            print(f"{name}: {base_s / seconds:.2f}x the naive runs per hour; mean F1 "
                  f"{delta:+.4f}; same F1 on {sum(d < 1e-9 for d in diffs)}/{n} subsets "
                  f"(largest difference {max(diffs):.4f})")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
