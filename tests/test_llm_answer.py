"""The llm backend's answers: parsing, locating, overlaps, self-consistency votes, prompts.

Pure Python: no model, no torch.
"""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from nercurve.backends.llm.answer import (
    AnswerStats,
    Entity,
    Parsed,
    json_answer_done,
    locate,
    parse_inline,
    parse_json,
    resolve_overlaps,
    vote,
    vote_settled,
)
from nercurve.backends.llm.params import LLMParams, SelfConsistency
from nercurve.backends.llm.prompt import Prompter, PromptStyle, Unit, units
from nercurve.corpus.model import Doc, Span

LABELS = ("Chemical", "Disease")
D = "Disease"


def ents(*pairs: tuple[str, str]) -> tuple[Entity, ...]:
    return tuple(Entity(t, lab) for t, lab in pairs)


# --- parsing -----------------------------------------------------------------------------

def test_a_valid_json_answer() -> None:
    answer = ('[{"text": "breast cancer", "type": "Disease"}, '
              '{"text": "tamoxifen", "type": "Chemical"}]')
    expected = ents(("breast cancer", D), ("tamoxifen", "Chemical"))
    assert parse_json(answer, LABELS) == Parsed(expected)


def test_prose_around_the_json_is_ignored() -> None:
    answer = ('Sure! The entities [as asked] are:\n[{"text": "ataxia", "type": "Disease"}]\n'
              "Hope this helps.")
    assert parse_json(answer, LABELS) == Parsed(ents(("ataxia", D)))


@pytest.mark.parametrize("answer", [
    '[{"text": "breast cancer", "type": "Dis',  # cut before its first item was complete
    "[ breast cancer",  # an opened list without a single item
    "",  # empty
    "   ",
    "No entities found.",  # no list at all
    '{"text": "ataxia", "type": "Disease"}',  # an object, not a list
])
def test_unparseable_answers(answer: str) -> None:
    assert parse_json(answer, LABELS) == Parsed(ok=False)


@pytest.mark.parametrize(("answer", "only", "expected", "invalid"), [
    ('[{"text": "breast cancer", "type": "Disease"}', None, [("breast cancer", D)], 0),
    ('[{"text": "gout", "type": "Disease"}, {"text": "BRCA1", "type": "Gene"}, {"text": "at',
     None, [("gout", D)], 1),
    ('[{"text": "gout", "type": "Disease"},{"text": "gout", "type": "Disease"}, {"tex',
     None, [("gout", D)], 0),  # a loop stopped on its second item
    ('["ataxia", "gout", "tre', D, [("ataxia", D), ("gout", D)], 0),
])
def test_a_cut_answer_keeps_the_items_complete_before_the_cut(answer, only, expected, invalid):
    parsed = parse_json(answer, LABELS, only=only)
    assert parsed == Parsed(ents(*expected), ok=True, invalid=invalid, partial=True)


def test_an_empty_list_is_a_valid_answer_without_entities() -> None:
    assert parse_json("[]", LABELS) == Parsed(())


def test_duplicates_count_once_and_types_match_case_insensitively() -> None:
    answer = json.dumps([{"text": "ataxia", "type": "Disease"},
                         {"text": " ataxia ", "type": "disease"},
                         {"text": "ataxia", "type": "DISEASE"}])
    assert parse_json(answer, LABELS) == Parsed(ents(("ataxia", D)))


def test_types_outside_the_label_set_and_malformed_items_are_invalid() -> None:
    answer = json.dumps([{"text": "BRCA1", "type": "Gene"}, {"text": "ataxia", "type": "Disease"},
                         {"type": "Disease"}, {"text": "", "type": "Disease"}, 7, "ataxia",
                         {"text": "x"}, {"text": ["y"], "type": "Disease"}])
    assert parse_json(answer, LABELS) == Parsed(ents(("ataxia", D)), invalid=7)


def test_a_per_type_answer_is_a_list_of_strings_of_the_asked_type() -> None:
    assert parse_json('["ataxia", "ataxia", {"text": "gout", "type": "Chemical"}]', LABELS,
                      only=D) == Parsed(ents(("ataxia", D), ("gout", D)))


