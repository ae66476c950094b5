"""``nercurve next-batch``: the documents to annotate next, from an unlabelled pool, for a real
small study: each strategy, the batch within one document of N, N from the recommendation,
the manifest, Label Studio tasks (pre-annotated by the kept model) read back, brat and JSON
Lines, seeded reproducibility, and the errors."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from study_fixtures import toy_docs, write_study

from nercurve.analysis import analyze, load_runs
from nercurve.cli import main
from nercurve.corpus.io import read_corpus, write_corpus
from nercurve.corpus.model import Doc
from nercurve.corpus.stats import doc_counts
from nercurve.next_batch import outputs, take
from nercurve.study.config import load_config
from nercurve.study.runner import run_study

TESTS = str(Path(__file__).resolve().parent)
SPACY = ('{ max_steps = 6, eval_frequency = 3, patience = 8, config = { '
         '"components.tok2vec.model.encode.width" = 32, '
         '"components.tok2vec.model.encode.depth" = 1 } }')


def _pool(folder: Path, n: int = 40, seed: int = 7) -> Path:
    """An unlabelled pool (new ids; spans kept, to be ignored), plus one document with a
    study document's id and one with a study document's text."""
    study = toy_docs()
    docs = [Doc(id=f"p{i:03d}", text=d.text, spans=d.spans)
            for i, d in enumerate(toy_docs(n, seed=seed))]
    docs += [Doc(id=study[0].id, text="A text of its own."),
             Doc(id="copy", text=study[1].text)]
    path = folder / "pool.jsonl"
    write_corpus(docs, path)
    return path


@pytest.fixture
def invoke(capsys, monkeypatch):
    """Run ``nercurve next-batch ARGS`` as the console script does (its errors: exit 2):
    the exit code and what it wrote."""
    def run(*args: str | Path) -> tuple[int, str]:
        monkeypatch.setattr(sys, "argv", ["nercurve", "next-batch", *map(str, args)])
        try:
            main()
            code = 0
        except SystemExit as stop:
            code = stop.code or 0
        said = capsys.readouterr()
        return code, said.out + said.err
    return run


def _manifest(out: Path) -> dict:
    return json.loads(outputs(out)["manifest"].read_text(encoding="utf-8"))


def _sentences(docs: list[Doc]) -> dict[str, int]:
    counts = doc_counts(docs)
    return dict(zip(counts.ids, (int(n) for n in counts.sentences), strict=True))


def _within_one_document(m: dict, n: int) -> None:
    got = [d["sentences"] for d in m["documents"]]
    assert m["sentences"] == sum(got) and m["sentences_asked"] == n
    assert abs(m["sentences"] - n) <= max(got)


@pytest.fixture(scope="module")
def spacy_study(tmp_path_factory) -> Path:
    """A small spaCy study that keeps its final model."""
    folder = tmp_path_factory.mktemp("spacy")
    config = write_study(folder, backend_type="spacy", params=SPACY, seeds="[0]",
                         strata="[[5, 10]]", subsets=1, workers=1, extra='keep = "final"')
    return run_study(load_config(config))


@pytest.fixture(scope="module")
def curve_study(tmp_path_factory) -> Path:
    """A study whose F1 follows a known curve that rises past the pool (no model kept)."""
    folder = tmp_path_factory.mktemp("curve")
    config = write_study(folder, backend_type="known_curve_backend:KnownCurve",
                         params="{ plateau = 0.95, slope = 0.0008, threshold = 1000 }",
                         seeds="[0, 1]", strata="[[2, 10], [11, 25], [26, 45], [46, 70]]",
                         subsets=3, workers=1)
    sys.path.insert(0, TESTS)  # the spawned workers inherit sys.path
    try:
        return run_study(load_config(config))
    finally:
        sys.path.remove(TESTS)


def test_a_batch_stops_within_one_document_of_n():
    sentences = [3, 4, 2, 5, 1]
    assert take(range(5), sentences, 7) == 2  # 3 + 4 = 7 exactly
    assert take(range(5), sentences, 8) == 2  # 7 (1 short) beats 9 (1 over): ties stay short
    assert take(range(5), sentences, 9) == 3  # 9 exactly
    assert take(range(5), sentences, 12) == 4  # 9 (3 short) vs 14 (2 over): over
    assert take(range(5), sentences, 10) == 3  # 9 (1 short) vs 14 (4 over): short
    assert take([3, 0], sentences, 1) == 1  # at least one document
    assert take(range(5), sentences, 100) == 5  # the whole pool


@pytest.mark.slow
def test_uncertainty_pre_annotated_label_studio_tasks(spacy_study, tmp_path, invoke):
    pool = _pool(tmp_path)
    out = tmp_path / "batch.json"
    code, output = invoke(spacy_study, "--pool", pool, "--sentences", 12, "--strategy",
                           "uncertainty", "--pre-annotate", "-o", out)
    assert code == 0, output
    m = _manifest(out)
    _within_one_document(m, 12)
    final = json.loads((spacy_study / "final_models.json").read_text(encoding="utf-8"))["arm"]
    card = json.loads((spacy_study / final["path"] / "model_card.json").read_text())
    assert m["model"] | {"path": None} == {
        "path": None, "arm": "arm", "kind": "final", "backend": "spacy",
        "job_id": card["job_id"], "stratum": None, "f1": final["f1"]}
    assert Path(m["model"]["path"]) == spacy_study / final["path"]
    assert m["strategy"] == {"strategy": "uncertainty", "seed": 0, "measure": "least_confidence"}
    scores = [d["score"] for d in m["documents"]]
    assert scores == sorted(scores, reverse=True) and [d["rank"] for d in m["documents"]] == \
        list(range(1, len(scores) + 1))
    # left out: the study's id, the study's text (and any toy text the study holds)
    study_texts = {d.text for d in toy_docs()}
    same_text = sum(d.text in study_texts for d in toy_docs(40, seed=7))
    assert m["pool"]["in_study_same_id"] == 1
    assert m["pool"]["in_study_same_text"] >= 1
    assert m["pool"]["documents"] == 42
    assert m["pool"]["candidates"] + m["pool"]["in_study_same_id"] \
        + m["pool"]["in_study_same_text"] + m["pool"]["repeated_text"] == 42
    assert same_text + 1 >= m["pool"]["in_study_same_text"]
    assert m["minutes_per_sentence"] == 0.5
    assert m["annotator_hours"] == pytest.approx(m["sentences"] * 0.5 / 60, abs=0.01)
    # the tasks: nercurve's own reader reads them (predictions left out, counted) ...
    read = read_corpus(out, "labelstudio")
    assert [d.id for d in read] == [d["id"] for d in m["documents"]]
    assert all(not d.spans for d in read)
    assert any(n.kind for n in read.notices)
    # ... and each carries the kept model's predictions, within the labeling config's labels
    tasks = json.loads(out.read_text(encoding="utf-8"))
    assert {p["model_version"] for t in tasks for p in t["predictions"]} == {
        f"arm/{card['job_id']}"}
    texts = {t["data"]["id"]: t["data"]["text"] for t in tasks}
    labels = set()
    for t in tasks:
        for r in t["predictions"][0]["result"]:
            v = r["value"]
            assert texts[t["data"]["id"]][v["start"]:v["end"]] == v["text"]
            labels.update(v["labels"])
    config = outputs(out)["labeling_config"].read_text(encoding="utf-8")
    assert set(re.findall(r'<Label value="([^"]+)"', config)) >= {"PERSON", "ORG"} | labels


@pytest.mark.slow
def test_random_is_seeded_and_writes_brat_or_jsonl(spacy_study, tmp_path, invoke):
    pool = _pool(tmp_path)
    chosen = {}
    for seed, name in ((0, "a"), (0, "b"), (5, "c")):
        out = tmp_path / f"{name}.jsonl"
        code, output = invoke(spacy_study, "--pool", pool, "--sentences", 10, "--to", "jsonl",
                               "--seed", seed, "-o", out, "--minutes-per-sentence", 2)
        assert code == 0, output
        m = _manifest(out)
        _within_one_document(m, 10)
        assert m["model"] is None and m["annotator_hours"] == round(m["sentences"] * 2 / 60, 2)
        chosen[name] = [d["id"] for d in m["documents"]]
        docs = read_corpus(out).docs
        assert [d.id for d in docs] == chosen[name] and all(not d.spans for d in docs)
    assert chosen["a"] == chosen["b"] != chosen["c"]
    # brat, pre-annotated by the final model: a folder the brat reader reads
    out = tmp_path / "batch"
    code, output = invoke(spacy_study, "--pool", pool, "--sentences", 10, "--to", "brat",
                           "--pre-annotate", "-o", out)
    assert code == 0, output
    assert outputs(out)["manifest"] == tmp_path / "batch.manifest.json"
    m = _manifest(out)
    assert m["pre_annotated"] and m["model"]["kind"] == "final"
    docs = read_corpus(out, "brat").by_id()
    assert sorted(docs) == sorted(d["id"] for d in m["documents"])


@pytest.mark.slow
def test_diversity_from_the_annotated_pool_is_seeded(spacy_study, tmp_path, invoke):
    pool = _pool(tmp_path)
    runs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.json"
        code, output = invoke(spacy_study, "--pool", pool, "--sentences", 15, "--strategy",
                               "diversity", "--seed", 3, "-o", out)
        assert code == 0, output
        m = _manifest(out)
        _within_one_document(m, 15)
        assert m["strategy"]["embedding"] == "all-MiniLM-L6-v2"
        assert all(d["score"] is not None and d["score"] >= 0 for d in m["documents"])
        runs.append(m["documents"])
        tasks = json.loads(out.read_text(encoding="utf-8"))
        assert all(set(t) == {"data"} for t in tasks)  # nothing pre-annotated
    assert runs[0] == runs[1]


@pytest.mark.slow
def test_n_defaults_to_the_recommendations_more_sentences(curve_study, tmp_path, invoke):
    pool = tmp_path / "pool.jsonl"
    write_corpus([Doc(id=f"p{i:03d}", text=d.text) for i, d in
                  enumerate(toy_docs(300, seed=11))], pool)
    out = tmp_path / "batch.json"
    code, output = invoke(curve_study, "--pool", pool, "--target-f1", 0.5, "-o", out)
    assert code == 0, output
    m = _manifest(out)
    words = analyze(load_runs(curve_study), target_f1=0.5).models["arm"].recommendation
    said = re.search(r"about ([\d,]+) more than", words)
    n = int(said.group(1).replace(",", ""))
    assert m["asked_from"]["arm"] == "arm" and m["asked_from"]["target_f1"] == 0.5
    _within_one_document(m, n)
    # a target the analysis cannot size (the pool reaches it already): say why, ask for N
    code, output = invoke(curve_study, "--pool", pool, "--target-f1", 0.1, "-o", out)
    assert code == 2 and "already reached" in output and "--sentences" in output
    # uncertainty without a kept model
    code, output = invoke(curve_study, "--pool", pool, "--sentences", 5, "--strategy",
                           "uncertainty", "-o", out)
    assert code == 2 and 'keep = "final"' in output and "--model" in output


@pytest.mark.slow
def test_errors_are_clear(spacy_study, tmp_path, invoke):
    pool = _pool(tmp_path)
    out = tmp_path / "b.json"
    code, output = invoke(tmp_path, "--pool", pool, "--sentences", 5, "-o", out)
    assert code == 2 and "not a study folder" in output
    code, output = invoke(spacy_study, "--pool", pool, "--sentences", 5, "--strategy",
                           "smart", "-o", out)
    assert code == 2 and "unknown strategy" in output
    code, output = invoke(spacy_study, "--pool", pool, "--sentences", 5, "--to", "xml",
                           "-o", out)
    assert code == 2 and "unknown output format" in output
    # a pool of the study's own documents holds nothing to annotate
    own = tmp_path / "own.jsonl"
    write_corpus(toy_docs()[:5], own)
    code, output = invoke(spacy_study, "--pool", own, "--sentences", 5, "-o", out)
    assert code == 2 and "no document to annotate" in output and "same id" in output
    # a pool smaller than N: all of it, with a notice
    small = tmp_path / "small.jsonl"
    write_corpus([Doc(id="n1", text="Zed Quux received fees from Acme Corp."),
                  Doc(id="n2", text="Nobody else did. Nor here.")], small)
    code, output = invoke(spacy_study, "--pool", small, "--sentences", 50, "-o", out)
    assert code == 0, output
    assert "fewer than the 50 asked" in output
    m = _manifest(out)
    assert [d["id"] for d in m["documents"]] != [] and m["documents_count"] == 2
    assert m["sentences"] == sum(_sentences(read_corpus(small).docs).values())


@pytest.mark.slow
def test_a_classification_study_pre_annotates_classes(tmp_path, invoke):
    from nercurve.synthetic.smoking import generate_smoking

    notes = generate_smoking(120, seed=0)
    write_corpus(notes[:90], tmp_path / "smk.jsonl")
    (tmp_path / "study.toml").write_text(
        'output = "out"\ntask = "classify"\n[corpus]\npath = "smk.jsonl"\n'
        '[design]\nsizes = [10, 20]\n[[backends]]\nname = "tf"\ntype = "tfidf"\n'
        'params = { C = [10.0] }\n[run]\nworkers = 1\nkeep = "final"\n', encoding="utf-8")
    study = run_study(load_config(tmp_path / "study.toml"))
    write_corpus(notes[90:], tmp_path / "pool.jsonl")  # classes given: ignored
    out = tmp_path / "batch.json"
    code, output = invoke(study, "--pool", tmp_path / "pool.jsonl", "--sentences", 40,
                          "--strategy", "uncertainty", "--pre-annotate", "-o", out)
    assert code == 0, output
    m = _manifest(out)
    _within_one_document(m, 40)
    assert m["strategy"]["measure"] == "margin" and m["model"]["arm"] == "tf"
    assert m["pool"]["annotations_ignored"] == 30
    tasks = json.loads(out.read_text(encoding="utf-8"))
    results = [r for t in tasks for r in t["predictions"][0]["result"]]
    assert results and {r["type"] for r in results} == {"choices"}
    config = outputs(out)["labeling_config"].read_text(encoding="utf-8")
    classes = {c for n in notes for c in n.cats}
    assert set(re.findall(r'<Choice value="([^"]+)"', config)) == classes
    assert {c for r in results for c in r["value"]["choices"]} <= classes
