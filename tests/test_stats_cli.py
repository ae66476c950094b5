"""The ``stats``, ``split`` and ``evaluate`` commands, end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nercurve.cli import app
from nercurve.corpus.io import read_corpus, write_corpus
from nercurve.corpus.model import Doc, Span

NERCURVE = str(Path(sys.executable).parent / "nercurve")
runner = CliRunner()

T1 = "Dr. Ann Lee received fees from Pfizer Inc and Roche."
T2 = "John Smith is employed by Merck KGaA."
GOLD = [
    Doc("a", T1, (Span(4, 11, "PERSON"), Span(31, 41, "ORG"), Span(46, 51, "ORG"))),
    Doc("b", T2, (Span(0, 10, "PERSON"), Span(26, 36, "ORG"))),
]
PRED = [
    # PERSON right; "Pfizer" for "Pfizer Inc" (boundary); Roche called PERSON (label)
    Doc("a", T1, (Span(4, 11, "PERSON"), Span(31, 37, "ORG"), Span(46, 51, "PERSON"))),
    # "John" as ORG (label and boundary); Merck KGaA missed
    Doc("b", T2, (Span(0, 4, "ORG"),)),
]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "gold": tmp_path / "gold.jsonl",
        "pred": tmp_path / "pred.jsonl",
        # CoNLL keeps its own sentences and tokens: commands reading it need no spaCy
        "conll": tmp_path / "gold.conll",
    }
    write_corpus(GOLD, paths["gold"])
    write_corpus(PRED, paths["pred"])
    write_corpus(GOLD, paths["conll"])
    return paths


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NERCURVE, *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def test_stats_json(files: dict[str, Path]) -> None:
    result = runner.invoke(app, ["stats", str(files["gold"]), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["documents"], data["sentences"], data["entities"]) == (2, 2, 5)
    assert data["entities_per_label"] == {"ORG": 3, "PERSON": 2}
    assert data["eps"] == 2.5
    assert data["sentences_per_doc"]["sd"] == 0.0
    # Ann Lee, Pfizer Inc, John Smith, Merck KGaA: 2 tokens; Roche: 1
    assert data["entity_token_counts"] == {"1": 1, "2": 4}


def test_stats_label_map_and_table(files: dict[str, Path]) -> None:
    result = runner.invoke(app, ["stats", str(files["gold"]), "--label-map", "PERSON=ORG"])
    assert result.exit_code == 0, result.output
    assert "entities per sentence" in result.stdout
    assert "PERSON" not in result.stdout
    assert "Entity length in tokens" in result.stdout


def test_stats_on_iob_needs_no_spacy(shared_corpora: Path) -> None:
    path = shared_corpora / "ncbi-disease" / "iob" / "devel.tsv"
    code = (
        "import sys\n"
        "from nercurve.cli import main\n"
        f"sys.argv = ['nercurve', 'stats', {str(path)!r}, '--json']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('spacy' in sys.modules, file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert proc.stderr.strip().endswith("False")
    data = json.loads(proc.stdout)
    assert (data["sentences"], data["tokens"], data["entities"]) == (923, 23969, 787)


def test_split_writes_parts_and_refuses_to_overwrite(
    files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "parts"
    args = [
        "split",
        str(files["gold"]),
        "--test",
        "0.5",
        "--dev",
        "0",
        "--seed",
        "1",
        "-o",
        str(out),
    ]
    result = runner.invoke(app, [*args, "--stratify-eps"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stratify"] is True and manifest["seed"] == 1
    test_ids = manifest["parts"]["test"]["ids"]
    train_ids = manifest["parts"]["train"]["ids"]
    assert sorted(test_ids + train_ids) == ["a", "b"]
    back = read_corpus(out / "test.jsonl")
    assert back.ids == test_ids
    assert back[0].sentences is None  # JSONL holds text and spans only
    before = (out / "manifest.json").read_bytes()
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error:") and "--force" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (out / "manifest.json").read_bytes() == before
    proc = run_cli(*args, "--force", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["seed"] == 1


def test_split_bad_fraction_is_exit_2(files: dict[str, Path], tmp_path: Path) -> None:
    proc = run_cli("split", files["conll"], "--test", "0.7", "--dev", "0.5", "-o", tmp_path / "x")
    assert proc.returncode == 2
    assert "nothing for training" in proc.stderr and "hint:" in proc.stderr
    assert not (tmp_path / "x").exists()


def test_evaluate_json_matches_hand_count(files: dict[str, Path]) -> None:
    result = runner.invoke(app, ["evaluate", str(files["gold"]), str(files["pred"]), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["micro"]["tp"], data["micro"]["fp"], data["micro"]["fn"]) == (1, 3, 4)
    assert data["micro"]["f1"] == pytest.approx(2 / 9)
    assert data["partial"]["tp"] == 2
    assert data["confusion"] == {
        "ORG": {"O": 1, "ORG": 1, "PERSON": 1},
        "PERSON": {"ORG": 1, "PERSON": 1},
    }
    assert data["errors"]["label_and_boundary"] == 1


def test_evaluate_table(files: dict[str, Path]) -> None:
    result = runner.invoke(app, ["evaluate", str(files["gold"]), str(files["pred"])])
    assert result.exit_code == 0, result.output
    assert "Type confusion" in result.stdout
    assert "strict micro" in result.stdout and "0.2222" in result.stdout


def test_evaluate_missing_documents(files: dict[str, Path], tmp_path: Path) -> None:
    partial = tmp_path / "one.jsonl"
    write_corpus(PRED[:1], partial)
    proc = run_cli("evaluate", files["gold"], partial)
    assert proc.returncode == 2
    assert "'b'" in proc.stderr and "--allow-missing" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = run_cli("evaluate", files["gold"], partial, "--allow-missing", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "1 document(s) missing from PRED" in proc.stderr
    data = json.loads(proc.stdout)
    assert data["missing_in_pred"] == ["b"]
    assert data["micro"]["fn"] == 4


def test_evaluate_matches_id_less_files_by_position(tmp_path: Path) -> None:
    # CoNLL files without -DOCSTART- get ids from their file names: gold-1, pred-1, ...
    gold, pred = tmp_path / "gold.conll", tmp_path / "pred.conll"
    write_corpus(GOLD, gold)
    lines = [ln for ln in gold.read_text(encoding="utf-8").splitlines()
             if not ln.startswith("-DOCSTART-")]
    gold.write_text("\n".join(lines) + "\n", encoding="utf-8")
    # the prediction: the same tokens, Roche tagged PERSON instead of ORG
    pred.write_text("\n".join(ln.replace("Roche\tB-ORG", "Roche\tB-PERSON") for ln in lines)
                    + "\n", encoding="utf-8")
    proc = run_cli("evaluate", gold, pred, "--json")
    assert proc.returncode == 0, proc.stderr
    assert "matched by position" in proc.stderr
    micro = json.loads(proc.stdout)["micro"]
    assert (micro["tp"], micro["fp"], micro["fn"]) == (4, 1, 1)
    # documents in another order are not paired by position: a clear error naming the file
    blocks = pred.read_text(encoding="utf-8").strip().split("\n\n")
    shuffled = tmp_path / "other.conll"
    shuffled.write_text("\n\n".join(reversed(blocks)) + "\n", encoding="utf-8")
    proc = run_cli("evaluate", gold, shuffled)
    assert proc.returncode == 2 and "matched by position" not in proc.stderr
    assert f"missing from {shuffled}" in proc.stderr


@pytest.mark.parametrize("command", ["stats", "split", "evaluate"])
def test_help_has_an_example(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example: nercurve " + command in result.stdout
