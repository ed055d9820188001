"""Repository-wide pytest rules.

In CI (`CI=true`) a green run must mean that every test of the suite ran and passed. The run fails
when a test was skipped, xfailed, xpassed or deselected (by `-k`, `-m`, `--deselect`, `--lf`, on the
command line or through `PYTEST_ADDOPTS`), when pytest was given paths instead of the `testpaths` of
pyproject.toml, or only collected: a test that did not run proves nothing. Locally these stay what
they are, and a skip says how to enable its test. `tests/test_ci_rules.py` runs pytest on small suites
to prove it.
"""

from __future__ import annotations

import os

import pytest

NOT_RUN = ("skipped", "xfailed", "xpassed", "deselected")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


class CiRules:
    """Collects every test that did not plainly run, and fails a CI run that has any."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.not_run: dict[str, list[str]] = {outcome: [] for outcome in NOT_RUN}
        self.message: str | None = None

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.not_run["deselected"] += [item.nodeid for item in items]

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        # `pytest.skip(allow_module_level=True)` and `importorskip` skip a whole module at collection.
        if report.skipped:
            self.not_run["skipped"].append(report.nodeid)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if hasattr(report, "wasxfail"):
            # A non-strict xfail that passes is reported as passed with `wasxfail`: an xpass.
            if report.skipped:
                self.not_run["xfailed"].append(report.nodeid)
            elif report.passed and report.when == "call":
                self.not_run["xpassed"].append(report.nodeid)
        elif report.skipped:
            self.not_run["skipped"].append(report.nodeid)

    def violations(self) -> list[str]:
        found = [f"{len(ids)} {outcome} ({', '.join(ids[:3])}{', ...' if len(ids) > 3 else ''})"
                 for outcome, ids in self.not_run.items() if ids]
        if self.config.args_source is not pytest.Config.ArgsSource.TESTPATHS:
            found.append(f"pytest was given {' '.join(self.config.args)!r} instead of running its testpaths")
        if self.config.option.collectonly:
            found.append("--collect-only ran no test")
        return found

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            return  # interrupted, usage error, nothing collected: the run fails already
        if violations := self.violations():
            self.message = f"CI=true: {'; '.join(violations)}; in CI every test of the suite must run and pass"
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.message:
            terminalreporter.write_line(self.message, red=True, bold=True)


def pytest_configure(config: pytest.Config) -> None:
    if in_ci():
        config.pluginmanager.register(CiRules(config), "event-platform-ci-rules")
