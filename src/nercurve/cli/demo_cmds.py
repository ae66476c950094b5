"""Command: demo — the whole road on the built-in synthetic corpus."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from nercurve.cli.app import app
from nercurve.tasks import task_names


@app.command("demo")
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the corpus, config, study and report.")] = (
        Path("demo")
    ),
    docs: Annotated[int, typer.Option(min=10, help="Synthetic statements to generate.")] = 490,
    subsets: Annotated[int, typer.Option(
        min=2, help="Subsets per stratum (2 or more: the analysis needs 10 runs per arm).")] = 3,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes.")] = None,
    task: Annotated[str, typer.Option(
        help="The study's task (" + ", ".join(task_names()) + "). ner: the COI statements "
        "(spaCy + off-the-shelf); classify: synthetic smoking-status notes (TF-IDF + spaCy "
        "textcat).")] = "ner",
) -> None:
    """Synthesize the COI corpus, run a small study (spaCy + off-the-shelf), analyse and report.

    With --task classify: synthetic smoking-status notes and a text-classification study
    (TF-IDF and spaCy textcat arms). Rerunning it continues the same study.

    Example: nercurve demo --out demo

    Example: nercurve demo --task classify --out demo-classify
    """
    from nercurve.cli.study_cmds import print_summary, run_with_progress
    from nercurve.corpus.io import write_corpus
    from nercurve.errors import ConfigError
    from nercurve.study.example import example_config

    example = example_config(task)
    if task == "classify":
        from nercurve.synthetic.smoking import generate_smoking

        corpus_path, made, generate = out / "smoking.jsonl", "notes", generate_smoking
    elif task == "ner":
        from nercurve.synthetic.coi import generate_coi

        corpus_path, made, generate = out / "coi.jsonl", "COI statements", generate_coi
    else:
        raise ConfigError(f"there is no demo corpus for task {task!r}",
                          hint="choose --task ner or --task classify")
    out.mkdir(parents=True, exist_ok=True)
    if not corpus_path.exists():
        write_corpus(generate(docs, 0), corpus_path)
        typer.echo(f"wrote {docs} synthetic {made} to {corpus_path}")
    config_path = out / "study.toml"
    config_path.write_text(
        re.sub(r"subsets_per_stratum = \d+", f"subsets_per_stratum = {subsets}", example),
        encoding="utf-8",
    )
    study_dir = run_with_progress(config_path, workers, retry_failed=False, runs_per_gpu=None)
    print_summary(study_dir)
    write_demo_report(study_dir, out / "report.html")


def write_demo_report(study_dir: Path, report: Path) -> None:
    """Analyse the study, write its report, and print the path and the recommendation."""
    from nercurve.analysis import analyze, load_runs
    from nercurve.report import write_report

    analysis = analyze(load_runs(study_dir))
    written = write_report(analysis, report)
    typer.echo(f"\nreport: {written.html.resolve()}")
    typer.echo(f"figures and tables: {written.html.parent / (written.html.stem + '_files')}")
    typer.echo("\n" + analysis.recommendation_text())
