"""Display tables of a test-set plan (:mod:`nercurve.analysis.testset`), for the report's
section and ``nercurve plan-test``: rounded numbers, headings in the task's words."""

from __future__ import annotations

import pandas as pd

from nercurve.analysis.recommend import about
from nercurve.analysis.testset import TestPlan
from nercurve.report.tables import num
from nercurve.tasks import Task, title


def testset_displays(plan: TestPlan, task: Task) -> list[tuple[str, pd.DataFrame]]:
    """(caption, display table) of the comparisons (arm @ size; SE and runs are in the JSON
    and CSV tables), the variance decomposition and, with the
    study's corpus statistics, the hold-out shares."""
    w = task.words
    o = w.outcome
    power = f"{plan.power:.0%}"
    c = plan.comparisons
    comparisons = pd.DataFrame({
        "A": [f"{b} @ {about(s)}" for b, s in zip(c["backend_a"], c["size_a"], strict=True)],
        "B": [f"{b} @ {about(s)}" for b, s in zip(c["backend_b"], c["size_b"], strict=True)],
        f"{o} A": c["f1_a"].map(lambda v: num(v, 3)),
        f"{o} B": c["f1_b"].map(lambda v: num(v, 3)),
        "B − A": c["diff"].map(lambda v: f"{v:+.3f}"),
        f"MDD ({power})": c["mdd"].map(lambda v: num(v, 3)),
        "Power": c["power"].map(lambda v: f"{v:.0%}"),
        "Resolved": c["resolved"].map({True: "yes", False: "no"}),
    })
    if plan.detect is not None:
        comparisons[f"Docs for {plan.detect:g}"] = c["docs_needed"].map(
            lambda v: "–" if pd.isna(v) else f"{int(v):,}")
    v = plan.variance
    variance = pd.DataFrame({
        "Backend": v["backend"],
        title(w.unit): v["size"].map(about),
        "Runs": v["runs"],
        f"Run-to-run SD of {o}": v["run_sd"].map(lambda x: num(x, 4)),
        "Test-set SD within a run": v["boot_sd"].map(lambda x: num(x, 4)),
        "Test-set noise SD between runs": v["noise_sd"].map(lambda x: num(x, 4)),
        "Share of run-to-run variance": v["share"].map(
            lambda x: "–" if pd.isna(x) else f"{x:.0%}"),
    })
    out = [(f"Differences between arms at one size and between adjacent sizes, with the "
            f"smallest difference this test set of {plan.n_docs:,} documents detects (MDD, "
            f"{power} power, {plan.alpha:.0%} two-sided; paired bootstrap over test documents, "
            f"{plan.n_boot:,} resamples)", comparisons),
           (f"Variance decomposition per size: run-to-run spread of {o} against test-set "
            "noise", variance)]
    if plan.splits is not None:
        s = plan.splits
        splits = pd.DataFrame({
            "Test share": [f"{x:.0%}" + (" (now)" if now else "")
                           for x, now in zip(s["test_share"], s["current"], strict=True)],
            "Test documents": s["test_docs"].map(lambda x: f"{x:,}"),
            f"MDD ({power})": s["mdd"].map(lambda x: num(x, 3)),
            "Pool documents moved": s["pool_docs_moved"].map(lambda x: f"{x:+,}"),
            f"Pool {w.unit} moved": s["pool_units_moved"].map(lambda x: f"{x:+,.0f}"),
            f"Pool {w.unit} left": s["pool_units_left"].map(lambda x: f"{x:,.0f}"),
            f"Largest training set ({w.unit})": s["largest_size"].map(about),
            "Still fits": s["fits"].map({True: "yes", False: "no"}),
        })
        out.append(("Hold-out share as a design choice: what another test split would "
                    "resolve, and what it takes from the training pool", splits))
    return out
