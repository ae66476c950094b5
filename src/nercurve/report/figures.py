"""Publication figures (matplotlib, Agg backend): learning curves, F1 vs EPS, curve overview,
selection strategies side by side, single- against multi-task curves per test set.

Each figure is returned as a matplotlib Figure; :func:`save_figure` writes it as PNG and SVG
and :func:`inline_svg` gives the SVG markup to embed in the HTML page. Text that comes from
the data (backend names) is passed through :func:`plain` so matplotlib never interprets it
as mathtext.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nercurve.tasks import title

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from nercurve.analysis import Analysis, BackendModels
    from nercurve.analysis.families import CurveFit

RC = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "svg.fonttype": "path",
}
POINTS = "#4c72b0"
SMOOTH = "#dd8452"
CURVE = "#55a868"
THRESHOLD = "#c44e52"
AGREEMENT = "#8172b3"
F1_MARGIN = 0.05  # the F1 axis runs this share of the F1 span drawn past either end...
F1_MIN_MARGIN = 0.02  # ...and at least this far
NEAR_TARGET = 0.1  # the target F1 line is kept in view when it is this close to the data


def plain(text: str) -> str:
    """Data text safe for matplotlib: dollar signs escaped so no mathtext is parsed."""
    return str(text).replace("$", r"\$")


def f1_limits(values: np.ndarray, target: float | None = None) -> tuple[float, float]:
    """The F1 axis for a figure that draws these F1 values: their range with a small margin,
    within [0, 1].

    ``target`` (the target F1 line) is kept in view when it lies within
    :data:`NEAR_TARGET` of the values; farther off it would flatten the curves, so it is left
    out. Non-finite values are ignored; with none left the axis is [0, 1].
    """
    values = np.clip(np.asarray(values, dtype=float).ravel(), 0.0, 1.0)
    values = values[np.isfinite(values)]
    if not values.size:
        return 0.0, 1.0
    low, high = float(values.min()), float(values.max())
    if target is not None and low - NEAR_TARGET <= target <= high + NEAR_TARGET:
        low, high = min(low, target), max(high, target)
    pad = max(F1_MARGIN * (high - low), F1_MIN_MARGIN)
    return max(0.0, low - pad), min(1.0, high + pad)


def _figure(n_panels: int, width: float = 3.4, height: float = 2.8, *,
            sharey: bool = True) -> tuple[Figure, list]:
    """A figure with one panel per backend, up to three per row (``sharey``: one F1 axis)."""
    from matplotlib.figure import Figure

    cols = min(3, max(1, n_panels))
    rows = math.ceil(n_panels / cols)
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, sharey=sharey).ravel().tolist()
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig, axes[:n_panels]


def learning_curves(analysis: Analysis) -> Figure:
    """F1 against training sentences per backend: runs, GAM band, threshold, the chosen
    learning curve and, when given, the annotators' agreement as a ceiling line."""
    return _panels(analysis, _learning_panel, _training(analysis),
                   analysis.settings.target_f1)


def f1_vs_eps(analysis: Analysis) -> Figure:
    """F1 against EPS (entities per sentence) per backend: runs, GAM band, threshold."""
    return _panels(analysis, _eps_panel, title(analysis.task.words.density_long))


def _training(analysis: Analysis) -> str:
    """The x-axis label of training size: "Training sentences" (examples, ...)."""
    return f"Training {analysis.task.words.unit}"


#: Line colours of the external (unseen-corpus) test sets, in config order.
UNSEEN = ("#8172b3", "#937860", "#da8bc3", "#8c8c8c", "#ccb974", "#64b5cd")


def transfer_curves(analysis: Analysis) -> Figure:
    """In-domain and unseen-corpus F1 against training sentences per backend: GAM smooths
    with their bands, side by side on one axis."""
    return _panels(analysis, _transfer_panel, _training(analysis))


def _transfer_panel(ax, analysis: Analysis, m: BackendModels, rows: pd.DataFrame) -> np.ndarray:
    """The in-domain smooth and one smooth per external test set; returns their F1 values."""
    curves = [("in-domain test", SMOOTH, m.gams.get(analysis.task.size))]
    curves += [(f"unseen: {name}", UNSEEN[i % len(UNSEEN)], m.transfer.get(name))
               for i, name in enumerate(analysis.external)]
    drawn = [np.empty(0)]
    for label, colour, gam in curves:
        if gam is None:
            continue
        ax.fill_between(gam.grid, _f1(gam.lower), _f1(gam.upper), color=colour, alpha=0.2,
                        linewidth=0)
        ax.plot(gam.grid, gam.fit, color=colour, linewidth=1.4, label=plain(label))
        drawn.append(np.asarray(gam.fit, dtype=float))
    return np.concatenate(drawn)


