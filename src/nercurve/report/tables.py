"""Tables: the analysis tables as CSV files, and their rounded display versions for the page."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from nercurve.analysis.recommend import about, duration
from nercurve.tasks import title

if TYPE_CHECKING:
    from nercurve.analysis import Analysis
    from nercurve.tasks import Task


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


def _value(predictor: str, task: Task):
    """Formatter for values of a predictor: whole sentences (examples) or two-decimal EPS
    (minority share)."""
    return about if predictor == task.size else num


def descriptive_display(analysis: Analysis) -> pd.DataFrame:
    """Table 2 layout: backend, variable, runs, range, mean, SD."""
    d = analysis.descriptive
    digits = {"EPS": 2, "Minority share": 2, "F1": 3}
    outcome = analysis.task.words.outcome
    return pd.DataFrame({
        "Backend": d["backend"],
        "Variable": d["variable"].map(lambda v: outcome if v == "F1" else v),
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
    for predictor in analysis.task.predictors:
        if f"beta_{predictor}" in r.columns:
            out[f"β {analysis.task.label(predictor)} (p)"] = [f"{num(b, 3)} ({pval(p)})" for b, p in
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

    Slopes are in F1 points per 100 sentences or per 0.1 EPS (classification: examples,
    minority share).
    """
    t = analysis.threshold_table()
    if t.empty:
        return t
    task = analysis.task
    rows = []
    for rec in t.to_dict(orient="records"):
        predictor = rec["predictor"]
        fmt = _value(predictor, task)
        step, per = task.per_abbr(predictor)
        is_line = rec["model"] == "line"
        before, after = (num(100 * step * rec[k], 2) for k in ("slope_before", "slope_after"))
        rows.append({
            "Backend": rec["backend"],
            "Predictor": task.label(predictor),
            "Model": rec["model"] + (" ★" if rec["best"] else ""),
            "Threshold (95% CI)": "–" if is_line else (
                f"{fmt(rec['threshold'])} ({ci(rec['ci_low'], rec['ci_high'], fmt)})"),
            "Symmetric CI": "–" if is_line else ci(rec["sym_ci_low"], rec["sym_ci_high"], fmt),
            "Slope before → after": f"{before} → {after} {per}",
            f"{title(task.words.outcome)} at threshold": "–" if is_line else num(rec["level"], 3),
            "p vs line": "–" if is_line else pval(rec["p_vs_line"]),
            "ΔAIC": num(rec["delta_aic"], 1),
            "Cautions": _threshold_cautions(rec),
        })
    return pd.DataFrame(rows)


def _threshold_cautions(rec: dict) -> str:
    """A threshold model's flags (estimate on the grid's edge, a cut or degenerate CI)."""
    flags = rec.get("flags")
    return flags if isinstance(flags, str) and flags else "–"


def curve_display(analysis: Analysis) -> pd.DataFrame:
    """Every learning-curve family side by side (★ the one chosen): parameters, extrapolation
    error, predictions with their CIs, and the problems of each fit."""
    c = analysis.families_table()
    if c.empty:
        return c
    s, w = analysis.settings, analysis.task.words
    gain = f"gain_next_{s.step:g}"
    plateau = f"plateau_gain_{s.min_gain:g}"
    def f1(v: float) -> str:
        return num(v, 3)

    def pts(v: float) -> str:
        return num(v, 1)

    rows = []
    for r in c.to_dict(orient="records"):
        at_2x = ci(r["f1_at_2x_n_max_ci_low"], r["f1_at_2x_n_max_ci_high"], f1)
        gained = ci(100 * r["gain_ci_low"], 100 * r["gain_ci_high"], pts)
        flat = ci(r["plateau_ci_low"], r["plateau_ci_high"], about)
        needed = ci(r["target_ci_low"], r["target_ci_high"], about)
        rows.append({
            "Backend": r["backend"],
            "Curve": r["family"] + (" ★" if r["chosen"] else ""),
            "Parameters (95% CI)": r["parameters"],
            "Extrapolation RMSE": num(r["extrapolation_rmse"], 4),
            f"{title(w.outcome)} at max n": f"{f1(r['f1_at_n_max'])} ({about(r['n_max'])})",
            f"{title(w.outcome)} at 2× max n": f"{f1(r['f1_at_2x_n_max'])} ({at_2x})",
            f"Next {s.step:g} {w.unit_abbr} (points)": f"{pts(100 * r[gain])} ({gained})",
            f"Flat (<{100 * s.min_gain:g} pt) after": f"{about(r[plateau])} ({flat})",
            f"n for {w.outcome} {s.target_f1:.2f}": (
                f"{about(r['target_sentences'])} ({needed})" if r["target_reachable"]
                else "runs cannot tell" if r["target_undecided"] else "out of reach"),
            "Cautions": r["flags"] or "–",
        })
    return pd.DataFrame(rows)


