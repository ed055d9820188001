#!/usr/bin/env python3
"""Benchmark of the event collector in its production configuration, beside the Go original (``make bench``).

Run from the repository root:  .venv/bin/python apps/collector/bench/bench.py

The production configuration is what the platform deploys: ``LOG_LEVEL=info`` (one JSON line per
request), the Redis cache on, bearer-token auth on, PostgreSQL with its fsync settings as they are
(reported, never changed). What it does, start to finish (and it cleans up after itself):

1. checks its tools: ``wrk`` (installed with apt-get when running as root), PostgreSQL, Redis, and
   builds the Go original from ``../shared/peers/go-collector`` (``build.sh``, Debian's Go);
2. the Go original: single-event POSTs with ``wrk`` (warm-up, then a fixed duration);
3. the collector (``python -m collector``, one process) on a fresh schema: RSS at 100,000 and at
   1,000,000 stored events (bulk-loaded server-side, then the API exercised), single-event POSTs,
   then batch POSTs, each after its own warm-up and each checked against the table (every 201 is a
   committed row);
4. optionally (``--profile``, needs py-spy from ``apps/collector/requirements-dev.txt``) a py-spy
   profile of the service under each load, reduced to its top entries;
5. prints the side-by-side table with the ratios and whether each target is met, and writes
   everything to ``--results`` (default ``apps/collector/bench/results.json``), the file the README
   tables are generated from (``apps/collector/bench/report.py --write``).

wrk runs on the same machine as everything else: absolute figures depend on the machine and on
what else runs on it; the ratios against the Go original measured in the same run much less so.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import asyncpg
import redis

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parents[2]
DEFAULT_RESULTS = HERE / "results.json"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
DEFAULT_GO_PEER = REPOSITORY.parent / "shared" / "peers" / "go-collector"
#: Not a secret: a token for a throw-away local service that lives for the length of the run.
BENCH_TOKEN = "bench-token"
RSS_SMALL = 100_000

#: The targets of issue 15 (production configuration, wrk sharing the cores).
TARGETS = {
    "single_rps": 13_000.0,
    "single_ratio": 0.18,
    "single_p99_ms": 30.0,
    "batch_events_per_second": 140_000.0,
    "batch_ratio": 1.9,
    "rss_growth_percent": 10.0,
}


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def fail(message: str) -> None:
    sys.exit(f"[bench] FAILED: {message}")


@dataclass
class WrkResult:
    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk not found; installing the Debian package 'wrk' (running as root)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env)
        path = shutil.which("wrk")
        if path:
            return path
    fail("wrk is required: install it with `sudo apt-get install -y wrk` (Debian/Ubuntu package 'wrk')")
    raise AssertionError  # unreachable: fail() exits


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (less noisy than throughput on a busy machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _duration_to_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"not a wrk duration: {text!r}")
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def parse_wrk(output: str) -> WrkResult:
    """The figures of one ``wrk --latency`` report."""
    requests_match = re.search(r"(\d+) requests in ([\d.]+)(\w+)", output)
    rps_match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if not (requests_match and rps_match and p50 and p99):
        raise RuntimeError(f"cannot parse wrk output:\n{output}")
    return WrkResult(
        requests=int(requests_match.group(1)),
        seconds=_duration_to_ms(requests_match.group(2) + requests_match.group(3)) / 1000,
        requests_per_second=float(rps_match.group(1)),
        p50_ms=_duration_to_ms(p50.group(1)),
        p99_ms=_duration_to_ms(p99.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(g) for g in errors.groups()) if errors else 0,
    )


class Wrk:
    """``wrk`` with the bench's fixed shape: 2 threads, a warm-up, then a measured run."""

    def __init__(self, path: str, threads: int = 2) -> None:
        self.path = path
        self.threads = threads

    def run(self, url: str, script: str, *, connections: int, seconds: float, env: dict[str, str]) -> WrkResult:
        command = [
            self.path,
            f"-t{self.threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            str(HERE / script),
            url,
        ]
        completed = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **env})
        if completed.returncode != 0:
            fail(f"wrk exited with {completed.returncode}: {completed.stderr.strip() or completed.stdout.strip()}")
        return parse_wrk(completed.stdout)



