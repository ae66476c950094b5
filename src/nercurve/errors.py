"""The project's own exception types.

The library never prints and never exits: it raises these. Each carries the file
and line a problem was found at (when there is one) and a hint on what to do. The
CLI turns them into one clear message and exit code 2.
"""

from __future__ import annotations

from pathlib import Path


class NercurveError(Exception):
    """A problem the user can fix: bad input, bad configuration, missing resource."""

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.hint = hint

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = self.file if self.line is None else f"{self.file}:{self.line}"
            where += ": "
        text = f"{where}{self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class InputError(NercurveError):
    """An annotated file or other user input is malformed."""


class ConfigError(NercurveError):
    """A study configuration is invalid."""


class AnalysisError(NercurveError):
    """The data cannot support the requested analysis (too few runs, constant F1, ...)."""


class BackendError(NercurveError):
    """A backend cannot be built or cannot load what it was asked to (model id, weights)."""


class StoreError(NercurveError):
    """A study's SQLite store cannot be used (damaged, locked, disk full, not a store)."""


class StoreLockedError(StoreError):
    """Another process holds the study store's write lock for longer than we wait."""
