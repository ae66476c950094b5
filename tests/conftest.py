"""Shared fixtures: the real corpora beside the repository (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"


@pytest.fixture(scope="session")
def shared_corpora() -> Path:
    """``../shared/corpora``; tests that use it skip cleanly when it is absent."""
    if not SHARED_CORPORA.is_dir():
        pytest.skip("../shared/corpora is absent")
    return SHARED_CORPORA
