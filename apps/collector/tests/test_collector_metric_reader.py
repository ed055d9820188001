"""The tests' own metric reader: a series that is not there must fail, never read as zero."""

from __future__ import annotations

import pytest

EXPOSITION = """\
# HELP collector_ready 1 when /readyz answers 200.
# TYPE collector_ready gauge
collector_ready 0.0
# TYPE collector_commit_events histogram
collector_commit_events_count 3.0
# TYPE collector_errors_total counter
collector_errors_total{kind="validation"} 2.0
"""


def test_the_metric_reader_returns_the_value_of_a_present_series_even_when_it_is_zero(parse_metric):
    """If this fails, tests reading /metrics read the wrong sample (or none) and prove nothing."""
    assert parse_metric(EXPOSITION, "collector_ready") == 0.0
    assert parse_metric(EXPOSITION, "collector_commit_events_count") == 3.0
    assert parse_metric(EXPOSITION, "collector_errors_total", {"kind": "validation"}) == 2.0


@pytest.mark.parametrize(
    ("name", "labels"),
    [("collector_readiness", None), ("collector_commit_events_total", None), ("collector_errors_total", {"kind": "x"})],
)
def test_the_metric_reader_fails_on_a_series_that_is_not_there(parse_metric, name, labels):
    """If this fails, a renamed or missing metric reads as 0 and `ready == 0` or `commits <= 30` pass anyway."""
    with pytest.raises(AssertionError, match="no sample collector_"):
        parse_metric(EXPOSITION, name, labels)


def test_the_metric_reader_reads_an_untouched_labelled_child_as_zero_only_when_asked(parse_metric):
    """If this fails, callers cannot say that a never-incremented labelled counter counts as 0."""
    assert parse_metric(EXPOSITION, "collector_errors_total", {"kind": "x"}, absent=0.0) == 0.0
