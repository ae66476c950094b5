"""The synthetic COI corpus: determinism, exact spans, surface forms, density control, CLI."""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nercurve.cli.app import app
from nercurve.corpus.io import read_corpus, write_corpus
from nercurve.corpus.model import Corpus, Doc
from nercurve.corpus.segment import segment
from nercurve.corpus.stats import describe
from nercurve.errors import InputError
from nercurve.synthetic import coi
from nercurve.synthetic import vocab as V
from nercurve.synthetic.coi import generate_coi
from nercurve.synthetic.entities import ends_sentence_cleanly

NERCURVE = str(Path(sys.executable).parent / "nercurve")


def _planned(n_docs: int, seed: int, eps: float | None, monkeypatch: pytest.MonkeyPatch):
    """Generate a corpus and record how many sentences the generator wrote per statement."""
    planned: dict[str, int] = {}
    render = coi._render

    def recording(doc_id, sentences, header=""):
        planned[doc_id] = len(sentences)
        return render(doc_id, sentences, header)

    with monkeypatch.context() as m:
        m.setattr(coi, "_render", recording)
        corpus = generate_coi(n_docs, seed, eps)
    return corpus, planned


@pytest.fixture(scope="module")
def default_corpus() -> tuple[Corpus, list[Doc], dict[str, int]]:
    """The default 490-statement corpus, segmented by spaCy, and the planned sentence counts."""
    with pytest.MonkeyPatch.context() as mp:
        corpus, planned = _planned(490, 0, None, mp)
    return corpus, segment(corpus.docs), planned


def _persons(corpus: Corpus) -> list[tuple[Doc, str, int]]:
    return [(d, d.span_text(s), s.start) for d in corpus for s in d.spans if s.label == "PERSON"]


def _orgs(corpus: Corpus) -> list[str]:
    return [d.span_text(s) for d in corpus for s in d.spans if s.label == "ORG"]


