"""A study never silently mixes two designs: changed arms, labels or corpus content are
refused (or set aside with --drop-changed), and jobs the config no longer names leave
the results."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from study_fixtures import job_rows, toy_docs, write_study

from nercurve.corpus.io import write_corpus
from nercurve.corpus.model import Doc
from nercurve.errors import ConfigError
from nercurve.study.config import load_config
from nercurve.study.runner import initialise, prepare, run_study
from nercurve.study.store import Store, results_frame

NERCURVE = str(Path(sys.executable).parent / "nercurve")


def edit(config: Path, old: str, new: str) -> None:
    text = config.read_text(encoding="utf-8")
    assert old in text
    config.write_text(text.replace(old, new), encoding="utf-8")


def add_arm(config: Path, name: str, params: str) -> None:
    edit(config, "[run]", f'[[backends]]\nname = "{name}"\ntype = "gazetteer"\n'
         f"params = {params}\n[run]")


def jobs(out: Path) -> list[sqlite3.Row]:
    return job_rows(out / "results.sqlite")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NERCURVE, *args], capture_output=True, text=True, timeout=180)


def test_changed_arm_parameters_are_refused_and_drop_changed_sets_the_old_rows_aside(
    tmp_path: Path,
) -> None:
    cfg = write_study(tmp_path, seeds="[0]")
    first = cli("run", str(cfg))
    assert first.returncode == 0, first.stderr
    before = results_frame(tmp_path / "out")
    assert before["params_digest"].nunique() == 1

    edit(cfg, "params = {}", "params = { min_count = 2 }")
    refused = cli("run", str(cfg))
    assert refused.returncode == 2
    assert "'arm' (min_count: 1 → 2)" in refused.stderr
    assert "new `name`" in refused.stderr and "--drop-changed" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert len(jobs(tmp_path / "out")) == len(before)  # nothing added, nothing lost

    dropped = cli("run", str(cfg), "--drop-changed")
    assert dropped.returncode == 0, dropped.stderr
    after = results_frame(tmp_path / "out")
    assert len(after) == len(before)
    assert after["params_digest"].nunique() == 1
    assert set(after["params_digest"]) != set(before["params_digest"])
    rows = jobs(tmp_path / "out")
    archived = [r for r in rows if r["archived"]]
    assert len(archived) == len(before)  # the old rows are kept, set aside
    assert all(r["status"] == "done" and not r["active"] for r in archived)
    assert all("min_count" in r["archived"] for r in archived)
    status = cli("status", str(tmp_path / "out"))
    assert f"{len(before)} job(s) set aside by --drop-changed" in status.stdout


def test_a_new_arm_name_keeps_both_settings_apart(tmp_path: Path) -> None:
    cfg = write_study(tmp_path, seeds="[0]")
    run_study(load_config(cfg))
    add_arm(cfg, "arm2", "{ min_count = 2 }")
    add_arm(cfg, "arm3", "{ case_sensitive = false }")
    run_study(load_config(cfg))
    frame = results_frame(tmp_path / "out")
    assert frame.groupby("backend")["params_digest"].nunique().to_dict() == {
        "arm": 1, "arm2": 1, "arm3": 1,
    }
    assert frame["params_digest"].nunique() == 3


def test_changed_labels_are_refused_naming_the_option(tmp_path: Path) -> None:
    cfg = write_study(tmp_path, seeds="[0]")
    run_study(load_config(cfg))
    edit(cfg, 'path = "toy.jsonl"', 'path = "toy.jsonl"\nlabels = ["PERSON"]')
    with pytest.raises(ConfigError) as err:
        run_study(load_config(cfg))
    assert "corpus.labels: (default) → [\"PERSON\"]" in err.value.message
    assert "corpus: the text or annotations of the training pool changed" in err.value.message


def test_another_file_with_the_same_ids_is_refused_and_can_be_dropped(tmp_path: Path) -> None:
    cfg = write_study(tmp_path, seeds="[0]")
    run_study(load_config(cfg))
    # same ids, other text: every document gets one more sentence without entities
    other = [Doc(id=d.id, text=d.text + " Nothing to declare.", spans=d.spans)
             for d in toy_docs()]
    write_corpus(other, tmp_path / "other.jsonl")
    edit(cfg, 'path = "toy.jsonl"', 'path = "other.jsonl"')
    with pytest.raises(ConfigError) as err:
        run_study(load_config(cfg))
    assert "the text or annotations of the test set changed" in err.value.message
    assert "split:" not in err.value.message  # the same documents, other content
    out = run_study(load_config(cfg), drop_changed=True)
    after = results_frame(out).set_index("subset_id")
    design = pd.read_csv(out / "design.csv").set_index("subset_id")
    assert len(after) == len(design) == 6
    # the results describe the subsets of the new corpus, as design.csv does
    for column in ("n_docs", "n_sentences", "n_entities"):
        assert (after[column] == design.loc[after.index, column]).all()
    assert (after["n_sentences"] > after["n_docs"]).all()  # the extra sentence is counted


def test_moving_the_corpus_file_changes_nothing(tmp_path: Path) -> None:
    cfg = write_study(tmp_path, seeds="[0]")
    run_study(load_config(cfg))
    (tmp_path / "toy.jsonl").rename(tmp_path / "moved.jsonl")
    edit(cfg, 'path = "toy.jsonl"', 'path = "moved.jsonl"')
    run_study(load_config(cfg))
    assert all(r["attempts"] == 1 and r["active"] for r in jobs(tmp_path / "out"))


def test_removed_seeds_and_arms_are_not_run_and_leave_the_results(tmp_path: Path) -> None:
    cfg = write_study(tmp_path, seeds="[0, 1]")
    add_arm(cfg, "extra", "{ min_count = 3 }")
    add_arm(cfg, "arm0", "{ case_sensitive = false }")
    # the first config's jobs are stored but none has run (a study stopped at once)
    initialise(prepare(load_config(cfg)))
    assert len(jobs(tmp_path / "out")) == 6 * 2 * 3
    edit(cfg, "seeds = [0, 1]", "seeds = [0]")
    edit(cfg, '[[backends]]\nname = "extra"\ntype = "gazetteer"\nparams = { min_count = 3 }\n',
         "")
    out = run_study(load_config(cfg))
    rows = jobs(out)
    ran = [r for r in rows if r["status"] == "done"]
    assert {(r["backend"], r["seed"]) for r in ran} == {("arm", 0), ("arm0", 0)}
    assert all(r["status"] == "pending" and not r["active"] for r in rows if r not in ran)
    frame = results_frame(out)
    assert set(frame["seed"]) == {0} and set(frame["backend"]) == {"arm", "arm0"}
    status = cli("status", str(out))
    assert "all jobs finished" in status.stdout
    assert "6 stored job(s) of 'arm' are not in the current config" in status.stdout
    assert "6 stored job(s) of 'arm0' are not in the current config" in status.stdout
    assert "12 stored job(s) of 'extra' are not in the current config" in status.stdout
    # naming them again brings them back
    edit(cfg, "seeds = [0]", "seeds = [0, 1]")
    run_study(load_config(cfg))
    assert set(results_frame(out)["seed"]) == {0, 1}


def test_fewer_subsets_per_stratum_leaves_the_extra_subsets_out(tmp_path: Path) -> None:
    cfg = write_study(tmp_path, seeds="[0]", subsets=3)
    run_study(load_config(cfg))
    edit(cfg, "subsets_per_stratum = 3", "subsets_per_stratum = 1")
    out = run_study(load_config(cfg))
    assert len(results_frame(out)) == 2  # one subset in each of two strata
    assert len(jobs(out)) == 6


def test_a_store_of_an_earlier_version_is_upgraded_and_kept(tmp_path: Path) -> None:
    cfg = write_study(tmp_path, seeds="[0]")
    out = run_study(load_config(cfg))
    # make it look like the first release's store: no new columns, only the old fingerprint
    con = sqlite3.connect(out / "results.sqlite")
    for column in ("extra", "owner", "lease_until", "active", "archived"):
        con.execute(f"ALTER TABLE jobs DROP COLUMN {column}")
    con.execute("DELETE FROM meta WHERE key = 'identity'")
    con.commit()
    con.close()
    with Store(out / "results.sqlite") as store:
        assert store.counts()["done"] == 6
    run_study(load_config(cfg))
    assert all(r["attempts"] == 1 for r in jobs(out))
    edit(cfg, "[design]", "[design]\nseed = 5")
    with pytest.raises(ConfigError) as err:
        run_study(load_config(cfg))
    assert "design.seed: 0 → 5" in err.value.message
    with Store(out / "results.sqlite") as store:
        assert json.loads(store.get_meta("identity") or "{}")["design.seed"] == "0"
