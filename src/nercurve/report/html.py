"""The self-contained HTML page: inline SVG figures, tables and words; no scripts, no network.

Every piece of text that comes from the data (backend names, labels, ids, corpus statistics)
goes through :func:`esc`. The page carries a Content-Security-Policy that forbids scripts and
any network access, so even a mistake in escaping could not run code or fetch anything.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from itertools import groupby
from typing import TYPE_CHECKING

import pandas as pd

from nercurve.analysis.families import CURVE_FAMILIES
from nercurve.analysis.threshold import THRESHOLD_MODELS
from nercurve.report import corpus as co
from nercurve.report import tables as tb
from nercurve.tasks import title

if TYPE_CHECKING:
    from nercurve.analysis import Analysis

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STYLE = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;
  background:#fafafa;margin:0}
main{max-width:1100px;margin:0 auto;padding:24px 28px 60px;background:#fff}
h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.25em;margin:34px 0 10px;
  border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:1.05em;margin:22px 0 6px}
.meta{color:#666;font-size:.9em;margin:0 0 16px}
.rec{background:#f1f7f1;border-left:4px solid #55a868;padding:10px 16px;margin:8px 0}
.rec li{margin:6px 0}
figure{margin:12px 0}figure svg{width:100%;height:auto;display:block}
figcaption{color:#555;font-size:.88em;margin-top:4px}
table{border-collapse:collapse;font-size:.8em;margin:6px 0 14px;display:block;
  overflow-x:auto;max-width:100%}
caption{text-align:left;font-weight:600;padding:4px 0;caption-side:top}
th,td{padding:3px 8px;border-bottom:1px solid #e5e5e5;text-align:right;white-space:nowrap}
th{background:#f4f4f4;position:sticky;top:0}th.group{text-align:center}
td:first-child,th:first-child,td.text{text-align:left}
details summary{cursor:pointer;color:#335;margin:6px 0}
.notes li,.words li{margin:4px 0}
.methods p{max-width:80ch}
"""


def esc(value: object) -> str:
    """HTML-escape any value (quotes included)."""
    return html.escape(str(value), quote=True)


def render_html(analysis: Analysis, svgs: dict[str, str], files: list[str]) -> str:
    """The whole page as a string. ``svgs`` maps figure names to inline SVG markup (made by
    matplotlib from escaped text); ``files`` lists the figure and table files written beside."""
    from nercurve import __version__

    backends = list(analysis.models)
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>nercurve report: {esc(analysis.source)}</title>",
        f"<style>{STYLE}</style></head><body><main>",
        "<h1>Sample-size study report</h1>",
        f'<p class="meta">Source: {esc(analysis.source)} · {len(analysis.all_runs):,} runs · '
        f"backends: {esc(', '.join(backends))} · nercurve {esc(__version__)}</p>",
        _recommendation(analysis),
        _corpus(analysis),
        _design(analysis),
        _figures(analysis, svgs),
        _transfer(analysis, svgs),
        _selection(analysis, svgs),
        _multitask(analysis, svgs),
        _convergence(analysis, svgs),
        _tables(analysis),
        _testset(analysis),
        _runs(analysis),
        _kept(analysis),
        _notes(analysis, files),
        _methods(analysis),
        "</main></body></html>",
    ]
    return "\n".join(p for p in parts if p)