def _panels(analysis: Analysis, draw: Callable[..., np.ndarray], xlabel: str,
            target: float | None = None) -> Figure:
    """One panel per modelled backend, drawn by ``draw(ax, analysis, models, rows)``, which
    returns the F1 values it drew; the panels share one F1 axis that shows all of them."""
    import matplotlib

    models = [m for m in analysis.models.values() if m.modelled]
    with matplotlib.rc_context(RC):
        fig, axes = _figure(len(models))
        drawn = []
        for i, (ax, m) in enumerate(zip(axes, models, strict=True)):
            rows = analysis.runs.loc[analysis.runs["backend"] == m.backend]
            drawn.append(draw(ax, analysis, m, rows))
            ax.set_title(plain(m.backend))
            ax.set_xlabel(xlabel)
            if i % 3 == 0:
                ax.set_ylabel(f"Test {analysis.task.words.outcome}")
            if i == 0:
                ax.legend(loc="lower right")
        if axes:
            axes[0].set_ylim(*f1_limits(np.concatenate(drawn), target))  # shared by all
    return fig


def _runs(ax, x, y) -> None:
    """The runs as points: small and faint for thousands of runs, clear for a few dozen."""
    n = len(x)
    size, alpha = (6, 0.35) if n > 500 else (10, 0.55) if n > 100 else (16, 0.8)
    ax.scatter(x, y, s=size, alpha=alpha, color=POINTS, linewidths=0, label="runs")


def _gam_and_threshold(ax, m: BackendModels, predictor: str) -> np.ndarray:
    """The GAM smooth with its band and the best threshold model's estimate with its CI;
    returns the smooth's F1 values."""
    gam = m.gams.get(predictor)
    drawn = np.empty(0)
    if gam is not None:
        ax.fill_between(gam.grid, _f1(gam.lower), _f1(gam.upper), color=SMOOTH, alpha=0.25,
                        linewidth=0)
        ax.plot(gam.grid, gam.fit, color=SMOOTH, linewidth=1.2,
                label=f"GAM ({gam.level:.0%} band)")
        drawn = np.asarray(gam.fit, dtype=float)
    th = m.thresholds.get(predictor)
    fit = th.best_fit() if th is not None else None
    if fit is not None:
        lo, hi = fit.ci_percentile
        ax.axvspan(lo, hi, color=THRESHOLD, alpha=0.12, linewidth=0)
        ax.axvline(fit.threshold, color=THRESHOLD, linewidth=1, linestyle=":",
                   label=f"threshold ({fit.family})")
    return drawn


def _f1(values: np.ndarray) -> np.ndarray:
    """A band's bound kept within [0, 1], where F1 lies (a bootstrap bound can pass either)."""
    return np.clip(np.asarray(values, dtype=float), 0.0, 1.0)


