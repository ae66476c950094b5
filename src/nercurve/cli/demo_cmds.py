"""Command: demo — the whole road on the built-in synthetic corpus."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from nercurve.cli.app import app


@app.command("demo")
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the corpus, config, study and report.")] = (
        Path("demo")
    ),
    docs: Annotated[int, typer.Option(min=10, help="Synthetic statements to generate.")] = 490,
    subsets: Annotated[int, typer.Option(min=1, help="Subsets per stratum.")] = 3,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes.")] = None,
    task: Annotated[str, typer.Option(
        help="ner: the COI statements (spaCy + off-the-shelf); classify: synthetic "
        "smoking-status notes (TF-IDF + spaCy textcat).")] = "ner",
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
    from nercurve.study.example import EXAMPLE_STUDY
    from nercurve.study.example_classify import EXAMPLE_CLASSIFY_STUDY

    if task not in ("ner", "classify"):
        raise ConfigError(f"unknown task {task!r}", hint="choose --task ner or --task classify")
    out.mkdir(parents=True, exist_ok=True)
    if task == "classify":
        from nercurve.synthetic.smoking import generate_smoking

        corpus_path, example, made = out / "smoking.jsonl", EXAMPLE_CLASSIFY_STUDY, "notes"
        generate = generate_smoking
    else:
        from nercurve.synthetic.coi import generate_coi

        corpus_path, example, made = out / "coi.jsonl", EXAMPLE_STUDY, "COI statements"
        generate = generate_coi
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
