"""Learning-curve families against known truth, the flags that keep a fit honest, the GAM
basis check, the agreement ceiling and annotator hours."""

from __future__ import annotations

import html
import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from nercurve.analysis import analyze
from nercurve.analysis.ceiling import load_agreement
from nercurve.analysis.families import fit_curves
from nercurve.analysis.gam import fit_gam
from nercurve.analysis.recommend import disagreement
from nercurve.analysis.threshold import threshold_analysis
from nercurve.errors import AnalysisError, InputError

PLATEAU_AT, PLATEAU_F1 = 450, 0.895


def truth(shape: str, n: np.ndarray) -> np.ndarray:
    """Mean F1 of each known learning-curve shape at n training sentences."""
    if shape == "power":
        return 0.9 - 1.2 * n ** -0.5
    if shape == "exponential":
        return 0.88 - 0.6 * np.exp(-n / 150)
    if shape == "loglinear":
        return 0.1 + 0.1 * np.log(n)
    if shape == "rising":  # still rising steadily at the largest sizes: F1 0.59 at 900
        return 0.95 - n ** -0.15
    # the Majdik shape: a rise, then flat from about 450 sentences on
    return PLATEAU_F1 + 0.0014 * np.minimum(n - PLATEAU_AT, 0)


def runs(shape: str, n_runs: int = 300, seed: int = 0) -> pd.DataFrame:
    """A study of 1–200 documents per subset (about 4.5 sentences each), F1 from ``shape``
    with noise that shrinks with size (SD 0.6/√n + 0.005), as the seed study's."""
    rng = np.random.default_rng(seed)
    docs = rng.integers(1, 201, n_runs)
    n = np.maximum(1, rng.poisson(docs * 4.5)).astype(float)
    f1 = np.clip(truth(shape, n) + (0.6 / np.sqrt(n) + 0.005) * rng.standard_normal(n_runs),
                 0, 1)
    return pd.DataFrame({"backend": "m", "subset_id": [f"s{i}" for i in range(n_runs)],
                         "n_sentences": n, "eps": rng.normal(1.3, 0.1, n_runs), "f1": f1})


def test_plateau_then_flat_recommendation_agrees_with_the_data():
    """The case that made the power law contradict the data: its ceiling stuck at 1 with a
    1.000–1.000 CI, F1 below 0 at a few sentences, worse than a line, and a target above the
    plateau 'reached' by extrapolation. The chosen curve is the plateau, and it says flat."""
    analysis = analyze(runs("plateau"), n_boot=300, target_f1=0.9)
    model = analysis.models["m"]
    assert model.curves.chosen == "plateau" and model.curves.basis == "extrapolation"
    assert model.curve.params["threshold"] == pytest.approx(PLATEAU_AT, abs=30)
    text = model.recommendation
    assert re.search(r"gains flatten at about 4\d\d sentences", text)
    assert "would add about 0.0 F1 points" in text
    assert "F1 0.90 is above the fitted ceiling of 0.89" in text
    assert "not predicted to reach it" in text and "cannot tell" not in text
    assert "annotate about" not in text and "disagree" not in text
    # the power law is still fitted, shown and flagged for every problem it has
    flags = model.curves.fits["power"].flags()
    assert any("ceiling a at its bound 1" in f for f in flags)
    assert any("degenerate CI of a" in f for f in flags)
    assert any("worse than a straight line" in f for f in flags)
    assert any(re.search(r"F1 -\d\.\d+ predicted at \d+ sentences", f) for f in flags)
    table = analysis.tables()["curves"]
    assert list(table["family"]) == ["power", "exponential", "loglinear", "plateau"]
    assert table.loc[table["chosen"], "family"].tolist() == ["plateau"]
    chosen = table[table["chosen"]].iloc[0]
    assert not chosen["target_reachable"] and not chosen["target_undecided"]
    assert table.set_index("family").loc["power", "flags"]