class Database:
    """Direct access for setup, bulk loading and checks (not through the service)."""

    def __init__(self, url: str, schema: str) -> None:
        self.url = url
        self.schema = schema

    async def _run(self, sql: str, *args: object, fetch: bool = False) -> Any:
        connection = await asyncpg.connect(self.url, timeout=10)
        try:
            if fetch:
                return await connection.fetchval(sql, *args)
            return await connection.execute(sql, *args)
        finally:
            await connection.close()

    def value(self, sql: str) -> Any:
        return asyncio.run(self._run(sql, fetch=True))

    def count(self) -> int:
        return int(self.value(f'SELECT count(*) FROM "{self.schema}".events'))

    def bulk_load(self, events: int) -> None:
        """Insert ``events`` older events server-side (fast: no HTTP, no Python per row)."""
        sql = (
            f'INSERT INTO "{self.schema}".events (time, id, source, action, attributes) '
            "SELECT now() - interval '1 day' - g * interval '1 millisecond', gen_random_uuid(), "
            "'bulk-' || (g % 50), 'action-' || (g % 20), ('{\"bulk\":true,\"n\":' || g || '}')::json "
            "FROM generate_series(1, $1) AS g"
        )
        asyncio.run(self._run(sql, events))
        asyncio.run(self._run(f'ANALYZE "{self.schema}".events'))

    def drop(self) -> None:
        asyncio.run(self._run(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))

    def describe(self) -> dict[str, str]:
        try:
            return {
                "version": str(self.value("SHOW server_version")),
                "fsync": str(self.value("SHOW fsync")),
                "synchronous_commit": str(self.value("SHOW synchronous_commit")),
            }
        except Exception as exc:
            fail(f"PostgreSQL not reachable at {self.url} ({exc}); set COLLECTOR_BENCH_DATABASE_URL")
            raise AssertionError from exc  # unreachable: fail() exits


