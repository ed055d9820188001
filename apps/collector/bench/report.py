#!/usr/bin/env python3
"""The README benchmark tables, generated from ``results.json`` (what ``make bench`` writes).

    .venv/bin/python apps/collector/bench/report.py           # print the generated blocks
    .venv/bin/python apps/collector/bench/report.py --write   # put them into both READMEs
    .venv/bin/python apps/collector/bench/report.py --check   # exit 1 when a README differs

Each README holds the generated text between ``<!-- bench:NAME:begin -->`` and
``<!-- bench:NAME:end -->`` markers; nothing between them is edited by hand (a test compares the
committed READMEs with what this script makes from the committed results file).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"
COLLECTOR_README = HERE.parent / "README.md"
ROOT_README = HERE.parents[2] / "README.md"


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _verdict(target: dict[str, Any]) -> str:
    return "met" if target["met"] else "**not met**"


def _targets(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {target["measure"]: target for target in results["targets"]}


def side_by_side(results: dict[str, Any]) -> str:
    """The collector README's table: every figure, the Go original beside it, ratios, targets."""
    collector, go, ratios, load = results["collector"], results["go"], results["ratios"], results["load"]
    single, batch, rss = collector["single"], collector["batch"], collector["rss"]
    go_single = go["single"]
    targets = list(results["targets"])
    machine = results["machine"]
    lines = [
        f"Run of {results['started']}: {machine['cpus']} CPUs ({machine['cpu_model']}), Python {machine['python']}, "
        f"PostgreSQL {machine['postgres']['version']} (`fsync={machine['postgres']['fsync']}`, "
        f"`synchronous_commit={machine['postgres']['synchronous_commit']}`), Redis {machine['redis']}; "
        f"{load['generator']}, {load['warmup_seconds']} s warm-up then {load['seconds']} s per run.",
        "",
        "| Measure | Collector (production configuration) | Go original (in memory) | Ratio |",
        "| --- | --- | --- | --- |",
        f"| single-event POSTs, {load['connections']} connections | {_n(single['requests_per_second'])} req/s "
        f"| {_n(go_single['requests_per_second'])} req/s | {ratios['single']:.3f}x |",
        f"| p50 / p99 latency | {single['p50_ms']:.1f} / {single['p99_ms']:.1f} ms "
        f"| {go_single['p50_ms']:.1f} / {go_single['p99_ms']:.1f} ms | |",
        f"| batched: {load['batch_size']}-event POSTs, {load['batch_connections']} connections "
        f"| {_n(batch['events_per_second'])} events/s | {_n(go_single['requests_per_second'])} events/s "
        f"(one per POST) | {ratios['batch_events']:.2f}x |",
        f"| service CPU per single-event request | {single['cpu_us_per_request']:.0f} µs "
        f"| {go_single['cpu_us_per_request']:.0f} µs | |",
        f"| service CPU per event, batched | {batch['cpu_us_per_event']:.1f} µs | | |",
        f"| RSS at {_n(rss['small_events'])} -> {_n(rss['large_events'])} stored events "
        f"| {rss['small_mib']} -> {rss['large_mib']} MiB ({rss['growth_percent']:+.1f} %) | | |",
        f"| 201s / rows committed (single; batched events) | {_n(single['acknowledged'])} / {_n(single['stored'])}; "
        f"{_n(batch['acknowledged_events'])} / {_n(batch['stored'])} | | |",
        "",
        "| Target | Measured | Target | |",
        "| --- | --- | --- | --- |",
    ]
    for target in targets:
        value = target["value"]
        shown = f"{value:,.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"
        lines.append(f"| {target['measure']} | {shown} | {target['target']} | {_verdict(target)} |")
    return "\n".join(lines)


def profile(results: dict[str, Any]) -> str:
    """The profile's top entries under each load (own samples, and with callees)."""
    profiles = results["collector"].get("profile")
    if not profiles:
        return "No profile in this results file (the run used `--no-profile`)."
    lines = [
        f"`{profiles['sampler']}` attached to the service for {profiles['seconds']} s under each load, "
        "after the measured runs; functions by own samples (time in the function itself, C calls it makes "
        "included), with their cumulative share (callees included).",
    ]
    for name, title in (("single", "single-event POSTs"), ("batch", "batched POSTs")):
        lines += ["", f"{title}:", "", "| Function | Own | With callees |", "| --- | --- | --- |"]
        for entry in profiles[name]:
            function = entry["function"].replace("|", "\\|")
            lines.append(f"| `{function}` | {entry['own_percent']} % | {entry['cumulative_percent']} % |")
    return "\n".join(lines)


