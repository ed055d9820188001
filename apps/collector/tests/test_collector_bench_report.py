"""The README benchmark tables are generated from the committed results file, never hand-copied."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _load_report() -> ModuleType:
    spec = importlib.util.spec_from_file_location("collector_bench_report", BENCH / "report.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


report = _load_report()
RESULTS = json.loads((BENCH / "results.json").read_text())
BLOCKS = [(readme, name) for readme, names in report.BLOCKS.items() for name in names]


@pytest.mark.parametrize(("readme", "name"), BLOCKS, ids=[f"{readme.parent.name}-{name}" for readme, name in BLOCKS])
def test_each_readme_benchmark_block_is_what_the_generator_makes_from_the_committed_results(readme, name):
    """If this fails, a README's benchmark figures were edited by hand or not regenerated after `make bench`:
    run `.venv/bin/python apps/collector/bench/report.py --write`."""
    assert report.block_in(readme.read_text(), name) == report.generated(name, RESULTS)


def test_the_generated_tables_show_the_measured_figures_ratios_and_verdicts():
    """If this fails, the generator drops the figures it exists to publish (a table could be empty and still match)."""
    table = report.generated("results", RESULTS)
    single = RESULTS["collector"]["single"]
    assert f"{single['requests_per_second']:,.0f} req/s" in table
    assert f"{RESULTS['go']['single']['requests_per_second']:,.0f} req/s" in table
    assert f"{RESULTS['ratios']['single']:.3f}x" in table and f"{RESULTS['ratios']['batch_events']:.2f}x" in table
    assert table.count("| met |") + table.count("| **not met** |") == len(RESULTS["targets"])
    assert f"{RESULTS['collector']['batch']['events_per_second']:,.0f} events/s" in report.generated("summary", RESULTS)
    top = RESULTS["collector"]["profile"]["single"][0]["function"]
    assert f"`{top}`" in report.generated("profile", RESULTS)


def test_a_readme_without_its_markers_is_reported_by_name():
    """If this fails, a README that lost its markers is silently left stale instead of failing loudly."""
    with pytest.raises(ValueError, match="bench:results:begin"):
        report.block_in("no markers here", "results")
