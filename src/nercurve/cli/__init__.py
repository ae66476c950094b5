"""The ``nercurve`` command: thin wrappers that parse arguments, call the library and print.

Each module below registers its commands on :data:`nercurve.cli.app.app`.
"""

from __future__ import annotations

import sys

from nercurve.cli import (  # noqa: F401  (imported for their command registrations)
    agree_cmds,
    analysis_cmds,
    batch_cmds,
    corpus_cmds,
    demo_cmds,
    model_cmds,
    stats_cmds,
    study_cmds,
    synth_cmds,
)
from nercurve.cli.app import app
from nercurve.errors import NercurveError


def main() -> None:
    """Entry point: run the app; a user mistake becomes one message and exit code 2."""
    try:
        app()
    except NercurveError as err:
        sys.stderr.write(f"error: {err}\n")
        sys.exit(2)
