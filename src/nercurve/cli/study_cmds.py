"""Commands: init-study, run, status, results, design show."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from nercurve.cli.app import app
from nercurve.errors import ConfigError

design_app = typer.Typer(help="Inspect a study's design.\n\nExample: nercurve design show runs/coi",
                         no_args_is_help=True)
app.add_typer(design_app, name="design")


@app.command("init-study")
def init_study(
    path: Annotated[Path, typer.Argument(help="Where to write the example config.")] = Path(
        "study.toml"
    ),
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented example study config.

    Example: nercurve init-study study.toml
    """
    from nercurve.study.example import EXAMPLE_STUDY

    if path.exists() and not force:
        raise ConfigError("file exists", file=path, hint="pass --force to overwrite it")
    path.write_text(EXAMPLE_STUDY, encoding="utf-8")
    typer.echo(f"wrote {path}")


def progress_printer() -> tuple[Any, Any]:
    """A rich progress bar and the callback that feeds it; the bar shows from the first update."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(
        TextColumn("[bold]jobs"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("done {task.fields[done]}  failed {task.fields[failed]}"
                   "  running {task.fields[running]}  ETA {task.fields[eta]}"),
        transient=False,
    )
    task = bar.add_task("jobs", total=None, done=0, failed=0, running=0, eta="?")

    def update(p: Any) -> None:
        if not bar.live.is_started:
            bar.start()
        eta = "?" if p.eta_s is None else _duration(p.eta_s)
        bar.update(task, total=p.total, completed=p.done + p.failed, done=p.done,
                   failed=p.failed, running=p.running, eta=eta)

    return bar, update


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


def run_with_progress(config_path: Path, workers: int | None, retry_failed: bool,
                      runs_per_gpu: int | None) -> Path:
    """Run a study from its TOML file with a live progress bar (Ctrl-C stops cleanly)."""
    from nercurve.cli.options import print_notices
    from nercurve.study.config import load_config
    from nercurve.study.runner import run_study

    config = load_config(config_path)
    bar, update = progress_printer()
    try:
        try:
            return run_study(
                config,
                workers=workers,
                retry_failed=retry_failed,
                on_progress=update,
                config_text=config_path.read_text(encoding="utf-8"),
                runs_per_gpu=runs_per_gpu,
                on_notices=lambda found: print_notices(found, str(config.corpus.path)),
            )
        finally:
            if bar.live.is_started:
                bar.stop()
    except KeyboardInterrupt:
        sys.stderr.write(
            "stopped: finished jobs are kept; run the same command again to continue\n"
        )
        raise typer.Exit(130) from None


@app.command("run")
def run(
    config: Annotated[Path, typer.Argument(help="The study's TOML config.")],
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes (default: config, else cores).")
    ] = None,
    retry_failed: Annotated[bool, typer.Option(help="Run failed jobs again.")] = False,
    runs_per_gpu: Annotated[int | None, typer.Option(
        min=1, help="Runs packed on each GPU (default: the config's run.runs_per_gpu, 1).")] = None,
) -> None:
    """Run a sample-size study; rerunning it skips finished jobs.

    Example: nercurve run study.toml --workers 2
    """
    out = run_with_progress(config, workers, retry_failed, runs_per_gpu)
    print_summary(out)


def print_summary(study_dir: Path) -> None:
    """Print mean test F1 per backend and stratum, and the job counts."""
    from rich.console import Console
    from rich.table import Table

    from nercurve.study.store import open_store, results_frame

    frame = results_frame(study_dir)
    console = Console()
    with open_store(study_dir) as store:
        counts = store.counts()
    console.print(
        f"[bold]{study_dir}[/]: {counts['done']} done, {counts['failed']} failed, "
        f"{counts['pending'] + counts['running']} left"
    )
    if frame.empty:
        return
    table = Table(title="Test F1 by backend and stratum (mean ± SD over runs)")
    for col in ("backend", "stratum", "runs", "sentences", "EPS", "F1"):
        table.add_column(col, justify="left" if col in ("backend", "stratum") else "right")
    grouped = frame.groupby(["backend", "stratum"], sort=False)
    for (backend, stratum), g in grouped:
        sd = g["f1"].std() if len(g) > 1 else 0.0
        table.add_row(
            str(backend), str(stratum), str(len(g)), f"{g['n_sentences'].mean():.0f}",
            f"{g['eps'].mean():.2f}", f"{g['f1'].mean():.3f} ± {sd:.3f}",
        )
    console.print(table)


@app.command("status")
def status(
    study_dir: Annotated[Path, typer.Argument(help="A study's output folder.")],
    errors: Annotated[int, typer.Option(help="How many failures to show.")] = 5,
) -> None:
    """Show job counts per backend, recent failures and an ETA.

    Example: nercurve status runs/coi
    """
    from rich.console import Console
    from rich.table import Table

    from nercurve.study.store import open_store

    console = Console()
    with open_store(study_dir) as store:
        rows = store.query(
            "SELECT backend, status, COUNT(*) AS n, AVG(seconds) AS secs FROM jobs"
            " GROUP BY backend, status ORDER BY backend"
        )
        failures = store.query(
            "SELECT job_id, backend, subset_id, error FROM jobs WHERE status = 'failed'"
            " ORDER BY finished_at DESC LIMIT ?",
            (errors,),
        )
        counts = store.counts()
        mean_done = store.query("SELECT AVG(seconds) AS s FROM jobs WHERE status = 'done'")
    table = Table(title=f"study {study_dir}")
    for col in ("backend", "pending", "running", "done", "failed", "mean s/run"):
        table.add_column(col, justify="left" if col == "backend" else "right")
    per: dict[str, dict[str, Any]] = {}
    for r in rows:
        entry = per.setdefault(r["backend"], {"secs": None})
        entry[r["status"]] = r["n"]
        if r["status"] == "done":
            entry["secs"] = r["secs"]
    for backend, entry in per.items():
        secs = entry["secs"]
        table.add_row(
            backend, *(str(entry.get(k, 0)) for k in ("pending", "running", "done", "failed")),
            "-" if secs is None else f"{secs:.1f}",
        )
    console.print(table)
    left = counts["pending"] + counts["running"]
    avg = mean_done[0]["s"]
    if left and avg:
        console.print(f"{left} jobs left; about {_duration(avg * left)} of single-worker time")
    elif not left:
        console.print("all jobs finished")
    for f in failures:
        first = (f["error"] or "").strip().splitlines()[0] if f["error"] else ""
        console.print(f"[red]failed[/] {f['backend']} {f['subset_id']} ({f['job_id']}): {first}")


@app.command("results")
def results(
    study_dir: Annotated[Path, typer.Argument(help="A study's output folder.")],
    format: Annotated[str, typer.Option("--format", help="csv, parquet or json.")] = "csv",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File to write.")] = None,
    include_failed: Annotated[bool, typer.Option(help="Also list failed jobs.")] = False,
) -> None:
    """Export one row per finished job (CSV to stdout by default).

    Example: nercurve results runs/coi --format parquet -o runs.parquet
    """
    from nercurve.study.store import results_frame

    if format not in ("csv", "parquet", "json"):
        raise ConfigError(f"unknown format {format!r}", hint="choose csv, parquet or json")
    frame = results_frame(study_dir, include_failed=include_failed)
    if format == "parquet":
        if output is None:
            raise ConfigError("parquet needs an output file", hint="pass -o results.parquet")
        frame.to_parquet(output, index=False)
    elif format == "json":
        text = json.dumps(json.loads(frame.to_json(orient="records")), indent=1)
        _emit(text, output)
    else:
        _emit(frame.to_csv(index=False), output)
    if output is not None:
        typer.echo(f"wrote {len(frame)} rows to {output}", err=True)


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        output.write_text(text, encoding="utf-8")


@design_app.command("show")
def design_show(
    study_dir: Annotated[Path, typer.Argument(help="A study's output folder.")],
    all_subsets: Annotated[bool, typer.Option("--all", help="List every subset.")] = False,
) -> None:
    """Print the design: subsets per stratum with their documents, sentences and EPS.

    Example: nercurve design show runs/coi --all
    """
    from rich.console import Console
    from rich.table import Table

    from nercurve.study.store import open_store

    with open_store(study_dir) as store:
        rows = store.query(
            "SELECT subset_id, stratum, n_docs, n_sentences, n_tokens, n_entities, eps"
            " FROM subsets ORDER BY rowid"
        )
    console = Console()
    if all_subsets:
        table = Table(title="subsets")
        for col in ("subset", "stratum", "docs", "sentences", "tokens", "entities", "EPS"):
            table.add_column(col, justify="left" if col in ("subset", "stratum") else "right")
        for r in rows:
            table.add_row(r["subset_id"], r["stratum"], str(r["n_docs"]), str(r["n_sentences"]),
                          str(r["n_tokens"]), str(r["n_entities"]), f"{r['eps']:.2f}")
        console.print(table)
        return
    table = Table(title="design by stratum")
    for col in ("stratum", "subsets", "docs", "sentences", "EPS"):
        table.add_column(col, justify="left" if col == "stratum" else "right")
    strata: dict[str, list[Any]] = {}
    for r in rows:
        strata.setdefault(r["stratum"], []).append(r)
    for stratum, members in strata.items():
        docs = [m["n_docs"] for m in members]
        sents = [m["n_sentences"] for m in members]
        eps = [m["eps"] for m in members]
        table.add_row(
            stratum, str(len(members)), f"{min(docs)}-{max(docs)}", f"{min(sents)}-{max(sents)}",
            f"{sum(eps) / len(eps):.2f}",
        )
    console.print(table)
