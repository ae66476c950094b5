"""Commands: init-study, run, status, results, design show."""

from __future__ import annotations

import json
import signal
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from nercurve.cli.app import app
from nercurve.cli.progress_view import duration
from nercurve.errors import ConfigError
from nercurve.study.executors import EXECUTORS
from nercurve.tasks import task_names

design_app = typer.Typer(help="Inspect a study's design.\n\nExample: nercurve design show runs/coi",
                         no_args_is_help=True)
app.add_typer(design_app, name="design")


@app.command("init-study")
def init_study(
    path: Annotated[Path, typer.Argument(help="Where to write the example config.")] = Path(
        "study.toml"
    ),
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
    task: Annotated[str, typer.Option(
        help="The study's task: " + " or ".join(task_names())
        + " (ner: entity spans; classify: document classes).")] = "ner",
) -> None:
    """Write a commented example study config.

    Example: nercurve init-study study.toml

    Example: nercurve init-study study.toml --task classify
    """
    from nercurve.study.example import example_config

    text = example_config(task)
    if path.exists() and not force:
        raise ConfigError("file exists", file=path, hint="pass --force to overwrite it")
    path.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {path}")


class Terminated(KeyboardInterrupt):
    """SIGTERM (what a container stop or a batch scheduler sends), stopped like Ctrl-C."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


def with_overrides(config: Any, *, executor: str | None = None, ray_address: str | None = None,
                   mlflow: str | None = None) -> Any:
    """The study config with the command line's execution and tracking choices applied."""
    run = config.run.model_copy(update={
        k: v for k, v in (("executor", executor), ("ray_address", ray_address)) if v is not None
    })
    if ray_address is not None and executor is None:
        run = run.model_copy(update={"executor": "ray"})
    tracking = config.tracking
    if mlflow is not None:
        uri = None if mlflow == "default" else mlflow
        tracking = tracking.model_copy(update={"mlflow": True, "uri": uri or tracking.uri})
    return config.model_copy(update={"run": run, "tracking": tracking})


def run_with_progress(config_path: Path, workers: int | None, retry_failed: bool,
                      runs_per_gpu: int | None, drop_changed: bool = False, *,
                      executor: str | None = None, ray_address: str | None = None,
                      mlflow: str | None = None) -> Path:
    """Run a study from its TOML file, showing its progress (a live bar on a terminal,
    plain lines where stdout is not one: :func:`~nercurve.cli.progress_view.progress_shown`).

    Ctrl-C and SIGTERM stop cleanly: workers stop, their jobs return to pending, finished
    results are kept; the process exits with 130 (Ctrl-C) or 143 (SIGTERM).
    """
    from nercurve.analysis.wave_estimate import estimate_target
    from nercurve.cli.options import print_notices
    from nercurve.cli.progress_view import progress_shown
    from nercurve.study.config import load_config
    from nercurve.study.runner import run_study

    config = with_overrides(load_config(config_path), executor=executor,
                            ray_address=ray_address, mlflow=mlflow)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        try:
            with progress_shown() as update:
                return run_study(
                    config,
                    workers=workers,
                    retry_failed=retry_failed,
                    on_progress=update,
                    config_text=config_path.read_text(encoding="utf-8"),
                    runs_per_gpu=runs_per_gpu,
                    on_notices=lambda found: print_notices(found, str(config.corpus.path)),
                    drop_changed=drop_changed,
                    estimator=estimate_target,
                    on_selection=lambda line: sys.stderr.write(line + "\n"),
                )
        finally:
            signal.signal(signal.SIGTERM, previous)
    except KeyboardInterrupt as stop:
        sys.stderr.write(
            "stopped: finished jobs are kept; run the same command again to continue\n"
        )
        raise typer.Exit(143 if isinstance(stop, Terminated) else 130) from None


#: Where ``run`` runs the jobs: the registered executors' names.
ExecutorName = StrEnum("ExecutorName", {name: name for name in EXECUTORS})


#: Exit status of ``run`` when jobs failed, and when jobs are left unfinished.
EXIT_FAILED_JOBS = 3
EXIT_UNFINISHED_JOBS = 4


