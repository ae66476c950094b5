"""Tables: the analysis tables as CSV files, and their rounded display versions for the page."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from nercurve.analysis.recommend import about

if TYPE_CHECKING:
    from nercurve.analysis import Analysis

PREDICTOR_LABELS = {"n_sentences": "Sentences", "eps": "EPS"}


def write_tables(analysis: Analysis, folder: Path) -> list[Path]:
    """Write every analysis table as ``folder/<name>.csv`` (full precision); return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in analysis.tables().items():
        path = folder / f"{name}.csv"
        frame.to_csv(path, index=False)
        paths.append(path)
    return paths


def num(value: float, digits: int = 2) -> str:
    """A number with fixed decimals, '–' when missing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:,.{digits}f}"


def pval(p: float) -> str:
    """A p-value for a table: '<0.001' or three decimals."""
    if p is None or not math.isfinite(p):
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def ci(lo: float, hi: float, fmt=num) -> str:
    """An interval 'lo–hi' ('to ∞' when open above)."""
    if lo is None or not math.isfinite(lo):
        return "–"
    if hi is None or not math.isfinite(hi):
        return f"{fmt(lo)} to ∞"
    return f"{fmt(lo)}–{fmt(hi)}"


def _value(predictor: str):
    """Formatter for values of a predictor: whole sentences or two-decimal EPS."""
    return about if predictor == "n_sentences" else num


def descriptive_display(analysis: Analysis) -> pd.DataFrame:
    """Table 2 layout: backend, variable, runs, range, mean, SD."""
    d = analysis.descriptive
    digits = {"EPS": 2, "F1": 3}
    return pd.DataFrame({
        "Backend": d["backend"],
        "Variable": d["variable"],
        "Runs": d["runs"].map(str),
        "Range": [f"{num(lo, digits.get(v, 0))}–{num(hi, digits.get(v, 0))}"
                  for lo, hi, v in zip(d["min"], d["max"], d["variable"], strict=True)],
        "Mean": [num(m, digits.get(v, 1)) for m, v in zip(d["mean"], d["variable"], strict=True)],
        "SD": [num(s, digits.get(v, 1)) for s, v in zip(d["sd"], d["variable"], strict=True)],
    })


def regression_display(analysis: Analysis) -> pd.DataFrame:
    """Table 3 layout: standardized β (p) per predictor, F(df1, df2), p, R²."""
    r = analysis.regression_table()
    if r.empty:
        return r
    out = pd.DataFrame({"Backend": r["backend"], "Runs": r["runs"].map(str)})
    for predictor, label in PREDICTOR_LABELS.items():
        if f"beta_{predictor}" in r.columns:
            out[f"β {label} (p)"] = [f"{num(b, 3)} ({pval(p)})" for b, p in
                                     zip(r[f"beta_{predictor}"], r[f"p_{predictor}"],
                                         strict=True)]
    out["F (df)"] = [f"{num(f, 1)} ({d1}, {d2})" for f, d1, d2 in
                     zip(r["F"], r["df_model"], r["df_resid"], strict=True)]
    out["p"] = r["p"].map(pval)
    out["R²"] = r["r2"].map(lambda v: num(v, 3))
    out["Standard errors"] = r["se_kind"]
    return out


def threshold_display(analysis: Analysis) -> pd.DataFrame:
    """Every threshold model and the straight line, with CIs, slopes, p and ΔAIC.

    Slopes are in F1 points per 100 sentences or per 0.1 EPS.
    """
    t = analysis.threshold_table()
    if t.empty:
        return t
    rows = []
    for rec in t.to_dict(orient="records"):
        predictor = rec["predictor"]
        fmt = _value(predictor)
        step, per = (100, "/100 sent.") if predictor == "n_sentences" else (0.1, "/0.1 EPS")
        is_line = rec["model"] == "line"
        before, after = (num(100 * step * rec[k], 2) for k in ("slope_before", "slope_after"))
        rows.append({
            "Backend": rec["backend"],
            "Predictor": PREDICTOR_LABELS.get(predictor, predictor),
            "Model": rec["model"] + (" ★" if rec["best"] else ""),
            "Threshold (95% CI)": "–" if is_line else (
                f"{fmt(rec['threshold'])} ({ci(rec['ci_low'], rec['ci_high'], fmt)})"),
            "Symmetric CI": "–" if is_line else ci(rec["sym_ci_low"], rec["sym_ci_high"], fmt),
            "Slope before → after": f"{before} → {after} {per}",
            "F1 at threshold": "–" if is_line else num(rec["level"], 3),
            "p vs line": "–" if is_line else pval(rec["p_vs_line"]),
            "ΔAIC": num(rec["delta_aic"], 1),
        })
    return pd.DataFrame(rows)


def curve_display(analysis: Analysis) -> pd.DataFrame:
    """Power-law parameters and predictions with their CIs."""
    c = analysis.curve_table()
    if c.empty:
        return c
    s = analysis.settings
    gain = f"gain_next_{s.step:g}"
    plateau = f"plateau_gain_{s.min_gain:g}"
    out = pd.DataFrame({
        "Backend": c["backend"],
        "a (95% CI)": [f"{num(a, 3)} ({ci(lo, hi, lambda v: num(v, 3))})" for a, lo, hi
                       in zip(c["a"], c["a_ci_low"], c["a_ci_high"], strict=True)],
        "c (95% CI)": [f"{num(v, 2)} ({ci(lo, hi)})" for v, lo, hi
                       in zip(c["c"], c["c_ci_low"], c["c_ci_high"], strict=True)],
        "F1 at max n": [f"{num(f, 3)} ({about(n)})" for f, n
                        in zip(c["f1_at_n_max"], c["n_max"], strict=True)],
        f"Next {s.step:g} sent. (points)": [
            f"{num(100 * g, 1)} ({ci(100 * lo, 100 * hi, lambda v: num(v, 1))})"
            for g, lo, hi in zip(c[gain], c["gain_ci_low"], c["gain_ci_high"], strict=True)],
        f"Flat (<{100 * s.min_gain:g} pt) after": [
            f"{about(v)} ({ci(lo, hi, about)})" for v, lo, hi
            in zip(c[plateau], c["plateau_ci_low"], c["plateau_ci_high"], strict=True)],
    })
    if "target_sentences" in c.columns:
        out[f"n for F1 {s.target_f1:.2f}"] = [
            (f"{about(v)} ({ci(lo, hi, about)})" if ok else "out of reach")
            for v, lo, hi, ok in zip(c["target_sentences"], c["target_ci_low"],
                                     c["target_ci_high"], c["target_reachable"], strict=True)]
    return out


def runs_display(analysis: Analysis) -> pd.DataFrame:
    """The per-run table with rounded numbers."""
    frame = analysis.runs.copy()
    for column in frame.columns:
        if pd.api.types.is_float_dtype(frame[column]):
            whole = frame[column].dropna().mod(1).eq(0).all()
            frame[column] = frame[column].map(lambda v, w=whole: num(v, 0 if w else 3))
    return frame.astype(str)
