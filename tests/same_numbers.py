"""Two fixed studies whose numbers must not change when the code is reorganised.

The demo study (the synthetic COI corpus, the demo config's arms) and the classification
demo study, each at two subsets per stratum and with spaCy's step budget cut to keep the
suite quick. ``fixed_numbers`` runs both and returns, per study, the per-job F1 (by job
id) and every analysis table as CSV text. ``tests/test_same_numbers.py`` compares them with
``tests/data/same_numbers.json``.

Training is bit-for-bit repeatable on one kind of CPU, not across kinds: spaCy's matrix
products (blis) and numpy's pick kernels by instruction set (AVX2 or AVX-512), which sum in
different orders, and a NER run's trajectory drifts from there (per-job F1 up to 0.04 apart
between an AVX-512 and an AVX2 machine, the same code). So the file keeps one record per
kind of CPU, keyed by :func:`numerics`. ``python tests/same_numbers.py`` records this CPU's
numbers as the only record (when a change of numbers is intended and explained: the other
CPUs' records are then stale); ``--add-cpu`` records them beside the others (a new kind of
machine, no change of numbers intended).
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
import sys
import tempfile
from pathlib import Path

EXPECTED = Path(__file__).parent / "data" / "same_numbers.json"

#: spaCy's budget in both studies (the demo configs say 600 / 100 / 300).
_SHORT = {"max_steps = 600": "max_steps = 160", "eval_frequency = 100": "eval_frequency = 40",
          "patience = 300": "patience = 80"}


#: Columns that measure the machine (time, memory), not the study.
_MEASURED = ("seconds", "peak_mb")


def _config(example: str, corpus: str) -> str:
    text = re.sub(r"subsets_per_stratum = \d+", "subsets_per_stratum = 2", example)
    for old, new in _SHORT.items():
        text = text.replace(old, new)
    text = re.sub(r'path = "[^"]+"', f'path = "{corpus}"', text, count=1)
    return re.sub(r'output = "[^"]+"', 'output = "study"', text, count=1)


def _numbers(study_dir: Path) -> dict:
    from nercurve.analysis import analyze, load_runs
    from nercurve.study.store import results_frame

    runs = results_frame(study_dir)
    analysis = analyze(load_runs(study_dir), n_boot=200)
    tables = analysis.tables()
    tables["runs"] = tables["runs"].drop(columns=list(_MEASURED))
    return {
        "f1": {row.job_id: float(row.f1) for row in runs.itertuples()},
        "tables": {name: frame.to_csv(index=False, float_format="%.12g")
                   for name, frame in tables.items()},
        "recommendation": analysis.recommendation_text(),
    }


def numerics() -> str:
    """A key for this CPU's float arithmetic as the fixed studies meet it: a digest of
    thinc's matrix product (blis) and numpy's on fixed float32 matrices."""
    import numpy as np
    from thinc.api import NumpyOps

    rng = np.random.default_rng(0)
    a = rng.standard_normal((257, 301), dtype=np.float32)
    b = rng.standard_normal((301, 193), dtype=np.float32)
    products = (NumpyOps().gemm(a, b), a @ b)
    return hashlib.sha256(b"".join(np.ascontiguousarray(p).tobytes()
                                   for p in products)).hexdigest()[:16]


def cpu_name() -> str:
    """The CPU's model name and vector extensions, for a record's reader."""
    name, flags = platform.processor() or platform.machine(), set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                name = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split()) & {"avx2", "avx512f", "fma"}
    return f"{name} ({', '.join(sorted(flags)) or 'no AVX2'})"


def fixed_numbers(folder: Path) -> dict:
    """Run both fixed studies in ``folder`` (two worker processes) and return their numbers."""
    from nercurve.corpus.io import write_corpus
    from nercurve.study.config import load_config
    from nercurve.study.example import EXAMPLE_STUDY
    from nercurve.study.example_classify import EXAMPLE_CLASSIFY_STUDY
    from nercurve.study.runner import run_study
    from nercurve.synthetic.coi import generate_coi
    from nercurve.synthetic.smoking import generate_smoking

    out = {}
    for name, example, generate in (("ner", EXAMPLE_STUDY, generate_coi),
                                    ("classify", EXAMPLE_CLASSIFY_STUDY, generate_smoking)):
        here = folder / name
        here.mkdir(parents=True)
        write_corpus(generate(490, 0), here / "corpus.jsonl")
        (here / "study.toml").write_text(_config(example, "corpus.jsonl"), encoding="utf-8")
        out[name] = _numbers(run_study(load_config(here / "study.toml"), workers=2))
    return out


def main(add_cpu: bool) -> None:
    """Record this CPU's numbers (see the module docstring)."""
    with tempfile.TemporaryDirectory() as tmp:
        numbers = fixed_numbers(Path(tmp))
    records = json.loads(EXPECTED.read_text(encoding="utf-8")) if add_cpu else {}
    records[numerics()] = {"cpu": cpu_name(), "numbers": numbers}
    EXPECTED.parent.mkdir(exist_ok=True)
    EXPECTED.write_text(json.dumps(records, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {EXPECTED} ({len(records)} CPUs): " + ", ".join(
        f"{k}: {len(v['f1'])} jobs" for k, v in numbers.items()))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main(add_cpu="--add-cpu" in sys.argv[1:])
