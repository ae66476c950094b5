"""Every command and command group says what it does and shows an example in --help."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from nercurve.cli import app


def _command_paths() -> list[list[str]]:
    """Every command and group, as the argument lists that name them (the root is [])."""
    paths: list[list[str]] = []

    def walk(command, prefix: list[str]) -> None:
        paths.append(prefix)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*prefix, name])

    walk(typer.main.get_command(app), [])
    return paths


def test_every_help_has_an_example() -> None:
    paths = _command_paths()
    assert ["run"] in paths and ["design", "show"] in paths and ["synth", "coi"] in paths
    runner = CliRunner()
    missing = []
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], terminal_width=200)
        assert result.exit_code == 0, (path, result.output)
        if "Example: nercurve" not in result.output:
            missing.append(" ".join(path) or "(root)")
    assert missing == []