def test_inline_answers() -> None:
    parsed = parse_inline(
        "Risk of <Disease>breast cancer</Disease> after <Chemical>DES</Chemical>.", LABELS)
    assert parsed == Parsed(ents(("breast cancer", D), ("DES", "Chemical")))
    assert parse_inline("Nothing to tag here.", LABELS) == Parsed(())
    assert parse_inline("A <Gene>BRCA1</Gene> <disease>gout</disease>", LABELS) == Parsed(
        ents(("gout", D)), invalid=1)
    assert parse_inline("<Disease>ataxia</Disease>", LABELS, only=D) == Parsed(ents(("ataxia", D)))


@pytest.mark.parametrize("answer", [
    "",
    "Risk of breast cancer</Disease>",  # closed, never opened
    "<Disease>breast <Chemical>x</Chemical></Disease>",  # nested
    "<Disease>breast cancer</Chemical>",  # mismatched
])
def test_broken_inline_answers_are_unparseable(answer: str) -> None:
    assert parse_inline(answer, LABELS) == Parsed(ok=False)


def test_an_inline_answer_cut_inside_a_tag_keeps_the_entities_closed_before() -> None:
    parsed = parse_inline("<Chemical>DES</Chemical> and <Disease>breast canc", LABELS)
    assert parsed == Parsed(ents(("DES", "Chemical")), ok=True, partial=True)


@pytest.mark.parametrize(("answer", "done"), [
    ("", False),
    ("Sure, the entities are", False),
    ('["ataxia", "gout"', False),
    ('["ataxia", "gout"]', True),
    ('Here: ["ataxia"] and more', True),
    ('["ataxia", "gout", "ataxia"', True),  # a loop: answers never name an item twice
    ('[{"text": "a", "type": "Disease"}, {"text": "a", "ty', False),
    ('[{"text": "a", "type": "Disease"}, {"text": "a", "type": "Disease"}', True),
    ('[{"text": "a", "type": "Disease"}, {"text": "a", "type": "Chemical"}', False),
])
def test_when_a_json_answer_being_generated_is_done(answer: str, done: bool) -> None:
    assert json_answer_done(answer) is done


# --- locating ----------------------------------------------------------------------------

def test_every_occurrence_is_tagged_at_word_boundaries_letter_case_aside() -> None:
    text = "Cancer genes: cancers and cancer; breast cancer."
    spans, missing = locate(ents(("cancer", D)), text)
    assert missing == 0
    assert [text[s.start : s.end] for s in spans] == ["Cancer", "cancer", "cancer"]
    assert [s.start for s in spans] == [0, 26, 41]


@pytest.mark.parametrize("named", ["cancer", "Cancer", "CANCER"])
def test_exact_and_case_variants_are_all_found_whichever_the_answer_names(named: str) -> None:
    text = "cancer and breast cancer; Cancer."
    spans, missing = locate(ents((named, D)), text)
    assert missing == 0 and [(s.start, s.end) for s in spans] == [(0, 6), (18, 24), (26, 32)]


def test_overlapping_occurrences_are_all_found() -> None:
    spans, _ = locate(ents(("A-A", D)), "A-A-A")
    assert [(s.start, s.end) for s in spans] == [(0, 3), (2, 5)]


def test_entities_not_in_the_text_are_hallucinations() -> None:
    spans, missing = locate(ents(("gout", D), ("ataxia", D), ("ataxi", D)), "Severe ataxia.")
    assert spans == [Span(7, 13, D)] and missing == 2


def test_edges_that_are_not_letters_need_no_boundary() -> None:
    text = "adrenoleukodystrophy(ALD) and ALD."
    spans, missing = locate(ents(("(ALD)", D), ("ALD", D)), text)
    assert missing == 0
    assert [(s.start, s.end) for s in spans] == [(20, 25), (21, 24), (30, 33)]


def test_overlaps_are_resolved_longest_or_first() -> None:
    a, b, c = Span(0, 13, D), Span(7, 13, D), Span(7, 13, "Chemical")
    assert resolve_overlaps([b, a, c, b], "longest") == [a]
    assert resolve_overlaps([b, a, c], "first") == [b]
    assert resolve_overlaps([Span(20, 25, D), b], "first") == [b, Span(20, 25, D)]


# --- self-consistency votes (hand-computed) ------------------------------------------------