def _curve_band(curve: CurveFit, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A learning curve's F1 and band at these sizes, left out (NaN) where the fitted F1 falls
    below 0: at sizes that small the fit says nothing an F1 could mean."""
    fitted = np.asarray(curve.predict(sizes), dtype=float)
    lo, hi = (_f1(bound) for bound in curve.predict_interval(sizes))
    below = fitted < 0
    for values in (fitted, lo, hi):
        values[below] = np.nan
    return fitted, lo, hi


def _learning_panel(ax, analysis: Analysis, m: BackendModels,
                    rows: pd.DataFrame) -> np.ndarray:
    """One backend's learning-curve panel; returns the F1 values of its runs and curves."""
    size = analysis.task.size
    _runs(ax, rows[size], rows["f1"])
    x_right = float(rows[size].max())
    drawn = [rows["f1"].to_numpy(dtype=float), _gam_and_threshold(ax, m, size)]
    curve = m.curve
    if curve is not None:
        reach = curve.n_max * 1.6
        if m.target is not None and m.target.reachable and math.isfinite(m.target.sentences):
            reach = max(reach, min(m.target.sentences * 1.1, curve.n_max * 4))
        inside = np.linspace(curve.n_min, curve.n_max, 150)
        beyond = np.linspace(curve.n_max, reach, 100)
        fitted = _curve_band(curve, inside)[0]
        extrapolated, lo, hi = _curve_band(curve, beyond)
        ax.plot(inside, fitted, color=CURVE, linewidth=1.4, label=f"curve ({curve.family})")
        ax.fill_between(beyond, lo, hi, color=CURVE, alpha=0.15, linewidth=0)
        ax.plot(beyond, extrapolated, color=CURVE, linewidth=1.4, linestyle="--",
                label="extrapolation")
        drawn += [fitted, extrapolated]
        x_right = reach
    ax.axhline(analysis.settings.target_f1, color="0.4", linewidth=0.8, linestyle=(0, (1, 3)))
    drawn.append(_agreement_line(ax, analysis))
    ax.set_xlim(0, x_right * 1.02)
    return np.concatenate(drawn)


def _agreement_line(ax, analysis: Analysis) -> np.ndarray:
    """The annotators' agreement as a ceiling line (with the pairs' range shaded); returns the
    F1 values it drew (none without an agreement file)."""
    ceiling = analysis.agreement
    if ceiling is None:
        return np.empty(0)
    if ceiling.pairs > 1:
        ax.axhspan(ceiling.low, ceiling.high, color=AGREEMENT, alpha=0.12, linewidth=0)
    ax.axhline(ceiling.f1, color=AGREEMENT, linewidth=1.1, linestyle="-.",
               label=f"annotator agreement ({ceiling.f1:.2f})")
    return np.array([ceiling.low, ceiling.high])


def _eps_panel(ax, analysis: Analysis, m: BackendModels, rows: pd.DataFrame) -> np.ndarray:
    """One backend's F1-vs-EPS panel, with the training EPS marked; returns the F1 values of
    its runs and smooth."""
    density = analysis.task.density
    _runs(ax, rows[density], rows["f1"])
    smooth = _gam_and_threshold(ax, m, density)
    if analysis.training_eps is not None:
        ax.axvline(analysis.training_eps, color="0.3", linewidth=0.8, linestyle="--",
                   label=f"training {analysis.task.words.density}")
    return np.concatenate([rows["f1"].to_numpy(dtype=float), smooth])


def curve_overview(analysis: Analysis) -> Figure:
    """All backends' chosen learning curves with bootstrap bands, and fixed baselines as
    lines.

    The F1 axis shows the curves and baselines (:func:`f1_limits`); a band wider than that
    runs off the axis rather than stretch it.
    """
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(7.5, 3.8), layout="constrained")
        ax = fig.subplots()
        colors = matplotlib.colormaps["tab10"].colors
        right = 0.0
        drawn = []
        curves = [m for m in analysis.models.values() if m.curve is not None]
        for color, m in zip(colors, curves, strict=False):
            c = m.curve
            sizes = np.linspace(c.n_min, c.n_max * 1.6, 200)
            fitted, lo, hi = _curve_band(c, sizes)
            ax.fill_between(sizes, lo, hi, color=color, alpha=0.15, linewidth=0)
            ax.plot(sizes, fitted, color=color, linewidth=1.4, label=plain(m.backend))
            drawn.append(fitted)
            right = max(right, sizes[-1])
        for m in analysis.models.values():
            if m.modelled:
                continue
            rows = analysis.runs.loc[analysis.runs["backend"] == m.backend]
            drawn.append(np.array([rows["f1"].mean()]))
            ax.axhline(drawn[-1][0], color="0.35", linewidth=1, linestyle="--",
                       label=f"{plain(m.backend)} (fixed)")
        target = analysis.settings.target_f1
        low, high = f1_limits(np.concatenate(drawn) if drawn else np.empty(0), target)
        shown = low <= target <= high
        ax.axhline(target, color="0.5", linewidth=0.8, linestyle=(0, (1, 3)),
                   label=f"target {analysis.task.words.outcome} {target:.2f}"
                   + ("" if shown else " (off the axis)"))
        ax.set_xlim(0, right * 1.02 if right else None)
        ax.set_ylim(low, high)
        ax.set_xlabel(_training(analysis))
        ax.set_ylabel(f"Predicted test {analysis.task.words.outcome}")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def selection_curves(analysis: Analysis) -> Figure:
    """The selection strategies side by side, one panel per compared backend: each
    strategy's runs and learning curve (one family for all) with its bootstrap band over
    its observed sizes, and the target F1 line."""
    import matplotlib

    from nercurve.analysis.data import selection_of

    comparison = analysis.selection
    backends = comparison.backends() if comparison is not None else []
    strategy = selection_of(analysis.all_runs)
    size = analysis.task.size
    target = analysis.settings.target_f1
    with matplotlib.rc_context(RC):
        fig, axes = _figure(len(backends))
        colors = matplotlib.colormaps["tab10"].colors
        drawn = []
        for i, (ax, backend) in enumerate(zip(axes, backends, strict=True)):
            curves = [c for c in comparison.curves if c.backend == backend]
            for color, c in zip(colors, curves, strict=False):
                rows = comparison.runs.loc[(comparison.runs["backend"] == backend)
                                           & (strategy == c.strategy)]
                ax.scatter(rows[size], rows["f1"], s=10, alpha=0.45, color=color, linewidths=0)
                drawn.append(rows["f1"].to_numpy(dtype=float))
                label = plain(c.strategy) + (" (baseline)" if c.strategy == comparison.baseline
                                             else "")
                if c.curve is None:
                    ax.scatter([], [], s=10, color=color, label=f"{label}: no curve")
                    continue
                sizes = np.linspace(c.curve.n_min, c.curve.n_max, 150)
                fitted, lo, hi = _curve_band(c.curve, sizes)
                ax.fill_between(sizes, lo, hi, color=color, alpha=0.15, linewidth=0)
                ax.plot(sizes, fitted, color=color, linewidth=1.4, label=label)
                drawn.append(fitted)
            ax.axhline(target, color="0.5", linewidth=0.8, linestyle=(0, (1, 3)))
            ax.set_title(f"{plain(backend)} ({comparison.families[backend]} curves)")
            ax.set_xlabel(_training(analysis))
            ax.set_xlim(0, None)
            if i % 3 == 0:
                ax.set_ylabel(f"Test {analysis.task.words.outcome}")
            ax.legend(loc="lower right")
        if axes:
            axes[0].set_ylim(*f1_limits(np.concatenate(drawn) if drawn else np.empty(0),
                                        target))
    return fig


