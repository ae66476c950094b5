"""What a study's runs are measured on, and the words for it: NER or text classification.

An NER study regresses F1 on training *sentences* and *EPS* (entities per sentence); a
text-classification study regresses its outcome (macro-F1 by default, or micro-F1 or
accuracy; the runs' ``f1`` column holds it) on training *examples* (documents) and the
*minority-class share* (the share of the training subset that carries its rarest class, the
measure of class balance). Every analysis, table, figure and recommendation takes its columns
and words from an :class:`Axes`; :func:`axes_of` tells which from the runs themselves.

The analysis writes its sentences once, of NER runs ("gains flatten at about 96 sentences",
"F1 rises with entity density"); :meth:`Axes.words` puts them in a classification study's
words ("examples", "macro-F1", "class balance"), so the two tasks share every sentence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

#: What each classification metric is called in words.
METRIC_WORDS = {"macro_f1": "macro-F1", "micro_f1": "micro-F1", "accuracy": "accuracy"}


@dataclass(frozen=True)
class Axes:
    """The columns an analysis models and how the page and the words name them."""

    task: str
    #: The training-size column and the subset-composition column (the two predictors).
    size: str
    density: str
    #: The training size's unit in words ("sentences"), and as a title ("Sentences").
    unit: str
    unit_title: str
    #: The composition measure, short ("EPS") and long ("entities per sentence (EPS)").
    density_short: str
    density_long: str
    #: What the composition measure is about ("entity density", "class balance").
    density_theme: str
    #: The outcome in words ("F1", "macro-F1", "accuracy").
    outcome: str

    @property
    def predictors(self) -> tuple[str, str]:
        """The two predictor columns: size, then composition."""
        return (self.size, self.density)

    @property
    def required(self) -> tuple[str, str, str]:
        """The columns a runs table must have."""
        return (self.size, self.density, "f1")

    def words(self, text: str) -> str:
        """``text``, written of NER runs (sentences, EPS, entity density, F1), in this task's
        words; unchanged for NER."""
        if self.task == "ner":
            return text
        for pattern, repl in (
            (r"\b[Ee]ntities per sentence( \(EPS\))?", self.density_long),
            (r"\b[Ee]ntity density\b", self.density_theme),
            (r"\bEPS\b", self.density_short),
            (r"\bSentences\b", self.unit_title),
            (r"\bsentences\b", self.unit),
            (r"\bSentence\b", self.unit_title[:-1]),
            (r"\bsentence\b", self.unit[:-1]),
            (r"\bsent\.", self.unit[:2] + "."),
            (r"(?<![\w-])F1\b", self.outcome),
        ):
            text = re.sub(pattern, lambda m, r=repl: _cased(m, r), text)
        return text


def _cased(match: re.Match[str], replacement: str) -> str:
    """``replacement`` capitalized where the word it replaces starts the text or is a
    capitalized word ("Sentences", not "EPS" or "F1")."""
    word = match.group()
    capital = match.start() == 0 or (word[0].isupper() and word[1:2].islower())
    return replacement[0].upper() + replacement[1:] if capital else replacement


NER = Axes(task="ner", size="n_sentences", density="eps", unit="sentences",
           unit_title="Sentences", density_short="EPS",
           density_long="entities per sentence (EPS)", density_theme="entity density",
           outcome="F1")


def classify_axes(metric: str = "macro_f1") -> Axes:
    """The axes of a classification study whose outcome is ``metric``."""
    return Axes(task="classify", size="n_docs", density="minority_share", unit="examples",
                unit_title="Examples", density_short="minority share",
                density_long="minority-class share", density_theme="class balance",
                outcome=METRIC_WORDS.get(metric, metric))


def axes_of(frame: pd.DataFrame, corpus_stats: Mapping[str, Any] | None = None) -> Axes:
    """The axes of a table of runs: classification when it has a ``minority_share`` column
    and no ``eps`` column (its outcome named by a ``metric`` column, else by the study's
    ``corpus_stats.json``, else macro-F1), NER otherwise."""
    if "minority_share" not in frame.columns or "eps" in frame.columns:
        return NER
    metric = (corpus_stats or {}).get("metric", "macro_f1")
    if "metric" in frame.columns and frame["metric"].notna().any():
        metric = str(frame["metric"].dropna().iloc[0])
    return classify_axes(metric)
