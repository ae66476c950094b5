"""Study config validation: errors name the key and the file; the CLI exits 2."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from nercurve.errors import ConfigError
from nercurve.study.config import load_config, parse_config
from nercurve.study.example import EXAMPLE_STUDY
from nercurve.study.jobs import validate_arms

NERCURVE = str(Path(sys.executable).parent / "nercurve")


def test_the_example_config_is_valid_and_uses_the_majdik_strata() -> None:
    config = parse_config(tomllib.loads(EXAMPLE_STUDY))
    assert config.design.strata == [(1, 40), (41, 80), (81, 120), (121, 160), (161, 200)]
    assert [b.type for b in config.backends] == ["spacy", "pretrained"]
    assert config.split.select_on == "dev"
    assert config.run.runs_per_gpu == 1
    assert parse_config({**tomllib.loads(EXAMPLE_STUDY), "run": {"runs_per_gpu": 2}}
                        ).run.runs_per_gpu == 2


@pytest.mark.parametrize(
    ("patch", "key"),
    [
        ({"corpus": {"path": "x", "colour": 1}}, "corpus.colour"),
        ({"split": {"test": 1.5}}, "split.test"),
        ({"design": {"unit": "pages"}}, "design.unit"),
        ({"backends": []}, "backends"),
        ({"seeds": [0, 0]}, "(top level)"),
        ({"design": {"sizes": [3, 7], "strata": [[1, 5]]}}, "design"),
        ({"design": {"sizes": [3, 7], "subsets_per_stratum": 2}}, "design"),
        ({"design": {"subsets_per_size": 2}}, "design"),
        ({"run": {"runs_per_gpu": 0}}, "run.runs_per_gpu"),
    ],
)
def test_bad_keys_and_values_name_the_key(patch: dict, key: str) -> None:
    data = {"corpus": {"path": "c.jsonl"}, "backends": [{"name": "a", "type": "spacy"}]}
    data.update(patch)
    with pytest.raises(ConfigError) as info:
        parse_config(data, source="study.toml")
    assert f"'{key}'" in str(info.value)
    assert info.value.file == "study.toml"


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    path = tmp_path / "study.toml"
    path.write_text(EXAMPLE_STUDY, encoding="utf-8")
    config = load_config(path)
    assert config.corpus.path == tmp_path / "coi.jsonl"
    assert config.output == tmp_path / "runs" / "coi"


def test_backend_parameters_are_validated_by_the_backend() -> None:
    config = parse_config(
        {
            "corpus": {"path": "c.jsonl"},
            "backends": [{"name": "g", "type": "gazetteer", "params": {"min_count": 0}}],
        }
    )
    with pytest.raises(ConfigError, match=r"backends\[0\]\.params.*min_count"):
        validate_arms(config.backends)
    unknown = parse_config(
        {"corpus": {"path": "c.jsonl"}, "backends": [{"name": "g", "type": "nope"}]}
    )
    with pytest.raises(ConfigError, match="unknown backend 'nope'"):
        validate_arms(unknown.backends)


def test_cli_reports_broken_toml_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "study.toml"
    path.write_text('name = "x"\n[corpus\npath = "c"\n', encoding="utf-8")
    proc = subprocess.run([NERCURVE, "run", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert f"{path}:2" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_init_study_writes_then_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "study.toml"
    first = subprocess.run([NERCURVE, "init-study", str(path)], capture_output=True, text=True)
    assert first.returncode == 0 and path.read_text(encoding="utf-8") == EXAMPLE_STUDY
    again = subprocess.run([NERCURVE, "init-study", str(path)], capture_output=True, text=True)
    assert again.returncode == 2 and "--force" in again.stderr
