"""The typer application that every command module registers on."""

from typing import Annotated

import typer

app = typer.Typer(
    name="nercurve",
    help="Sample-size (learning-curve) studies for fine-tuning NER models.\n\n"
    "Example: nercurve demo --out demo   (a whole study on synthetic data, with its report)",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        from nercurve import __version__

        typer.echo(f"nercurve {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print version."),
    ] = False,
) -> None:
    """Sample-size (learning-curve) studies for fine-tuning NER models.

    Example: nercurve synth coi --docs 490 --seed 0 -o coi.jsonl && nercurve stats coi.jsonl
    """
