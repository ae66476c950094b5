"""Commands: analyze, report, plan — from a study's runs to how many sentences to annotate."""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_type_hints

import typer

from nercurve.cli.app import app
from nercurve.cli.options import CorpusReading, reads_corpus

if TYPE_CHECKING:
    import pandas as pd

    from nercurve.analysis import Analysis

RUNS_ARG = typer.Argument(help="A study folder (with results.sqlite) or a CSV of runs "
                               "(columns backend, n_sentences, eps, f1).")
TargetOpt = Annotated[float, typer.Option("--target-f1", help="The F1 to plan for.")]
BootOpt = Annotated[int, typer.Option("--n-boot", min=100,
                                      help="Bootstrap resamples for every CI and test.")]
SeedOpt = Annotated[int, typer.Option(help="Seed of the bootstrap resampling.")]
BackendsOpt = Annotated[list[str] | None, typer.Option(
    "--backend", help="Analyse only this backend (repeatable; default: all).")]
GainOpt = Annotated[float, typer.Option(
    "--min-gain", help="F1 gain per --step sentences below which the curve counts as flat.")]
StepOpt = Annotated[float, typer.Option(
    "--step", help="Sentences per step of the gain question (the 'next 100 sentences').")]
LevelOpt = Annotated[float, typer.Option(
    "--level", help="Confidence level of every interval (0.95 = 95% CIs).")]
AdjustOpt = Annotated[list[str] | None, typer.Option(
    "--adjust", help="A run column used as an adjustment covariate in the threshold models "
                     "(repeatable), e.g. --adjust seed.")]
FamilyOpt = Annotated[list[str] | None, typer.Option(
    "--family", help="Threshold model to fit, e.g. upperhinge (repeatable; default: every "
                     "model; an unknown name is answered with the list).")]
AgreementOpt = Annotated[Path | None, typer.Option(
    "--agreement", help="The output of `nercurve agree --json`: the annotators' agreement is "
                        "drawn as the ceiling of the curves and each backend compared with it.")]
MinutesOpt = Annotated[float | None, typer.Option(
    "--minutes-per-sentence", min=0.0, help="Annotation speed: turns the sentences still to "
                                            "annotate into annotator hours (with the CI).")]


@dataclass(frozen=True)
class AnalysisFlags:
    """What the analysis flags of ``analyze`` and ``report`` ask for."""

    settings: dict[str, Any]
    backend: list[str] | None
    family: list[str] | None
    adjust: list[str] | None
    agreement: Path | None

    def analyse(self, runs: Path) -> Analysis:
        """Load the runs (and the agreement file) and analyse them as the flags say."""
        from nercurve.analysis import analyze, load_runs
        from nercurve.analysis.ceiling import load_agreement

        ceiling = load_agreement(self.agreement) if self.agreement is not None else None
        return analyze(load_runs(runs), backends=self.backend or None,
                       **({"families": self.family} if self.family else {}),
                       adjust=self.adjust or (), agreement=ceiling, **self.settings)


# The analysis flags, in the order --help lists them: name, annotation, default.
_ANALYSIS_FLAGS: tuple[tuple[str, Any, Any], ...] = (
    ("target_f1", TargetOpt, 0.9),
    ("backend", BackendsOpt, None),
    ("min_gain", GainOpt, 0.005),
    ("step", StepOpt, 100),
    ("level", LevelOpt, 0.95),
    ("family", FamilyOpt, None),
    ("adjust", AdjustOpt, None),
    ("agreement", AgreementOpt, None),
    ("minutes_per_sentence", MinutesOpt, None),
    ("n_boot", BootOpt, 1000),
    ("seed", SeedOpt, 0),
)
_SELECTIONS = ("backend", "family", "adjust", "agreement")


