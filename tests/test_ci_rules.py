"""The CI rules of the root conftest.py and pyproject.toml, run on small throwaway suites.

Each case runs pytest in a subprocess on a suite of a few trivial tests, with the repository's own
conftest.py loaded as a plugin (`-p conftest`, the repository root on PYTHONPATH), so what is tested
is the file CI uses, not a copy of it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from harness import REPO_ROOT

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
PYTEST_INI = PYPROJECT["tool"]["pytest"]["ini_options"]

PASSING = """
import pytest

def test_one():
    assert True

@pytest.mark.slow
def test_marked():
    assert True
"""


def run_suite(tmp_path: Path, extra: str = "", *args: str, ci: bool = True, addopts: str = "",
              ini: str = "") -> subprocess.CompletedProcess[str]:
    """pytest on `suite/test_sample.py` (two passing tests + `extra`); an `extra` starting with `#module`
    goes into a module of its own. Plugins load only by `-p` (fast, and no third-party hook interferes)."""
    suite = tmp_path / "suite"
    suite.mkdir()
    if extra.startswith("#module"):
        (suite / "test_other.py").write_text(f"import pytest\n{extra}")
        extra = ""
    (suite / "test_sample.py").write_text(PASSING + extra)
    (tmp_path / "pytest.ini").write_text(f"[pytest]\ntestpaths = suite\nmarkers = slow: a marker to select by\n{ini}")
    env = {key: value for key, value in os.environ.items() if key not in ("CI", "PYTEST_ADDOPTS")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    if ci:
        env["CI"] = "true"
    if addopts:
        env["PYTEST_ADDOPTS"] = addopts
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "conftest", "-p", "pytest_timeout",
                           "-p", "no:cacheprovider", *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_a_ci_run_where_every_test_ran_and_passed_is_green(tmp_path: Path) -> None:
    """If this fails, the CI rules fail every run, so CI can never pass (and the cases below prove nothing)."""
    result = run_suite(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout and "CI=true" not in result.stdout


SKIP = """
def test_skipped():
    pytest.skip("needs something this machine lacks")
"""
XFAIL = """
@pytest.mark.xfail(reason="known bug")
def test_known_bug():
    assert False
"""
XPASS = """
@pytest.mark.xfail(reason="was a bug once")
def test_fixed_bug():
    assert True
"""
MODULE_SKIP = "#module\npytest.skip('whole module', allow_module_level=True)\n"


@pytest.mark.parametrize(("extra", "args", "addopts", "expected"), [
    pytest.param(SKIP, (), "", "1 skipped (suite/test_sample.py::test_skipped)", id="skip"),
    pytest.param(MODULE_SKIP, (), "", "1 skipped (suite/test_other.py)", id="module-level-skip"),
    pytest.param(XFAIL, (), "", "1 xfailed (suite/test_sample.py::test_known_bug)", id="xfail"),
    pytest.param(XPASS, (), "", "1 xpassed (suite/test_sample.py::test_fixed_bug)", id="xpass"),
    pytest.param("", ("-k", "one"), "", "1 deselected (suite/test_sample.py::test_marked)", id="-k"),
    pytest.param("", ("-m", "not slow"), "", "1 deselected (suite/test_sample.py::test_marked)", id="-m"),
    pytest.param("", ("--deselect", "suite/test_sample.py::test_one"), "",
                 "1 deselected (suite/test_sample.py::test_one)", id="--deselect"),
    pytest.param("", (), "-k one", "1 deselected (suite/test_sample.py::test_marked)", id="PYTEST_ADDOPTS"),
    pytest.param("", ("suite/test_sample.py::test_one",), "",
                 "pytest was given 'suite/test_sample.py::test_one' instead of running its testpaths",
                 id="explicit-path"),
    pytest.param("", ("--collect-only",), "", "--collect-only ran no test", id="--collect-only"),
])
def test_in_ci_a_test_that_did_not_plainly_run_fails_the_run_naming_it(
        tmp_path: Path, extra: str, args: tuple[str, ...], addopts: str, expected: str) -> None:
    """If this fails, CI can be green while tests were skipped, xfailed, xpassed or deselected (on the
    command line or through PYTEST_ADDOPTS), or while only part of the suite ran."""
    result = run_suite(tmp_path, extra, *args, addopts=addopts)
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout + result.stderr
    assert f"CI=true: {expected}; in CI every test of the suite must run and pass" in result.stdout, result.stdout


def test_outside_ci_a_skip_stays_a_skip(tmp_path: Path) -> None:
    """If this fails, the CI rule leaks into local runs, where a skip that says how to enable its test is
    the intended outcome (no reference data on a laptop)."""
    result = run_suite(tmp_path, SKIP, ci=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 skipped" in result.stdout and "CI=true" not in result.stdout


def test_a_hung_test_fails_on_the_timeout_and_the_run_goes_on(tmp_path: Path) -> None:
    """If this fails, a test that waits forever hangs CI until its 90-minute limit instead of failing:
    pytest-timeout is not active, or its method cannot interrupt a blocked test (with `thread` the whole
    run would die at the first hang, losing every later result). Runs with the repository's
    timeout_method and a 1 s timeout instead of the real default, to stay fast."""
    hang = "\nimport time\n\ndef test_hangs():\n    time.sleep(600)\n\ndef test_after_the_hang():\n    assert True\n"
    result = run_suite(tmp_path, hang, ini=f"timeout = 1\ntimeout_method = {PYTEST_INI['timeout_method']}\n")
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout + result.stderr
    assert "Timeout (>1.0s)" in result.stdout, result.stdout
    assert "1 failed, 3 passed" in result.stdout, result.stdout


def test_every_test_of_this_run_has_a_timeout_well_inside_cis_limit(pytestconfig: pytest.Config) -> None:
    """If this fails, a test can hang without a bound, or the bounds add up past CI's 90 minutes: the
    default per-test timeout and the session timeout are the ones this very run uses."""
    per_test = float(pytestconfig.getini("timeout") or 0)
    session = float(pytestconfig.getini("session_timeout") or 0)
    assert 0 < per_test <= 300, f"timeout = {per_test}: every test needs a default of at most 300 s"
    assert 0 < session <= 45 * 60, f"session_timeout = {session}: the suite must stop well within CI's 90 minutes"


def test_pre_commit_runs_make_lint_with_the_projects_own_tools() -> None:
    """If this fails, the pre-commit hook checks something other than CI's `make lint` (a passing
    commit then fails CI), or it downloads hook repositories with tool versions of their own."""
    import yaml

    config_file = REPO_ROOT / ".pre-commit-config.yaml"
    validate = subprocess.run([sys.executable, "-m", "pre_commit", "validate-config", str(config_file)],
                              capture_output=True, text=True, timeout=120, check=False)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    repos = yaml.safe_load(config_file.read_text())["repos"]
    assert [repo["repo"] for repo in repos] == ["local"]
    hooks = repos[0]["hooks"]
    assert [(h["entry"].split(), h["language"], h.get("pass_filenames")) for h in hooks] == [
        (["make", "--no-print-directory", "lint"], "system", False)]
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert re.search(r"^test: venv lint ", makefile, re.MULTILINE), "make test must run make lint first"