@pytest.mark.parametrize("shape", ["power", "exponential", "loglinear"])
def test_curve_answers_agree_with_known_truth(shape):
    """What the recommendation rests on agrees with the truth: whether the next 100 sentences
    beyond the data still add half a point, and the sentences needed for a target inside the
    data and (where the truth still rises) 30% beyond it. Extrapolation cannot always tell
    the families apart; where the chosen curve misses, a rival the recommendation names (one
    that predicts the held-out largest runs as well) must hold the truth."""
    frame = runs(shape, n_runs=250, seed=3)
    n_max = frame["n_sentences"].max()
    choice = fit_curves(frame["n_sentences"], frame["f1"], n_boot=300)
    named = [choice.best, *(choice.fits[f] for f in choice.rivals)]
    true_gain = float(np.diff(truth(shape, np.array([n_max, n_max + 100])))[0])
    assert (choice.best.gain(n_max, 100)[0] >= 0.005) == (true_gain >= 0.005), choice.chosen
    for size in [0.7 * n_max] + ([1.3 * n_max] if shape != "exponential" else []):
        target = float(truth(shape, np.array([size]))[0])
        held = [fit.family for fit in named if (t := fit.sentences_for(target)).reachable
                and t.ci[0] <= size <= t.ci[1]]
        assert held, (choice.chosen, choice.rivals, size)
    assert not [f for f in choice.best.flags() if "bound" in f or "line" in f]


def test_flags_and_extrapolation_caveat_stand_next_to_the_figures():
    frame = runs("plateau")
    forced = fit_curves(frame["n_sentences"], frame["f1"], families=("power",), n_boot=200)
    from nercurve.analysis.recommend import Budget, recommend

    text = recommend("m", threshold=None, curve=forced.best,
                     target=forced.best.sentences_for(0.9), step=100, min_gain=0.005,
                     regression=None, training_eps=None, eps_source="",
                     budget=Budget(have=800, minutes_per_sentence=0.5))
    # the gain and the target each carry the power law's problems right after them
    assert text.count("(caution: ceiling a at its bound 1") == 2
    assert re.search(r"an extrapolation to 1\.\d× the largest training set here", text)
    assert re.search(r"about [\d.,]+ annotator hours at 0\.5 minutes per sentence "
                     r"\(95% CI [\d.,]+–[\d.,]+\)", text)


def test_target_words_never_contradict_the_runs_at_the_largest_sizes():
    from nercurve.analysis.recommend import Observed, recommend

    frame = runs("plateau")
    power = fit_curves(frame["n_sentences"], frame["f1"], families=("power",), n_boot=200).best
    plateau = fit_curves(frame["n_sentences"], frame["f1"], families=("plateau",),
                         n_boot=200).best

    def words(curve, target, observed):
        return recommend("m", threshold=None, curve=curve, target=curve.sentences_for(target),
                         step=100, min_gain=0.005, regression=None, training_eps=None,
                         eps_source="", observed=observed)

    # the curve puts F1 0.90 beyond the data; runs at the top that average 0.93 reach it
    beyond = power.sentences_for(0.9).sentences
    assert beyond > 900
    text = words(power, 0.9, Observed(size=880.0, f1=0.93, runs=30))
    assert ("F1 0.90 is already reached by the runs themselves: the 30 runs at the largest "
            "training sizes (about 880 sentences) average F1 0.930") in text
    assert "annotate about" not in text and "(caution: ceiling a at its bound 1" in text
    # a ceiling below the target that the runs exceed is not "out of reach"
    text = words(plateau, 0.92, Observed(size=880.0, f1=0.925, runs=30))
    assert "already reached by the runs themselves" in text and "it says a ceiling of 0.89" in text
    assert "not predicted to reach it" not in text
    # reached inside the range by the curve, but the runs at the top fall short: both said
    text = words(plateau, 0.8, Observed(size=880.0, f1=0.75, runs=30))
    assert re.search(r"F1 0\.80 is already reached at about \d+ sentences \(within the "
                     r"observed range, though the 30 runs at the largest training sizes "
                     r"\(about 880 sentences\) average only F1 0\.750\)", text)
    # the runs as they are: the top tenth of the sizes
    top = Observed.of(frame["n_sentences"], frame["f1"])
    assert top.runs == (frame["n_sentences"] >= frame["n_sentences"].quantile(0.9)).sum()
    assert top.f1 == pytest.approx(PLATEAU_F1, abs=0.01)


