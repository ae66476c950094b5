"""Standardized multiple linear regression of F1 on training size and EPS (Majdik et al., Table 3).

Every variable (F1 and the predictors) is z-scored with the sample SD (n − 1) and the z-scores
are fitted by ordinary least squares with statsmodels, so the coefficients are standardized
betas. Their t tests and p-values equal those of the unstandardized fit (a linear rescaling
changes neither); R² and the overall F test are those of the model.

When a subset was trained with several seeds, its runs are not independent observations: the
standard errors, t tests and the overall (Wald) F test are then cluster-robust by subset
(statsmodels ``cov_type="cluster"``, t and F with G − 1 denominator degrees of freedom for G
subsets). With one run per subset the fit is the plain OLS of the Majdik study.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nercurve.errors import AnalysisError

DEFAULT_PREDICTORS = ("n_sentences", "eps")


@dataclass(frozen=True)
class StandardizedRegression:
    """Standardized OLS fit of F1 on ``predictors`` for one backend."""

    backend: str
    n: int
    predictors: tuple[str, ...]
    beta: dict[str, float]
    se: dict[str, float]
    t: dict[str, float]
    p: dict[str, float]
    f_statistic: float
    df_model: int
    df_resid: int
    f_pvalue: float
    r2: float
    adj_r2: float
    clusters: int | None = None

    @property
    def se_kind(self) -> str:
        """How the standard errors were computed, in words."""
        if self.clusters is None:
            return "OLS"
        return f"cluster-robust by subset ({self.clusters} subsets)"

    def row(self) -> dict[str, float | int | str]:
        """A flat dict: one row of the regression table."""
        out: dict[str, float | int | str] = {"backend": self.backend, "runs": self.n}
        for name in self.predictors:
            out[f"beta_{name}"] = self.beta[name]
            out[f"se_{name}"] = self.se[name]
            out[f"p_{name}"] = self.p[name]
        out.update({
            "F": self.f_statistic, "df_model": self.df_model, "df_resid": self.df_resid,
            "p": self.f_pvalue, "r2": self.r2, "adj_r2": self.adj_r2,
            "se_kind": self.se_kind,
        })
        return out


def standardized_regression(
    frame: pd.DataFrame,
    predictors: Sequence[str] = DEFAULT_PREDICTORS,
    *,
    outcome: str = "f1",
    backend: str = "",
    cluster: str | None = "subset_id",
) -> StandardizedRegression:
    """Fit the standardized regression ``outcome ~ predictors`` on the rows of ``frame``.

    Rows sharing a value of the ``cluster`` column (the runs of one subset with several seeds)
    get cluster-robust standard errors; a missing column or all-distinct values give plain OLS.
    Raises AnalysisError when a variable is constant or there are too few runs for the number
    of predictors.
    """
    import statsmodels.api as sm

    predictors = tuple(predictors)
    columns = (outcome, *predictors)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AnalysisError(f"the runs lack the column(s) {', '.join(missing)}",
                            hint="regression predictors must be columns of the runs table")
    data = frame.loc[:, list(columns)].astype(float)
    n = len(data)
    if n < len(predictors) + 3:
        raise AnalysisError(
            f"{backend or 'the data'}: {n} runs are too few for a regression on "
            f"{len(predictors)} predictor(s)", hint="run more subsets",
        )
    sd = data.std(ddof=1)
    constant = [c for c in columns if not sd[c] > 0]
    if constant:
        raise AnalysisError(
            f"{backend or 'the data'}: {', '.join(constant)} does not vary across runs, so it "
            "cannot be standardized", hint="a regression needs subsets that differ in it",
        )
    z = (data - data.mean()) / sd
    exog = sm.add_constant(z.loc[:, list(predictors)].to_numpy(), has_constant="add")
    if np.linalg.matrix_rank(exog) < exog.shape[1]:
        raise AnalysisError(
            f"{backend or 'the data'}: the predictors {', '.join(predictors)} are collinear",
            hint="drop one of them",
        )
    groups = _cluster_codes(frame, cluster)
    model = sm.OLS(z[outcome].to_numpy(), exog)
    if groups is None:
        fit = model.fit()
        df_resid = int(fit.df_resid)
    else:
        fit = model.fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
        df_resid = int(fit.df_resid_inference)
    names = ("const", *predictors)

    def by_name(values: np.ndarray) -> dict[str, float]:
        return {k: float(v) for k, v in zip(names, values, strict=True) if k != "const"}

    return StandardizedRegression(
        backend=backend, n=n, predictors=predictors,
        beta=by_name(fit.params), se=by_name(fit.bse), t=by_name(fit.tvalues),
        p=by_name(fit.pvalues), f_statistic=float(fit.fvalue), df_model=int(fit.df_model),
        df_resid=df_resid, f_pvalue=float(fit.f_pvalue), r2=float(fit.rsquared),
        adj_r2=float(fit.rsquared_adj), clusters=None if groups is None else int(groups.max() + 1),
    )


def _cluster_codes(frame: pd.DataFrame, cluster: str | None) -> np.ndarray | None:
    """Integer cluster codes when ``cluster`` is a column with repeated values, else None."""
    if cluster is None or cluster not in frame.columns:
        return None
    codes, uniques = pd.factorize(frame[cluster])
    if len(uniques) == len(frame) or (codes < 0).any():
        return None
    if len(uniques) < 3:
        raise AnalysisError(f"only {len(uniques)} training subset(s): too few for "
                            "cluster-robust standard errors", hint="run more subsets")
    return codes
