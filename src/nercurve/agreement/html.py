"""The agreement report as one self-contained HTML page (no scripts, no external files).

Every value that comes from the input (document ids, texts, labels, file names) is
HTML-escaped, so a label or a text containing markup shows as text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from nercurve.agreement.disagreements import NONE_MARK
from nercurve.agreement.icc import ICC_FORM_DESCRIPTION
from nercurve.agreement.scores import AgreementReport, PairScores

MAX_DISAGREEMENT_ROWS = 1000

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
p.note { color: #555; max-width: 60em; }
"""

_PAIR_COLUMNS: tuple[tuple[str, str], ...] = (
    ("n_a", "entities (first)"),
    ("n_b", "entities (second)"),
    ("f1_exact", "F1 exact"),
    ("f1_boundary", "F1 boundaries"),
    ("f1_overlap", "F1 overlap"),
    ("boundary_agreement", "boundary agreement"),
    ("token_kappa", "token B/I/O κ"),
    ("type_units", "boundary-matched"),
    ("type_agreement", "type agreement"),
    ("type_kappa", "type κ"),
)


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for value in row:
            numeric = value is None or isinstance(value, int | float)
            css = ' class="num"' if numeric else ""
            cells.append(f"<td{css}>{escape(_fmt(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _pair_row(first: str, second: str, scope: str, s: PairScores) -> list[Any]:
    return [first, second, scope, *(getattr(s, key) for key, _ in _PAIR_COLUMNS)]


def render_html(report: AgreementReport) -> str:
    """The report as a complete HTML document."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>Inter-annotator agreement</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Inter-annotator agreement</h1>",
        f"<p>{report.n_docs} documents compared, matched by id.</p>",
    ]
    if report.left_out:
        left = ", ".join(f"{name}: {n}" for name, n in report.left_out.items())
        parts.append(f"<p class='note'>Documents not in every annotation, left out: "
                     f"{escape(left)}.</p>")
    parts.append("<h2>Annotators</h2>")
    parts.append(_table(
        ["annotator", "file", "entities", "mean entities per document"],
        [[n, src, report.entities[n], report.icc.mean_count[n]]
         for n, src in zip(report.annotators, report.sources, strict=True)],
    ))
    header = ["first", "second", "label", *(title for _, title in _PAIR_COLUMNS)]
    rows = []
    for pair in report.pairs:
        rows.append(_pair_row(pair.a, pair.b, "all", pair.overall))
        rows += [_pair_row(pair.a, pair.b, label, s) for label, s in pair.per_label.items()]
    parts += [
        "<h2>Pairwise agreement</h2>",
        "<p class='note'>F1 exact: same start, end and label; F1 boundaries: same start and "
        "end; F1 overlap: spans share a character. Boundary agreement: share of the "
        "mentions either annotator marked that both marked with the same boundaries. Type "
        "agreement and κ: on the mentions whose boundaries both marked (per label: "
        "that label against the rest).</p>",
        _table(header, rows),
    ]
    if report.multi is not None:
        multi = [["all", report.multi.type_units_all, report.multi.fleiss_kappa,
                  report.multi.type_units_any2, report.multi.krippendorff_alpha,
                  report.multi.token_fleiss_kappa]]
        multi += [[label, m.type_units_all, m.fleiss_kappa, m.type_units_any2,
                   m.krippendorff_alpha, m.token_fleiss_kappa]
                  for label, m in report.multi_per_label.items()]
        parts += [
            "<h2>All annotators together</h2>",
            _table(["label", "mentions all marked", "type Fleiss κ",
                    "mentions two or more marked", "type Krippendorff α",
                    "token B/I/O Fleiss κ"], multi),
        ]
    icc = [["all", report.icc.n_docs, report.icc.icc, report.icc.ci_low, report.icc.ci_high]]
    icc += [[label, r.n_docs, r.icc, r.ci_low, r.ci_high]
            for label, r in report.icc_per_label.items()]
    parts += [
        "<h2>Entities per document: intraclass correlation</h2>",
        f"<p class='note'>{escape(ICC_FORM_DESCRIPTION)}, with its 95% confidence "
        "interval.</p>",
        _table(["label", "documents", "ICC", "95% CI low", "95% CI high"], icc),
    ]
    parts.append(_disagreements_html(report))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _disagreements_html(report: AgreementReport) -> str:
    shown = report.disagreements[:MAX_DISAGREEMENT_ROWS]
    header = ["#", "document", "kind", "text"]
    for name in report.annotators:
        header += [f"{name} label", f"{name} span"]
    rows = []
    for d in shown:
        row: list[Any] = [d.item, d.doc_id, d.kind, d.text]
        for spans in d.spans:
            row.append("; ".join(s.label for s in spans))
            row.append("; ".join(f"{s.start}-{s.end}" for s in spans) or NONE_MARK)
        rows.append(row)
    note = ""
    if len(report.disagreements) > len(shown):
        note = (f"<p class='note'>The first {len(shown)} of {len(report.disagreements)} "
                "are shown; write them all with --disagreements FILE.csv.</p>")
    return (f"<h2>Disagreements ({len(report.disagreements)})</h2>{note}"
            + _table(header, rows))
