"""Simulated study results with known learning curves, for tests, benchmarks and demos."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

# name -> (ceiling a, scale b, exponent c) of F1(n) = a − b·n^(−c); both stay inside (0, 1)
# from about 8 training sentences up, so clipping does not bend them at the simulated sizes.
DEFAULT_CURVES: Mapping[str, tuple[float, float, float]] = {
    "spacy": (0.86, 2.0, 0.5),
    "roberta-base": (0.93, 3.0, 0.6),
}


def simulate_runs(
    curves: Mapping[str, tuple[float, float, float]] = DEFAULT_CURVES,
    *,
    n_subsets: int = 100,
    min_docs: int = 5,
    max_docs: int = 200,
    sentences_per_doc: float = 4.0,
    eps_mean: float = 1.3,
    eps_effect: float = 0.05,
    noise: float = 0.6,
    seed: int = 0,
) -> pd.DataFrame:
    """A runs table like a study's: one row per (subset, backend), F1 from a known power law.

    Subsets are drawn as in the Majdik design (documents uniform in ``min_docs``..``max_docs``);
    their sentences, tokens and EPS vary around the given means. F1 = a − b·n^(−c)
    + ``eps_effect``·(EPS − ``eps_mean``) + Gaussian noise with SD ``noise``/√n + 0.005 for n
    training sentences (``noise`` is the SD at one sentence: small training sets scatter
    more), clipped to [0, 1]. Clipping bends the curve wherever a − b·n^(−c) leaves [0, 1] or
    the noise often crosses 0 or 1, so choose curves, ``min_docs`` and ``noise`` that keep it
    inside at the simulated sizes when the known curve is to be recovered.
    """
    rng = np.random.default_rng(seed)
    docs = rng.integers(min_docs, max_docs + 1, size=n_subsets)
    sentences = np.maximum(1, rng.poisson(docs * sentences_per_doc))
    tokens = rng.poisson(sentences * 22.0) + sentences
    eps = np.clip(rng.normal(eps_mean, 0.25 + 0.6 / np.sqrt(docs)), 0.05, None)
    entities = np.round(eps * sentences).astype(int)
    eps = entities / sentences
    rows = []
    for backend, (a, b, c) in curves.items():
        mean = a - b * sentences ** (-c) + eps_effect * (eps - eps_mean)
        sd = noise / np.sqrt(sentences) + 0.005
        f1 = np.clip(mean + sd * rng.standard_normal(n_subsets), 0.0, 1.0)
        for i in range(n_subsets):
            rows.append({
                "job_id": f"{backend}-{i:04d}", "subset_id": f"s{i:04d}", "backend": backend,
                "seed": seed, "n_docs": int(docs[i]), "n_sentences": int(sentences[i]),
                "n_tokens": int(tokens[i]), "n_entities": int(entities[i]), "eps": eps[i],
                "status": "done", "f1": f1[i],
            })
    return pd.DataFrame(rows)
