"""Batched generation for the ``llm`` backend: greedy answers and self-consistency samples.

Every question of one ``predict`` call starts with the same tokens (the system turn,
the instructions, any few-shot examples): that shared prefix is run through the
model once and its key/value cache reused by every batch. The rest of each prompt
is sorted by length and padded on the left of its own part (the prefix, padding,
then the prompt's own tokens), ``batch_size`` sequences a batch: ``batch_size``
prompts for greedy decoding, ``batch_size // samples`` (at least one) for
self-consistency. A batch runs until its longest answer ends, so a few rambling
samples hold fewer finished rows back in small batches than in large ones.

Greedy decoding is one ``generate`` call per batch. Self-consistency draws
``samples`` answers per prompt in the same batch: the prompts are run through the
model once more (all but their last token), that cache is repeated ``samples``
times, and ``generate`` continues every copy with sampling, so a prompt costs the
same for one answer or five and only the answers cost ``samples`` times as much
(``num_return_sequences`` alone would repeat the prompt's computation for every
sample). The next token is drawn among the ``top_k`` most likely ones, from the
smallest set of them holding ``top_p`` of their probability (at ``temperature``),
as transformers' top-k and top-p warpers do together; it is drawn in a logits
processor that leaves only the drawn token for ``generate`` to take, because the
warpers sort the whole vocabulary and sample over it at every step, which on a
CPU cost as much as the model itself (measured: a third of the time of k = 5
decoding with SmolLM2's 49k-token vocabulary).

A row stops at an end-of-turn token, after ``max_new_tokens``, or, when ``complete``
is given, as soon as its answer is done (a closed JSON list, or one caught in a
loop): a model that adds an explanation after its answer does not spend tokens on
it, and a batch is not held up by one row that repeats itself.

Decoding follows the given settings and nothing else: the checkpoint's own
``generation_config`` (a ``repetition_penalty``, ``no_repeat_ngram_size``, ``top_k``,
... that its authors chose for chat) is set aside for the call, so "greedy" means
greedy for every model; the settings in force are :func:`settings`. Samples are drawn
from a generator seeded by the call's ``seed``, never from torch's global random
state (which a training loop that evaluates on the way shares).

Constrained decoding (``grammars``, one per prompt; see
:mod:`nercurve.backends.llm.grammar`) uses llguidance: each row (each sample, with
self-consistency) has a matcher of its prompt's grammar that is fed the row's tokens
and, before every token, masks the logits to the tokens the grammar allows from
there. The grammar's end admits only an end-of-turn token, so a constrained answer
ends where its grammar does. llguidance was chosen for computing masks on the fly
from a grammar built per input, with no per-grammar precompilation (measured in
``bench/constrained_libs.py``).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Sampling:
    """How answers are drawn: ``samples = 1`` and ``temperature = 0`` is greedy decoding."""

    samples: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 50


def settings(sampling: Sampling, max_new_tokens: int, constrained: bool) -> dict[str, float]:
    """The decoding settings in force for a call (stored with each job's result): the
    sampling, the token limit, whether a grammar constrained the answers, and the
    penalties that are never applied."""
    return {
        "decode_samples": float(sampling.samples),
        "decode_temperature": sampling.temperature,
        "decode_top_p": sampling.top_p,
        "decode_top_k": float(sampling.top_k) if sampling.temperature > 0 else 0.0,
        "decode_max_new_tokens": float(max_new_tokens),
        "decode_constrained": float(constrained),
        "decode_repetition_penalty": 1.0,
        "decode_no_repeat_ngram_size": 0.0,
    }


class Constraint:
    """Constrained decoding for one tokenizer: llguidance's view of its vocabulary (built
    once, about half a second) and a matcher per grammar."""

    def __init__(self, net: Any, tokenizer: Any) -> None:
        import llguidance.hf

        self.tokenizer = llguidance.hf.from_tokenizer(
            tokenizer, n_vocab=net.config.vocab_size, eos_token=end_ids(net, tokenizer))

    def matcher(self, grammar: str) -> Any:
        """A fresh matcher of ``grammar`` (a Lark grammar); an invalid grammar is a bug."""
        import llguidance

        made = llguidance.LLMatcher(self.tokenizer, grammar, log_level=0)
        if made.is_error():
            raise ValueError(f"invalid answer grammar: {made.get_error()}")
        return made


@dataclass
class Generated:
    """Answers per prompt (``samples`` each, in prompt order) and what they cost."""

    answers: list[list[str]]
    new_tokens: int


def generate(
    net: Any,
    tokenizer: Any,
    prompts: Sequence[Sequence[int]],
    *,
    sampling: Sampling,
    max_new_tokens: int,
    batch_size: int,
    device: Any,
    seed: int = 0,
    complete: Callable[[str], bool] | None = None,
    constraint: Constraint | None = None,
    grammars: Sequence[str] | None = None,
) -> Generated:
    """Answers to tokenized prompts, decoded to text without special tokens; with
    ``constraint``, each prompt's answers follow its grammar in ``grammars``."""
    import torch
    from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteriaList

    pad = tokenizer.pad_token_id
    config = GenerationConfig(
        max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
        eos_token_id=end_ids(net, tokenizer), pad_token_id=pad, use_cache=True,
    )
    generator = torch.Generator(device=device).manual_seed(seed)
    k = sampling.samples
    answers: list[list[str]] = [[] for _ in prompts]
    new_tokens = 0
    shared = _shared_prefix(prompts)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    was_training = net.training
    net.eval()
    with torch.inference_mode(), _own_settings(net):
        prefix_cache = _extend(net, None, shared, device) if shared else None
        per_batch = max(1, batch_size // k)
        for b in range(0, len(order), per_batch):
            rows = order[b : b + per_batch]
            ids, mask = _padded(shared, [prompts[i][len(shared):] for i in rows], pad, device)
            width = ids.shape[1]
            cache = None
            if prefix_cache is not None:
                cache = copy.deepcopy(prefix_cache)
                cache.batch_repeat_interleave(len(rows))
            if k > 1:
                cache = _extend(net, cache, ids[:, :-1], device, mask[:, :-1])
                cache.batch_repeat_interleave(k)
                ids, mask = ids.repeat_interleave(k, 0), mask.repeat_interleave(k, 0)
            stop = StoppingCriteriaList(
                [_Complete(tokenizer, width, complete)] if complete is not None else []
            )
            processors: list[Any] = []
            if constraint is not None and grammars is not None:
                matchers = [constraint.matcher(grammars[i]) for i in rows]
                processors.append(_Grammar([m if j == 0 else m.deep_copy()
                                            for m in matchers for j in range(k)], width))
            if sampling.temperature > 0:
                processors.append(_Draw(sampling, generator))
            draw = LogitsProcessorList(processors)
            out = net.generate(input_ids=ids, attention_mask=mask, past_key_values=cache,
                               generation_config=config, logits_processor=draw,
                               stopping_criteria=stop)
            tail = out[:, width:]
            new_tokens += int((tail != pad).sum())
            texts = tokenizer.batch_decode(tail, skip_special_tokens=True)
            for j, i in enumerate(rows):
                answers[i] = texts[j * k : (j + 1) * k]
    net.train(was_training)
    return Generated(answers, new_tokens)


def _shared_prefix(prompts: Sequence[Sequence[int]]) -> list[int]:
    """The tokens every prompt starts with, leaving at least one token of each its own."""
    if not prompts:
        return []
    n = min(len(p) for p in prompts) - 1
    first = prompts[0]
    for p in prompts[1:]:
        n = next((i for i in range(n) if p[i] != first[i]), n)
    return list(first[:n])


@contextlib.contextmanager
def _own_settings(net: Any) -> Iterator[None]:
    """Set the checkpoint's generation settings aside (restored afterwards): ``generate``
    fills every setting a call leaves unset from them."""
    from transformers import GenerationConfig

    model = net.get_base_model() if hasattr(net, "get_base_model") else net
    kept = model.generation_config
    model.generation_config = GenerationConfig()
    try:
        yield
    finally:
        model.generation_config = kept


def end_ids(net: Any, tokenizer: Any) -> list[int]:
    """End-of-turn tokens: the generation config's and the tokenizer's end token."""
    found = getattr(getattr(net, "generation_config", None), "eos_token_id", None)
    ids = found if isinstance(found, list) else [found]
    return sorted({i for i in [*ids, tokenizer.eos_token_id] if i is not None})


def _padded(
    shared: Sequence[int], rows: Sequence[Sequence[int]], pad: int, device: Any
) -> tuple[Any, Any]:
    """Token ids and attention mask of ``shared + padding + row`` for each row."""
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), len(shared) + width), pad, dtype=torch.long)
    mask = torch.zeros_like(ids)
    ids[:, : len(shared)] = torch.tensor(list(shared), dtype=torch.long)
    mask[:, : len(shared)] = 1
    for n, r in enumerate(rows):
        ids[n, ids.shape[1] - len(r):] = torch.tensor(list(r), dtype=torch.long)
        mask[n, ids.shape[1] - len(r):] = 1
    return ids.to(device), mask.to(device)


