"""Two fixed studies whose numbers must not change when the code is reorganised.

The demo study (the synthetic COI corpus, the demo config's arms) and the classification
demo study, each at two subsets per stratum and with spaCy's step budget cut to keep the
suite quick. ``fixed_numbers`` runs both and returns, per study, the per-job F1 (by job
id) and every analysis table as CSV text. ``tests/test_same_numbers.py`` compares them with
``tests/data/same_numbers.json``; ``python tests/same_numbers.py`` rewrites that file
(only when a change of numbers is intended and explained).
"""

from __future__ import annotations

import json
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


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    with tempfile.TemporaryDirectory() as tmp:
        numbers = fixed_numbers(Path(tmp))
    EXPECTED.parent.mkdir(exist_ok=True)
    EXPECTED.write_text(json.dumps(numbers, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {EXPECTED}: " + ", ".join(f"{k}: {len(v['f1'])} jobs"
                                           for k, v in numbers.items()))
