"""Publication figures (matplotlib, Agg backend): learning curves, F1 vs EPS, curve overview.

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

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from nercurve.analysis import Analysis, BackendModels

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


def plain(text: str) -> str:
    """Data text safe for matplotlib: dollar signs escaped so no mathtext is parsed."""
    return str(text).replace("$", r"\$")


def _figure(n_panels: int, width: float = 3.4, height: float = 2.8) -> tuple[Figure, list]:
    """A figure with one panel per backend, up to three per row."""
    from matplotlib.figure import Figure

    cols = min(3, max(1, n_panels))
    rows = math.ceil(n_panels / cols)
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, sharey=True).ravel().tolist()
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig, axes[:n_panels]


def learning_curves(analysis: Analysis) -> Figure:
    """F1 against training sentences per backend: runs, GAM band, threshold, power law."""
    return _panels(analysis, _learning_panel, "Training sentences")


def f1_vs_eps(analysis: Analysis) -> Figure:
    """F1 against EPS (entities per sentence) per backend: runs, GAM band, threshold."""
    return _panels(analysis, _eps_panel, "Entities per sentence (EPS)")


def _panels(analysis: Analysis, draw: Callable[..., None], xlabel: str) -> Figure:
    """One panel per modelled backend, drawn by ``draw(ax, analysis, models, rows)``."""
    import matplotlib

    models = [m for m in analysis.models.values() if m.modelled]
    with matplotlib.rc_context(RC):
        fig, axes = _figure(len(models))
        for i, (ax, m) in enumerate(zip(axes, models, strict=True)):
            rows = analysis.runs.loc[analysis.runs["backend"] == m.backend]
            draw(ax, analysis, m, rows)
            ax.set_ylim(max(0.0, float(rows["f1"].min()) - 0.05), 1.0)
            ax.set_title(plain(m.backend))
            ax.set_xlabel(xlabel)
            if i % 3 == 0:
                ax.set_ylabel("Test F1")
            if i == 0:
                ax.legend(loc="lower right")
    return fig


def _runs(ax, x, y) -> None:
    """The runs as points: small and faint for thousands of runs, clear for a few dozen."""
    n = len(x)
    size, alpha = (6, 0.35) if n > 500 else (10, 0.55) if n > 100 else (16, 0.8)
    ax.scatter(x, y, s=size, alpha=alpha, color=POINTS, linewidths=0, label="runs")


def _gam_and_threshold(ax, m: BackendModels, predictor: str) -> None:
    """The GAM smooth with its band and the best threshold model's estimate with its CI."""
    gam = m.gams.get(predictor)
    if gam is not None:
        ax.fill_between(gam.grid, gam.lower, gam.upper, color=SMOOTH, alpha=0.25, linewidth=0)
        ax.plot(gam.grid, gam.fit, color=SMOOTH, linewidth=1.2,
                label=f"GAM ({gam.level:.0%} band)")
    th = m.thresholds.get(predictor)
    fit = th.best_fit() if th is not None else None
    if fit is not None:
        lo, hi = fit.ci_percentile
        ax.axvspan(lo, hi, color=THRESHOLD, alpha=0.12, linewidth=0)
        ax.axvline(fit.threshold, color=THRESHOLD, linewidth=1, linestyle=":",
                   label=f"threshold ({fit.family})")


def _learning_panel(ax, analysis: Analysis, m: BackendModels, rows: pd.DataFrame) -> None:
    """One backend's learning-curve panel."""
    _runs(ax, rows["n_sentences"], rows["f1"])
    x_right = float(rows["n_sentences"].max())
    _gam_and_threshold(ax, m, "n_sentences")
    curve = m.curve
    if curve is not None:
        reach = curve.n_max * 1.6
        if m.target is not None and m.target.reachable and math.isfinite(m.target.sentences):
            reach = max(reach, min(m.target.sentences * 1.1, curve.n_max * 4))
        inside = np.linspace(curve.n_min, curve.n_max, 150)
        beyond = np.linspace(curve.n_max, reach, 100)
        ax.plot(inside, curve.predict(inside), color=CURVE, linewidth=1.4, label="power law")
        lo, hi = curve.predict_interval(beyond)
        ax.fill_between(beyond, lo, hi, color=CURVE, alpha=0.15, linewidth=0)
        ax.plot(beyond, curve.predict(beyond), color=CURVE, linewidth=1.4, linestyle="--",
                label="extrapolation")
        x_right = reach
    ax.axhline(analysis.settings.target_f1, color="0.4", linewidth=0.8, linestyle=(0, (1, 3)))
    ax.set_xlim(0, x_right * 1.02)


def _eps_panel(ax, analysis: Analysis, m: BackendModels, rows: pd.DataFrame) -> None:
    """One backend's F1-vs-EPS panel, with the training EPS marked."""
    _runs(ax, rows["eps"], rows["f1"])
    _gam_and_threshold(ax, m, "eps")
    if analysis.training_eps is not None:
        ax.axvline(analysis.training_eps, color="0.3", linewidth=0.8, linestyle="--",
                   label="training EPS")


def curve_overview(analysis: Analysis) -> Figure:
    """All backends' fitted power laws with bootstrap bands, and fixed baselines as lines."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(7.5, 3.8), layout="constrained")
        ax = fig.subplots()
        colors = matplotlib.colormaps["tab10"].colors
        right = 0.0
        curves = [m for m in analysis.models.values() if m.curve is not None]
        for color, m in zip(colors, curves, strict=False):
            c = m.curve
            sizes = np.linspace(c.n_min, c.n_max * 1.6, 200)
            lo, hi = c.predict_interval(sizes)
            ax.fill_between(sizes, lo, hi, color=color, alpha=0.15, linewidth=0)
            ax.plot(sizes, c.predict(sizes), color=color, linewidth=1.4, label=plain(m.backend))
            right = max(right, sizes[-1])
        for m in analysis.models.values():
            if m.modelled:
                continue
            rows = analysis.runs.loc[analysis.runs["backend"] == m.backend]
            ax.axhline(float(rows["f1"].mean()), color="0.35", linewidth=1, linestyle="--",
                       label=f"{plain(m.backend)} (fixed)")
        ax.axhline(analysis.settings.target_f1, color="0.5", linewidth=0.8,
                   linestyle=(0, (1, 3)), label=f"target F1 {analysis.settings.target_f1:.2f}")
        ax.set_xlim(0, right * 1.02 if right else None)
        ax.set_ylim(0, 1)
        ax.set_xlabel("Training sentences")
        ax.set_ylabel("Predicted test F1")
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