def selection_display(analysis: Analysis) -> pd.DataFrame:
    """The selection strategies side by side per backend: runs, subsets, the size for the
    target, the sizes saved over the baseline (both levels) with CIs, the selection cost."""
    comparison = analysis.selection
    if comparison is None:
        return pd.DataFrame()
    t = comparison.table()
    w, base = analysis.task.words, comparison.baseline
    goal = f"{w.outcome} {comparison.target_f1:.2f}"
    level = f"{comparison.level:.0%}"
    rows = []
    for r in t.to_dict(orient="records"):
        is_base = bool(r["baseline"])
        rows.append({
            "Backend": r["backend"],
            "Strategy": r["strategy"] + (" (baseline)" if is_base else ""),
            "Runs": f"{r['runs']:,}",
            "Subsets": f"{r['subsets']:,}",
            f"{title(w.outcome)} at max n": (f"{num(r['f1_at_n_max'], 3)} "
                                             f"({about(r['n_max'])})" if r["family"] else "–"),
            f"n for {goal} ({level} CI)": _target_cell(r),
            f"Saved vs {base} at {goal}": "–" if is_base else _saved_cell(r, "saved_target"),
            f"Saved vs {base} at its max-n {w.outcome}": ("–" if is_base
                                                          else _saved_cell(r, "saved_plateau")),
            "Selection cost": _cost_cell(r),
        })
    return pd.DataFrame(rows)


def _target_cell(r: dict) -> str:
    """The size for the target with its CI, or why there is none."""
    if not r["family"]:
        return "no curve"
    if r["target_reachable"]:
        band = ci(r["target_ci_low"], r["target_ci_high"], about)
        return f"{about(r['target_sentences'])} ({band})"
    return "runs cannot tell" if r["target_undecided"] else "out of reach"


def _saved_cell(r: dict, key: str) -> str:
    """A saving with its CI ('–' when none can be given); negative: the strategy needs more."""
    saved = r[key]
    if saved is None or not math.isfinite(saved):
        return "–"
    lo, hi = r[f"{key}_ci_low"], r[f"{key}_ci_high"]
    band = "–" if not math.isfinite(lo) and not math.isfinite(hi) else (
        f"{_signed(lo)} to {_signed(hi)}")
    return f"{_signed(saved)} ({band})" + (" ✓" if r[f"{key}_reliable"] else "")


def _signed(value: float) -> str:
    """A signed size: '−40', '120', '∞'."""
    if not math.isfinite(value):
        return "∞" if value > 0 else "−∞"
    return f"−{about(-value)}" if value < 0 else about(value)


def _cost_cell(r: dict) -> str:
    """Selection cost: computing time and extra training runs ('–' for none)."""
    if r["selection_seconds"] <= 0 and r["selection_runs"] <= 0:
        return "–"
    runs = f", {r['selection_runs']:,} runs" if r["selection_runs"] else ""
    return duration(r["selection_seconds"]) + runs


def selection_sizes_display(analysis: Analysis) -> pd.DataFrame:
    """Mean test F1 (SD) of each strategy per training size."""
    comparison = analysis.selection
    if comparison is None:
        return pd.DataFrame()
    t = comparison.sizes_table()
    w = analysis.task.words
    key = "stratum" if "stratum" in t.columns else "size"
    return pd.DataFrame({
        "Backend": t["backend"], "Strategy": t["strategy"],
        title(key) if key == "stratum" else f"Training {w.unit}": (
            t[key].map(str) if key == "stratum" else t[key].map(lambda v: num(v, 0))),
        "Runs": t["runs"].map(str),
        f"Mean {w.unit}": t["mean_size"].map(lambda v: num(v, 0)),
        f"{title(w.outcome)} mean (SD)": [f"{num(m, 3)} ({num(sd, 3)})"
                                          for m, sd in zip(t["f1_mean"], t["f1_sd"],
                                                           strict=True)],
    })


def multitask_savings_display(analysis: Analysis) -> pd.DataFrame:
    """The target sentences multi-task training saves on the target corpus, per base backend,
    at the target F1 and at single-task's F1 at its largest training set, with CIs."""
    comparison = analysis.multitask
    if comparison is None:
        return pd.DataFrame()
    t = comparison.savings_table()
    w, level = analysis.task.words, f"{comparison.level:.0%}"
    rows = []
    for r in t.to_dict(orient="records"):
        goal = (f"{w.outcome} {r['f1']:.2f} (target)" if r["goal"] == "target" else
                f"{w.outcome} {r['f1']:.2f} (single-task at {about(r['at'])} {w.unit_abbr})")
        rows.append({
            "Backend": r["backend"],
            "Level": goal,
            f"Single-task {w.unit}": _arm_cell(r, "single"),
            f"Multi-task {w.unit} ({level} CI)": _arm_cell(r, "multi"),
            f"Saved ({level} CI)": _multitask_saved_cell(r),
        })
    return pd.DataFrame(rows)


