"""The learning-curve tables: every family's parameters and predictions side by side."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from nercurve.analysis.families import CurveChoice, CurveFit


def curve_row(fit: CurveFit, *, step: float, min_gain: float, target_f1: float
              ) -> dict[str, Any]:
    """A fit's predictions with their CIs: F1 at the largest training size and at twice it,
    the gain of the next ``step`` sentences there, where gains drop below ``min_gain``, the
    sentences for the target F1 (and their ratio to the largest size), and its flags.

    ``target_reachable`` says whether the fitted curve reaches the target F1,
    ``target_undecided`` that the runs cannot tell (``TargetSize.undecided``: the curve
    levels off below the target, but the ceiling's CI includes it), so a False
    ``target_reachable`` reads as out of reach only where ``target_undecided`` is False."""
    gain, (g_lo, g_hi) = fit.gain(fit.n_max, step)
    plateau, (p_lo, p_hi) = fit.plateau(min_gain, step)
    at = [fit.n_max, 2 * fit.n_max]
    f1, (lo, hi) = fit.predict(at), fit.predict_interval(at)
    t = fit.sentences_for(target_f1)
    return {
        "runs": fit.n, "rmse": fit.rmse, "line_rmse": math.sqrt(fit.line_rss / fit.n),
        "extrapolation_rmse": fit.extrapolation_rmse, "n_min": fit.n_min, "n_max": fit.n_max,
        "f1_at_n_max": float(f1[0]), "f1_at_n_max_ci_low": float(lo[0]),
        "f1_at_n_max_ci_high": float(hi[0]), "f1_at_2x_n_max": float(f1[1]),
        "f1_at_2x_n_max_ci_low": float(lo[1]), "f1_at_2x_n_max_ci_high": float(hi[1]),
        f"gain_next_{step:g}": gain, "gain_ci_low": g_lo, "gain_ci_high": g_hi,
        f"plateau_gain_{min_gain:g}": plateau, "plateau_ci_low": p_lo,
        "plateau_ci_high": p_hi, "target_f1": t.target, "target_reachable": t.reachable,
        "target_undecided": t.undecided,
        "target_sentences": t.sentences, "target_ci_low": t.ci[0], "target_ci_high": t.ci[1],
        "target_share_unreachable": t.share_unreachable,
        "target_ratio_to_n_max": t.sentences / fit.n_max, "ceiling": t.ceiling,
        "flags": "; ".join(fit.flags()),
    }


def parameter_text(fit: CurveFit) -> str:
    """'a = 0.895 (0.889–0.897), b = ...': the parameters with their CIs."""
    cis = fit.param_ci()
    return ", ".join(f"{name} = {value:.4g} ({cis[name][0]:.4g}–{cis[name][1]:.4g})"
                     for name, value in fit.params.items())


def families_table(choices: dict[str, CurveChoice], *, step: float, min_gain: float,
                   target_f1: float) -> pd.DataFrame:
    """One row per backend and learning-curve family: whether it was chosen and on what
    basis, its parameters, its extrapolation error and its predictions."""
    rows = []
    for backend, choice in choices.items():
        for family, fit in choice.fits.items():
            rows.append({"backend": backend, "family": family,
                         "chosen": family == choice.chosen, "basis": choice.basis,
                         "holdout_from": choice.holdout_from, "parameters": parameter_text(fit)}
                        | curve_row(fit, step=step, min_gain=min_gain, target_f1=target_f1))
    return pd.DataFrame(rows)
