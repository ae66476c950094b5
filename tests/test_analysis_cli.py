"""Degenerate input, the report and the analyze/report/plan commands end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nercurve.analysis import analyze, load_runs
from nercurve.analysis.simulate import simulate_runs
from nercurve.errors import AnalysisError, InputError

NERCURVE = str(Path(sys.executable).parent / "nercurve")
EVIL = "<script>alert(1)</script>"
CURVES = {"spacy": (0.8, 2.0, 0.5), "roberta-base": (0.9, 3.0, 0.6)}


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([NERCURVE, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


@pytest.fixture(scope="module")
def runs_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("runs") / "runs.csv"
    simulate_runs(CURVES, n_subsets=50, noise=0.3, seed=2).to_csv(path, index=False)
    return path


def one_backend(n: int = 40, seed: int = 0) -> pd.DataFrame:
    return simulate_runs({"m": (0.8, 2.0, 0.5)}, n_subsets=n, noise=0.3, seed=seed)


@pytest.mark.parametrize("make, words", [
    (lambda: one_backend().head(6), "only 6 run(s)"),
    (lambda: one_backend().assign(n_sentences=120), "only 1 training size"),
    (lambda: one_backend().assign(f1=0.5), "same F1 (0.5) in every run"),
])
def test_degenerate_runs_raise_clear_errors(make, words):
    with pytest.raises(AnalysisError) as err:
        analyze(make(), n_boot=200)
    assert words in str(err.value)
    assert "at least 10 runs at 4 or more training sizes" in str(err.value)


def test_nan_and_missing_backend(tmp_path):
    frame = one_backend()
    frame.loc[3, "f1"] = np.nan
    path = tmp_path / "runs.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(AnalysisError) as err:
        load_runs(path)
    assert err.value.line == 5 and "f1 is missing or not a number" in str(err.value)
    with pytest.raises(AnalysisError, match=r"no runs for backend.*bert"):
        analyze(one_backend(), backends=["bert"], n_boot=200)
    one_backend().drop(columns="eps").to_csv(path, index=False)
    with pytest.raises(InputError, match="lacks the column"):
        load_runs(path)


def test_bad_values_are_shown_plainly_and_semicolon_csvs_are_read(tmp_path):
    frame = one_backend()
    frame.loc[6, "f1"] = 1.7
    path = tmp_path / "runs.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(AnalysisError) as err:
        load_runs(path)
    assert err.value.line == 8 and "is outside [0, 1]: 1.7" in str(err.value)
    assert "np." not in str(err.value)
    semi = tmp_path / "excel.csv"
    one_backend().to_csv(semi, index=False, sep=";", decimal=",")  # a European spreadsheet
    comma = tmp_path / "comma.csv"
    one_backend().to_csv(comma, index=False)
    got, want = load_runs(semi).frame, load_runs(comma).frame
    pd.testing.assert_frame_equal(got[["backend", "n_sentences", "eps", "f1"]],
                                  want[["backend", "n_sentences", "eps", "f1"]])
    one_backend().rename(columns={"eps": "EPS"}).to_csv(path, index=False)
    with pytest.raises(InputError, match=r"lacks the column\(s\) eps") as err:
        load_runs(path)
    assert "this one has: " in err.value.hint and "EPS" in err.value.hint


def test_one_backend_without_curve_is_described_not_modelled():
    frame = pd.concat([one_backend(), one_backend(8).assign(backend="fixed")])
    analysis = analyze(frame, n_boot=200)
    assert not analysis.models["fixed"].modelled and analysis.models["m"].modelled
    assert any(n.startswith("fixed: described only") for n in analysis.notes)


def test_cli_errors_exit_2_without_traceback(tmp_path):
    bad = tmp_path / "few.csv"
    one_backend().head(5).to_csv(bad, index=False)
    for args in (["analyze", str(bad)], ["report", str(tmp_path / "missing.csv")],
                 ["analyze", str(bad), "--target-f1", "1.5"]):
        done = cli(*args)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr


def test_report_escapes_backend_names(tmp_path):
    from nercurve.report import write_report

    runs = simulate_runs({"spacy": (0.8, 2.0, 0.5), EVIL: (0.9, 3.0, 0.6)}, n_subsets=40,
                         noise=0.3)
    written = write_report(analyze(runs, n_boot=200), tmp_path / "r.html")
    page = written.html.read_text(encoding="utf-8")
    assert EVIL not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page.lower()  # the page itself needs no script
    assert all(p.exists() and p.stat().st_size > 0 for p in [*written.figures, *written.tables])
    assert {p.suffix for p in written.figures} == {".png", ".svg"}


def test_cli_analyze_json_and_tables(runs_csv, tmp_path):
    done = cli("analyze", str(runs_csv), "--n-boot", "200", "--json", "-o", str(tmp_path / "t"))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data["recommendations"]) == {"spacy", "roberta-base"}
    assert {p.name for p in (tmp_path / "t").iterdir()} >= {"regression.csv", "thresholds.csv",
                                                            "power_law.csv"}
    text = cli("analyze", str(runs_csv), "--n-boot", "200")
    assert text.returncode == 0 and "Recommendation" in text.stdout
    assert "Standardized regression" in text.stdout


def test_cli_analysis_options_reach_the_analysis(runs_csv):
    done = cli("analyze", str(runs_csv), "--n-boot", "200", "--json", "--backend", "spacy",
               "--family", "upperhinge", "--adjust", "n_docs", "--min-gain", "0.01",
               "--step", "50", "--level", "0.9")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data["recommendations"]) == {"spacy"}
    assert data["settings"] == {**data["settings"], "min_gain": 0.01, "step": 50, "level": 0.9,
                                "families": ["upperhinge"], "adjust": ["n_docs"]}
    assert {row["model"] for row in data["tables"]["thresholds"]} == {"line", "upperhinge"}
    bad = cli("analyze", str(runs_csv), "--adjust", "no_such_column")
    assert bad.returncode == 2 and "no_such_column" in bad.stderr
    bad = cli("analyze", str(runs_csv), "--family", "foo")
    assert bad.returncode == 2 and "unknown threshold model family foo" in bad.stderr
    assert "choose from hinge, upperhinge, segmented" in bad.stderr


def test_cli_report_end_to_end(runs_csv, tmp_path):
    out = tmp_path / "report.html"
    done = cli("report", str(runs_csv), "-o", str(out), "--n-boot", "200", "--target-f1", "0.85")
    assert done.returncode == 0, done.stderr
    assert f"report: {out.resolve()}" in done.stdout
    assert "spacy:" in done.stdout and "F1 0.85" in done.stdout
    assert out.stat().st_size > 10_000
    assert (tmp_path / "report_files" / "learning_curves.svg").exists()


def test_cli_plan_gazetteer(tmp_path):
    from nercurve.corpus.io import write_corpus
    from nercurve.synthetic.coi import generate_coi

    write_corpus(generate_coi(40, seed=0), tmp_path / "pilot.jsonl")
    args = ["plan", "pilot.jsonl", "--backend", "gazetteer", "--sizes", "5,10,20",
            "--seeds", "2", "--n-boot", "200", "--workers", "2"]
    done = cli(*args, "--target-f1", "0.95", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "(12 runs)" in done.stdout  # 3 sizes × 2 subsets × 2 seeds (≥ 10 runs)
    assert "gazetteer: F1 0.95 is" in done.stdout and "out of reach" in done.stdout
    runs = load_runs(tmp_path / "pilot_plan").frame
    assert sorted(runs["n_docs"].unique()) == [5, 10, 20]
    # A target within the pilot's range: answered with a size and no extrapolation warning.
    low = float(runs["f1"].max()) * 0.5
    again = cli(*args, "--target-f1", f"{low:.3f}", cwd=tmp_path)  # reuses the finished study
    assert again.returncode == 0, again.stderr
    assert f"F1 {low:.2f}" in again.stdout and "sentences" in again.stdout


def test_cli_plan_takes_the_corpus_reading_flags(tmp_path):
    from nercurve.corpus.io import write_corpus
    from nercurve.synthetic.coi import generate_coi

    write_corpus(generate_coi(40, seed=0), tmp_path / "pilot.jsonl")
    done = cli("plan", "pilot.jsonl", "--backend", "gazetteer", "--sizes", "5,10,20",
               "--seeds", "2", "--n-boot", "200", "--workers", "2", "--target-f1", "0.5",
               "--label-map", "ORG=SPONSOR", "--labels", "SPONSOR", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    stats = json.loads((tmp_path / "pilot_plan" / "corpus_stats.json").read_text())
    assert set(stats["pool"]["entities_per_label"]) == {"SPONSOR"}
    assert "label-dropped" in done.stderr  # the PERSON spans left out are counted, not hidden
    assert set(stats["reading_notices"]) == {"label-dropped"}
    assert stats["reading_notices"]["label-dropped"] > 0