def summary(results: dict[str, Any]) -> str:
    """The root README's short table."""
    targets = _targets(results)
    collector, go, ratios, load = results["collector"], results["go"], results["ratios"], results["load"]
    single, batch, rss = collector["single"], collector["batch"], collector["rss"]

    def verdicts(*names: str) -> str:
        return ", ".join(_verdict(targets[name]) for name in names)

    single_names = [t["measure"] for t in results["targets"][:3]]
    batch_names = [t["measure"] for t in results["targets"][3:5]]
    rss_name = results["targets"][5]["measure"]
    return "\n".join(
        [
            "| measure (LOG_LEVEL=info, Redis on, auth on) | collector | Go original | target |",
            "| --- | --- | --- | --- |",
            f"| single-event POSTs at {load['connections']} connections, each committed before its 201 "
            f"| {_n(single['requests_per_second'])} req/s, p99 {single['p99_ms']:.1f} ms ({ratios['single']:.3f}x) "
            f"| {_n(go['single']['requests_per_second'])} req/s | >= 13,000 req/s, >= 0.18x, p99 < 30 ms: "
            f"{verdicts(*single_names)} |",
            f"| batched ({load['batch_size']}-event POSTs) | {_n(batch['events_per_second'])} events/s "
            f"({ratios['batch_events']:.2f}x) | {_n(go['single']['requests_per_second'])} events/s "
            f"| >= 140,000 events/s, >= 1.9x: {verdicts(*batch_names)} |",
            f"| server RSS at {_n(rss['small_events'])} -> {_n(rss['large_events'])} stored events "
            f"| {rss['small_mib']} -> {rss['large_mib']} MiB ({rss['growth_percent']:+.1f} %) | | < +10 %: "
            f"{verdicts(rss_name)} |",
        ]
    )


#: README -> the generated blocks it holds.
BLOCKS: dict[Path, dict[str, Callable[[dict[str, Any]], str]]] = {
    COLLECTOR_README: {"results": side_by_side, "profile": profile},
    ROOT_README: {"summary": summary},
}


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- bench:{name}:begin -->\n)(.*?)(<!-- bench:{name}:end -->)", re.S)


def generated(name: str, results: dict[str, Any]) -> str:
    for blocks in BLOCKS.values():
        if name in blocks:
            return blocks[name](results)
    raise KeyError(name)


def block_in(text: str, name: str) -> str:
    """The text between a README's markers for ``name``; a clear error when the markers are missing."""
    match = _pattern(name).search(text)
    if match is None:
        raise ValueError(f"no <!-- bench:{name}:begin --> ... <!-- bench:{name}:end --> markers")
    return match.group(2).removesuffix("\n")


def render(text: str, results: dict[str, Any], names: dict[str, Callable[[dict[str, Any]], str]]) -> str:
    for name, make in names.items():
        match = _pattern(name).search(text)
        if match is None:
            block_in(text, name)  # raises, naming the missing markers
            continue
        text = text[: match.start(2)] + make(results) + "\n" + text[match.end(2) :]
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=RESULTS)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="rewrite the blocks in both READMEs")
    mode.add_argument("--check", action="store_true", help="exit 1 when a README's blocks differ")
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text())
    stale = []
    for readme, names in BLOCKS.items():
        current = readme.read_text()
        wanted = render(current, results, names)
        if args.write and wanted != current:
            readme.write_text(wanted)
            print(f"updated {readme}")
        elif args.check and wanted != current:
            stale.append(str(readme))
        elif not (args.write or args.check):
            for name, make in names.items():
                print(f"<!-- {readme.name}: bench:{name} -->\n{make(results)}\n")
    if stale:
        print(f"README benchmark tables differ from {args.results}: {', '.join(stale)}; run report.py --write")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
