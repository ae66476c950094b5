"""Synthetic data with known properties: a COI disclosure corpus and simulated annotators.

- :mod:`~nercurve.synthetic.coi`: :func:`generate_coi`, conflict-of-interest statements with
  PERSON and ORG spans, built from :mod:`~nercurve.synthetic.entities` (person and
  organization mentions) and :mod:`~nercurve.synthetic.vocab` (word lists);
- :mod:`~nercurve.synthetic.annotators`: :func:`simulate_annotators`, noisy copies of a gold
  corpus with seeded, recorded errors, for checking agreement figures;
- :mod:`~nercurve.synthetic.smoking`: :func:`generate_smoking`, discharge-summary-like notes
  labelled with a smoking status (text classification), built from
  :mod:`~nercurve.synthetic.smoking_vocab`.
"""

from nercurve.synthetic.annotators import simulate_annotators
from nercurve.synthetic.coi import generate_coi
from nercurve.synthetic.smoking import generate_smoking

__all__ = ["generate_coi", "generate_smoking", "simulate_annotators"]
