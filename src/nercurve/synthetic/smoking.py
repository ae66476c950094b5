"""A synthetic corpus of discharge-summary-like notes labelled with the patient's smoking status.

The i2b2 2006 smoking-status challenge classified discharge summaries as current, past,
never or unknown smokers; its notes are not free to share. :func:`generate_smoking` writes
short notes with the same class structure (CURRENT, PAST, NEVER, UNKNOWN) and none of its
text: every note is assembled from the word lists in :mod:`.smoking_vocab` and describes no
real patient. It is the built-in data of a text-classification study.

How a note is made:

1. its class, drawn with the class ``balance`` (by default 25% CURRENT, 20% PAST, 30% NEVER,
   25% UNKNOWN);
2. the usual sections (history of present illness, past history, medications, social and
   family history, hospital course, follow-up), each from the word lists;
3. the smoking statement, in the social history (most notes) or in the history of present
   illness: a *plain* form, or with probability ``difficulty`` a *hard* one (negation that
   concerns alcohol, a quit weeks or months ago, which the i2b2 guidelines count as
   current smoking, pack-years in a former smoker's note, "non-smoker"). An UNKNOWN note
   says nothing of the patient's smoking, or (hard) says that it is not known;
4. with probability ``difficulty``, a distractor: a relative who smokes, secondhand smoke;
5. a current smoker's note may also carry cessation advice in its follow-up.

Every randomness comes from ``numpy.random.default_rng([seed, i])`` for note ``i``, so a note
does not depend on how many are generated. ``meta`` records each note's hard cases
(``hard``: the smoking statement's form, ``distractor``) for error analysis.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from numbers import Integral, Real
from typing import Any

import numpy as np

from nercurve.corpus.model import Corpus, Doc
from nercurve.errors import InputError
from nercurve.synthetic import smoking_vocab as V

DEFAULT_BALANCE: dict[str, float] = {"CURRENT": 0.25, "PAST": 0.2, "NEVER": 0.3,
                                     "UNKNOWN": 0.25}
DEFAULT_DIFFICULTY = 0.3
_IN_HPI = 0.15  # share of notes that state the smoking status in the present illness
_CESSATION = 0.35  # share of current smokers' notes with cessation advice
_ADMISSION_YEARS = (2008, 2022)


def generate_smoking(
    n_docs: int,
    seed: int,
    *,
    balance: Mapping[str, float] | None = None,
    difficulty: float = DEFAULT_DIFFICULTY,
) -> Corpus:
    """Generate ``n_docs`` synthetic notes, each with one smoking-status class in ``cats``.

    ``balance`` maps classes (CURRENT, PAST, NEVER, UNKNOWN) to weights (normalised; a class
    left out never occurs); ``difficulty`` in [0, 1] is the probability of a hard phrasing
    and of a distractor in each note. Document ids are ``smk-0001``, ``smk-0002``, ...
    The same arguments give the same corpus; note ``i`` is the same whatever ``n_docs`` is.
    """
    if isinstance(n_docs, bool) or not isinstance(n_docs, Integral) or n_docs < 1:
        raise InputError(f"cannot generate {n_docs!r} documents",
                         hint="ask for at least one document")
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise InputError(f"invalid seed {seed!r}", hint="use a non-negative integer seed")
    if isinstance(difficulty, bool) or not isinstance(difficulty, Real) or not (
        0.0 <= difficulty <= 1.0
    ):
        raise InputError(f"difficulty {difficulty!r} is outside 0..1",
                         hint="choose a probability, e.g. --difficulty 0.3")
    weights = _weights(balance if balance is not None else DEFAULT_BALANCE)
    width = max(4, len(str(n_docs)))
    docs = [
        _note(f"smk-{i + 1:0{width}d}", np.random.default_rng([int(seed), i]), weights,
              float(difficulty))
        for i in range(int(n_docs))
    ]
    shares = ", ".join(f"{c}={w:.2f}" for c, w in zip(V.CLASSES, weights, strict=True) if w)
    return Corpus(docs, source=f"synthetic smoking-status notes (seed={seed}, {shares}, "
                               f"difficulty={difficulty:g})")


def parse_balance(text: str) -> dict[str, float]:
    """Parse ``"CURRENT=1,PAST=1,NEVER=2,UNKNOWN=4"`` into class weights."""
    out: dict[str, float] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        try:
            out[name.strip().upper()] = float(value) if sep else float("nan")
        except ValueError:
            out[name.strip().upper()] = float("nan")
        if not out[name.strip().upper()] >= 0:
            raise InputError(f"bad class balance entry {item.strip()!r}",
                             hint="write CLASS=WEIGHT pairs, e.g. --balance "
                                  "CURRENT=1,PAST=1,NEVER=2,UNKNOWN=4")
    return _checked(out)


def _checked(balance: Mapping[str, float]) -> dict[str, float]:
    unknown = sorted(set(balance) - set(V.CLASSES))
    if unknown:
        raise InputError(f"unknown smoking class(es) {', '.join(unknown)} in the balance",
                         hint=f"the classes are {', '.join(V.CLASSES)}")
    if not sum(balance.values()) > 0:
        raise InputError("the class balance gives every class weight 0",
                         hint="give at least one class a positive weight")
    return dict(balance)


def _weights(balance: Mapping[str, float]) -> np.ndarray:
    checked = _checked(balance)
    raw = np.array([float(checked.get(c, 0.0)) for c in V.CLASSES])
    if not np.all(np.isfinite(raw)) or (raw < 0).any():
        raise InputError("class weights must be finite and not negative",
                         hint="e.g. --balance CURRENT=1,PAST=1,NEVER=2,UNKNOWN=4")
    return raw / raw.sum()


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def fill(template: str, rng: np.random.Generator, fields: dict[str, Any]) -> str:
    """Fill a phrase form's fields: the note's own (``fields``), then fresh random values."""
    fresh = {
        "amount": _pick(rng, V.AMOUNTS),
        "years": int(rng.integers(2, 36)),
        "weeks": int(rng.integers(1, 9)),
        "months": int(rng.integers(1, 7)),
        "py": int(rng.integers(5, 80)),
        "few": int(rng.integers(2, 6)),
        "relative": _pick(rng, V.RELATIVES),
        "age": int(rng.integers(45, 85)),
        "year": fields["admitted"] - int(rng.integers(2, 30)),
        "drinks": int(rng.integers(2, 15)),
        "job": _pick(rng, V.JOBS),
        "ef": int(rng.integers(20, 65)),
        "wbc": f"{rng.uniform(4, 22):.1f}",
        "sat": int(rng.integers(84, 99)),
        "bnp": int(rng.integers(150, 2400)),
    }
    text = template.format(**{**fresh, **fields})
    return text[0].upper() + text[1:]


def _note(doc_id: str, rng: np.random.Generator, weights: np.ndarray, difficulty: float) -> Doc:
    label = V.CLASSES[int(rng.choice(len(V.CLASSES), p=weights))]
    male = bool(rng.random() < 0.5)
    admitted = int(rng.integers(*_ADMISSION_YEARS))
    fields: dict[str, Any] = {
        "pronoun": "he" if male else "she", "pronoun_lower": "he" if male else "she",
        "object": "him" if male else "her", "partner": "his wife" if male else "her husband",
        "admitted": admitted,
    }
    meta: dict[str, Any] = {"synthetic": True}
    hard = rng.random() < difficulty
    forms = V.SMOKING_HARD[label] if hard else V.SMOKING_PLAIN[label]
    statement = fill(_pick(rng, forms), rng, fields) if forms else ""
    if statement:
        meta["hard"] = hard
    distractor = ""
    if rng.random() < difficulty:
        distractor = fill(_pick(rng, V.DISTRACTORS), rng, fields)
        meta["distractor"] = True
    in_hpi = bool(statement) and rng.random() < _IN_HPI

    month, day = int(rng.integers(1, 13)), int(rng.integers(1, 25))
    stay = int(rng.integers(2, 9))
    history = [V.HISTORY[i] for i in rng.choice(len(V.HISTORY), int(rng.integers(2, 5)),
                                                replace=False)]
    age = int(rng.integers(38, 92))
    article = "an" if str(age).startswith("8") else "a"
    hpi = [fill(f"The patient is {article} {age}-year-old {'man' if male else 'woman'} with "
                f"{_pick(rng, V.COMPLAINTS)} {_pick(rng, V.DURATIONS)}.", rng, fields)]
    if rng.random() < 0.5:
        hpi.append(fill(_pick(rng, V.FINDINGS), rng, fields))
    if in_hpi:
        hpi.insert(1, statement)
    social = [fill(_pick(rng, V.LIVING if rng.random() < 0.5 else V.ALCOHOL), rng, fields)]
    if statement and not in_hpi:
        social.insert(int(rng.integers(0, 2)), statement)
    family = [fill(_pick(rng, V.FAMILY), rng, fields)]
    if distractor.startswith(tuple(V.RELATIVES)):
        family.append(distractor)
    elif distractor:
        social.append(distractor)
    meds = [V.MEDICATIONS[i] for i in rng.choice(len(V.MEDICATIONS), int(rng.integers(2, 4)),
                                                 replace=False)]
    course = [fill(_pick(rng, V.COURSE), rng, fields)]
    follow = [_pick(rng, V.FOLLOW_UP)]
    if label == "CURRENT" and rng.random() < _CESSATION:
        follow.insert(0, _pick(rng, V.CESSATION))
    sections = [
        f"DISCHARGE SUMMARY. Admitted {month:02d}/{day:02d}/{admitted}, discharged "
        f"{month:02d}/{day + stay:02d}/{admitted}. Service: {_pick(rng, V.SERVICES)}.",
        "HISTORY OF PRESENT ILLNESS: " + " ".join(hpi),
        "PAST MEDICAL HISTORY: " + "; ".join(h[0].upper() + h[1:] for h in history) + ".",
        "MEDICATIONS: " + "; ".join(meds) + ".",
        "SOCIAL HISTORY: " + " ".join(social),
        "FAMILY HISTORY: " + " ".join(family),
        "HOSPITAL COURSE: " + " ".join(course),
        "DISCHARGE INSTRUCTIONS: " + " ".join(follow),
    ]
    text = re.sub(r"[ \t]+\n", "\n", "\n".join(sections))
    classes = [c for c, w in zip(V.CLASSES, weights, strict=True) if w > 0]
    return Doc(id=doc_id, text=text, cats={c: float(c == label) for c in classes}, meta=meta)
