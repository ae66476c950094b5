"""Inter-annotator agreement, disagreement lists and adjudication.

- :mod:`~nercurve.agreement.aligned`: annotations of the same documents matched by id;
- :mod:`~nercurve.agreement.scores`: the agreement figures (:func:`compute_agreement`),
  built from :mod:`~nercurve.agreement.tokens` (B/I/O tags),
  :mod:`~nercurve.agreement.kappa` (chance-corrected figures) and
  :mod:`~nercurve.agreement.icc` (ICC of entity counts);
- :mod:`~nercurve.agreement.disagreements`: where annotators differ, and the CSV a
  reconciling rater reads;
- :mod:`~nercurve.agreement.adjudicate`: merging two annotations into one gold standard;
- :mod:`~nercurve.agreement.html`: the agreement report as an HTML page.

Imports run one way only: ``aligned`` imports none of its siblings; ``tokens``, ``kappa``,
``icc`` and ``disagreements`` import only ``aligned``; ``scores`` and ``adjudicate`` build
on those, and ``html`` on ``scores``. No module imports one that imports it back.
"""

from nercurve.agreement.adjudicate import adjudicate
from nercurve.agreement.aligned import Aligned, align
from nercurve.agreement.scores import AgreementReport, compute_agreement

__all__ = ["AgreementReport", "Aligned", "adjudicate", "align", "compute_agreement"]