def test_a_ceiling_whose_ci_includes_the_target_never_says_out_of_reach():
    """Curves still rising at the largest sizes (true ceiling 0.95): whichever family is read,
    a fitted ceiling below the target whose CI includes it (always so where the CI runs to
    the bound 1) says that the runs cannot tell and what would tell, never 'not predicted to
    reach'; a CI below the target still says it, and a target inside the data is reached."""
    from nercurve.analysis.recommend import recommend

    said = {"cannot tell": 0, "at bound": 0, "out of reach": 0}
    for seed in range(3):
        frame = runs("rising", n_runs=40, seed=seed)
        choice = fit_curves(frame["n_sentences"], frame["f1"], n_boot=100)
        for curve in choice.fits.values():
            for target in (0.5, 0.62, 0.7):
                t = curve.sentences_for(target)
                text = recommend("m", threshold=None, curve=curve, target=t, step=100,
                                 min_gain=0.005, regression=None, training_eps=None,
                                 eps_source="")
                if t.reachable:
                    continue
                c_lo, c_hi = t.ceiling_ci
                assert t.undecided == (c_hi >= target or not t.ceiling_identified)
                if t.undecided:
                    said["cannot tell"] += 1
                    said["at bound"] += not t.ceiling_identified
                    assert "not predicted to reach" not in text
                    assert (f"the runs cannot tell whether F1 {target:.2f} is reachable: the "
                            f"fitted ceiling of {t.ceiling:.2f} lies below it, but its 95% CI "
                            f"({c_lo:.2f}–{c_hi:.2f})") in text
                    assert (f"runs at training sizes beyond the largest here "
                            f"({curve.n_max:,.0f} sentences) would tell") in text
                else:
                    said["out of reach"] += 1
                    assert c_hi < target and f"{c_hi:.2f}" != "1.00"
                    assert "not predicted to reach it" in text and "cannot tell" not in text
        # a rival as good on the largest runs that cannot tell says so after the dash
        plateau, power = choice.fits["plateau"], choice.fits["power"]
        mine, theirs = plateau.sentences_for(0.62), power.sentences_for(0.62)
        if not (mine.reachable or mine.undecided) and theirs.undecided:
            said["rival"] = 1
            assert (f"not predicted to reach it — but the power-law curve says the runs cannot "
                    f"tell (ceiling {theirs.ceiling:.2f}, CI ") in recommend(
                "m", threshold=None, curve=plateau, target=mine, step=100, min_gain=0.005,
                regression=None, training_eps=None, eps_source="", rivals=[power])
        # the target inside the data: reached, as before
        assert "F1 0.50 is already reached at about" in recommend(
            "m", threshold=None, curve=choice.best, target=choice.best.sentences_for(0.5),
            step=100, min_gain=0.005, regression=None, training_eps=None, eps_source="")
    assert said["at bound"] and said["out of reach"] and said.get("rival"), said


