"""A synthetic corpus of conflict-of-interest (COI) disclosure statements.

The study nercurve generalizes (Majdik et al., JMIR AI 2024) annotated 490 COI
statements from clinical journals with PERSON and ORG entities; that corpus is not
public. :func:`generate_coi` writes statements of the same kind, with exact character
spans, so that every part of nercurve can be run and tested end to end. The text is
synthetic: names come from Faker and from word lists, and no statement describes a real
person's relationships.

How a statement is made:

1. its length in sentences (most statements are short, a few are long), and whether it
   declares no conflicts at all;
2. for a statement with conflicts, its entity density (a per-statement draw around the
   target entities per sentence, EPS) and so its number of entities, spread unevenly
   over its sentences (some sentences carry none, some long semicolon-joined ones many);
3. each sentence written from a form that holds exactly its number of entities.

Every randomness comes from ``numpy.random.default_rng([seed, i])`` for statement ``i``
(and a Faker instance seeded from it), so a statement does not depend on how many are
generated and the same seed gives the same corpus, byte for byte.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache, lru_cache
from itertools import pairwise
from numbers import Integral
from typing import Any

import numpy as np

from nercurve.corpus.model import Corpus, Doc, Span
from nercurve.errors import InputError
from nercurve.synthetic import vocab as V
from nercurve.synthetic.entities import (
    NAME_FORMS,
    ORG,
    Mention,
    company,
    ends_sentence_cleanly,
    funding_body,
    grant_number,
    make_person,
    pick,
    takes_article,
    weighted,
)

DEFAULT_EPS = 2.0
MAX_EPS = 10.0
MAX_PER_SENTENCE = 24
NO_CONFLICT_SHARE = 0.14
# Sentences in a statement with conflicts: 1 + NegativeBinomial(r, p), at most MAX_SENTENCES.
_NB_R, _NB_P = 1.3, 0.2
MAX_SENTENCES = 40
# Sentences in a no-conflict statement: 1, 2 or 3.
_NO_CONFLICT_LENGTHS = (0.7, 0.25, 0.05)
# Spread of statement densities around the target (gamma shape; mean 1).
_DENSITY_SHAPE = 3.0

Piece = str | Mention

# "<person> is an employee of <org>" and what may follow the organization.
_STOCK = ("", " and owns stock in the company", " and holds stock options")
_EMPLOYMENT = (
    (" is an employee of ", _STOCK),
    (" is a full-time employee of ", _STOCK),
    (" was employed by ", ("", " at the time of the study", " during the study")),
)


def generate_coi(n_docs: int, seed: int, eps: float | None = None) -> Corpus:
    """Generate ``n_docs`` synthetic COI disclosure statements with PERSON and ORG spans.

    ``eps`` is the target entities per sentence (sentences as spaCy's rule-based
    sentencizer finds them); ``None`` gives the default mix (about
    :data:`DEFAULT_EPS`). Document ids are ``coi-0001``, ``coi-0002``, ...
    The same ``seed`` gives the same corpus; statement ``i`` is the same whatever
    ``n_docs`` is.
    """
    if isinstance(n_docs, bool) or not isinstance(n_docs, Integral) or n_docs < 1:
        raise InputError(
            f"cannot generate {n_docs!r} documents", hint="ask for at least one document"
        )
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise InputError(f"invalid seed {seed!r}", hint="use a non-negative integer seed")
    n_docs, seed = int(n_docs), int(seed)
    target = DEFAULT_EPS if eps is None else float(eps)
    if not 0.0 <= target <= MAX_EPS:
        raise InputError(
            f"target entities per sentence {target:g} is outside 0..{MAX_EPS:g}",
            hint=f"choose --eps between 0 and {MAX_EPS:g} (real statements have about 1 to 3)",
        )
    density = target / _entity_sentence_share()
    width = max(4, len(str(n_docs)))
    docs = [
        _statement(f"coi-{i + 1:0{width}d}", np.random.default_rng([seed, i]), density)
        for i in range(n_docs)
    ]
    return Corpus(docs, source=f"synthetic COI statements (seed={seed}, eps={target:g})")


@cache
def _faker(locale: str) -> Any:
    from faker import Faker

    return Faker(locale)


@lru_cache(maxsize=1)
def _entity_sentence_share() -> float:
    """Expected share of all sentences that belong to statements with conflicts."""
    r, p = _NB_R, _NB_P
    pmf = [
        math.exp(
            math.lgamma(k + r)
            - math.lgamma(k + 1)
            - math.lgamma(r)
            + r * math.log(p)
            + k * math.log1p(-p)
        )
        for k in range(MAX_SENTENCES - 1)
    ]
    mean_conflict = sum((k + 1) * q for k, q in enumerate(pmf)) + MAX_SENTENCES * (1 - sum(pmf))
    mean_none = sum((k + 1) * q for k, q in enumerate(_NO_CONFLICT_LENGTHS))
    conflict = (1 - NO_CONFLICT_SHARE) * mean_conflict
    return conflict / (conflict + NO_CONFLICT_SHARE * mean_none)


def _statement(doc_id: str, rng: np.random.Generator, density: float) -> Doc:
    writer = _Writer(rng)
    if rng.random() < NO_CONFLICT_SHARE:
        n = 1 + int(rng.choice(len(_NO_CONFLICT_LENGTHS), p=_NO_CONFLICT_LENGTHS))
        sentences = writer.no_conflict(n)
    else:
        n = min(MAX_SENTENCES, 1 + int(rng.negative_binomial(_NB_R, _NB_P)))
        counts = _entity_counts(n, density * rng.gamma(_DENSITY_SHAPE, 1 / _DENSITY_SHAPE), rng)
        sentences = writer.conflicts(counts)
    header = f"{pick(rng, V.HEADERS)} " if rng.random() < 0.35 else ""
    return _render(doc_id, sentences, header)


def _entity_counts(n: int, density: float, rng: np.random.Generator) -> list[int]:
    """Entities in each of ``n`` sentences: about ``density * n`` in all, spread unevenly.

    About a quarter of the sentences carry none (when the total allows it); every other
    sentence carries one plus a share of the rest.
    """
    expected = min(density * n, MAX_PER_SENTENCE * n)
    total = int(expected) + int(rng.random() < expected - int(expected))
    carriers = rng.random(n) >= 0.25
    if not carriers.any():
        carriers[int(rng.integers(n))] = True
    index = np.flatnonzero(carriers)
    if len(index) > total:
        index = rng.choice(index, size=total, replace=False)
    counts = np.zeros(n, dtype=np.int64)
    if total:
        weights = rng.gamma(0.8, 1.0, size=len(index)) + 1e-9
        counts[index] = 1 + rng.multinomial(total - len(index), weights / weights.sum())
    while (over := counts > MAX_PER_SENTENCE).any():
        surplus = int((counts[over] - MAX_PER_SENTENCE).sum())
        counts[over] = MAX_PER_SENTENCE
        room = np.flatnonzero(counts < MAX_PER_SENTENCE)
        counts += np.bincount(rng.choice(room, size=surplus), minlength=n)
    return [int(c) for c in counts]


def _render(doc_id: str, sentences: list[list[Piece]], header: str = "") -> Doc:
    """Join sentences (each ends in a period) after ``header`` into text and exact spans."""
    parts: list[str] = [header]
    spans: list[Span] = []
    pos = len(header)
    for s_index, pieces in enumerate(sentences):
        if s_index:
            parts.append(" ")
            pos += 1
        for i, piece in enumerate([*pieces, "."]):
            if isinstance(piece, Mention):
                if piece.title:
                    parts.append(piece.title)
                    pos += len(piece.title)
                spans.append(Span(pos, pos + len(piece.text), piece.label))
                text = piece.text
            else:
                text = piece[:1].upper() + piece[1:] if i == 0 else piece
            parts.append(text)
            pos += len(text)
    return Doc(doc_id, "".join(parts), tuple(spans))


def _join(groups: list[list[Piece]], oxford: bool, semicolons: bool = False) -> list[Piece]:
    """ "A", "A and B", "A, B(,) and C" or "A; B; and C" from groups of pieces."""
    if len(groups) == 1:
        return list(groups[0])
    out: list[Piece] = []
    for i, group in enumerate(groups):
        if i == len(groups) - 1:
            if semicolons:
                out.append("; and ")
            else:
                out.append(", and " if oxford and len(groups) > 2 else " and ")
        elif i:
            out.append("; " if semicolons else ", ")
        out.extend(group)
    return out


def _split(n: int, parts: int, rng: np.random.Generator) -> list[int]:
    """``n`` items into ``parts`` groups of at least one each."""
    cuts = sorted(rng.choice(np.arange(1, n), size=parts - 1, replace=False).tolist())
    bounds = [0, *cuts, n]
    return [b - a for a, b in pairwise(bounds)]


class _Writer:
    """Writes the sentences of one statement: its authors, companies and habits."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.faker_seed = int(rng.integers(2**31))
        self.seeded: set[str] = set()
        self.region = weighted(rng, V.REGION_WEIGHTS)
        self.mixed_forms = rng.random() < 0.3
        self.form = weighted(rng, NAME_FORMS)
        self.oxford = rng.random() < 0.5
        self.authors: list[Mention] = []
        self.next_author = 0
        self.n_authors = int(rng.integers(3, 16))
        self.companies: list[Mention] = []
        self.n_companies = int(rng.integers(3, 16))
        self.used: set[str] = set()

    # -- entities ---------------------------------------------------------------------

    def names(self, locale: str) -> Any:
        """The Faker instance for ``locale``, seeded for this statement on first use."""
        faker = _faker(locale)
        if locale not in self.seeded:
            faker.seed_instance(self.faker_seed)
            self.seeded.add(locale)
        return faker

    def person(self) -> Mention:
        """The next author (authors repeat once all have been named)."""
        if len(self.authors) < self.n_authors and self.next_author == len(self.authors):
            region = (
                self.region if self.rng.random() < 0.8 else weighted(self.rng, V.REGION_WEIGHTS)
            )
            form = weighted(self.rng, NAME_FORMS) if self.mixed_forms else self.form
            person = make_person(region, self.names, self.rng)
            self.authors.append(person.mention(form, self.rng))
        mention = self.authors[self.next_author % len(self.authors)]
        self.next_author = (self.next_author + 1) % self.n_authors
        return mention

    def persons(self, n: int) -> list[list[Piece]]:
        """``n`` author mentions, one group each."""
        return [[self.person()] for _ in range(n)]

    def orgs(self, n: int, funders: float = 0.0) -> list[list[Piece]]:
        """``n`` distinct organizations; each a funder, foundation or university with
        probability ``funders``, else one of the statement's companies."""
        chosen: list[Mention] = []
        seen: set[str] = set()
        while len(chosen) < n:
            org = self._org(funders, seen)
            chosen.append(org)
            seen.add(org.text)
        return [["the ", org] if takes_article(org) else [org] for org in chosen]

    def _org(self, funders: float, exclude: set[str] | frozenset[str] = frozenset()) -> Mention:
        """An organization whose name is not in ``exclude`` (if one is found in a few tries)."""
        if self.rng.random() < funders:
            for _ in range(20):
                org = funding_body(self.rng, self.names)
                if org.text not in exclude:
                    break
            return org
        known = [c for c in self.companies if c.text not in exclude]
        if known and len(self.companies) >= self.n_companies:
            return pick(self.rng, known)
        for _ in range(20):
            org = company(self.rng, self.names, self.region)
            if org.text not in exclude:
                break
        self.companies.append(org)
        return org

    def org_list(self, n: int, noun: str = "", semicolons: bool = True) -> list[Piece]:
        """``n`` organizations paying for ``noun`` joined into one list (semicolons for
        long ones, at times, when ``semicolons``)."""
        semi = semicolons and n >= 4 and self.rng.random() < 0.4
        funders = 0.3 if noun in V.GRANT_NOUNS else 0.0
        return _join(self.orgs(n, funders), self.oxford, semi)

    # -- sentences without entities ---------------------------------------------------

    def boilerplate(self, pool: tuple[str, ...]) -> list[Piece]:
        """A sentence from ``pool`` without its final period, not repeating one already used."""
        fresh = [s for s in pool if s not in self.used] or list(pool)
        sentence = pick(self.rng, fresh)
        self.used.add(sentence)
        return [sentence[:-1]]

    def no_conflict(self, n: int) -> list[list[Piece]]:
        """A statement that declares no conflicts: ``n`` sentences without entities."""
        pools = [V.NO_CONFLICT, V.NO_FUNDING] + [V.NEUTRAL] * (n - 2)
        return [self.boilerplate(pool) for pool in pools[:n]]

    def conflicts(self, counts: list[int]) -> list[list[Piece]]:
        """A statement whose sentences carry these numbers of entities."""
        if not any(counts):
            pools = [V.NO_CONFLICT] + [V.NEUTRAL + V.NO_FUNDING] * (len(counts) - 1)
            return [self.boilerplate(pool) for pool in pools]
        out = []
        for i, k in enumerate(counts):
            if k:
                out.append(self.sentence(k))
            elif i == len(counts) - 1:
                out.append(self.boilerplate(V.CLOSING))
            else:
                out.append(self.boilerplate(V.NEUTRAL))
        return out

    # -- sentences with entities ------------------------------------------------------

    def sentence(self, k: int) -> list[Piece]:
        """A sentence with exactly ``k`` entities."""
        forms = {"funding": 2.0 if k <= 4 else 0.6}
        if k <= self.n_authors:  # persons named in one sentence are distinct authors
            forms["nothing"] = 3.0 if k <= 3 else 0.5
        if k >= 2:
            forms |= {"relations": 6.0 if k <= 6 else 2.5, "supported": 0.8 if k <= 4 else 0.0}
        if k in (2, 3):
            forms["employee"] = 1.5
        if k == 3:
            forms["writing"] = 0.5
        if k >= 3:
            forms["group"] = 1.5
        if k >= 4:
            forms["semicolon"] = 4.0 if k >= 6 else 2.0
        form = weighted(self.rng, {f: w for f, w in forms.items() if w > 0})
        return self._clean_end([p for p in self._forms()[form](k) if p != ""])

    def _clean_end(self, pieces: list[Piece]) -> list[Piece]:
        """Swap a sentence-final organization that would hide the sentence end from spaCy
        ("... from Pfizer Inc." is one sentence with the next) for one that does not."""
        last = pieces[-1]
        if not isinstance(last, Mention) or ends_sentence_cleanly(last.text):
            return pieces
        assert last.label == ORG, "sentence forms never end with a person"
        if len(pieces) > 1 and pieces[-2] == "the ":
            pieces = pieces[:-1]
        named = {p.text for p in pieces if isinstance(p, Mention)}
        for attempt in range(40):
            org = self._org(0.5 if attempt < 20 else 1.0, named)
            if ends_sentence_cleanly(org.text):
                break
        else:
            org = Mention(pick(self.rng, V.FUNDERS), ORG)
        return [*pieces[:-1], *(["the ", org] if takes_article(org) else [org])]

    def _forms(self) -> dict[str, Callable[[int], list[Piece]]]:
        return {
            "nothing": self._nothing,
            "funding": self._funding,
            "relations": lambda k: self._relations(self.person(), k - 1),
            "supported": self._supported,
            "employee": self._employee,
            "writing": self._writing,
            "group": self._group,
            "semicolon": self._semicolon,
        }

    def _nothing(self, k: int) -> list[Piece]:
        predicate = pick(self.rng, V.NOTHING_SG if k == 1 else V.NOTHING_PL)
        return [*_join(self.persons(k), self.oxford), f" {predicate}"]

    def _funding(self, k: int) -> list[Piece]:
        lead = pick(
            self.rng,
            (
                "this work was supported by ",
                "this study was funded by ",
                "funding for this study was provided by ",
                "the trial was sponsored by ",
                "this research was supported in part by ",
                "the study received funding from ",
            ),
        )
        orgs = self.orgs(k, funders=0.7)
        if self.rng.random() < 0.4:
            orgs[-1] = [*orgs[-1], f" (grant {grant_number(self.rng)})"]
        return [lead, *_join(orgs, self.oxford, semicolons=k >= 5 and self.rng.random() < 0.5)]

    def _relation(self, n_orgs: int, plural: bool = False, nested: bool = False) -> list[Piece]:
        """A predicate naming ``n_orgs`` organizations: "received honoraria from A and B"."""
        if self.rng.random() < 0.3:
            role = pick(self.rng, V.ROLES_PL if plural else V.ROLES_SG)
            return [f"{role} ", *self.org_list(n_orgs, semicolons=not nested)]
        verb = pick(self.rng, V.REPORT_VERBS_PL if plural else V.REPORT_VERBS_SG)
        noun = pick(self.rng, V.RELATION_NOUNS)
        return [f"{verb} {noun} from ", *self.org_list(n_orgs, noun, semicolons=not nested)]

    def _payments(self, n_orgs: int) -> list[Piece]:
        """ "honoraria from A and B" without a verb."""
        noun = pick(self.rng, V.RELATION_NOUNS)
        return [f"{noun} from ", *self.org_list(n_orgs, noun, semicolons=False)]

    def _relations(self, who: Mention, n_orgs: int, nested: bool = False) -> list[Piece]:
        """One author's payments from ``n_orgs`` organizations, in one of several styles.

        ``nested`` (a clause of a semicolon-joined sentence) rules out the styles that
        use semicolons themselves.
        """
        style = self.rng.random()
        if n_orgs >= 2 and style < 0.2 and not nested:  # ICMJE style
            first, second = _split(n_orgs, 2, self.rng)
            return [
                who,
                " reports ",
                *self._payments(first),
                ", during the conduct of the study; ",
                *self._payments(second),
                ", outside the submitted work",
            ]
        if n_orgs >= 2 and style < 0.35 and not nested:  # "JAD: honoraria (A, B); fees (C)"
            groups = _split(n_orgs, min(n_orgs, int(self.rng.integers(2, 4))), self.rng)
            out: list[Piece] = [who, ": "]
            for i, size in enumerate(groups):
                noun = pick(self.rng, V.RELATION_NOUNS)
                out += [
                    "; " if i else "",
                    f"{noun} (",
                    *self.org_list(size, noun, semicolons=False),
                    ")",
                ]
            return out
        if n_orgs >= 2 and style < 0.55:  # two relations joined by "and"
            first, second = _split(n_orgs, 2, self.rng)
            return [
                who,
                f" {pick(self.rng, V.REPORT_VERBS_SG)} ",
                *self._payments(first),
                " and ",
                *self._payments(second),
            ]
        qualifier = pick(self.rng, V.QUALIFIERS)
        return [who, " ", *self._relation(n_orgs, nested=nested), qualifier]

    def _supported(self, k: int) -> list[Piece]:
        lead = pick(
            self.rng,
            (
                " is supported by ",
                " received a career development award from ",
                " was funded by a fellowship from ",
                " is the recipient of a grant from ",
            ),
        )
        orgs = self.orgs(k - 1, funders=0.8)
        if self.rng.random() < 0.5:
            orgs[-1] = [*orgs[-1], f" ({grant_number(self.rng)})"]
        return [self.person(), lead, *_join(orgs, self.oxford)]

    def _employee(self, k: int) -> list[Piece]:
        who = self.person()
        first = self.orgs(1)[0]
        if k == 2:
            lead, tails = _EMPLOYMENT[int(self.rng.integers(len(_EMPLOYMENT)))]
            return [who, lead, *first, pick(self.rng, tails)]
        second = self.orgs(1)[0]
        middle = pick(
            self.rng,
            (
                " and holds stock in ",
                ", a subsidiary of ",
                " and has received travel support from ",
            ),
        )
        return [who, " is an employee of ", *first, middle, *second]

    def _writing(self, k: int) -> list[Piece]:
        who = self.person()
        first, second = self.orgs(2)
        lead = pick(
            self.rng,
            ("medical writing support was provided by ", "editorial assistance was provided by "),
        )
        return [lead, who, " of ", *first, ", and was funded by ", *second]

    def _group(self, k: int) -> list[Piece]:
        n_persons = int(self.rng.integers(2, min(k - 1, self.n_authors) + 1))
        n_orgs = k - n_persons
        who = _join(self.persons(n_persons), self.oxford)
        if n_orgs == 1 and self.rng.random() < 0.4:
            tail = pick(
                self.rng, ("", " and may own stock in the company", " and hold stock options")
            )
            return [*who, " are employees of ", *self.orgs(1)[0], tail]
        return [*who, " ", *self._relation(n_orgs, plural=True)]

    def _semicolon(self, k: int) -> list[Piece]:
        """Several authors' payments in one sentence joined by semicolons."""
        n_persons = int(self.rng.integers(2, min(k // 2, self.n_authors) + 1))
        clauses = []
        for size in _split(k, n_persons, self.rng):
            who = self.person()
            if size == 1:
                clauses.append([who, f" {pick(self.rng, V.NOTHING_SG)}"])
            else:
                clauses.append(self._relations(who, size - 1, nested=True))
        return _join(clauses, self.oxford, semicolons=True)