def analyses_runs(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command the analysis flags (--target-f1, --backend, ..., --seed) where its
    ``flags: AnalysisFlags`` parameter stands, and call it with the :class:`AnalysisFlags`
    they describe. Apply it below ``@app.command()``."""
    signature = inspect.signature(command)
    hints = get_type_hints(command, include_extras=True)
    params: list[inspect.Parameter] = []
    for p in signature.parameters.values():
        if p.name != "flags":
            params.append(p.replace(annotation=hints.get(p.name, p.annotation)))
            continue
        params += [inspect.Parameter(name, p.kind, default=default, annotation=annotation)
                   for name, annotation, default in _ANALYSIS_FLAGS]

    @functools.wraps(command)
    def with_flags(**kwargs: Any) -> Any:
        given = {name: kwargs.pop(name) for name, _, _ in _ANALYSIS_FLAGS}
        flags = AnalysisFlags(settings={k: v for k, v in given.items() if k not in _SELECTIONS},
                              **{k: given[k] for k in _SELECTIONS})
        return command(**kwargs, flags=flags)

    signature = signature.replace(parameters=params)
    with_flags.__signature__ = signature  # type: ignore[attr-defined]
    with_flags.__annotations__ = {**{p.name: p.annotation for p in params},
                                  "return": signature.return_annotation}
    return with_flags


@app.command("analyze")
@analyses_runs
def analyze_cmd(
    runs: Annotated[Path, RUNS_ARG],
    flags: AnalysisFlags,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
    out: Annotated[Path | None, typer.Option(
        "-o", "--out", help="Also write every table as CSV into this folder.")] = None,
) -> None:
    """Descriptive table, standardized regression, threshold models, power-law curve and a
    recommendation per backend.

    Example: nercurve analyze runs/coi --target-f1 0.9 --backend spacy -o tables/
    """
    analysis = flags.analyse(runs)
    if out is not None:
        from nercurve.report.tables import write_tables

        out.mkdir(parents=True, exist_ok=True)
        write_tables(analysis, out)
    if as_json:
        typer.echo(json.dumps(analysis.to_dict(), indent=2))
        return
    _print_tables(analysis)
    typer.echo("\n" + analysis.recommendation_text())
    if out is not None:
        typer.echo(f"\ntables written to {out}")


@app.command("report")
@analyses_runs
def report_cmd(
    runs: Annotated[Path, RUNS_ARG],
    output: Annotated[Path, typer.Option("-o", "--output", help="The HTML file to write.")] = (
        Path("report.html")),
    *,
    flags: AnalysisFlags,
) -> None:
    """Write a self-contained HTML report (figures as PNG/SVG and tables as CSV beside it).

    Example: nercurve report runs/coi -o report.html --target-f1 0.9
    """
    from nercurve.report import write_report

    analysis = flags.analyse(runs)
    written = write_report(analysis, output)
    typer.echo(f"report: {written.html.resolve()}")
    typer.echo(f"figures and tables: {written.html.with_name(written.html.stem + '_files')}")
    typer.echo("\n" + analysis.recommendation_text())


@app.command("plan")
@reads_corpus
def plan_cmd(
    pilot: Annotated[Path, typer.Argument(help="The pilot annotation set (any corpus format).")],
    target_f1: Annotated[float, typer.Option("--target-f1", help="The F1 to plan for.")],
    backend: Annotated[str, typer.Option(help="Backend type to plan for (spacy, hf, ...).")],
    reading: CorpusReading,
    sizes: Annotated[str, typer.Option(
        help="Training sizes in documents, comma-separated.")] = "10,20,40,80",
    seeds: Annotated[int, typer.Option(min=1, help="Training seeds per subset.")] = 2,
    subsets: Annotated[int | None, typer.Option(
        min=1, help="Subsets per size (default: enough for at least 10 runs).")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Study folder (default: <pilot name>_plan beside the pilot).")] = None,
    test: Annotated[float, typer.Option(help="Share of documents held out for testing.")] = 0.3,
    dev: Annotated[float, typer.Option(help="Share of documents used as the dev set.")] = 0.1,
    max_steps: Annotated[int | None, typer.Option(
        help="Training step limit passed to the backend (spacy, hf).")] = None,
    n_boot: BootOpt = 1000,
    minutes_per_sentence: MinutesOpt = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes.")] = None,
    drop_changed: Annotated[bool, typer.Option(
        help="When the pilot or the options changed since the last plan in this folder, set "
        "the old runs aside instead of refusing.")] = False,
    task: Annotated[str, typer.Option(
        help="ner (entity spans) or classify (document classes: the answer is in examples; "
        "the target is the --metric).")] = "ner",
    metric: Annotated[str | None, typer.Option(
        help="The outcome of a classification pilot: macro_f1 (default), micro_f1 or "
        "accuracy.")] = None,
) -> None:
    """Run a small study on a pilot set and say how many sentences reach the target F1.

    Rerunning it continues the same study.

    Example: nercurve plan pilot.jsonl --target-f1 0.85 --backend spacy --sizes 10,20,40,80

    Example: nercurve plan notes.jsonl --task classify --target-f1 0.85 --backend tfidf
    """
    from nercurve.cli.progress_view import progress_shown
    from nercurve.errors import ConfigError
    from nercurve.plan import plan_config, run_plan

    try:
        size_list = [int(s) for s in sizes.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"--sizes must be whole numbers separated by commas, not '{sizes}'",
                          hint="e.g. --sizes 10,20,40,80") from None
    config = plan_config(pilot, backend=backend, fmt=reading.fmt, options=reading.options,
                         sizes=size_list, seeds=seeds, subsets=subsets, out=out, test=test,
                         dev=dev, max_steps=max_steps, workers=workers, task=task,
                         metric=metric)
    with progress_shown() as update:
        found = run_plan(config, target_f1=target_f1, n_boot=n_boot,
                         minutes_per_sentence=minutes_per_sentence, on_progress=update,
                         on_notices=lambda notices: reading.report(notices, str(pilot)),
                         drop_changed=drop_changed)
    typer.echo(f"\nstudy: {found.study_dir}  ({found.runs} runs)")
    typer.echo(found.answer)


@app.command("plan-test")
def plan_test_cmd(
    study: Annotated[Path, typer.Argument(help="A study folder (with results.sqlite).")],
    detect: Annotated[float | None, typer.Option(
        "--detect", help="An F1 difference to detect: how many test documents it needs.")] = None,
    power: Annotated[float, typer.Option(help="The power to detect a difference with.")] = 0.8,
    alpha: Annotated[float, typer.Option(help="The two-sided level of the test.")] = 0.05,
    share: Annotated[list[float] | None, typer.Option(
        "--share", help="Another test share to compare (repeatable; default 0.2 and 0.4).")] = None,
    n_boot: BootOpt = 1000,
    seed: SeedOpt = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Is the test set big enough? The smallest F1 difference between two arms or two sizes
    it detects, the test documents a chosen difference needs, what a 20% or 40% test split
    would resolve, and how much of the run-to-run spread of F1 is test-set noise.

    Example: nercurve plan-test runs/coi --detect 0.02
    """
    from nercurve.analysis import load_runs
    from nercurve.analysis.testset import SHARES, plan_test

    if not study.is_dir():
        from nercurve.errors import InputError

        raise InputError("plan-test reads a study folder", file=study,
                         hint="pass the output folder of `nercurve run` (it holds results.sqlite)")
    runs = load_runs(study)
    plan = plan_test(runs.frame, runs.task, runs.corpus_stats, n_boot=n_boot, seed=seed,
                     power=power, alpha=alpha, detect=detect,
                     shares=tuple(share) if share else SHARES)
    if as_json:
        typer.echo(json.dumps(plan.to_dict(), indent=2))
        return
    from rich.console import Console

    from nercurve.report.testset import testset_displays

    console = Console()
    for title, frame in testset_displays(plan, runs.task):
        console.print(_rich_table(title, frame))
    from nercurve.analysis.recommend import arms_words, testset_headline, testset_words

    said = [testset_headline(plan, runs.task), arms_words(plan, runs.task),
            *(testset_words(plan, b, runs.task) for b in runs.backends)]
    typer.echo("\n" + "\n".join(t for t in said if t))


def _print_tables(analysis: Analysis) -> None:
    """Print the display tables with rich."""
    from rich.console import Console

    from nercurve.report.tables import (
        curve_display,
        descriptive_display,
        regression_display,
        threshold_display,
    )

    console = Console()
    for title, frame in [("Descriptive statistics", descriptive_display(analysis)),
                         (f"Standardized regression of {analysis.task.words.outcome}",
                          regression_display(analysis)),
                         ("Threshold models", threshold_display(analysis)),
                         ("Learning curves (★ chosen by extrapolation error)",
                          curve_display(analysis))]:
        console.print(_rich_table(title, frame))


def _rich_table(title: str, frame: pd.DataFrame):
    """A rich Table of a display frame (every cell as text, markup off)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left")
    for column in frame.columns:
        table.add_column(Text(str(column)), overflow="fold")
    for row in frame.itertuples(index=False):
        table.add_row(*(Text(str(v)) for v in row))
    return table