def test_same_seed_gives_identical_corpus_and_file(tmp_path: Path) -> None:
    first, second = generate_coi(60, seed=3), generate_coi(60, seed=3)
    assert first.docs == second.docs
    write_corpus(first, tmp_path / "a.jsonl")
    write_corpus(second, tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    # a statement does not depend on how many are generated
    assert generate_coi(20, seed=3).docs == first.docs[:20]


def test_different_seed_gives_different_corpus() -> None:
    a, b = generate_coi(30, seed=1), generate_coi(30, seed=2)
    assert a.ids == b.ids
    differing = sum(x.text != y.text for x, y in zip(a, b, strict=True))
    assert differing >= 25


def test_ids_labels_and_spans_are_exact(default_corpus) -> None:
    corpus, _, _ = default_corpus
    assert corpus.ids == [f"coi-{i:04d}" for i in range(1, 491)]
    assert corpus.labels() == ["ORG", "PERSON"]
    for doc in corpus:
        previous_end = 0
        for span in doc.spans:
            mention = doc.span_text(span)
            assert 0 <= previous_end <= span.start < span.end <= len(doc.text), doc.id
            assert mention == mention.strip(), (doc.id, mention)
            assert mention[0] not in ",;:()'\"-&" and mention[-1] not in ",;:()'\"-&", mention
            # whole words: a span never starts or ends inside a word
            assert span.start == 0 or not doc.text[span.start - 1].isalnum(), mention
            assert span.end == len(doc.text) or not doc.text[span.end].isalnum(), mention
            previous_end = span.end


def test_every_surface_form_appears(default_corpus) -> None:
    corpus, _, _ = default_corpus
    persons = _persons(corpus)
    texts = [t for _, t, _ in persons]

    def full_name(t: str) -> bool:
        words = t.split()
        return len(words) >= 2 and all(any(c.islower() for c in w) for w in (words[0], words[-1]))

    def surname_initials(t: str) -> bool:
        *head, last = t.split()
        return bool(head) and re.fullmatch(r"[A-Z]{1,3}", last) and any(c.islower() for c in t)

    assert sum(map(full_name, texts)) >= 50  # "Rudolf Virchow", "John A. Smith"
    assert sum(bool(surname_initials(t)) for t in texts) >= 50  # "Sunakawa Y", "Smith JA"
    assert sum(bool(re.fullmatch(r"[A-Z]{2,4}", t)) for t in texts) >= 50  # "RLCV"
    assert sum(bool(re.fullmatch(r"(?:[A-Z]\.){2,4}", t)) for t in texts) >= 30  # "J.A.D."
    initial_surname = re.compile(r"(?:[A-Z]\. ?){1,2}[^\W\d_].*[a-z].*")  # "Y. Sunakawa"
    assert sum(bool(initial_surname.fullmatch(t)) for t in texts) >= 30
    titled = Counter(
        m.group(1)
        for d, _, start in persons
        if (m := re.search(r"(Dr\.?|Prof\.?|Professor) $", d.text[:start]))
    )
    assert titled["Dr."] >= 10 and titled["Dr"] >= 5 and titled["Prof."] + titled["Professor"] >= 5
    assert any(any(ord(c) > 127 for c in t) for t in texts)  # names beyond ASCII (Müller)

    orgs = _orgs(corpus)
    for suffix in ("Inc", "LLC", "GmbH", "Ltd", "KK", "AG", "SA", "plc"):
        assert any(re.search(rf"\b{suffix}\.?$", o) for o in orgs), suffix
    assert any(o.endswith("Co., Ltd.") for o in orgs)
    assert any(o.endswith("K.K.") for o in orgs)
    parents = "|".join(map(re.escape, V.SUBSIDIARY_PARENTS))
    units = "|".join(u.strip() for u in V.SUBSIDIARY_UNITS if u)
    countries = "|".join(c for c, _ in V.SUBSIDIARY_COUNTRIES)
    subsidiary = re.compile(rf"(?:{parents})(?: (?:{units}))? (?:{countries})\b")
    assert len({o for o in orgs if subsidiary.match(o)}) >= 10  # "Pfizer India"
    assert sum("Foundation" in o or "Trust" in o for o in orgs) >= 20
    assert sum("Universit" in o for o in orgs) >= 10
    assert {"NIH", "NCI", "National Institutes of Health", "National Cancer Institute"} & set(orgs)


def test_payment_relations_and_statement_kinds_appear(default_corpus) -> None:
    corpus, segmented, _ = default_corpus
    everything = " ".join(d.text for d in corpus)
    for relation in (
        "honoraria",
        "consulting fees",
        "research funding",
        "employee of",
        "stock",
        "advisory boards",
        "speakers' bureau",
        "travel support",
    ):
        assert relation in everything, relation
    no_conflict = [d for d in corpus if not d.spans]
    assert 0.08 <= len(no_conflict) / len(corpus) <= 0.25
    assert any("no competing interests" in d.text for d in no_conflict)
    # long semicolon-joined sentences listing many authors or many companies
    long_lists = []
    for doc in segmented:
        for start, end in doc.sentences:
            inside = [s for s in doc.spans if start <= s.start < end]
            if doc.text[start:end].count(";") >= 2 and len(inside) >= 8:
                long_lists.append(Counter(s.label for s in inside))
    assert any(c["PERSON"] >= 3 for c in long_lists)
    assert any(c["ORG"] >= 6 for c in long_lists)


def test_spacy_sentencizer_finds_the_sentences_the_generator_wrote(
    default_corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, segmented, planned = default_corpus
    assert [len(d.sentences) for d in segmented] == [planned[d.id] for d in segmented]
    dense, dense_planned = _planned(120, 5, 6.0, monkeypatch)
    assert [len(d.sentences) for d in segment(dense.docs)] == list(dense_planned.values())


def test_default_mix_looks_like_the_majdik_corpus(default_corpus) -> None:
    _, segmented, _ = default_corpus
    per_doc = [len(d.sentences) for d in segmented]
    assert 4.5 <= statistics.mean(per_doc) <= 6.5
    assert statistics.median(per_doc) <= 4  # many short statements ...
    assert sum(n <= 2 for n in per_doc) / len(per_doc) >= 0.2
    assert max(per_doc) >= 15  # ... and a few long ones
    stats = describe(segmented)
    assert 1.7 <= stats.eps <= 2.3
    labels = Counter(s.label for d in segmented for s in d.spans)
    assert labels["PERSON"] >= 0.25 * stats.entities and labels["ORG"] >= 0.25 * stats.entities


@pytest.mark.parametrize("eps", [0.5, 1.0, 4.0])
def test_eps_controls_realized_entities_per_sentence(eps: float) -> None:
    realized = describe(segment(generate_coi(150, seed=7, eps=eps).docs)).eps
    assert abs(realized - eps) <= 0.15 * eps


def test_eps_changes_density_but_not_statement_lengths(monkeypatch: pytest.MonkeyPatch) -> None:
    sparse, sparse_planned = _planned(80, 9, 1.0, monkeypatch)
    dense, dense_planned = _planned(80, 9, 4.0, monkeypatch)
    assert sparse_planned == dense_planned
    assert sum(len(d.spans) for d in dense) > 3 * sum(len(d.spans) for d in sparse)


def test_eps_zero_gives_statements_without_entities() -> None:
    corpus = generate_coi(40, seed=1, eps=0)
    assert all(not d.spans and d.text for d in corpus)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"n_docs": 0, "seed": 0}, "documents"),
        ({"n_docs": 5, "seed": -1}, "seed"),
        ({"n_docs": 5, "seed": 0, "eps": -0.5}, "entities per sentence"),
        ({"n_docs": 5, "seed": 0, "eps": 50}, "entities per sentence"),
    ],
)
def test_bad_arguments_raise_input_error_with_hint(kwargs, fragment) -> None:
    with pytest.raises(InputError, match=fragment) as err:
        generate_coi(**kwargs)
    assert err.value.hint