class Process:
    """A server subprocess on a free port, its output in a log file."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log_path: Path, port: int) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 — kept open for the process lifetime, closed in stop()
        self.process = subprocess.Popen(command, env={**os.environ, **env}, stdout=self._log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_answering(self, path: str, method: str = "GET", timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                fail(f"{self.name} exited with {self.process.returncode}: {self.log_path.read_text()[-3000:]}")
            try:
                request = urllib.request.Request(self.url + path, method=method)
                with urllib.request.urlopen(request, timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        fail(f"{self.name} did not answer {method} {path} within {timeout:.0f}s: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def build_go_peer(source: Path, workdir: Path) -> Path:
    build = source / "build.sh"
    if not build.is_file():
        fail(f"the Go original is not at {source} (set --go-peer); its build.sh builds it")
    binary = workdir / "go-collector"
    completed = subprocess.run(
        ["bash", str(build)], capture_output=True, text=True, env={**os.environ, "OUT_BIN": str(binary)}
    )
    if completed.returncode != 0 or not binary.is_file():
        fail(f"building the Go original failed: {completed.stderr.strip() or completed.stdout.strip()}")
    log(completed.stdout.strip().splitlines()[-1])
    return binary


def drop_redis_keys(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def redis_version(url: str) -> str:
    client = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3)
    try:
        return str(client.info("server")["redis_version"])
    except Exception as exc:
        fail(f"Redis not reachable at {url} ({exc}); set COLLECTOR_BENCH_REDIS_URL")
        raise AssertionError from exc  # unreachable: fail() exits
    finally:
        client.close()


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


# -- profiling -----------------------------------------------------------------


def top_entries(collapsed: str, count: int) -> list[dict[str, Any]]:
    """The ``count`` functions with the most samples (own and cumulative) in py-spy's collapsed stacks.

    Each line is ``frame;frame;...;frame samples``; a frame is ``function (file:line)``. Lines are
    folded to the function (file without its directory, no line number), so one function is one entry.
    """
    own: Counter[str] = Counter()
    cumulative: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, samples_text = line.rpartition(" ")
        if not stack or not samples_text.isdigit():
            continue
        samples = int(samples_text)
        total += samples
        frames = [_fold_frame(frame) for frame in stack.split(";")]
        own[frames[-1]] += samples
        for frame in set(frames):
            cumulative[frame] += samples
    if not total:
        return []
    return [
        {
            "function": function,
            "own_percent": round(100 * samples / total, 1),
            "cumulative_percent": round(100 * cumulative[function] / total, 1),
        }
        for function, samples in own.most_common(count)
    ]


def _fold_frame(frame: str) -> str:
    match = re.fullmatch(r"(.*) \((.*?)(?::\d+)?\)", frame.strip())
    if not match:
        return frame.strip()
    function, path = match.groups()
    parts = Path(path).parts
    # Keep the package for our own code and the libraries' (collector/writer.py, asyncpg/pool.py).
    short = "/".join(parts[-2:]) if len(parts) >= 2 else path
    return f"{function} ({short})"


@contextmanager
def py_spy(pid: int, seconds: float, output: Path) -> Iterator[None]:
    command = [
        py_spy_path(),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, round(seconds))),
        "--format",
        "raw",
        "--rate",
        "200",
        "--output",
        str(output),
        "--nonblocking",
    ]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        yield
    finally:
        _, errors = spy.communicate(timeout=seconds + 60)
        if spy.returncode != 0 or not output.is_file():
            fail(f"py-spy failed (exit {spy.returncode}): {errors.strip()[-500:]}")


def py_spy_path() -> str:
    """py-spy from the venv (apps/collector/requirements-dev.txt), else from PATH; empty when absent."""
    return shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy") or ""


# -- the run -------------------------------------------------------------------


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of issue 15 with its measured value and whether it is met."""
    single, batch = results["collector"]["single"], results["collector"]["batch"]
    ratios, rss = results["ratios"], results["collector"]["rss"]
    return [
        {
            "measure": "single-event POSTs, req/s",
            "value": single["requests_per_second"],
            "target": f">= {TARGETS['single_rps']:,.0f}",
            "met": single["requests_per_second"] >= TARGETS["single_rps"],
        },
        {
            "measure": "single-event POSTs vs the Go original",
            "value": ratios["single"],
            "target": f">= {TARGETS['single_ratio']}x",
            "met": ratios["single"] >= TARGETS["single_ratio"],
        },
        {
            "measure": "single-event POSTs, p99 ms",
            "value": single["p99_ms"],
            "target": f"< {TARGETS['single_p99_ms']:.0f} ms",
            "met": single["p99_ms"] < TARGETS["single_p99_ms"],
        },
        {
            "measure": "batched POSTs, events/s",
            "value": batch["events_per_second"],
            "target": f">= {TARGETS['batch_events_per_second']:,.0f}",
            "met": batch["events_per_second"] >= TARGETS["batch_events_per_second"],
        },
        {
            "measure": "batched events/s vs the Go original's events/s",
            "value": ratios["batch_events"],
            "target": f">= {TARGETS['batch_ratio']}x",
            "met": ratios["batch_events"] >= TARGETS["batch_ratio"],
        },
        {
            "measure": f"RSS growth {RSS_SMALL:,} -> {rss['large_events']:,} stored events, %",
            "value": rss["growth_percent"],
            "target": f"< {TARGETS['rss_growth_percent']:.0f} %",
            "met": rss["growth_percent"] < TARGETS["rss_growth_percent"],
        },
        {
            "measure": "acknowledged events missing from the table",
            "value": single["acknowledged"] - min(single["acknowledged"], single["stored"])
            + batch["acknowledged_events"] - min(batch["acknowledged_events"], batch["stored"]),
            "target": "0",
            "met": single["stored"] >= single["acknowledged"] and batch["stored"] >= batch["acknowledged_events"],
        },
    ]