@app.command("run")
def run(
    config: Annotated[Path, typer.Argument(help="The study's TOML config.")],
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes (default: config, else cores).")
    ] = None,
    retry_failed: Annotated[bool, typer.Option(help="Run failed jobs again.")] = False,
    runs_per_gpu: Annotated[int | None, typer.Option(
        min=1, help="Runs packed on each GPU (default: the config's run.runs_per_gpu, 1).")] = None,
    drop_changed: Annotated[bool, typer.Option(
        help="When the corpus, design or an arm's settings changed, set the old rows aside "
        "(kept in the store, left out of results) instead of refusing to run.")] = False,
    executor: Annotated[ExecutorName | None, typer.Option(
        help="Where the jobs run: " + "; ".join(f"{e.name}: {e.summary}" for e in
                                                EXECUTORS.values())
        + " (default: the config's run.executor, local).")] = None,
    ray_address: Annotated[str | None, typer.Option(
        help="The Ray cluster: \"auto\" or host:port (implies --executor ray; default: the "
        "config's run.ray_address, else a private Ray on this machine).")] = None,
    mlflow: Annotated[str | None, typer.Option(
        help="Track the study in MLflow at this URI (\"default\": mlflow.db in the study "
        "folder); or set tracking.mlflow = true in the config.")] = None,
) -> None:
    """Run a sample-size study; rerunning it skips finished jobs.

    Exit status: 0 all jobs done; 2 bad input; 3 some jobs failed (rerun with
    --retry-failed); 4 jobs left unfinished (held by another runner); 130/143 stopped.

    Example: nercurve run study.toml --workers 2
    """
    out = run_with_progress(config, workers, retry_failed, runs_per_gpu, drop_changed,
                            executor=None if executor is None else executor.value,
                            ray_address=ray_address, mlflow=mlflow)
    counts = print_summary(out)
    left = counts["pending"] + counts["running"]
    if counts["failed"]:
        sys.stderr.write(
            f"{counts['failed']} job(s) failed: see `nercurve status {out}`; run the same "
            "command with --retry-failed to run them again\n"
        )
        raise typer.Exit(EXIT_FAILED_JOBS)
    if left:
        sys.stderr.write(
            f"{left} job(s) are not finished (another runner holds them, or its lease has "
            f"not expired yet): run the same command again later; `nercurve status {out}` "
            "shows who holds them\n"
        )
        raise typer.Exit(EXIT_UNFINISHED_JOBS)


def print_summary(study_dir: Path) -> dict[str, int]:
    """Print the mean test F1 (a classification study: its metric) per backend and stratum
    and the job counts; returns the counts."""
    from rich.console import Console
    from rich.table import Table

    from nercurve.study.store import open_store, results_frame

    frame = results_frame(study_dir)
    console = Console()
    with open_store(study_dir) as store:
        counts = store.counts()
        task = store.task()
    console.print(
        f"[bold]{study_dir}[/]: {counts['done']} done, {counts['failed']} failed, "
        f"{counts['pending'] + counts['running']} left"
    )
    if frame.empty:
        return counts
    w = task.words
    table = Table(title=f"Test {w.outcome} by backend and stratum (mean ± SD over runs)")
    for col in ("backend", "stratum", "runs", w.unit, w.density, w.outcome):
        table.add_column(col, justify="left" if col in ("backend", "stratum") else "right")
    grouped = frame.groupby(["backend", "stratum"], sort=False)
    for (backend, stratum), g in grouped:
        sd = g["f1"].std() if len(g) > 1 else 0.0
        table.add_row(
            str(backend), str(stratum), str(len(g)), f"{g[task.size].mean():.0f}",
            f"{g[task.density].mean():.2f}", f"{g['f1'].mean():.3f} ± {sd:.3f}",
        )
    console.print(table)
    _print_waves(console, study_dir)
    return counts


def _print_waves(console: Any, study_dir: Path) -> None:
    """An adaptive design's waves (nothing for a fixed design)."""
    from nercurve.cli.waves_view import print_waves
    from nercurve.study.status import study_status

    print_waves(console, study_status(study_dir).waves, study_dir)


def _error_message(error: str | None) -> str:
    """A stored error without its traceback (the exception type and its whole message)."""
    text = (error or "").strip()
    return text.split("\nTraceback (most recent call last)", 1)[0].strip()