def test_majority_vote_of_five_answers() -> None:
    answers = [
        ents(("ataxia", D), ("gout", D)),
        ents(("Ataxia", D)),
        ents(("ataxia", D), ("gout", D), ("gout", D)),  # a repeat votes once
        ents(("tremor", D)),
        ents(("ataxia", D), ("tremor", D)),
    ]
    # ataxia: 4 answers (spelled ataxia 3x, Ataxia 1x); gout: 2; tremor: 2
    assert vote(answers, 3) == list(ents(("ataxia", D)))
    assert vote(answers, 2) == list(ents(("ataxia", D), ("gout", D), ("tremor", D)))
    assert vote(answers, 5) == []
    assert vote(answers, 4) == list(ents(("ataxia", D)))


def test_votes_count_per_type_and_spelling_ties_keep_the_first() -> None:
    answers = [ents(("DES", "Chemical")), ents(("des", "Chemical")), ents(("DES", D))]
    assert vote(answers, 2) == list(ents(("DES", "Chemical")))
    assert vote(answers, 1) == list(ents(("DES", "Chemical"), ("DES", D)))
    assert vote([(), ()], 1) == []  # unparseable answers vote for nothing


def test_a_vote_is_settled_when_no_answer_to_come_could_change_it() -> None:
    a, g, t = ents(("ataxia", D)), ents(("gout", D)), ents(("tremor", D))
    both = ents(("ataxia", D), ("gout", D))
    # 3 of 5: after 2 answers an entity not yet named could still reach 3 votes
    assert not vote_settled([a, a], 5, 3)
    assert vote_settled([a, a, ents(("Ataxia", D))], 5, 3)  # unanimous (case aside)
    assert vote_settled([(), (), ()], 5, 3)  # three empty answers: nothing can reach 3
    assert not vote_settled([a, a, both], 5, 3)  # gout: 1 vote + 2 to come could be 3
    assert vote_settled([a, a, both, a], 5, 3)  # gout: 1 + 1 < 3; ataxia kept
    assert not vote_settled([a, a, both, g], 5, 3)  # gout: 2 + 1 could be 3
    assert vote_settled([a, g, t, a, g], 5, 3)  # every answer drawn: always settled
    assert vote([a, a, both, a], 3) == vote([a, a, both, a, g], 3) == list(a)
    # 2 of 3 (a majority): two answers settle it unless they disagree
    assert vote_settled([a, a], 3, 2) and not vote_settled([a, both], 3, 2)


def test_votes_needed_defaults_to_a_majority() -> None:
    assert SelfConsistency(samples=5).votes_needed == 3
    assert SelfConsistency(samples=4).votes_needed == 3
    assert SelfConsistency(samples=2).votes_needed == 2
    assert SelfConsistency(samples=5, min_votes=1).votes_needed == 1
    with pytest.raises(ValidationError, match="exceeds samples"):
        SelfConsistency(samples=3, min_votes=4)


def test_answer_stats() -> None:
    stats = AnswerStats()
    stats.add(Parsed(ents(("a", D), ("b", D)), invalid=1), hallucinated=1)
    stats.add(Parsed(ok=False), hallucinated=0)
    stats.add(Parsed(ents(("c", D), ("d", D))), hallucinated=0)
    numbers = stats.as_dict()
    assert numbers["answers"] == 3 and numbers["parse_failures"] == 1
    assert numbers["parse_failure_rate"] == pytest.approx(1 / 3)
    assert numbers["hallucination_rate"] == pytest.approx(1 / 4)
    assert numbers["invalid_entities"] == 1 and numbers["partial_answers"] == 0
    stats.add(Parsed(ents(("e", D)), partial=True), hallucinated=0)
    assert stats.as_dict()["partial_answers"] == 1 and stats.as_dict()["parse_failures"] == 1
    assert AnswerStats().as_dict()["parse_failure_rate"] == 0.0


# --- parameters and prompts ----------------------------------------------------------------

def test_params_refuse_a_template_without_text_and_shots_with_training() -> None:
    with pytest.raises(ValidationError, match=r"text placeholder \{text\}"):
        LLMParams(template="Find the {types} in the sentence.")
    with pytest.raises(ValidationError, match="train = false"):
        LLMParams(shots=3)
    assert LLMParams(train=False, shots=3).shots == 3
    with pytest.raises(ValidationError):
        LLMParams(self_consistency={"samples": 5, "beams": 2})


