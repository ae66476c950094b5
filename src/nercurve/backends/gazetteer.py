"""A dictionary (gazetteer) baseline: tags every exact occurrence of a training mention.

It needs no GPU and trains in milliseconds, which makes it a useful floor in a
sample-size study (how much does a learned model beat remembering names?) and a
fast arm for checking a study's set-up.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from nercurve.backends.base import BackendParams, TrainResult
from nercurve.corpus.model import Doc, Span

#: The file a saved gazetteer model is in.
FILE = "gazetteer.json"


class GazetteerParams(BackendParams):
    """``min_count``: a mention must occur this often in training to be remembered;
    ``case_sensitive``: match case exactly."""

    min_count: int = Field(1, ge=1)
    case_sensitive: bool = True


class GazetteerModel:
    """Longest-match-first lookup of remembered mentions at word boundaries."""

    def __init__(self, entries: dict[str, str], case_sensitive: bool) -> None:
        self.entries = entries
        flags = 0 if case_sensitive else re.IGNORECASE
        ordered = sorted(entries, key=len, reverse=True)
        self._lookup = {(k if case_sensitive else k.lower()): v for k, v in entries.items()}
        self._case = case_sensitive
        self._pattern = (
            re.compile(r"(?<!\w)(?:" + "|".join(re.escape(e) for e in ordered) + r")(?!\w)", flags)
            if ordered
            else None
        )

    def save(self, path: Path) -> None:
        """The remembered mentions as ``gazetteer.json`` in the folder ``path``."""
        (path / FILE).write_text(json.dumps({"entries": self.entries,
                                             "case_sensitive": self._case},
                                            ensure_ascii=False, indent=1), encoding="utf-8")

    def predict(self, docs: Sequence[Doc]) -> list[tuple[Span, ...]]:
        """Spans for every remembered mention found in each document."""
        out = []
        for doc in docs:
            if self._pattern is None:
                out.append(())
                continue
            spans = []
            for m in self._pattern.finditer(doc.text):
                key = m.group(0) if self._case else m.group(0).lower()
                spans.append(Span(m.start(), m.end(), self._lookup[key]))
            out.append(tuple(spans))
        return out


class GazetteerBackend:
    """Remembers each training mention with its most frequent label."""

    name: ClassVar[str] = "gazetteer"
    Params: ClassVar[type[BackendParams]] = GazetteerParams

    def train(
        self, train: Sequence[Doc], dev: Sequence[Doc], params: GazetteerParams, seed: int
    ) -> TrainResult:
        """Collect mentions and their labels; ``dev`` and ``seed`` are not needed."""
        votes: dict[str, Counter[str]] = defaultdict(Counter)
        for doc in train:
            for span in doc.spans:
                text = doc.span_text(span).strip()
                if text:
                    votes[text if params.case_sensitive else text.lower()][span.label] += 1
        entries = {
            text: counter.most_common(1)[0][0]
            for text, counter in votes.items()
            if sum(counter.values()) >= params.min_count
        }
        return TrainResult(model=GazetteerModel(entries, params.case_sensitive))

    def load(self, path: Path) -> GazetteerModel:
        """A model that :meth:`GazetteerModel.save` wrote into the folder ``path``."""
        from nercurve.errors import BackendError

        try:
            saved = json.loads((path / FILE).read_text(encoding="utf-8"))
            return GazetteerModel(dict(saved["entries"]), bool(saved["case_sensitive"]))
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise BackendError(f"cannot read a saved gazetteer: {err}", file=path / FILE,
                               hint="give a folder that a kept gazetteer model was saved in"
                               ) from None