def test_sentence_end_rule_matches_spacy() -> None:
    names = [
        "Pfizer Inc",
        "Bayer AG",
        "Merck KGaA",
        "Roche GmbH",
        "Novo Nordisk A/S",
        "Sunakawa Y",
        "Smith JA",
        "RLCV",
        "J.A.D.",
        "Pfizer Inc.",
        "Eisai Co",
        "Sanofi SA",
        "NIH",
        "Lilly",
        "Kyowa Kirin Co., Ltd",
        "Genmab",
        "Gilead Sciences LLC",
        "Chiesi SpA",
    ]
    docs = segment([Doc(n, f"It was paid by {n}. Then it stopped.") for n in names])
    for name, doc in zip(names, docs, strict=True):
        assert ends_sentence_cleanly(name) == (len(doc.sentences) == 2), name
    assert all(ends_sentence_cleanly(f) for f in V.FUNDERS)


def test_cli_writes_a_readable_corpus(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "coi.jsonl"
    result = CliRunner().invoke(
        app, ["synth", "coi", "--docs", "30", "--seed", "2", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "30 documents" in result.output and "EPS" in result.output
    assert "PERSON" in result.output and "ORG" in result.output
    back = read_corpus(out)
    expected = generate_coi(30, seed=2)
    assert [(d.id, d.text, d.spans) for d in back] == [(d.id, d.text, d.spans) for d in expected]
    write_corpus(expected, tmp_path / "same.jsonl")
    assert out.read_bytes() == (tmp_path / "same.jsonl").read_bytes()


def test_cli_writes_simulated_annotators_beside_the_output(tmp_path: Path) -> None:
    out = tmp_path / "coi.jsonl"
    args = [
        "synth",
        "coi",
        "--docs",
        "25",
        "--seed",
        "4",
        "--annotators",
        "2",
        "--noise",
        "0.2",
        "-o",
        str(out),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    gold = read_corpus(out)
    for i in (1, 2):
        path = tmp_path / f"coi.annotator{i}.jsonl"
        assert str(path) in result.output
        annotated = read_corpus(path)
        assert [(d.id, d.text) for d in annotated] == [(d.id, d.text) for d in gold]
        assert [d.spans for d in annotated] != [d.spans for d in gold]


def test_cli_bad_input_is_one_message_and_exit_2(tmp_path: Path) -> None:
    out = tmp_path / "coi.jsonl"
    for args in (["--eps", "-1"], ["--annotators", "2", "--noise", "1.5"], ["--docs", "0"]):
        proc = subprocess.run(
            [NERCURVE, "synth", "coi", *args, "-o", str(out)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.startswith("error:") and "Traceback" not in proc.stderr
        assert "hint:" in proc.stderr
        assert not out.exists()  # nothing written for bad input


def test_cli_help_has_an_example() -> None:
    result = CliRunner().invoke(app, ["synth", "coi", "--help"])
    assert result.exit_code == 0
    assert "Example: nercurve synth coi" in result.output