def multitask_curves(analysis: Analysis) -> Figure:
    """Single- against multi-task training, one panel per base backend and test set (the
    target's first, then each auxiliary and unseen corpus), side by side: each arm's runs and
    learning curve with its bootstrap band over the sizes it was run at, against the target
    sentences; the target F1 line on the target's panel. Each panel has its own F1 axis."""
    import matplotlib

    from nercurve.analysis.multitask import MULTI, SINGLE

    comparison = analysis.multitask
    panels = ([(b, t) for b in comparison.backends() for t in comparison.test_sets]
              if comparison is not None else [])
    size = analysis.task.size
    target = analysis.settings.target_f1
    outcome = analysis.task.words.outcome
    colors = {SINGLE: POINTS, MULTI: SMOOTH}
    with matplotlib.rc_context(RC):
        fig, axes = _figure(len(panels), sharey=False)
        for i, (ax, (backend, test)) in enumerate(zip(axes, panels, strict=True)):
            drawn = []
            for c in comparison.curves:
                if c.backend != backend or c.test_set != test:
                    continue
                color = colors[c.training]
                rows = comparison.runs.loc[comparison.runs["backend"] == c.arm]
                ax.scatter(rows[size], rows[test.column], s=10, alpha=0.45, color=color,
                           linewidths=0)
                drawn.append(rows[test.column].to_numpy(dtype=float))
                label = f"{c.training}-task"
                if c.curve is None:
                    ax.scatter([], [], s=10, color=color, label=f"{label}: no curve")
                    continue
                sizes = np.linspace(c.curve.n_min, c.curve.n_max, 150)
                fitted, lo, hi = _curve_band(c.curve, sizes)
                ax.fill_between(sizes, lo, hi, color=color, alpha=0.15, linewidth=0)
                ax.plot(sizes, fitted, color=color, linewidth=1.4, label=label)
                drawn.append(fitted)
            line = target if test == comparison.target else None
            if line is not None:
                ax.axhline(line, color="0.5", linewidth=0.8, linestyle=(0, (1, 3)))
            ax.set_title(f"{plain(backend)}: {plain(test.name)} ({test.role})")
            ax.set_xlabel(f"Target training {analysis.task.words.unit}")
            ax.set_xlim(0, None)
            ax.set_ylim(*f1_limits(np.concatenate(drawn) if drawn else np.empty(0), line))
            if i % 3 == 0:
                ax.set_ylabel(f"Test {outcome}")
            ax.legend(loc="lower right")
    return fig


def save_figure(fig: Figure, stem: Path) -> list[Path]:
    """Write ``stem``.png (200 dpi) and ``stem``.svg; return the paths."""
    png, svg = stem.with_suffix(".png"), stem.with_suffix(".svg")
    fig.savefig(png, dpi=200, metadata={"Software": None})
    fig.savefig(svg, metadata={"Date": None, "Creator": None})
    return [png, svg]


def inline_svg(fig: Figure, salt: str) -> str:
    """The figure's SVG markup for embedding in HTML (XML prolog removed, ids salted).

    The page scales figures to its width, but no more than 1.4 times their natural size, so
    a one-panel figure does not blow up its lettering.
    """
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": salt}):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    max_px = 1.4 * 96 * float(fig.get_size_inches()[0])
    return f'<svg style="max-width:{max_px:.0f}px"' + text[text.index("<svg") + 4:]