class PlainTokenizer:
    """A tokenizer without a chat template: prompts are plain text."""

    chat_template = None
    eos_token = "</s>"


def test_plain_prompts_answers_and_completions() -> None:
    style = PromptStyle(LABELS, {D: "an illness"}, template="{types}\n{format}\nText: {text}",
                        system="Be exact.")
    unit = Unit(0, 0, "DES causes gout and gout.", (Span(0, 3, "Chemical"), Span(11, 15, D),
                                                   Span(20, 24, D)))
    prompter = Prompter(PlainTokenizer(), style, shots=[Unit(0, 0, "No entity.")])
    prompt, completion = prompter.example(unit, None)
    assert prompt.startswith("Be exact.\n\nEntity types: Chemical; Disease (an illness).\n")
    assert "Text: No entity.\nAnswer: []\n\n" in prompt  # the shot, answered
    assert prompt.endswith("Text: DES causes gout and gout.\nAnswer: ")
    assert json.loads(completion.removesuffix("</s>")) == [
        {"text": "DES", "type": "Chemical"}, {"text": "gout", "type": D}]
    assert prompter.asked() == [None]
    assert prompter.parse(completion, None) == Parsed(ents(("DES", "Chemical"), ("gout", D)))


def test_per_type_and_inline_answers() -> None:
    unit = Unit(0, 0, "DES causes gout.", (Span(0, 3, "Chemical"), Span(11, 15, D)))
    per_type = Prompter(PlainTokenizer(), PromptStyle(LABELS, {}, per_type=True))
    assert per_type.asked() == ["Chemical", "Disease"]
    assert per_type.answer(unit, D) == '["gout"]'
    assert "Entity type: Disease." in per_type.question(unit.text, D)
    inline = Prompter(PlainTokenizer(), PromptStyle(LABELS, {}, answer_format="inline"))
    assert inline.answer(unit, None) == "<Chemical>DES</Chemical> causes <Disease>gout</Disease>."
    assert inline.parse(inline.answer(unit, None), None).entities == ents(("DES", "Chemical"),
                                                                          ("gout", D))


def test_units_are_sentences_or_windows_with_their_own_offsets() -> None:
    text = "Gout is common. Ataxia is rare.  Tremor too."
    doc = Doc("d", text, (Span(0, 4, D), Span(16, 22, D), Span(33, 39, D)),
              sentences=((0, 15), (16, 32), (33, 44)))
    one = units([doc])
    assert [u.text for u in one] == ["Gout is common.", "Ataxia is rare.", "Tremor too."]
    assert [(u.start, u.spans) for u in one][1] == (16, (Span(0, 6, D),))
    two = units([doc], sentences_per_unit=2)
    assert [u.text for u in two] == ["Gout is common. Ataxia is rare.", "Tremor too."]
    assert two[0].spans == (Span(0, 4, D), Span(16, 22, D))


# --- several corpora: each document asked about its own corpus's types --------------------

C = "Chemical"
JSON_HOW = ('List every entity as JSON: [{"text": "...", "type": "..."}], copying the text '
            "exactly; [] if none.")


def two_corpora() -> list[Doc]:
    """A document of each corpus (its meta as a multi-corpus study sets it) and one without."""
    return [
        Doc("a", "Gout hurts.", (Span(0, 4, D),),
            meta={"corpus": "ncbi", "corpus_labels": (D,)}),
        Doc("b", "DES harms.", (Span(0, 3, C),),
            meta={"corpus": "chem", "corpus_labels": (C,)}),
        Doc("c", "DES causes gout.", (Span(0, 3, C), Span(11, 15, D))),
    ]


def test_units_carry_the_corpus_and_its_types_of_their_document() -> None:
    a, b, c = units(two_corpora())
    assert (a.corpus, a.corpus_labels) == ("ncbi", (D,))
    assert (b.corpus, b.corpus_labels) == ("chem", (C,))
    assert (c.corpus, c.corpus_labels) == (None, None)
    assert c == Unit(2, 0, "DES causes gout.", (Span(0, 3, C), Span(11, 15, D)))


