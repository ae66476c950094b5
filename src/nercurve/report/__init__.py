"""The study report: one self-contained HTML page, plus PNG/SVG figures and CSV tables beside it.

``write_report(analysis, "report.html")`` writes ``report.html`` and a folder
``report_files/`` holding ``learning_curves``, ``f1_vs_eps`` and ``curve_overview`` (and
``transfer_curves`` when the study scored external test sets, ``selection_curves`` when its
subsets were chosen by several selection strategies, ``multitask_curves`` for a multi-corpus
study's single- against multi-task arms) as PNG and SVG, and every table as CSV
(with ``corpus.csv``, the corpus parts, for a study folder).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nercurve.errors import InputError

if TYPE_CHECKING:
    from nercurve.analysis import Analysis

__all__ = ["ReportFiles", "write_report"]


@dataclass(frozen=True)
class ReportFiles:
    """What :func:`write_report` wrote."""

    html: Path
    figures: list[Path]
    tables: list[Path]


def write_report(analysis: Analysis, path: str | Path) -> ReportFiles:
    """Write the HTML report to ``path`` and its figures and tables to ``<stem>_files/``."""
    from nercurve.report.corpus import corpus_table
    from nercurve.report.figures import (
        curve_overview,
        f1_vs_eps,
        inline_svg,
        learning_curves,
        multitask_curves,
        save_figure,
        selection_curves,
        transfer_curves,
    )
    from nercurve.report.html import render_html
    from nercurve.report.tables import write_tables

    path = Path(path)
    if path.suffix.lower() not in {".html", ".htm"}:
        raise InputError("the report must be an .html file", file=path,
                         hint="e.g. -o report.html")
    if path.is_dir():
        raise InputError("the report path is a folder", file=path, hint="e.g. -o report.html")
    if not path.parent.exists():
        raise InputError("the report's folder does not exist", file=path.parent,
                         hint="create it first")
    folder = path.with_name(f"{path.stem}_files")
    folder.mkdir(exist_ok=True)
    makers = {"learning_curves": learning_curves, "f1_vs_eps": f1_vs_eps,
              "curve_overview": curve_overview}
    if analysis.external:
        makers["transfer_curves"] = transfer_curves
    if analysis.selection is not None:
        makers["selection_curves"] = selection_curves
    if analysis.multitask is not None:
        makers["multitask_curves"] = multitask_curves
    if any(w.estimate is not None for w in analysis.waves):
        from nercurve.report.convergence import convergence_figure

        makers["convergence"] = convergence_figure
    svgs, figure_paths = {}, []
    for name, make in makers.items():
        fig = make(analysis)
        figure_paths += save_figure(fig, folder / name)
        svgs[name] = inline_svg(fig, salt=name)
    table_paths = write_tables(analysis, folder)
    corpus = corpus_table(analysis.corpus_stats)
    if not corpus.empty:
        table_paths.append(folder / "corpus.csv")
        corpus.to_csv(table_paths[-1], index=False)
    listed = [str(p.relative_to(path.parent)) for p in [*figure_paths, *table_paths]]
    page = render_html(analysis, svgs, listed)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return ReportFiles(html=path, figures=figure_paths, tables=table_paths)
