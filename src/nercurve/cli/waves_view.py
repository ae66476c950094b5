"""The waves of an adaptive design as a table (for ``status`` and ``run``)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from nercurve.study.wave_records import WaveRecord

STOPPED = {"ci_width": "stopped: CI narrow enough", "max_runs": "stopped: max_runs reached"}


def design_words(study_dir: Path) -> tuple[str, str]:
    """What the design estimates and the unit of its sizes, from the study's study.json."""
    try:
        design = json.loads((Path(study_dir) / "study.json").read_text(encoding="utf-8"))["design"]
        adaptive = design["adaptive"]
    except (OSError, ValueError, KeyError, TypeError):
        return "estimate", "the design's unit"
    if adaptive.get("target") == "target_f1":
        return f"sentences for F1 {adaptive['target_f1']:.2f}", design.get("unit", "documents")
    return f"{adaptive.get('family', 'upperhinge')} threshold", design.get("unit", "documents")


def print_waves(console: Any, waves: list[WaveRecord], study_dir: Path) -> None:
    """Print one row per wave: subsets, sizes, focus, estimate with CI and width, state."""
    if not waves:
        return
    from rich.table import Table

    what, unit = design_words(study_dir)
    table = Table(title=f"adaptive design: waves (estimate: {what}, in sentences; sizes in "
                        f"{unit})")
    for col in ("wave", "subsets", "sizes", "focus", "estimate", "CI", "width", "state"):
        table.add_column(col, justify="left" if col == "state" else "right")
    for w in waves:
        focus = "whole range" if w.focus is None else f"{w.focus[0]:.0f}–{w.focus[1]:.0f}"
        if w.estimate is not None and w.ci is not None:
            estimate, ci = _number(w.estimate), f"{_number(w.ci[0])}–{_number(w.ci[1])}"
            width = _number(w.width)
        else:
            estimate = ci = width = "–"
        if w.stopped:
            state = STOPPED.get(w.stopped, w.stopped)
        elif w.note:
            state = f"no estimate: {w.note}"
        else:
            state = "done" if w.estimated else "running"
        table.add_row(str(w.wave), str(len(w.subsets)), f"{min(w.sizes)}–{max(w.sizes)}",
                      focus, estimate, ci, width, state)
    console.print(table)


def _number(value: float) -> str:
    return "∞" if not math.isfinite(value) else f"{value:,.0f}"