def test_the_runs_cannot_tell_in_the_analysis_plan_report_and_tables():
    """End to end on a curve still rising (the true ceiling 0.95 lies above the target 0.70):
    the chosen curve levels off at 0.60 with a CI to 1, and every answer says the runs
    cannot tell, with the other families' answers after the dash."""
    from nercurve.analysis.ceiling import AgreementCeiling, ceiling_words
    from nercurve.analysis.recommend import plan_answer
    from nercurve.report.tables import curve_display

    analysis = analyze(runs("rising", n_runs=40, seed=0), n_boot=200, target_f1=0.7)
    model = analysis.models["m"]
    assert model.target.undecided and not model.target.ceiling_identified
    text = model.recommendation
    assert "not predicted to reach" not in text
    assert re.search(r"the runs cannot tell whether F1 0\.70 is reachable: the fitted ceiling "
                     r"of 0\.\d\d lies below it, but its 95% CI \(0\.\d\d–1\.00\) runs to its "
                     r"bound 1\.00 and so includes the target; runs at training sizes beyond the "
                     r"largest here \([\d,]+ sentences\) would tell; if it is, the 95% CI of the "
                     r"sentences it takes starts at about [\d,]+ \(\d+\.\d× the largest training "
                     r"set here\) — the other curves as good on the largest runs answer: the "
                     r"log-linear curve says about [\d,]+", text)
    # the truth reaches F1 0.70 at about 10,300 sentences: inside what is said
    true_size = 0.25 ** (-1 / 0.15)
    assert model.target.ci[0] <= true_size
    answer = plan_answer("m", model.target, model.curve, 900.0)
    assert "The pilot cannot tell whether the target is within reach" in answer
    assert "out of reach" not in answer
    table = analysis.tables()["curves"].set_index("family")
    chosen = table.loc[model.curves.chosen]
    assert not chosen["target_reachable"] and chosen["target_undecided"]
    assert not table.loc["loglinear", "target_undecided"]
    shown = curve_display(analysis).set_index("Curve")["n for F1 0.70"]
    assert shown[f"{model.curves.chosen} ★"] == "runs cannot tell"
    agreement = AgreementCeiling(f1=0.7, low=0.7, high=0.7, pairs=1, source="a.json")
    assert "so the runs cannot tell whether more annotation reaches it" in ceiling_words(
        "m", model.curve, agreement)


def test_disagreement_between_curve_and_threshold_model_is_said():
    frame = runs("plateau")
    x, y = frame["n_sentences"].to_numpy(), frame["f1"].to_numpy()
    th = threshold_analysis(x, y, families=("upperhinge",), n_boot=100, n_test=100)
    power = fit_curves(x, y, families=("power",), n_boot=100).best
    words = disagreement(th, power, 0.005, 100)
    assert "disagree" in words and "upperhinge threshold model says F1 is flat" in words
    plateau = fit_curves(x, y, families=("plateau",), n_boot=100).best
    assert disagreement(th, plateau, 0.005, 100) == ""


def test_gam_basis_is_checked_and_enlarged_when_too_small():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 10, 400)
    wiggly = np.sin(2.5 * x) + rng.normal(0, 0.1, x.size)
    gam = fit_gam(x, wiggly)
    first, last = gam.checks[0], gam.checks[-1]
    assert first.k == 9 and first.too_small and first.k_index < 0.5
    assert last.k > first.k and gam.basis_adequate and not last.too_small
    assert np.max(np.abs(gam.fit - np.sin(2.5 * gam.grid))) < 0.15
    smooth = fit_gam(x, 0.5 + 0.3 * np.sin(x / 2) + rng.normal(0, 0.05, x.size))
    assert len(smooth.checks) == 1 and smooth.checks[0].p_value > 0.05


def test_agreement_ceiling_and_hours_reach_the_recommendation(tmp_path):
    agree = {"pairs": [{"a": "A", "b": "B", "overall": {"f1_exact": 0.94}},
                       {"a": "A", "b": "C", "overall": {"f1_exact": 0.9}}]}
    path = tmp_path / "agree.json"
    path.write_text(json.dumps(agree))
    ceiling = load_agreement(path)
    assert ceiling.f1 == pytest.approx(0.92) and (ceiling.low, ceiling.high) == (0.9, 0.94)
    analysis = analyze(runs("power", 150), n_boot=200, target_f1=0.87, agreement=ceiling,
                       minutes_per_sentence=1.5)
    text = analysis.models["m"].recommendation
    assert "Against the annotator agreement F1 0.92, pairs 0.90–0.94" in text
    assert re.search(r"\d+\.\d points below it", text)
    assert "annotator hours at 1.5 minutes per sentence" in text
    assert analysis.to_dict()["settings"]["minutes_per_sentence"] == 1.5
    path.write_text(json.dumps({"pairs": []}))
    with pytest.raises(InputError, match="no annotator pair"):
        load_agreement(path)
    with pytest.raises(AnalysisError, match="minutes per sentence must be positive"):
        analyze(runs("power", 60), n_boot=100, minutes_per_sentence=0)
    assert math.isfinite(ceiling.f1)