def table_html(frame: pd.DataFrame, caption: str = "", text_columns: int = 1) -> str:
    """An escaped HTML table; the first ``text_columns`` columns are left-aligned.

    Two-level columns (a MultiIndex) give two header rows: a group name spans its columns,
    and a column whose group is ``""`` spans both rows.
    """
    head = _header(frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = "".join(
            f'<td class="text">{esc(v)}</td>' if i < text_columns else f"<td>{esc(v)}</td>"
            for i, v in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead>{head}</thead><tbody>{''.join(body)}</tbody></table>"


def _header(columns: pd.Index) -> str:
    """The header rows of :func:`table_html`."""
    if not isinstance(columns, pd.MultiIndex):
        return "<tr>" + "".join(f"<th>{esc(c)}</th>" for c in columns) + "</tr>"
    top, bottom = [], []
    for group, members in groupby(columns, key=lambda c: c[0]):
        names = [name for _, name in members]
        if group == "":
            top += [f'<th rowspan="2">{esc(name)}</th>' for name in names]
        else:
            top.append(f'<th colspan="{len(names)}" class="group">{esc(group)}</th>')
            bottom += [f"<th>{esc(name)}</th>" for name in names]
    return f"<tr>{''.join(top)}</tr><tr>{''.join(bottom)}</tr>"


def _recommendation(analysis: Analysis) -> str:
    items = "".join(f"<li>{esc(m.recommendation)}</li>" for m in analysis.models.values()
                    if m.recommendation)
    items += "".join(f"<li>{esc(t)}</li>" for t in analysis.selection_words().values())
    items += "".join(f"<li>{esc(t)}</li>" for t in analysis.multitask_words().values())
    summary = f"<p>{esc(analysis.summary)}</p>" if analysis.summary else ""
    return (f'<section id="recommendation"><h2>Recommendation</h2><div class="rec">'
            f"<ul>{items}</ul>{summary}</div></section>")


def _corpus(analysis: Analysis) -> str:
    stats = analysis.corpus_stats
    if not stats:
        body = ("<p>No corpus statistics: the runs were read from a table, not a study folder "
                "(a study folder's corpus_stats.json is shown here).</p>")
        return f'<section id="corpus"><h2>Corpus</h2>{body}</section>'
    parts = [table_html(co.corpus_display(stats), analysis.task.corpus_caption)]
    selection = {"dev": "Models were selected on the dev set; the test set only scored them.",
                 "test": "Models were selected on the test set (as Majdik et al. did), so "
                         f"test {analysis.task.words.outcome} is optimistic."
                 }.get(stats.get("select_on"))
    if selection:
        parts.append(f"<p>{esc(selection)}</p>")
    notices = stats.get("reading_notices")
    if notices:
        listed = ", ".join(f"{kind} {count}" for kind, count in notices.items())
        parts.append(f"<p>Reading the corpus repaired or left out (notices by kind): "
                     f"{esc(listed)}.</p>")
    details = [table_html(co.distributions_display(stats), "Document sizes and entity "
                          "lengths", 2)]
    lengths = co.entity_lengths_display(stats)
    if not lengths.empty:
        details.append(table_html(lengths, "Entities by length in tokens"))
    other = list(_flatten(co.other_entries(stats)))
    if other:
        details.append(table_html(pd.DataFrame(other, columns=["Entry", "Value"]),
                                  "Other entries of corpus_stats.json"))
    parts.append(f'<details id="corpus-distributions"><summary>Distributions: document sizes '
                 f"and entity lengths</summary>{''.join(details)}</details>")
    return f'<section id="corpus"><h2>Corpus</h2>{"".join(parts)}</section>'


def _flatten(value: object, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(dotted key, display value) pairs of a nested JSON object."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flatten(inner, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, inner in enumerate(value):
            yield from _flatten(inner, f"{prefix}[{i}]")
    elif isinstance(value, float):
        yield prefix, f"{value:,.4g}"
    elif isinstance(value, list):
        yield prefix, json.dumps(value, ensure_ascii=False)[:300]
    else:
        yield prefix, str(value)


def _design(analysis: Analysis) -> str:
    runs = analysis.runs
    rows = []
    for backend, group in runs.groupby("backend", sort=False):
        row = {"Backend": backend, "Runs": f"{len(group):,}"}
        if "subset_id" in group.columns:
            row["Subsets"] = f"{group['subset_id'].nunique():,}"
        if "seed" in group.columns:
            row["Seeds"] = f"{group['seed'].nunique():,}" if group["seed"].notna().any() else "–"
        for column, label in (("n_sentences", "Sentences"), ("n_docs", "Documents")):
            if column in group.columns:
                row[label] = _span(group[column])
        rows.append(row)
    body = table_html(pd.DataFrame(rows), "Runs per backend")
    strata_source = analysis.design if analysis.design is not None else runs
    if "stratum" in strata_source.columns:
        frame = strata_source
        if "subset_id" in frame.columns:
            frame = frame.drop_duplicates("subset_id")
        strata = []
        for stratum, group in frame.groupby("stratum", sort=False):
            entry = {"Stratum": stratum, "Subsets": f"{len(group):,}"}
            for column, label in (("n_docs", "Documents"), ("n_sentences", "Sentences")):
                if column in group.columns:
                    entry[label] = _span(group[column])
            strata.append(entry)
        body += table_html(pd.DataFrame(strata), "Subsets per stratum")
    s, w = analysis.settings, analysis.task.words
    settings = (
        f"Analysis settings: {s.n_boot:,} bootstrap resamples, seed {s.seed}, "
        f"{s.level:.0%} intervals, target {w.outcome} {s.target_f1:.2f}, plateau when "
        f"{s.step:g} more {w.unit} add less than {100 * s.min_gain:g} {w.outcome} points"
        + (f", threshold models adjusted for {', '.join(s.adjust)}" if s.adjust else "") + ".")
    body += f"<p>{esc(settings)}</p>"
    return f'<section id="design"><h2>Design</h2>{body}</section>'


def _span(values: pd.Series) -> str:
    """'min–max' of a numeric column as whole numbers, '–' when it is empty."""
    values = pd.to_numeric(values, errors="coerce").dropna()
    if values.empty:
        return "–"
    return f"{values.min():,.0f}–{values.max():,.0f}"


def _figures(analysis: Analysis, svgs: dict[str, str]) -> str:
    words = analysis.threshold_words()

    def listing(predictor: str) -> str:
        items = "".join(f"<li><b>{esc(b)}</b>: {esc(t)}</li>" for (b, p), t in words.items()
                        if p == predictor)
        return f'<ul class="words">{items}</ul>' if items else ""

    level = f"{analysis.settings.level:.0%}"
    task = analysis.task
    w = task.words
    return (
        '<section id="curves"><h2>Learning curves</h2>'
        f'<figure>{svgs["learning_curves"]}<figcaption>'
        + esc(f"Test {w.outcome} of each fine-tuned model (points) "
              f"against its training {w.unit}, with a GAM smooth and its {level} band, the "
              f"learning curve chosen by extrapolation error (solid) and its extrapolation with "
              f"a {level} bootstrap band (dashed), "
              f"and the best threshold model's threshold (dotted) with its {level} bootstrap CI "
              f"(shaded). The dotted horizontal line marks the target {w.outcome} when it lies "
              f"near the data; the {w.outcome} axis spans the data, not 0 to 1.")
        + f"</figcaption></figure>{listing(task.size)}"
        f'<figure>{svgs["curve_overview"]}<figcaption>'
        + esc(f"Chosen learning curves of all backends with "
              f"{level} bootstrap bands (left out where a fit falls below {w.outcome} 0); fixed "
              f"baselines as horizontal lines. The {w.outcome} axis spans the curves, not 0 to 1.")
        + "</figcaption></figure></section>"
        + f'<section id="eps"><h2>{esc(f"{title(w.outcome)} and {w.theme}")}</h2>'
        + f'<figure>{svgs["f1_vs_eps"]}<figcaption>'
        + esc(f"Test {w.outcome} against the {w.density_long} of the training subset, with a "
              f"GAM smooth ({level} band) and the best threshold model's threshold; the dashed "
              f"line marks the training data's {w.density}.")
        + f"</figcaption></figure>{listing(task.density)}</section>"
    )


def _transfer(analysis: Analysis, svgs: dict[str, str]) -> str:
    """In-domain against unseen-corpus curves and their table (when the study has them)."""
    if not analysis.external or "transfer_curves" not in svgs:
        return ""
    names = ", ".join(analysis.external)
    table = analysis.tables()["transfer"]
    shown = table.assign(**{c: table[c].map(lambda v: tb.num(v, 3)) for c in table.columns
                            if c.startswith(("f1_", "retained_"))})
    w = analysis.task.words
    shown[w.unit] = table[w.unit].map(lambda v: tb.num(v, 0))
    level = f"{analysis.settings.level:.0%}"
    o = w.outcome
    return (
        '<section id="transfer"><h2>Transfer to unseen corpora</h2>'
        f'<figure>{svgs["transfer_curves"]}<figcaption>'
        + esc(f"Test {o} on the study's own test set and on each external test set ({names}) "
              f"against the training {w.unit}: GAM smooths with {level} bands. The gap is what "
              "the training data does not carry over to a corpus it never saw.")
        + "</figcaption></figure>"
        + table_html(shown, f"Mean {o} by stratum, in-domain and unseen; retained = unseen {o} "
                            f"/ in-domain {o}", 2)
        + "</section>"
    )


def _selection(analysis: Analysis, svgs: dict[str, str]) -> str:
    """The selection strategies side by side (nothing when the study has one strategy)."""
    comparison = analysis.selection
    if comparison is None or "selection_curves" not in svgs:
        return ""
    w, s = analysis.task.words, analysis.settings
    base, level = comparison.baseline, f"{s.level:.0%}"
    words = "".join(f"<li>{esc(t)}</li>" for t in analysis.selection_words().values())
    method = (
        f"Each strategy's learning curve is the family chosen for the backend's {base} runs, "
        f"fitted to that strategy's runs; {level} bands come from {s.n_boot:,} bootstrap refits "
        "that resample the strategy's subsets (a subset's seeds together). Sizes saved are "
        f"the {base} curve's training {w.unit} minus the strategy's, at the target "
        f"{w.outcome} and at the {w.outcome} the {base} curve reaches at its largest training "
        "set; their CIs pair the strategies' bootstrap refits (✓: the CI excludes 0). The "
        f"learning curves, thresholds and recommendation above rest on the {base} subsets "
        "alone.")
    return (
        '<section id="selection"><h2>Selection strategies</h2>'
        f'<ul class="words">{words}</ul>'
        f'<figure>{svgs["selection_curves"]}<figcaption>'
        + esc(f"Test {w.outcome} of each strategy's runs (points) against the training "
              f"{w.unit}, with its learning curve and {level} bootstrap band over the sizes it "
              f"was run at; the dotted line marks the target {w.outcome}.")
        + "</figcaption></figure>"
        + table_html(tb.selection_display(analysis),
                     f"Selection strategies against {base}: {w.unit} saved (negative: more "
                     f"needed), with {level} CIs, and what choosing the subsets cost", 2)
        + f"<p>{esc(method)}</p>"
        + '<details id="selection-sizes"><summary>Mean '
        + esc(f"{w.outcome} of each strategy per training size")
        + "</summary>"
        + table_html(tb.selection_sizes_display(analysis), "", 3)
        + "</details></section>"
    )


def _multitask(analysis: Analysis, svgs: dict[str, str]) -> str:
    """Single- against multi-task training side by side (nothing for a single-corpus
    study)."""
    comparison = analysis.multitask
    if comparison is None or "multitask_curves" not in svgs:
        return ""
    w, s = analysis.task.words, analysis.settings
    level, o = f"{s.level:.0%}", w.outcome
    aux = ", ".join(comparison.auxiliary()) or "none scored"
    words = "".join(f"<li>{esc(t)}</li>" for t in analysis.multitask_words().values())
    method = (
        f"Both arms train on the same target subsets and seeds; multi-task adds the auxiliary "
        f"corpora ({aux}). Each arm's learning curve, on every test set, is the family chosen "
        f"for the single-task arm on the target test set, fitted on the target training "
        f"{w.unit}; {level} bands and CIs come from {s.n_boot:,} bootstrap refits that "
        "resample the subsets (a subset's seeds together), the same subsets in both arms' "
        f"i-th refit, so every difference is paired. Target {w.unit} saved = single-task's "
        f"minus multi-task's, at the target {o} and at the {o} single-task's curve reaches at "
        "its largest training set (✓: the CI excludes 0). The gains are multi-task's "
        f"{o} minus single-task's: of the curves at the largest training set, and per stratum "
        "the mean over the pairs of runs.")
    transfer = tb.multitask_transfer_display(analysis)
    return (
        '<section id="multitask"><h2>Single- against multi-task training</h2>'
        f'<ul class="words">{words}</ul>'
        f'<figure>{svgs["multitask_curves"]}<figcaption>'
        + esc(f"Test {o} of each arm's runs (points) on each test set against the target "
              f"training {w.unit}, with its learning curve and {level} bootstrap band over the "
              f"sizes it was run at; the dotted line marks the target {o}.")
        + "</figcaption></figure>"
        + table_html(tb.multitask_savings_display(analysis),
                     f"Target {w.unit} multi-task training saves on "
                     f"{comparison.target.name} (negative: it needs more), with {level} CIs", 2)
        + table_html(tb.multitask_curves_display(analysis),
                     f"Each arm's curve per test set: {o} at the largest training set, and "
                     "multi-task's gain there", 3)
        + (table_html(transfer, f"Transfer to the unseen corpora: mean {o} per stratum and "
                                "arm, with multi-task's paired gain", 3)
           if not transfer.empty else "")
        + f"<p>{esc(method)}</p></section>"
    )


def _convergence(analysis: Analysis, svgs: dict[str, str]) -> str:
    """How an adaptive design's estimate converged (nothing for a fixed design)."""
    if "convergence" not in svgs:
        return ""
    from nercurve.report.convergence import convergence_text

    return ('<section id="convergence"><h2>Adaptive design: convergence</h2>'
            f'<figure>{svgs["convergence"]}<figcaption>{esc(convergence_text(analysis))}'
            "</figcaption></figure></section>")


def _tables(analysis: Analysis) -> str:
    w = analysis.task.words
    parts = ['<section id="tables"><h2>Tables</h2>',
             table_html(tb.descriptive_display(analysis),
                        f"Table 1. Training subsets and test {w.outcome} per backend", 2)]
    regression = tb.regression_display(analysis)
    if not regression.empty:
        parts.append(table_html(regression, f"Table 2. Standardized multiple regression of "
                                            f"{w.outcome} on training {w.unit} and {w.density} "
                                            "(β, p)"))
    thresholds = tb.threshold_display(analysis)
    if not thresholds.empty:
        parts.append(table_html(thresholds, "Table 3. Threshold models (★ = lowest AIC); "
                                            f"slopes in {w.outcome} points", 3))
    curves = tb.curve_display(analysis)
    if not curves.empty:
        parts.append(table_html(curves, "Table 4. Learning-curve families side by side "
                                        "(★ chosen by extrapolation error; cautions say what "
                                        "makes a fit doubtful)", 2))
    parts.append("</section>")
    return "".join(parts)


def _testset(analysis: Analysis) -> str:
    """Is the test set big enough: what it resolves, what other splits would, and how much
    of the run-to-run spread is test-set noise (or why the runs cannot say)."""
    plan = analysis.test_plan
    head = '<section id="testset"><h2>Is the test set big enough?</h2>'
    if plan is None:
        why = analysis.test_plan_absent or "the runs cannot say"
        return head + f"<p>No test-set plan: {esc(why)}.</p></section>"
    from nercurve.analysis.recommend import arms_words, testset_headline, testset_words
    from nercurve.report.testset import testset_displays

    task = analysis.task
    said = [testset_headline(plan, task), arms_words(plan, task),
            *(testset_words(plan, b, task) for b in analysis.models)]
    words = "".join(f"<p>{esc(t)}</p>" for t in said if t)
    tables = "".join(table_html(frame, caption, 2)
                     for caption, frame in testset_displays(plan, task))
    return head + words + tables + "</section>"


def _runs(analysis: Analysis) -> str:
    frame = tb.runs_display(analysis)
    return (f'<section id="runs"><h2>Runs</h2><details><summary>All {len(frame):,} runs'
            f"</summary>{table_html(frame, '', frame.shape[1])}</details></section>")


def _kept(analysis: Analysis) -> str:
    """The models the study keeps, linked, with their test scores (none: no section)."""
    if not analysis.kept:
        return ""
    outcome = analysis.task.words.outcome
    rows = []
    for m in analysis.kept:
        what = ("final (whole training pool)" if m.kind == "final"
                else f"best of stratum {m.stratum}")
        dev = "–" if m.dev_f1 is None else f"{m.dev_f1:.3f}"
        rows.append(f'<tr><td>{esc(m.arm)}</td><td>{esc(what)}</td><td>{m.f1:.3f}</td>'
                    f'<td>{dev}</td><td><a href="{esc(m.path.resolve().as_uri())}">'
                    f"{esc(m.path)}</a></td><td>{m.size_bytes / 2**20:,.1f}</td></tr>")
    return ('<section id="kept-models"><h2>Kept models</h2>'
            f"<p>Saved in each backend's own format, with a model card "
            f"(model_card.json); run one with <code>nercurve predict MODEL CORPUS -o "
            f"preds.jsonl</code>.</p><table><thead><tr><th>Backend</th><th>Model</th>"
            f"<th>Test {esc(outcome)}</th><th>Dev {esc(outcome)}</th><th>Folder</th>"
            f"<th>MiB</th></tr></thead><tbody>{''.join(rows)}</tbody></table></section>")


def _notes(analysis: Analysis, files: list[str]) -> str:
    notes = "".join(f"<li>{esc(n)}</li>" for n in analysis.notes)
    listing = "".join(f"<li>{esc(f)}</li>" for f in files)
    return ('<section id="notes"><h2>Notes and files</h2>'
            + (f'<ul class="notes">{notes}</ul>' if notes else "<p>No analysis was skipped.</p>")
            + (f"<p>Publication figures (PNG, SVG) and tables (CSV) written beside this page:</p>"
               f"<ul>{listing}</ul>" if listing else "")
            + "</section>")


def _methods(analysis: Analysis) -> str:
    s, w = analysis.settings, analysis.task.words
    level = f"{s.level:.0%}"
    paragraphs = [
        "Descriptive statistics are the range, mean and SD (n − 1) of each variable over the "
        "runs of a backend.",
        f"Standardized multiple regression: {w.outcome}, training {w.unit} and {w.density} were "
        f"z-scored and {w.outcome} "
        "regressed on the two predictors by ordinary least squares (statsmodels); β are the "
        "standardized coefficients, with their t-test p-values, the overall F test and R².",
        "Threshold regression follows the model families of the R package chngpt: "
        + _listed([f"{m.name} ({m.words})" for m in THRESHOLD_MODELS.values()])
        + ". The threshold minimises the residual sum of squares over chngpt's "
        "candidate grid (the sorted values at positions round(0.05·n) + 1 to round(0.95·n); "
        "exact search); an estimate on the first or last candidate is flagged. Its "
        f"{level} CI comes from {s.n_boot:,} nonparametric bootstrap resamples (percentile and "
        "symmetric forms; a symmetric interval cut at the range of the data is flagged and "
        "the uncut one given); runs sharing a training subset are resampled together. Each "
        "family "
        "is tested against a straight line by the likelihood ratio n·log(RSS_line/RSS), whose "
        f"null distribution is simulated by {s.n_boot:,} wild-bootstrap (Rademacher) replicates "
        "under the fitted line; this keeps the unequal variance of learning-curve data and "
        "avoids the non-standard asymptotics of a threshold that does not exist under the null. "
        "AIC (threshold counted as a parameter) picks the best model.",
        "GAM smooths are penalized cubic regression splines (statsmodels GLMGam) whose penalty "
        "weight minimises generalized cross-validation; bands are "
        f"{level} pointwise intervals from the penalized covariance. The basis size is checked "
        "as mgcv's k.check does (k-index of neighbouring residuals, permutation p-value) and "
        "doubled while it is too small.",
        f"Learning curves: {_number(len(CURVE_FAMILIES))} families are fitted — "
        + _listed([f.method for f in CURVE_FAMILIES.values()])
        + ". Each is refitted to the runs up to the 60th and the 75th percentile of training "
        "size and "
        "predicts the rest; the family with the smallest error of those predictions is "
        "chosen among the fits without problems (a parameter at a bound, a degenerate CI, a "
        f"fit worse than a straight line, {w.outcome} below 0 within the data). Families that "
        "predict "
        "the held-out runs as well are named where they answer differently. CIs for the "
        f"parameters and for every prediction come from {s.n_boot:,} bootstrap refits. A "
        "target at or above the fitted ceiling is reported as out of reach only when the "
        "ceiling's CI lies below the target too; where that CI includes the target (as it "
        "does whenever it runs to 1, the bound of a ceiling, which the runs then do not pin "
        "down), the report says that the runs cannot tell whether the target is reachable. "
        "A target beyond the largest training set is reported as an extrapolation with its "
        "ratio to that size.",
        f"All resampling used seed {s.seed}.",
    ]
    body = "".join(f"<p>{esc(p)}</p>" for p in paragraphs)
    return f'<section id="methods" class="methods"><h2>Methods</h2>{body}</section>'


_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def _number(n: int) -> str:
    """A count in words up to ten, in digits above."""
    return _NUMBERS[n] if n < len(_NUMBERS) else str(n)


def _listed(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
