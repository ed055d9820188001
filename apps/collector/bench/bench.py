#!/usr/bin/env python3
"""Benchmark of the event collector on PostgreSQL (``make bench``; not a test).

Run from the repository root:  .venv/bin/python apps/collector/bench/bench.py

What it does, start to finish (and it cleans up after itself):

1. makes sure ``wrk`` is installed (installs the Debian package when running
   as root, otherwise says how), and that PostgreSQL answers;
2. creates a fresh schema and starts ``python -m collector`` on a free port
   as a subprocess (one process, uvicorn + uvloop + httptools);
3. memory: bulk-loads 100,000 events straight into the table, exercises the
   API (writes, recent page, filters, time window), reads the server's RSS;
   then the same at 1,000,000 events;
4. single-event POSTs with ``wrk`` at 64 connections: requests/s and p99;
   every 201 is a committed transaction (checked against the table);
5. batch POSTs (1,000 events each): events/s;
6. prints a table, drops the schema, stops the server.

The load generator runs on the same machine as the service and PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import asyncpg

HERE = Path(__file__).resolve().parent
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass
class WrkResult:
    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


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
    sys.exit("[bench] wrk is required: install it with `sudo apt-get install -y wrk` (Debian/Ubuntu package 'wrk').")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def _duration_to_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(text)
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def run_wrk(
    wrk: str,
    url: str,
    script: Path,
    *,
    connections: int,
    seconds: int,
    threads: int = 2,
    env: dict[str, str] | None = None,
) -> WrkResult:
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    output = subprocess.run(
        command, capture_output=True, text=True, check=True, env={**os.environ, **(env or {})}
    ).stdout
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


class Database:
    """Direct access for setup, bulk loading and checks (not through the service)."""

    def __init__(self, url: str, schema: str) -> None:
        self.url = url
        self.schema = schema

    async def _run(self, sql: str, *args: object, fetch: bool = False) -> object:
        connection = await asyncpg.connect(self.url, timeout=10)
        try:
            if fetch:
                return await connection.fetchval(sql, *args)
            return await connection.execute(sql, *args)
        finally:
            await connection.close()

    def count(self) -> int:
        return int(asyncio.run(self._run(f'SELECT count(*) FROM "{self.schema}".events', fetch=True)))

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

    def check_reachable(self) -> None:
        try:
            asyncio.run(self._run("SELECT 1", fetch=True))
        except Exception as exc:
            sys.exit(f"[bench] PostgreSQL not reachable at {self.url} ({exc}); set COLLECTOR_BENCH_DATABASE_URL")


class Service:
    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {**os.environ, **env, "PORT": str(self.port), "HOST": "127.0.0.1"}
        self._log = open(log_path, "wb")  # noqa: SIM115 — kept open for the process lifetime, closed in stop()
        self.log_path = log_path
        self.process = subprocess.Popen(
            [sys.executable, "-m", "collector"], env=full_env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"[bench] service exited: {self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        sys.exit("[bench] service did not become ready")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def drop_redis_keys(url: str, prefix: str) -> None:
    """Delete the keys the service wrote under ``prefix`` (the bench's own window)."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "COLLECTOR_BENCH_DATABASE_URL", os.environ.get("COLLECTOR_TEST_DATABASE_URL", DEFAULT_DATABASE_URL)
        ),
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("COLLECTOR_BENCH_REDIS_URL", ""),
        help="also run with the Redis cache (default: off; env COLLECTOR_BENCH_REDIS_URL)",
    )
    parser.add_argument("--seconds", type=int, default=20, help="duration of each throughput run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--batch-connections", type=int, default=8)
    parser.add_argument("--rss-events", type=int, default=1_000_000)
    parser.add_argument("--log-level", default="warning", help="service LOG_LEVEL during the run")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the schema afterwards")
    args = parser.parse_args()

    wrk = ensure_wrk()
    schema = f"bench_{os.getpid()}_{int(time.time())}"
    database = Database(args.database_url, schema)
    database.check_reachable()
    workdir = Path(tempfile.mkdtemp(prefix="collector-bench-"))
    env = {
        "DATABASE_URL": args.database_url,
        "DATABASE_SCHEMA": schema,
        "LOG_LEVEL": args.log_level,
        "RETENTION_DAYS": "0",
        "MAX_BATCH_SIZE": str(max(1000, args.batch_size)),
        "MAX_BODY_BYTES": str(16 << 20),
    }
    if args.redis_url:
        env.update({"REDIS_URL": args.redis_url, "REDIS_KEY_PREFIX": f"{schema}:"})
    service = Service(env, workdir / "service.log")
    results: dict[str, object] = {"cpus": os.cpu_count(), "log_level": args.log_level, "redis": bool(args.redis_url)}
    try:
        service.wait_ready()
        pid = service.process.pid
        log(
            f"service pid {pid} on {service.url}, schema {schema}, LOG_LEVEL={args.log_level}, "
            f"redis={'on' if args.redis_url else 'off'}"
        )

        # -- memory: RSS at 100k and at 1M stored events -------------------
        exercise_seconds = max(5, args.seconds // 2)
        rss: dict[int, int] = {}
        for target in (100_000, args.rss_events):
            missing = target - database.count()
            log(f"bulk-loading {missing:,} events to reach {target:,}")
            database.bulk_load(missing)
            log(f"exercising the API for {exercise_seconds}s (writes, recent page, filters, time window)")
            run_wrk(wrk, service.url, HERE / "mixed.lua", connections=16, seconds=exercise_seconds)
            rss[target] = rss_bytes(pid)
            log(f"RSS at {database.count():,} events: {rss[target] / 2**20:.1f} MiB")
        results["rss_mib"] = {str(k): round(v / 2**20, 1) for k, v in rss.items()}
        results["rss_growth_percent"] = round((rss[args.rss_events] / rss[100_000] - 1) * 100, 1)

        # -- single-event POSTs ----------------------------------------------
        log(f"warm-up, then single-event POSTs at {args.connections} connections for {args.seconds}s")
        run_wrk(wrk, service.url + "/events", HERE / "post_single.lua", connections=args.connections, seconds=3)
        before = database.count()
        single = run_wrk(
            wrk, service.url + "/events", HERE / "post_single.lua", connections=args.connections, seconds=args.seconds
        )
        stored = database.count() - before
        acknowledged = single.requests - single.non_2xx
        results["single"] = {**single.__dict__, "acknowledged": acknowledged, "stored": stored}
        if stored < acknowledged:
            log(f"ERROR: {acknowledged} acknowledged but only {stored} stored")

        # -- batch POSTs -----------------------------------------------------
        log(f"batch POSTs of {args.batch_size} events at {args.batch_connections} connections for {args.seconds}s")
        batch_env = {"BATCH_SIZE": str(args.batch_size)}
        run_wrk(
            wrk,
            service.url + "/events",
            HERE / "post_batch.lua",
            connections=args.batch_connections,
            seconds=3,
            env=batch_env,
        )
        before = database.count()
        batch = run_wrk(
            wrk,
            service.url + "/events",
            HERE / "post_batch.lua",
            connections=args.batch_connections,
            seconds=args.seconds,
            env=batch_env,
        )
        stored = database.count() - before
        results["batch"] = {**batch.__dict__, "events_per_second": round(stored / batch.seconds), "stored": stored}
        results["rss_mib_final"] = round(rss_bytes(pid) / 2**20, 1)
        results["events_final"] = database.count()
    finally:
        service.stop()
        if not args.keep:
            database.drop()
            if args.redis_url:
                drop_redis_keys(args.redis_url, f"{schema}:")
        shutil.rmtree(workdir, ignore_errors=True)

    single_r, batch_r, rss_r = results["single"], results["batch"], results["rss_mib"]
    rows = [
        (
            "single-event POST, 64 connections",
            f"{single_r['requests_per_second']:,.0f} req/s",  # type: ignore[index]
            ">= 5,000 req/s",
        ),
        ("  p99 latency", f"{single_r['p99_ms']:.1f} ms", "< 50 ms"),  # type: ignore[index]
        ("  p50 latency", f"{single_r['p50_ms']:.1f} ms", ""),  # type: ignore[index]
        ("  non-2xx / socket errors", f"{single_r['non_2xx']} / {single_r['socket_errors']}", "0 / 0"),  # type: ignore[index]
        ("  201s vs rows committed", f"{single_r['acknowledged']:,} / {single_r['stored']:,}", "rows >= 201s"),  # type: ignore[index]
        (
            f"batch POST ({args.batch_size} events), {args.batch_connections} conns",
            f"{batch_r['events_per_second']:,} events/s",
            ">= 100,000 events/s",
        ),  # type: ignore[index]
        ("RSS at 100,000 events", f"{rss_r['100000']} MiB", ""),  # type: ignore[index]
        (f"RSS at {args.rss_events:,} events", f"{rss_r[str(args.rss_events)]} MiB", ""),  # type: ignore[index]
        ("  RSS growth", f"{results['rss_growth_percent']:+.1f} %", "< +10 %"),
        (f"RSS at the end ({results['events_final']:,} events)", f"{results['rss_mib_final']} MiB", ""),
    ]
    width = max(len(row[0]) for row in rows)
    print()
    print(
        f"event collector benchmark: {os.cpu_count()} CPUs, wrk on the same machine, PostgreSQL local, "
        f"LOG_LEVEL={args.log_level}, Redis {'on' if args.redis_url else 'off'}"
    )
    print(f"{'measure'.ljust(width)}  {'result':>22}  target")
    for name, value, target in rows:
        print(f"{name.ljust(width)}  {value:>22}  {target}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