def test_cli_agreement_and_minutes_reach_analyze_report_and_fail_cleanly(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    nercurve = str(Path(sys.executable).parent / "nercurve")
    csv = tmp_path / "runs.csv"
    runs("power", 120).to_csv(csv, index=False)
    agree = tmp_path / "agree.json"
    agree.write_text(json.dumps({"pairs": [{"overall": {"f1_exact": 0.95}}]}))
    done = subprocess.run([nercurve, "report", str(csv), "-o", str(tmp_path / "r.html"),
                           "--n-boot", "200", "--target-f1", "0.87", "--agreement", str(agree),
                           "--minutes-per-sentence", "2"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Against the annotator agreement F1 0.95" in done.stdout
    assert "annotator hours at 2 minutes per sentence" in done.stdout
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Against the annotator agreement F1 0.95" in page and "Table 4. Learning-curve" in page
    agree.write_text("not json")
    bad = subprocess.run([nercurve, "analyze", str(csv), "--agreement", str(agree)],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "agreement file is not JSON" in bad.stderr
    assert "Traceback" not in bad.stderr


def _fit_flat(n, y, cluster, n_boot, level, seed):
    """A flat curve F1 = a: its mean, and the mean of each bootstrap resample."""
    rng = np.random.default_rng(seed)
    boot = np.array([[y[rng.integers(0, y.size, y.size)].mean()] for _ in range(n_boot)])
    return np.array([y.mean()]), boot.reshape(n_boot, 1), []


def test_a_new_curve_family_is_one_record(monkeypatch):
    """One CurveFamily record in the registry: fitted, chosen among the others, tabled, said in
    the recommendation's words and listed in the report's methods with the count of families."""
    from nercurve.analysis.families import CURVE_FAMILIES, CurveFamily
    from nercurve.report.html import _methods

    flat = CurveFamily(name="flat", short="flat-line", method="a flat line a (its mean)",
                       parameters=("a",), evaluate=lambda p, n: p[0] + 0.0 * n, fit=_fit_flat)
    monkeypatch.setitem(CURVE_FAMILIES, "flat", flat)
    frame = runs("plateau")
    frame["f1"] = 0.5 + 0.01 * np.random.default_rng(1).standard_normal(len(frame))
    analysis = analyze(frame, n_boot=100, target_f1=0.9)
    table = analysis.tables()["curves"]
    assert list(table["family"]) == ["power", "exponential", "loglinear", "plateau", "flat"]
    fit = analysis.models["m"].curves.fits["flat"]
    assert fit.params["a"] == pytest.approx(frame["f1"].mean())
    assert fit.sentences_for(0.9).ceiling == pytest.approx(frame["f1"].mean())
    methods = _methods(analysis)
    assert "five families are fitted" in methods and "a flat line a (its mean)" in methods
    if analysis.models["m"].curves.chosen == "flat":
        assert "flat-line curve" in analysis.models["m"].recommendation


def test_the_report_lists_the_registries():
    from nercurve.analysis.families import CURVE_FAMILIES
    from nercurve.analysis.threshold import THRESHOLD_MODELS
    from nercurve.report.html import _methods

    methods = _methods(analyze(runs("plateau"), n_boot=100))
    assert "four families are fitted" in methods
    assert all(html.escape(f.method) in methods for f in CURVE_FAMILIES.values())
    assert all(f"{m.name} ({m.words})" in methods for m in THRESHOLD_MODELS.values())
