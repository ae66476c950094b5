"""Person and organization mentions for the synthetic COI corpus.

A :class:`Mention` is the exact text of one entity. :func:`ends_sentence_cleanly` tells
whether a mention may stand right before a sentence's final period: spaCy's tokenizer
keeps the period on words such as ``"Inc"``, ``"GmbH"`` or ``"Y"`` (``"Inc."`` is one
token), and its sentencizer then does not end the sentence there.
"""

from __future__ import annotations

from bisect import bisect
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import numpy as np

from nercurve.synthetic import vocab as V

PERSON = "PERSON"
ORG = "ORG"

# A Faker instance for a locale ("en_US"), seeded for the statement being written.
Names = Callable[[str], Any]

# How an author's name is written: weights of the forms in a statement.
NAME_FORMS: dict[str, float] = {
    "full": 0.22,  # "Rudolf Virchow", "John A. Smith"
    "surname_initials": 0.16,  # "Sunakawa Y", "García López JM"
    "initial_surname": 0.14,  # "Y. Sunakawa", "J.A. Smith"
    "initials": 0.18,  # "RLCV"
    "initials_dot": 0.10,  # "J.A.D."
    "title": 0.20,  # "Dr. Virchow" (the title stays outside the span)
}


# Words that spaCy's English tokenizer keeps together with a following period.
_ABBREVIATIONS = frozenset(
    {
        "Inc",
        "Ltd",
        "Corp",
        "Co",
        "Dr",
        "Jr",
        "Sr",
        "St",
        "Bros",
        "Mt",
        "vs",
        "Gen",
        "Mr",
        "Ms",
        "Mrs",
        "Prof",
        "Ala",
        "Ariz",
        "Ark",
        "Calif",
        "Colo",
        "Conn",
        "Del",
        "Fla",
        "Ga",
        "Ill",
        "Ind",
        "Kan",
        "Ky",
        "La",
        "Md",
        "Mich",
        "Minn",
        "Miss",
        "Mo",
        "Neb",
        "Nev",
        "Okla",
        "Ore",
        "Pa",
        "Tenn",
        "Va",
        "Wash",
        "Wis",
    }
)


@dataclass(frozen=True)
class Mention:
    """One entity as written; ``title`` ("Dr. ") is written before it, outside the span."""

    text: str
    label: str
    title: str = ""


def ends_sentence_cleanly(text: str) -> bool:
    """True when ``text + "."`` ends a sentence for spaCy's rule-based sentencizer.

    The tokenizer splits a final period off a word that ends in a lowercase letter, a
    digit or two capitals, unless the word is a listed abbreviation ("Inc", "Co").
    """
    last = text.split()[-1]
    if text.endswith(".") or last in _ABBREVIATIONS:
        return False
    return not (last[-1].isupper() and (len(last) == 1 or not last[-2].isupper()))


def pick(rng: np.random.Generator, items: tuple[Any, ...] | list[Any]) -> Any:
    """One item, uniformly."""
    return items[int(rng.integers(len(items)))]


def weighted(rng: np.random.Generator, weights: dict[str, float]) -> str:
    """A key drawn with probability proportional to its weight."""
    keys = list(weights)
    cumulative = list(accumulate(weights.values()))
    return keys[min(bisect(cumulative, rng.random() * cumulative[-1]), len(keys) - 1)]


@dataclass(frozen=True)
class Person:
    """An author: given names, an optional middle initial and a (possibly multi-word) surname."""

    given: tuple[str, ...]
    surname: str
    middle: str = ""

    def _given_initials(self) -> str:
        parts = [w for g in self.given for w in g.replace("-", " ").split()]
        return "".join(w[0].upper() for w in parts) + self.middle

    def _surname_initials(self) -> str:
        parts = [w for w in self.surname.replace("-", " ").split() if w[:1].isupper()]
        return "".join(w[0] for w in parts) or self.surname[0].upper()

    def mention(self, form: str, rng: np.random.Generator) -> Mention:
        """This person written in one of :data:`NAME_FORMS`."""
        gi = self._given_initials()
        if form == "full":
            if self.middle and rng.random() < 0.7:
                text = f"{self.given[0]} {self.middle}. {self.surname}"
            else:
                text = f"{' '.join(self.given)} {self.surname}"
        elif form == "surname_initials":
            text = f"{self.surname} {gi[:3]}"
        elif form == "initial_surname":
            style = rng.random()
            if style < 0.5 or len(gi) == 1:
                text = f"{gi[0]}. {self.surname}"
            elif style < 0.8:
                text = "".join(f"{c}." for c in gi[:2]) + f" {self.surname}"
            else:
                text = " ".join(f"{c}." for c in gi[:2]) + f" {self.surname}"
        elif form in ("initials", "initials_dot"):
            letters = (gi + self._surname_initials())[:4]
            text = "".join(f"{c}." for c in letters) if form == "initials_dot" else letters
        elif form == "title":
            title = pick(rng, V.TITLES)
            full = title not in ("Mr.", "Ms.") and rng.random() < 0.2  # no gendered guesses
            name = f"{self.given[0]} {self.surname}" if full else self.surname
            return Mention(name, PERSON, title=f"{title} ")
        else:
            raise ValueError(f"unknown name form {form!r}")
        return Mention(text, PERSON)


