"""Corpus model, readers and writers, statistics, splits and the synthetic COI corpus."""

from nercurve.corpus.model import Corpus, Doc, Notice, Span

__all__ = ["Corpus", "Doc", "Notice", "Span"]