def _extend(net: Any, cache: Any, ids: Any, device: Any, mask: Any = None) -> Any:
    """The key/value cache after running ``ids`` (the full sequence so far; tokens already in
    ``cache`` are skipped) through the model; ``mask`` covers the full sequence."""
    import torch
    from transformers import DynamicCache

    if not torch.is_tensor(ids):
        ids = torch.tensor([list(ids)], dtype=torch.long, device=device)
    if mask is None:
        mask = torch.ones_like(ids)
    cache = cache if cache is not None else DynamicCache()
    done = cache.get_seq_length()
    if ids.shape[1] > done:
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        net(input_ids=ids[:, done:], attention_mask=mask, position_ids=positions[:, done:],
            past_key_values=cache, use_cache=True, logits_to_keep=1)
    return cache


class _Complete:
    """Stopping criterion: a row is done when its answer so far is complete."""

    def __init__(self, tokenizer: Any, start: int, complete: Callable[[str], bool]) -> None:
        self.tokenizer = tokenizer
        self.start = start
        self.complete = complete

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        texts = self.tokenizer.batch_decode(input_ids[:, self.start :], skip_special_tokens=True)
        return torch.tensor([self.complete(t) for t in texts], device=input_ids.device)


class _Grammar:
    """Logits processor that allows each row only the tokens its grammar allows next
    (rows that have ended are left alone: ``generate`` pads them)."""

    def __init__(self, matchers: list[Any], start: int) -> None:
        self.matchers = matchers
        self.start = start
        self.ended = [False] * len(matchers)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import numpy as np
        import torch
        from llguidance.numpy import allocate_token_bitmask, fill_next_token_bitmask

        width = scores.shape[-1]
        mask = allocate_token_bitmask(len(self.matchers), width)  # every token allowed
        for row, matcher in enumerate(self.matchers):
            if input_ids.shape[1] > self.start and not self.ended[row]:
                self.ended[row] = (matcher.is_stopped()
                                   or not matcher.consume_token(int(input_ids[row, -1])))
            if not self.ended[row]:
                fill_next_token_bitmask(matcher, mask, row)
        bits = np.unpackbits(mask.view(np.uint8), axis=1, bitorder="little")[:, :width]
        allowed = torch.from_numpy(bits.astype(bool)).to(scores.device)
        return scores.masked_fill(~allowed, float("-inf"))


class _Draw:
    """Logits processor that draws the next token (temperature, top-k, then top-p) and
    leaves only that token possible, for greedy selection to take."""

    def __init__(self, sampling: Sampling, generator: Any = None) -> None:
        self.sampling = sampling
        self.generator = generator

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        s = self.sampling
        top, index = (scores.float() / s.temperature).topk(min(s.top_k, scores.shape[-1]))
        probs = top.softmax(-1)
        probs = probs.masked_fill(probs.cumsum(-1) - probs > s.top_p, 0.0)
        drawn = index.gather(-1, torch.multinomial(probs, 1, generator=self.generator))
        return torch.full_like(scores, float("-inf")).scatter_(-1, drawn, 0.0)
