"""A backend of the tests' own, loaded by the runner as ``plugin_backends:SlowGazetteer``.

It is the real gazetteer baseline plus knobs the runner tests need: a delay per
job, a failure on chosen seeds, a hard crash of the worker process, a hang, a
signal to the worker itself, a burst of memory.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Sequence
from typing import ClassVar

from pydantic import Field

from nercurve.backends.base import BackendParams, TrainResult
from nercurve.backends.gazetteer import GazetteerBackend, GazetteerParams
from nercurve.corpus.model import Doc


class SlowParams(GazetteerParams):
    """Gazetteer parameters plus test knobs."""

    sleep_s: float = 0.0
    fail_seeds: list[int] = Field(default_factory=list)
    crash_seeds: list[int] = Field(default_factory=list)
    hang_seeds: list[int] = Field(default_factory=list)
    signal_seeds: dict[int, str] = Field(default_factory=dict)
    allocate_mb: dict[int, int] = Field(default_factory=dict)


class SlowGazetteer(GazetteerBackend):
    """The gazetteer baseline, slowed down or broken on request."""

    name: ClassVar[str] = "slow-gazetteer"
    Params: ClassVar[type[BackendParams]] = SlowParams

    def train(
        self, train: Sequence[Doc], dev: Sequence[Doc], params: SlowParams, seed: int
    ) -> TrainResult:
        """Sleep, then fail, crash or hang as asked, else train the gazetteer."""
        time.sleep(params.sleep_s)
        if seed in params.fail_seeds:
            raise RuntimeError(f"deliberate failure on seed {seed}")
        if seed in params.crash_seeds:
            os._exit(3)
        if seed in params.hang_seeds:
            time.sleep(3600)
        if seed in params.signal_seeds:
            os.kill(os.getpid(), getattr(signal, params.signal_seeds[seed]))
        if seed in params.allocate_mb:
            block = bytearray(params.allocate_mb[seed] * 1024 * 1024)
            block[::4096] = b"x" * len(block[::4096])  # touch every page: real resident memory
            del block
        return super().train(train, dev, params, seed)