def _arm_cell(r: dict, arm: str) -> str:
    """One arm's target sentences for a level, with its CI (multi-task), or why none."""
    if r[f"{arm}_reachable"]:
        if arm == "single":
            return about(r["single_sentences"])
        band = ci(r["multi_ci_low"], r["multi_ci_high"], about)
        return f"{about(r['multi_sentences'])} ({band})"
    return "runs cannot tell" if r[f"{arm}_undecided"] else "out of reach"


def _multitask_saved_cell(r: dict) -> str:
    """Sentences saved with its CI and ✓ (CI excludes 0), or 'no reliable saving', or '–'."""
    if not r["decided"]:
        return "–"
    band = f"{_signed(r['saved_ci_low'])} to {_signed(r['saved_ci_high'])}"
    said = f"{_signed(r['saved'])} ({band})"
    return said + " ✓" if r["reliable"] else f"{said}: no reliable saving"


def multitask_curves_display(analysis: Analysis) -> pd.DataFrame:
    """Each arm's curve per base backend and test set: runs, F1 at the largest training set
    with its CI, and multi-task's gain there with the paired CI."""
    comparison = analysis.multitask
    if comparison is None:
        return pd.DataFrame()
    t = comparison.curves_table()
    o, level = title(analysis.task.words.outcome), f"{comparison.level:.0%}"

    def f1(v: float) -> str:
        return num(v, 3)

    rows = []
    for r in t.to_dict(orient="records"):
        gain = "–"
        if r["training"] == "multi" and math.isfinite(r["gain_at_n_max"]):
            gain = (f"{r['gain_at_n_max']:+.3f} ({r['gain_ci_low']:+.3f} to "
                    f"{r['gain_ci_high']:+.3f})" + (" ✓" if r["gain_reliable"] else ""))
        band = ci(r["f1_at_n_max_ci_low"], r["f1_at_n_max_ci_high"], f1)
        rows.append({
            "Backend": r["backend"],
            "Test set": f"{r['test_set']} ({r['role']})",
            "Training": f"{r['training']}-task",
            "Runs": f"{r['runs']:,}",
            f"{o} at max n ({level} CI)": (
                f"{f1(r['f1_at_n_max'])} ({band})" if r["family"]
                else f"no curve: {r['no_curve']}"),
            "Gain over single-task": gain,
        })
    return pd.DataFrame(rows)


def multitask_transfer_display(analysis: Analysis) -> pd.DataFrame:
    """Mean F1 per stratum of both arms on the target and each unseen corpus, with
    multi-task's paired gain (empty without unseen corpora)."""
    comparison = analysis.multitask
    t = comparison.transfer_table() if comparison is not None else pd.DataFrame()
    if t.empty:
        return t
    w = analysis.task.words
    out = pd.DataFrame({"Backend": t["base_backend"], "Training": t["training"] + "-task",
                        "Stratum": t["stratum"].map(str), f"Target {w.unit}": t[w.unit].map(
                            lambda v: num(v, 0))})
    for name, column in [("in-domain", "in_domain"),
                         *((n, n) for n in comparison.unseen())]:
        mean = t["f1_in_domain"] if column == "in_domain" else t[f"f1_{column}"]
        out[f"{title(w.outcome)} {name}"] = mean.map(lambda v: num(v, 3))
        out[f"Gain {name}"] = [
            "–" if not math.isfinite(g) else f"{g:+.3f} ({lo:+.3f} to {hi:+.3f})"
            for g, lo, hi in zip(t[f"gain_{column}"], t[f"gain_{column}_ci_low"],
                                 t[f"gain_{column}_ci_high"], strict=True)]
    return out


def runs_display(analysis: Analysis) -> pd.DataFrame:
    """The per-run table with rounded numbers (of every selection strategy, without the
    per-document test counts)."""
    frame = analysis.all_runs.drop(columns=["doc_counts"], errors="ignore")
    for column in frame.columns:
        if pd.api.types.is_float_dtype(frame[column]):
            whole = frame[column].dropna().mod(1).eq(0).all()
            frame[column] = frame[column].map(lambda v, w=whole: num(v, 0 if w else 3))
    return frame.astype(str)