@pytest.mark.parametrize("name_corpus", [False, True])
def test_a_document_is_asked_about_its_own_corpuss_types(name_corpus) -> None:
    from nercurve.backends.llm.grammar import inline_grammar, json_grammar

    a, b, c = units(two_corpora())
    prompter = Prompter(PlainTokenizer(), PromptStyle(LABELS, {}, system=None,
                                                      name_corpus=name_corpus))
    named = "Corpus: ncbi. " if name_corpus else ""
    on_a = prompter.about(a)
    assert on_a.asked() == [None] and on_a.style.labels == (D,)
    assert on_a.question(a.text, None) == (
        f"{named}Entity type: Disease.\n{JSON_HOW}\nText: Gout hurts.")
    assert on_a.example(a, None) == (
        f"{named}Entity type: Disease.\n{JSON_HOW}\nText: Gout hurts.\nAnswer: ",
        '[{"text": "Gout", "type": "Disease"}]</s>')
    on_b = prompter.about(b)
    assert on_b.prompt(b.text, None) == (
        f"{'Corpus: chem. ' if name_corpus else ''}Entity type: Chemical.\n{JSON_HOW}\n"
        "Text: DES harms.\nAnswer: ")
    # a document without corpus meta: the study's types, the prompt of a one-corpus study
    assert prompter.about(c) is prompter
    assert prompter.question(c.text, None) == (
        f"Entity types: Chemical; Disease.\n{JSON_HOW}\nText: DES causes gout.")
    # another corpus's type is never asked, allowed by the grammar or kept from an answer
    assert C not in on_a.prompt(a.text, None)
    assert '"Chemical"' not in json_grammar(a.text, on_a.style.labels, None)
    assert "<Chemical>" not in inline_grammar(a.text, on_a.style.labels, None)
    parsed = on_a.parse('[{"text": "Gout", "type": "Disease"}, {"text": "hurts", '
                        '"type": "Chemical"}]', None)
    assert parsed.entities == ents(("Gout", D)) and parsed.invalid == 1


def test_per_type_questions_and_shots_follow_each_corpus() -> None:
    a, b, c = units(two_corpora())
    per_type = Prompter(PlainTokenizer(), PromptStyle(LABELS, {}, system=None, per_type=True,
                                                      name_corpus=True), shots=[b, a])
    assert per_type.about(a).asked() == [D] and per_type.about(b).asked() == [C]
    assert per_type.about(c).asked() == [C, D]
    # a question about Disease shows only the shot of a corpus that has Disease
    assert per_type.about(a).prompt(a.text, D) == (
        "Corpus: ncbi. Entity type: Disease.\nList every Disease mention as a JSON list of "
        "strings copied exactly from the text; [] if none.\nText: Gout hurts.\nAnswer: "
        '["Gout"]\n\n'
        "Corpus: ncbi. Entity type: Disease.\nList every Disease mention as a JSON list of "
        "strings copied exactly from the text; [] if none.\nText: Gout hurts.\nAnswer: ")
    # one question for all types: each shot is asked about its own corpus's types
    every = Prompter(PlainTokenizer(), PromptStyle(LABELS, {}, system=None), shots=[b])
    assert every.about(a).prompt(a.text, None) == (
        f"Entity type: Chemical.\n{JSON_HOW}\nText: DES harms.\nAnswer: "
        '[{"text": "DES", "type": "Chemical"}]\n\n'
        f"Entity type: Disease.\n{JSON_HOW}\nText: Gout hurts.\nAnswer: ")
    nothing = Unit(0, 0, "Gout.", corpus="empty", corpus_labels=())
    assert every.about(nothing).asked() == []  # a corpus without types is asked nothing


def test_prompt_corpus_is_left_out_of_the_params_unless_set() -> None:
    from nercurve.backends.llm.classify import LLMClassifyParams

    assert "prompt_corpus" not in LLMParams().model_dump(mode="json")
    assert "prompt_corpus" not in LLMParams(prompt_corpus=False).model_dump(mode="json")
    assert LLMParams(prompt_corpus=True).model_dump(mode="json")["prompt_corpus"] is True
    with pytest.raises(ValidationError, match="prompt_corpus are options of NER"):
        LLMClassifyParams(prompt_corpus=True)


def test_a_saved_shot_keeps_its_corpus() -> None:
    from nercurve.backends.llm.saved import _unit_json, _unit_of

    a, _, c = units(two_corpora())
    assert _unit_of(json.loads(json.dumps(_unit_json(a))), Unit) == a
    assert set(_unit_json(c)) == {"doc_index", "start", "text", "spans"}