def run_go(args: argparse.Namespace, wrk: Wrk, workdir: Path, env: dict[str, str]) -> dict[str, Any]:
    binary = build_go_peer(args.go_peer, workdir)
    port = free_port()
    go = Process("the Go original", [str(binary)], {"ADDR": f"127.0.0.1:{port}"}, workdir / "go.log", port)
    try:
        go.wait_answering("/events")
        log(f"Go original: single-event POSTs at {args.connections} connections, {args.seconds}s")
        wrk.run(go.url + "/events", "post_single.lua", connections=args.connections, seconds=args.warmup, env=env)
        cpu_before = cpu_seconds(go.pid)
        single = wrk.run(
            go.url + "/events", "post_single.lua", connections=args.connections, seconds=args.seconds, env=env
        )
        cpu = cpu_seconds(go.pid) - cpu_before
        if single.non_2xx or single.socket_errors:
            fail(f"the Go original answered {single.non_2xx} non-2xx, {single.socket_errors} socket errors")
        rss_mib = round(rss_bytes(go.pid) / 2**20, 1)
    finally:
        go.stop()
    log(f"Go original: {single.requests_per_second:,.0f} req/s, p99 {single.p99_ms:.1f} ms")
    return {
        "single": {**asdict(single), "cpu_us_per_request": round(cpu / max(1, single.requests) * 1e6, 1)},
        "rss_mib_after": rss_mib,
    }


def run_collector(args: argparse.Namespace, wrk: Wrk, workdir: Path, database: Database) -> dict[str, Any]:
    schema = database.schema
    prefix = f"{schema}:"
    env = {
        "DATABASE_URL": args.database_url,
        "DATABASE_SCHEMA": schema,
        "REDIS_URL": args.redis_url,
        "REDIS_KEY_PREFIX": prefix,
        "AUTH_TOKENS": BENCH_TOKEN,
        "LOG_LEVEL": "info",
        "RETENTION_DAYS": "0",
        "MAX_BODY_BYTES": str(16 << 20),
        "MAX_BATCH_SIZE": str(max(1000, args.batch_size)),
        "HOST": "127.0.0.1",
    }
    port = free_port()
    env["PORT"] = str(port)
    wrk_env = {"BENCH_TOKEN": BENCH_TOKEN, "BATCH_SIZE": str(args.batch_size)}
    service = Process(
        "the collector", [sys.executable, "-m", "collector"], env, workdir / "collector.log", port
    )
    results: dict[str, Any] = {}
    try:
        service.wait_answering("/readyz")
        pid = service.pid
        log(f"collector pid {pid} on {service.url}, schema {schema}: LOG_LEVEL=info, Redis on, auth on")

        # -- memory: RSS at 100k and at 1M stored events -------------------------
        exercise = max(5.0, args.seconds / 2)
        rss: dict[int, int] = {}
        for target in (RSS_SMALL, args.rss_events):
            missing = target - database.count()
            log(f"bulk-loading {missing:,} events to reach {target:,}")
            database.bulk_load(missing)
            log(f"exercising the API for {exercise:.0f}s (writes, recent page, filters, time window)")
            wrk.run(service.url, "mixed.lua", connections=16, seconds=exercise, env=wrk_env)
            rss[target] = rss_bytes(pid)
            log(f"RSS at {database.count():,} events: {rss[target] / 2**20:.1f} MiB")
        results["rss"] = {
            "small_events": RSS_SMALL,
            "large_events": args.rss_events,
            "small_mib": round(rss[RSS_SMALL] / 2**20, 1),
            "large_mib": round(rss[args.rss_events] / 2**20, 1),
            "growth_percent": round((rss[args.rss_events] / rss[RSS_SMALL] - 1) * 100, 1),
        }

        # -- single-event POSTs --------------------------------------------------
        log(f"collector: single-event POSTs at {args.connections} connections, {args.seconds}s")
        wrk.run(service.url + "/events", "post_single.lua", connections=args.connections, seconds=args.warmup,
                env=wrk_env)
        before = database.count()
        cpu_before = cpu_seconds(pid)
        single = wrk.run(
            service.url + "/events", "post_single.lua", connections=args.connections, seconds=args.seconds,
            env=wrk_env,
        )
        cpu = cpu_seconds(pid) - cpu_before
        stored = database.count() - before
        acknowledged = single.requests - single.non_2xx
        results["single"] = {
            **asdict(single),
            "acknowledged": acknowledged,
            "stored": stored,
            "cpu_us_per_request": round(cpu / max(1, single.requests) * 1e6, 1),
        }
        log(f"collector: {single.requests_per_second:,.0f} req/s, p99 {single.p99_ms:.1f} ms, "
            f"{acknowledged:,} acknowledged, {stored:,} stored")

        # -- batch POSTs ---------------------------------------------------------
        log(f"collector: {args.batch_size}-event POSTs at {args.batch_connections} connections, {args.seconds}s")
        wrk.run(service.url + "/events", "post_batch.lua", connections=args.batch_connections, seconds=args.warmup,
                env=wrk_env)
        before = database.count()
        cpu_before = cpu_seconds(pid)
        batch = wrk.run(
            service.url + "/events", "post_batch.lua", connections=args.batch_connections, seconds=args.seconds,
            env=wrk_env,
        )
        cpu = cpu_seconds(pid) - cpu_before
        stored = database.count() - before
        acknowledged_events = (batch.requests - batch.non_2xx) * args.batch_size
        results["batch"] = {
            **asdict(batch),
            "batch_size": args.batch_size,
            "acknowledged_events": acknowledged_events,
            "stored": stored,
            "events_per_second": round(acknowledged_events / batch.seconds),
            "cpu_us_per_event": round(cpu / max(1, acknowledged_events) * 1e6, 2),
        }
        log(f"collector: {results['batch']['events_per_second']:,} events/s, {stored:,} stored")
        results["rss_mib_after"] = round(rss_bytes(pid) / 2**20, 1)
        results["events_after"] = database.count()

        if args.profile:
            results["profile"] = profile(args, wrk, service, workdir, wrk_env)
        log_lines = sum(1 for _ in service.log_path.open("rb"))
        results["log_lines"] = log_lines
    finally:
        service.stop()
        drop_redis_keys(args.redis_url, prefix)
    return results


