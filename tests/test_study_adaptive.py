"""Adaptive designs: the sampling and stopping rules, waves in the store, reruns that keep
them, a kill that resumes the wave in progress, status and the report's convergence figure.

The backend is the tests' own ``known_curve_backend:KnownCurve``: its F1 rises by 0.01 per
training sentence up to 60 sentences and is flat at 0.9 after, so the threshold is known.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from study_fixtures import job_rows, wait_for, write_study

from nercurve.analysis.wave_estimate import estimate_target
from nercurve.errors import ConfigError
from nercurve.study.config import AdaptiveSection, DesignSection, load_config
from nercurve.study.runner import run_study
from nercurve.study.store import results_frame
from nercurve.study.wave_policy import Estimate, focus_interval, next_sizes, stop_reason

NERCURVE = str(Path(sys.executable).parent / "nercurve")
TESTS = str(Path(__file__).resolve().parent)
CURVE = "known_curve_backend:KnownCurve"
TRUE_THRESHOLD = 60


def adaptive_study(folder: Path, adaptive: str, params: str = "{}") -> Path:
    config = write_study(folder, backend_type=CURVE, params=params, seeds="[0]",
                         strata="[[2, 10], [11, 25], [26, 45], [46, 70]]", subsets=3)
    text = config.read_text().replace("subsets_per_stratum = 3",
                                      f"subsets_per_stratum = 3\nadaptive = {adaptive}")
    config.write_text(text)
    return config


def waves_of(store: Path) -> list[dict]:
    con = sqlite3.connect(store)
    try:
        text = con.execute("SELECT value FROM meta WHERE key = 'adaptive.waves'").fetchone()[0]
    finally:
        con.close()
    return json.loads(text)["waves"]


def run_in_process(config: Path) -> Path:
    sys.path.insert(0, TESTS)  # the spawned workers inherit sys.path
    try:
        return run_study(load_config(config), estimator=estimate_target)
    finally:
        sys.path.remove(TESTS)


def test_config_and_identity_of_an_adaptive_design():
    with pytest.raises(ValueError, match="target_f1 is needed"):
        AdaptiveSection(target="target_f1", ci_width=10, max_runs=50)
    plain = DesignSection()
    assert "adaptive" not in plain.identity()  # stores made before adaptive designs match
    a = DesignSection(adaptive={"ci_width": 50, "max_runs": 100})
    b = DesignSection(adaptive={"ci_width": 10, "max_runs": 900})
    c = DesignSection(adaptive={"ci_width": 50, "max_runs": 100, "spread": 0.5})
    assert a.identity() == b.identity() != c.identity()  # the stopping rule is not identity


def test_an_adaptive_design_needs_the_estimator_from_its_caller(tmp_path: Path):
    # the study package knows nothing of the analysis: the caller hands the estimator in
    config = adaptive_study(tmp_path, "{ ci_width = 12, wave = 6, max_runs = 36 }")
    with pytest.raises(ConfigError, match="estimator"):
        run_study(load_config(config))
    assert not (tmp_path / "out" / "results.sqlite").exists()


def test_sampling_rule_focuses_on_the_ci_and_keeps_spread():
    rng = np.random.default_rng(0)
    current = Estimate(value=450, ci=(420, 500), runs=100)
    sizes, focus = next_sizes(current, (10, 1000), 20, 0.25, rng)
    assert focus == (400, 520) and len(sizes) == 20
    inside = (sizes >= 400) & (sizes <= 520)
    assert inside.sum() >= 15 and (~inside).sum() >= 1 and sizes.min() < 400 < 520 < sizes.max()
    # a narrow CI still focuses on a twentieth of the range; a CI beyond it on its top fifth
    assert focus_interval(Estimate(450, (449, 451), 9), (0, 1000)) == pytest.approx((425, 475))
    assert focus_interval(Estimate(2000, (1500, np.inf), 9), (0, 1000)) == (800, 1000)
    wide, none = next_sizes(None, (10, 1000), 8, 0.25, rng)
    assert none is None and len(wide) == 8 and np.ptp(wide) > 500
    settings = AdaptiveSection(ci_width=30, wave=10, max_runs=50)
    assert stop_reason(Estimate(450, (440, 465), 9), settings, 20, 1) == "ci_width"
    assert stop_reason(Estimate(450, (400, 500), 9), settings, 45, 1) is None  # 5 more fit
    assert stop_reason(Estimate(450, (400, 500), 9), settings, 50, 1) == "max_runs"


def test_an_adaptive_study_runs_in_waves_stops_and_reruns_keep_its_waves(tmp_path: Path):
    config = adaptive_study(tmp_path, "{ ci_width = 12, wave = 6, max_runs = 36, n_boot = 200 }")
    out = run_in_process(config)
    waves = waves_of(out / "results.sqlite")
    assert waves[0]["focus"] is None and len(waves[0]["subsets"]) == 12
    assert all(len(w["subsets"]) <= 6 and w["focus"] is not None for w in waves[1:])
    assert all(w["estimate"] is not None for w in waves)
    last = waves[-1]
    assert last["stopped"] in ("ci_width", "max_runs")
    subsets = sum(len(w["subsets"]) for w in waves)
    frame = results_frame(out)
    # a threshold is identified only up to the gap between neighbouring observed sizes:
    # the CI covers the truth when it does once reaching to the next size on either side
    sizes = sorted(set(frame["n_sentences"]))
    low = max([s for s in sizes if s < last["ci"][0]], default=last["ci"][0])
    high = min([s for s in sizes if s > last["ci"][1]], default=last["ci"][1])
    assert low <= TRUE_THRESHOLD <= high
    assert len(frame) == subsets <= 36 and set(frame["status"]) == {"done"}
    design = (out / "design.csv").read_text()
    assert all(s in design for w in waves for s in w["subsets"])
    # a rerun runs nothing again and keeps every wave's jobs active
    run_in_process(config)
    assert waves_of(out / "results.sqlite") == waves
    assert [r["attempts"] for r in job_rows(out / "results.sqlite")] == [1] * subsets
    assert len(results_frame(out)) == subsets
    # a tighter stopping rule continues the same study; a changed sampling rule is refused
    tighter = config.read_text().replace("ci_width = 12", "ci_width = 1")
    config.write_text(tighter.replace("max_runs = 36", "max_runs = 48"))
    run_in_process(config)
    more = waves_of(out / "results.sqlite")
    assert more[:len(waves) - 1] == waves[:-1] and len(more) > len(waves)
    assert sum(len(w["subsets"]) for w in more) == len(results_frame(out)) <= 48
    config.write_text(config.read_text().replace("wave = 6", "wave = 4"))
    with pytest.raises(ConfigError, match=r"design\.adaptive"):
        run_in_process(config)


def test_a_killed_adaptive_run_resumes_the_wave_in_progress(tmp_path: Path):
    config = adaptive_study(tmp_path, "{ ci_width = 1, wave = 4, max_runs = 20, n_boot = 200 }",
                            params="{ sleep_s = 0.25 }")
    store = tmp_path / "out" / "results.sqlite"
    env = dict(os.environ, PYTHONPATH=TESTS)
    proc = subprocess.Popen([NERCURVE, "run", str(config)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    wait_for(store, done=14, running=False)  # wave 1 is drawn and some of it has run
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(waves_of(store)) >= 2
    again = subprocess.run([NERCURVE, "run", str(config)], env=env, capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    waves = waves_of(store)
    assert waves[-1]["stopped"] == "max_runs"
    rows = [r for r in job_rows(store) if r["active"]]
    assert len(rows) == sum(len(w["subsets"]) for w in waves) == 20
    assert all(r["status"] == "done" for r in rows)
    assert len(results_frame(tmp_path / "out")) == 20  # one result per job
    shown = subprocess.run([NERCURVE, "status", str(tmp_path / "out")], capture_output=True,
                           text=True, timeout=60, env=dict(os.environ, COLUMNS="200"))
    assert "adaptive design: waves" in shown.stdout and "max_runs reached" in shown.stdout
    report = subprocess.run([NERCURVE, "report", str(tmp_path / "out"), "-o",
                             str(tmp_path / "r.html"), "--n-boot", "200"], capture_output=True,
                            text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'id="convergence"' in page and "stopped after wave" in page
    assert (tmp_path / "r_files" / "convergence.png").is_file()