@app.command("status")
def status(
    study_dir: Annotated[Path, typer.Argument(help="A study's output folder.")],
    errors: Annotated[int, typer.Option(help="How many failures to show.")] = 5,
    traceback: Annotated[bool, typer.Option(
        "--traceback", help="Show each failure's whole error, traceback included.")] = False,
) -> None:
    """Show job counts per backend, jobs left by stopped runners, recent failures and an ETA.

    Jobs of a runner that is gone show as "left" until the next run takes them back; jobs
    the current config no longer names are counted apart (kept, not run, not in results).

    Example: nercurve status runs/coi --traceback
    """
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from nercurve.cli.waves_view import print_waves
    from nercurve.study.status import study_status

    report = study_status(study_dir, errors=errors)
    console = Console()
    columns = ("pending", "running", "left", "done", "failed")
    table = Table(title=f"study {study_dir}")
    for col in ("backend", *columns, "mean s/run"):
        table.add_column(col, justify="left" if col == "backend" else "right")
    for backend, entry in report.per_backend.items():
        secs = entry.get("secs")
        table.add_row(backend, *(str(entry.get(k, 0)) for k in columns),
                      "-" if secs is None else f"{secs:.1f}")
    console.print(table)
    print_waves(console, report.waves, study_dir)
    for holder in report.holders:
        console.print(f"running: {holder}")
    if report.left:
        console.print(f"[yellow]{report.left} job(s) were left running by a runner that is "
                      "gone[/]; the next `nercurve run` takes them back")
    for backend, n in report.inactive.items():
        console.print(f"{n} stored job(s) of '{escape(backend)}' are not in the current "
                      "config: kept, not run, left out of results")
    if report.archived:
        console.print(f"{report.archived} job(s) set aside by --drop-changed (kept in the store)")
    if report.kept_bytes:
        console.print(f"kept models: {report.kept_models}, using "
                      f"{report.kept_bytes / 2**20:,.1f} MiB in {study_dir / 'models'}")
    remaining = report.counts["pending"] + report.counts["running"]
    if remaining and report.mean_seconds:
        console.print(f"{remaining} jobs left; about "
                      f"{duration(report.mean_seconds * remaining)} of single-worker time")
    elif not remaining:
        console.print("all jobs finished")
    for f in report.failures:
        text = (f["error"] or "").strip() if traceback else _error_message(f["error"])
        console.print(f"[red]failed[/] {f['backend']} {f['subset_id']} ({f['job_id']}): "
                      f"{escape(text)}")
    if report.failures and not traceback:
        console.print(f"(the whole errors: nercurve status {study_dir} --traceback)")


@app.command("track")
def track(
    study_dir: Annotated[Path, typer.Argument(help="A study's output folder.")],
    mlflow: Annotated[str | None, typer.Option(
        help="MLflow tracking URI (default: the study's tracking.uri, else mlflow.db in the "
        "study folder).")] = None,
    experiment: Annotated[str | None, typer.Option(
        help="MLflow experiment (default: the study's tracking.experiment, else its name).")]
    = None,
    artifact: Annotated[list[Path] | None, typer.Option(
        help="A file or folder to log on the study's parent run (repeatable); a report "
        "X.html brings its X_files folder of figures and tables.")] = None,
) -> None:
    """Log a study to MLflow: a parent run with its files, a child run per finished job.

    Jobs already logged are skipped, so it can run again at any time (`run` does it
    itself at the end when tracking is on).

    Example: nercurve track runs/coi --artifact runs/coi/report.html
    """
    from nercurve.study.tracking import stored_tracking, track_study

    section = stored_tracking(study_dir)
    done = track_study(study_dir, uri=mlflow or section.get("uri"),
                       experiment=experiment or section.get("experiment"),
                       artifacts=artifact or [])
    typer.echo(f"MLflow {done.uri}: experiment {done.experiment_id}, parent run "
               f"{done.parent_run_id}; {done.logged} job run(s) logged, {done.already} "
               "already there")


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
    """Print the design: subsets per stratum with their documents, sentences and EPS (a
    classification study: the minority-class share).

    Example: nercurve design show runs/coi --all
    """
    from rich.console import Console
    from rich.table import Table

    from nercurve.study.store import open_store

    with open_store(study_dir) as store:
        task = store.task()
        rows = store.subset_rows()
    rows = [{**r, "eps": r[task.density] or 0} for r in rows]
    label = task.words.density
    console = Console()
    if all_subsets:
        table = Table(title="subsets")
        for col in ("subset", "stratum", "docs", "sentences", "tokens", "entities", label):
            table.add_column(col, justify="left" if col in ("subset", "stratum") else "right")
        for r in rows:
            table.add_row(r["subset_id"], r["stratum"], str(r["n_docs"]), str(r["n_sentences"]),
                          str(r["n_tokens"]), str(r["n_entities"]), f"{r['eps']:.2f}")
        console.print(table)
        return
    table = Table(title="design by stratum")
    for col in ("stratum", "subsets", "docs", "sentences", label):
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