def profile(
    args: argparse.Namespace, wrk: Wrk, service: Process, workdir: Path, wrk_env: dict[str, str]
) -> dict[str, Any]:
    """py-spy profiles of the service under each load (separate runs: sampling costs CPU)."""
    profiles: dict[str, Any] = {"seconds": args.profile_seconds, "sampler": "py-spy record --rate 200 --nonblocking"}
    loads = {
        "single": ("post_single.lua", args.connections),
        "batch": ("post_batch.lua", args.batch_connections),
    }
    for name, (script, connections) in loads.items():
        output = workdir / f"profile-{name}.txt"
        log(f"profiling the collector under the {name} load for {args.profile_seconds}s")
        with py_spy(service.pid, args.profile_seconds + 2, output):
            time.sleep(1)  # py-spy attaches
            wrk.run(service.url + "/events", script, connections=connections, seconds=args.profile_seconds,
                    env=wrk_env)
        profiles[name] = top_entries(output.read_text(), args.profile_top)
        if args.profile_keep:
            shutil.copy(output, args.profile_keep / output.name)
    return profiles


def print_table(results: dict[str, Any]) -> None:
    collector, go, ratios = results["collector"], results["go"], results["ratios"]
    single, batch = collector["single"], collector["batch"]
    load = results["load"]
    rows = [
        ("measure", "collector", "Go original", "ratio"),
        (
            f"single-event POSTs, {load['connections']} connections",
            f"{single['requests_per_second']:,.0f} req/s",
            f"{go['single']['requests_per_second']:,.0f} req/s",
            f"{ratios['single']:.3f}x",
        ),
        ("  p50 / p99 latency", f"{single['p50_ms']:.1f} / {single['p99_ms']:.1f} ms",
         f"{go['single']['p50_ms']:.1f} / {go['single']['p99_ms']:.1f} ms", ""),
        (
            f"batched, {load['batch_size']}-event POSTs, {load['batch_connections']} connections",
            f"{batch['events_per_second']:,} events/s",
            f"{go['single']['requests_per_second']:,.0f} events/s",
            f"{ratios['batch_events']:.2f}x",
        ),
        ("service CPU per request (single) / per event (batched)",
         f"{single['cpu_us_per_request']:.0f} us / {batch['cpu_us_per_event']:.1f} us",
         f"{go['single']['cpu_us_per_request']:.0f} us / -", ""),
        ("RSS 100,000 -> 1,000,000 stored events",
         f"{collector['rss']['small_mib']} -> {collector['rss']['large_mib']} MiB "
         f"({collector['rss']['growth_percent']:+.1f} %)", "", ""),
        ("acknowledged / stored (single, batched)",
         f"{single['acknowledged']:,} / {single['stored']:,}; {batch['acknowledged_events']:,} / {batch['stored']:,}",
         "", ""),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    print()
    print(f"event collector, production configuration (LOG_LEVEL=info, Redis on, auth on, PostgreSQL "
          f"fsync={results['machine']['postgres']['fsync']}), beside the Go original; "
          f"{results['machine']['cpus']} CPUs shared with wrk")
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    print()
    for target in results["targets"]:
        verdict = "MET   " if target["met"] else "NOT MET"
        print(f"  {verdict}  {target['measure']}: {target['value']:,} (target {target['target']})")
    print()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "COLLECTOR_BENCH_DATABASE_URL", os.environ.get("COLLECTOR_TEST_DATABASE_URL", DEFAULT_DATABASE_URL)
        ),
    )
    parser.add_argument("--redis-url", default=os.environ.get("COLLECTOR_BENCH_REDIS_URL", DEFAULT_REDIS_URL))
    parser.add_argument("--go-peer", type=Path, default=DEFAULT_GO_PEER, help="the Go original's source folder")
    parser.add_argument("--seconds", type=int, default=20, help="measured duration of each throughput run")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up before each measured run (not counted)")
    parser.add_argument("--connections", type=int, default=64, help="connections of the single-event runs")
    parser.add_argument("--batch-size", type=int, default=100, help="events per batched POST")
    parser.add_argument("--batch-connections", type=int, default=16)
    parser.add_argument("--rss-events", type=int, default=1_000_000)
    parser.add_argument("--profile", action=argparse.BooleanOptionalAction, default=True,
                        help="py-spy profiles after the measured runs (default on)")
    parser.add_argument("--profile-seconds", type=int, default=15)
    parser.add_argument("--profile-top", type=int, default=15)
    parser.add_argument("--profile-keep", type=Path, help="copy the raw collapsed stacks into this folder")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="where the results go (JSON)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is not met")
    args = parser.parse_args(argv)
    if args.rss_events <= RSS_SMALL:
        parser.error(f"--rss-events must be above {RSS_SMALL:,}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wrk = Wrk(ensure_wrk())
    if args.profile and not py_spy_path():
        fail("py-spy is not installed: `.venv/bin/pip install -r apps/collector/requirements-dev.txt`, "
             "or run with --no-profile")
    schema = f"bench_{os.getpid()}_{int(time.time())}"
    database = Database(args.database_url, schema)
    postgres = database.describe()
    redis_server = redis_version(args.redis_url)
    workdir = Path(tempfile.mkdtemp(prefix="collector-bench-"))
    started = datetime.datetime.now(datetime.UTC)
    try:
        go = run_go(args, wrk, workdir, {"BENCH_TOKEN": BENCH_TOKEN})
        collector = run_collector(args, wrk, workdir, database)
    finally:
        database.drop()
        shutil.rmtree(workdir, ignore_errors=True)
    go_rps = go["single"]["requests_per_second"]
    results: dict[str, Any] = {
        "generated_by": "make bench (apps/collector/bench/bench.py)",
        "started": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {
            "cpus": os.cpu_count(),
            "cpu_model": cpu_model(),
            "python": platform.python_version(),
            "postgres": postgres,
            "redis": redis_server,
        },
        "configuration": {"LOG_LEVEL": "info", "redis": True, "auth": True, "service_processes": 1},
        "load": {
            "generator": f"wrk -t{wrk.threads}, same machine",
            "seconds": args.seconds,
            "warmup_seconds": args.warmup,
            "connections": args.connections,
            "batch_size": args.batch_size,
            "batch_connections": args.batch_connections,
        },
        "go": go,
        "collector": collector,
        "ratios": {
            "single": round(collector["single"]["requests_per_second"] / go_rps, 3),
            # The Go original takes one event per POST: its events/s is its single-event req/s.
            "batch_events": round(collector["batch"]["events_per_second"] / go_rps, 2),
        },
    }
    results["targets"] = evaluate(results)
    args.results.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    log(f"results written to {args.results}; README tables: .venv/bin/python apps/collector/bench/report.py --write")
    missed = [target["measure"] for target in results["targets"] if not target["met"]]
    if missed:
        log(f"{len(missed)} target(s) not met: {'; '.join(missed)}")
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