def make_person(region: str, names: Names, rng: np.random.Generator) -> Person:
    """An author from ``region`` (a key of :data:`vocab.LOCALES`)."""
    if region == "kr":
        return Person((pick(rng, V.KOREAN_GIVEN),), pick(rng, V.KOREAN_SURNAMES))
    gen = names(V.LOCALES[region])
    if region in ("jp", "cn"):
        return Person((gen.first_romanized_name(),), gen.last_romanized_name())
    given = [gen.first_name()]
    if region in ("fr", "de", "br") and rng.random() < 0.15:
        given.append(gen.first_name())
    surname = gen.last_name()
    if region in ("es", "br") and rng.random() < 0.5:
        surname = f"{surname} {gen.last_name()}"
    middle = ""
    if region in ("us", "uk") and rng.random() < 0.35:
        middle = chr(ord("A") + int(rng.integers(26)))
    return Person(tuple(given), surname, middle)


def _with_suffix(base: str, region: str, rng: np.random.Generator) -> Mention:
    suffix = pick(rng, V.SUFFIXES[region])
    sep = ", " if suffix.startswith("Inc") and rng.random() < 0.4 else " "
    return Mention(f"{base}{sep}{suffix}", ORG)


def _org(text: str) -> Mention:
    return Mention(text, ORG)


def company(rng: np.random.Generator, names: Names, region: str) -> Mention:
    """A company: bare name, with a legal suffix, full legal name, subsidiary or invented."""
    kind = weighted(
        rng,
        {
            "bare": 0.34,
            "suffix": 0.2,
            "legal": 0.14,
            "subsidiary": 0.12,
            "invented": 0.14,
            "consultancy": 0.06,
        },
    )
    if kind in ("bare", "suffix"):
        local = [c for c in V.COMPANIES if c[1] == region]
        name, home = pick(rng, local) if local and rng.random() < 0.35 else pick(rng, V.COMPANIES)
        if kind == "bare" or name.endswith(("Company", "Laboratories")):
            return _org(name)
        return _with_suffix(name, home, rng)
    if kind == "legal":
        return _org(pick(rng, V.LEGAL_NAMES))
    if kind == "subsidiary":
        parent = pick(rng, V.SUBSIDIARY_PARENTS)
        country, home = pick(rng, V.SUBSIDIARY_COUNTRIES)
        base = f"{parent}{pick(rng, V.SUBSIDIARY_UNITS)} {country}"
        return _with_suffix(base, home, rng) if rng.random() < 0.35 else _org(base)
    if kind == "invented":
        base = f"{pick(rng, V.INVENTED_HEADS)}{pick(rng, V.INVENTED_TAILS)}"
        if rng.random() < 0.8:
            base = f"{base} {pick(rng, V.INVENTED_KINDS)}"
        home = pick(rng, tuple(V.SUFFIXES))
        return _with_suffix(base, home, rng) if rng.random() < 0.6 else _org(base)
    surname = names("en_US").last_name()
    base = f"{surname} {pick(rng, V.CONSULTANCY_KINDS)}"
    return _with_suffix(base, pick(rng, ("us", "uk", "de")), rng)


def funding_body(rng: np.random.Generator, names: Names) -> Mention:
    """A foundation, university or public funder."""
    kind = weighted(rng, {"funder": 0.45, "foundation": 0.3, "university": 0.25})
    if kind == "funder":
        return _org(pick(rng, V.FUNDERS))
    if kind == "foundation":
        if rng.random() < 0.65:
            return _org(pick(rng, V.FOUNDATIONS))
        pattern = pick(rng, V.FOUNDATION_PATTERNS)
        return _org(pattern.format(name=names("en_US").last_name()))
    if rng.random() < 0.5:
        return _org(pick(rng, V.UNIVERSITIES))
    return _org(pick(rng, V.UNIVERSITY_PATTERNS).format(city=pick(rng, V.CITIES)))


def takes_article(org: Mention) -> bool:
    """True for long-form public funders that read naturally after "the"."""
    return " " in org.text and org.text.startswith(V.ARTICLE_PREFIXES)


def grant_number(rng: np.random.Generator) -> str:
    """An NIH-style or plain grant number."""
    if rng.random() < 0.6:
        return (
            f"{pick(rng, V.GRANT_PREFIXES)}{pick(rng, V.GRANT_INSTITUTES)}"
            f"{int(rng.integers(10_000, 300_000)):06d}"
        )
    if rng.random() < 0.5:
        return f"{int(rng.integers(15, 25))}K{int(rng.integers(10_000, 99_999))}"
    return str(int(rng.integers(1_000_000, 99_999_999)))
