"""MLflow tracking against a real local MLflow store (SQLite in the study folder)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient
from study_fixtures import write_study

from nercurve.study.config import load_config
from nercurve.study.runner import run_study
from nercurve.study.store import results_frame

NERCURVE = str(Path(sys.executable).parent / "nercurve")
TESTS = str(Path(__file__).resolve().parent)
PLUGIN = "plugin_backends:SlowGazetteer"


def children(client: MlflowClient, parent: str) -> list[mlflow.entities.Run]:
    return client.search_runs(
        [client.get_run(parent).info.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{parent}'", max_results=1000,
    )


def test_a_study_is_tracked_as_a_parent_run_with_a_child_run_per_job(tmp_path: Path) -> None:
    plain = run_study(load_config(write_study(tmp_path / "plain", seeds="[0]")))
    assert not (plain / "mlflow.db").exists()  # off by default

    cfg = write_study(tmp_path, extra="[tracking]\nmlflow = true\n")
    out = run_study(load_config(cfg))
    client = MlflowClient(tracking_uri=f"sqlite:///{out / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("t")  # the study's name
    parents = client.search_runs([experiment.experiment_id],
                                 filter_string="tags.`nercurve.study_dir` != ''")
    assert len(parents) == 1
    parent = parents[0]
    assert parent.data.params["name"] == "t" and parent.data.params["seeds"] == "[0, 1]"
    assert parent.data.metrics["jobs_done"] == 12
    logged = {a.path for a in client.list_artifacts(parent.info.run_id, "study")}
    assert {"study/design.csv", "study/results.csv", "study/study.json",
            "study/corpus_stats.json"} <= logged
    assert (out / "mlartifacts").is_dir()  # artifacts stay in the study folder

    runs = children(client, parent.info.run_id)
    frame = results_frame(out).set_index("job_id")
    assert len(runs) == 12
    for run in runs:
        job = frame.loc[run.data.params["job_id"]]
        assert run.info.status == "FINISHED"
        assert run.data.params["backend"] == "arm"
        assert run.data.params["backend_type"] == "gazetteer"
        assert int(run.data.params["seed"]) == job["seed"]
        assert "param.min_count" in run.data.params
        assert run.data.metrics["f1"] == pytest.approx(job["f1"])
        assert run.data.metrics["n_sentences"] == job["n_sentences"]
        assert run.data.metrics["eps"] == pytest.approx(job["eps"])
        assert run.data.metrics["f1_PERSON"] == pytest.approx(job["f1_PERSON"])
        assert run.data.metrics["seconds"] == pytest.approx(job["seconds"])
        assert run.info.end_time >= run.info.start_time


def test_a_classification_run_logs_its_class_balance_not_entities(tmp_path: Path) -> None:
    from nercurve.corpus.io import write_corpus
    from nercurve.synthetic.smoking import generate_smoking

    write_corpus(generate_smoking(60, seed=0), tmp_path / "smk.jsonl")
    (tmp_path / "study.toml").write_text("""name = "smk"
output = "out"
task = "classify"
[corpus]
path = "smk.jsonl"
[design]
sizes = [20]
subsets_per_size = 1
[[backends]]
name = "tfidf"
type = "tfidf"
[run]
workers = 1
[tracking]
mlflow = true
""")
    out = run_study(load_config(tmp_path / "study.toml"))
    client = MlflowClient(tracking_uri=f"sqlite:///{out / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("smk")
    (run,) = [r for r in client.search_runs([experiment.experiment_id])
              if "job_id" in r.data.params]
    job = results_frame(out).iloc[0]
    metrics = run.data.metrics
    assert metrics["minority_share"] == pytest.approx(job["minority_share"])
    assert sum(v for k, v in metrics.items() if k.startswith("docs_")) == 20
    assert "eps" not in metrics and "n_entities" not in metrics


def test_tracking_again_adds_only_what_is_new_with_failures_and_the_report(
    tmp_path: Path,
) -> None:
    env = dict(os.environ, PYTHONPATH=TESTS)
    uri = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    cfg = write_study(tmp_path, backend_type=PLUGIN, params="{ fail_seeds = [1] }", subsets=1,
                      strata="[[1, 10]]")
    first = subprocess.run([NERCURVE, "run", str(cfg), "--mlflow", uri], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == 3, first.stderr  # one job failed; tracked all the same
    assert not (tmp_path / "out" / "mlflow.db").exists()  # the store --mlflow named instead
    assert (tmp_path / "out" / "mlartifacts").is_dir()  # artifacts still in the study folder

    report = tmp_path / "report.html"
    report.write_text("<html><body>the report</body></html>", encoding="utf-8")
    (tmp_path / "report_files").mkdir()
    (tmp_path / "report_files" / "regression.csv").write_text("backend,beta\narm,0.5\n")
    again = subprocess.run(
        [NERCURVE, "track", str(tmp_path / "out"), "--mlflow", uri, "--artifact", str(report)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert again.returncode == 0, again.stderr
    assert "0 job run(s) logged, 2 already there" in again.stdout

    client = MlflowClient(tracking_uri=uri)
    parent = client.search_runs([client.get_experiment_by_name("t").experiment_id],
                                filter_string="tags.`nercurve.study_dir` != ''")[0]
    runs = {r.data.params["seed"]: r for r in children(client, parent.info.run_id)}
    assert runs["0"].info.status == "FINISHED"
    assert runs["1"].info.status == "FAILED"
    assert "deliberate failure on seed 1" in runs["1"].data.tags["nercurve.error"]
    top = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"report.html", "report_files", "study"} <= top
    tables = {a.path for a in client.list_artifacts(parent.info.run_id, "report_files")}
    assert tables == {"report_files/regression.csv"}
    assert not (tmp_path / "mlruns").exists()  # nothing in the folder it was run from
