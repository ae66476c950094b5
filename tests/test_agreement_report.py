"""The HTML agreement report: self-contained, escaped, with the figures in its tables."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from nercurve.agreement.html import render_html
from nercurve.agreement.scores import compute_agreement
from nercurve.corpus.model import Corpus, Doc, Span


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.cells: list[str] = []
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in_cell = tag == "td"

    def handle_endtag(self, tag: str) -> None:
        self._in_cell = False if tag == "td" else self._in_cell

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            self.cells.append(data)


def _docs(label: str, other: str) -> list[Corpus]:
    text = "<script>alert(1)</script> paid by <b>Acme</b> & Co; Zed"
    tokens = tuple(m.span() for m in re.finditer(r"\w+|[^\w\s]", text))
    acme = text.index("<b>Acme")
    zed = text.index("Zed")
    a = Doc("<i>d1</i>", text, (Span(0, 8, label), Span(acme, acme + 11, "ORG")),
            sentences=((0, len(text)),), tokens=tokens)
    b = Doc("<i>d1</i>", text, (Span(0, 8, other), Span(zed, zed + 3, "ORG")),
            sentences=((0, len(text)),), tokens=tokens)
    return [Corpus([a], source="<a>.jsonl"), Corpus([b], source="b.jsonl")]


def test_report_escapes_everything_from_the_input() -> None:
    page = render_html(compute_agreement(_docs("<script>", "ORG")))
    parser = _Collector()
    parser.feed(page)
    # no markup from the input became markup: the only tags are the report's own
    assert set(parser.tags) <= {"html", "head", "meta", "title", "style", "body", "h1", "h2",
                                "p", "table", "tr", "th", "td"}
    assert "script" not in parser.tags and "b" not in parser.tags and "i" not in parser.tags
    # and it shows as text
    assert "<script>" in parser.cells  # the label
    assert "<i>d1</i>" in parser.cells  # the document id
    assert "<a>.jsonl" in parser.cells  # the file name
    assert "<b>Acme</b>" in parser.cells  # a disagreement's text
    assert "&lt;script&gt;" in page


def test_report_is_self_contained_and_shows_the_figures() -> None:
    report = compute_agreement(_docs("PERSON", "PERSON"))
    page = render_html(report)
    assert not re.search(r"(src|href)\s*=", page)  # nothing loaded from elsewhere
    assert "ICC(A,1)" in page and "two-way random" in page
    parser = _Collector()
    parser.feed(page)
    s = report.pairs[0].overall
    # A: <script>(PERSON), <b>Acme</b>(ORG); B: <script>(PERSON), Zed(ORG): exact F1 = 0.5
    assert s.f1_exact == 0.5
    assert f"{s.f1_exact:.3f}" in parser.cells
    assert "Disagreements (2)" in page
