"""Corpus model, readers and writers, statistics and splits."""

from nercurve.corpus.model import Corpus, Doc, Notice, Span

__all__ = ["Corpus", "Doc", "Notice", "Span"]
