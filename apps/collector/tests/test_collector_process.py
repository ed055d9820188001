"""The real server process: durability under SIGKILL, drain under SIGTERM, the embedded default."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

JSON = {"content-type": "application/json"}


async def post_until(
    url: str,
    *,
    workers: int,
    stop: asyncio.Event,
    acked: list[str],
    failures: list[str],
    stop_on_connection_close: bool = False,
    batch: int = 1,
    max_requests: int = 20_000,
) -> None:
    """Concurrent POST /events loops; records acknowledged ids and unexpected failures.

    A worker ends when ``stop`` is set, when the server refuses new connections
    (it stopped listening: the request was never sent), or, with
    ``stop_on_connection_close``, after the server answered ``Connection: close``
    (what a load balancer does with a pod that left the endpoints).
    """
    sent = 0

    async def worker(index: int) -> None:
        nonlocal sent
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            while not stop.is_set() and sent < max_requests:
                sent += 1
                events = [{"source": f"load{index}", "action": "post", "attributes": {"n": sent}}] * batch
                try:
                    response = await client.post("/events", json=events if batch > 1 else events[0])
                except httpx.ConnectError:
                    return
                except httpx.HTTPError as exc:
                    if stop.is_set():
                        return
                    failures.append(f"{type(exc).__name__}: {exc}")
                    return
                if response.status_code == 201:
                    acked.extend(response.json()["ids"])
                else:
                    failures.append(f"{response.status_code}: {response.text[:200]}")
                if stop_on_connection_close and response.headers.get("connection") == "close":
                    return

    await asyncio.gather(*(worker(index) for index in range(workers)))


# Real load on a real server: under a loaded CI machine this takes minutes, not the default 120 s.
@pytest.mark.timeout(300)
async def test_every_acknowledged_event_survives_sigkill(spawn_server, postgres_url, pg_schema, read_stored_ids):
    """If this fails, the service acknowledges events before they are committed: a crash loses them."""
    server = spawn_server({"DATABASE_URL": postgres_url, "DATABASE_SCHEMA": pg_schema})
    server.wait_until("/readyz")
    acked: list[str] = []
    failures: list[str] = []
    stop = asyncio.Event()

    async def kill_after_enough_acks() -> None:
        deadline = time.monotonic() + 30
        while len(acked) < 1500 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        server.signal(signal.SIGKILL)
        stop.set()

    await asyncio.gather(
        post_until(server.url, workers=24, stop=stop, acked=acked, failures=failures, batch=2),
        kill_after_enough_acks(),
    )
    assert server.process.wait(timeout=10) == -signal.SIGKILL
    assert len(acked) >= 1500, server.log()
    stored = await read_stored_ids(postgres_url, pg_schema)
    missing = set(acked) - stored
    assert not missing, f"{len(missing)} acknowledged events lost"
    assert not [failure for failure in failures if failure.startswith(("4", "5"))], failures[:5]


@pytest.mark.timeout(300)  # as above
async def test_a_sigkill_during_a_commit_under_load_loses_no_acknowledged_event(
    spawn_server, make_proxy, postgres_url, pg_schema, read_stored_ids, parse_metric
):
    """If this fails, the service acknowledges events before PostgreSQL committed them: a crash loses them.

    After a first burst of load, the link to PostgreSQL stalls and clients keep posting: every
    commit from then on hangs before its statement reaches the server, and the process is killed
    with events waiting for their commit. A service that acknowledged before its commit returned
    has then always acknowledged ids that are not in the table, however fast the database is.
    """
    proxy = await make_proxy(postgres_url)
    server = spawn_server(
        {"DATABASE_URL": proxy.url_for(postgres_url), "DATABASE_SCHEMA": pg_schema, "DB_TIMEOUT_SECONDS": "30"}
    )
    await asyncio.to_thread(server.wait_until, "/readyz")
    acked: list[str] = []
    failures: list[str] = []

    first_burst = asyncio.Event()

    async def stop_after_enough_acks() -> None:
        deadline = time.monotonic() + 30
        while len(acked) < 500 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        first_burst.set()

    await asyncio.gather(
        post_until(server.url, workers=16, stop=first_burst, acked=acked, failures=failures, batch=2),
        stop_after_enough_acks(),
    )
    assert len(acked) >= 500, server.log()
    acked_before_stall = len(acked)
    proxy.stall()  # from now on no statement reaches PostgreSQL, and no answer comes back
    killed = asyncio.Event()
    pending_at_kill: list[float] = []

    async def kill_during_the_commit() -> None:
        # Clients keep posting: their requests can only wait for a commit. Shorter than the readiness
        # ping's 1 s budget, so a ping caught by the stall cannot mark the store down (fast 503s) first.
        await asyncio.sleep(0.4)
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as probe:
            pending_at_kill.append(parse_metric((await probe.get("/metrics")).text, "collector_pending_events"))
        server.signal(signal.SIGKILL)
        killed.set()

    await asyncio.gather(
        post_until(server.url, workers=16, stop=killed, acked=acked, failures=failures, batch=2),
        kill_during_the_commit(),
    )
    assert server.process.wait(timeout=10) == -signal.SIGKILL
    assert pending_at_kill[0] > 0, "the kill must find events waiting for their commit"
    # The held statements die with the connections, as they would with the process's sockets.
    await proxy.cut()
    stored = await read_stored_ids(postgres_url, pg_schema)
    missing = set(acked) - stored
    stalled_acks = len(acked) - acked_before_stall
    assert not missing, f"{len(missing)} acknowledged events lost ({stalled_acks} acked while stalled)"
    assert not [failure for failure in failures if failure.startswith(("4", "5"))], failures[:5]


@pytest.mark.timeout(300)  # as above
async def test_sigterm_under_load_drains_with_zero_failed_requests(
    spawn_server, postgres_url, pg_schema, read_stored_ids
):
    """If this fails, a rolling update loses or fails requests: in-flight POSTs, buffered writes or readiness."""
    drain_seconds = 8
    server = spawn_server(
        {
            "DATABASE_URL": postgres_url,
            "DATABASE_SCHEMA": pg_schema,
            "DRAIN_SECONDS": str(drain_seconds),
            "SHUTDOWN_DELAY_SECONDS": "1.5",
        }
    )
    server.wait_until("/readyz")
    acked: list[str] = []
    failures: list[str] = []
    stop = asyncio.Event()
    readiness_after_sigterm: list[int] = []
    straggler: list[httpx.Response] = []

    async def terminate_under_load() -> None:
        # Bounded: a server that fails or crashes never acknowledges 1000 events, and the load ends.
        deadline = time.monotonic() + 60
        while len(acked) < 1000:
            if load.done() or time.monotonic() > deadline:
                raise AssertionError(f"{len(acked)} of 1000 events acknowledged; {failures[:3]}\n{server.log()}")
            await asyncio.sleep(0.01)
        server.signal(signal.SIGTERM)
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as probe:
            readiness_after_sigterm.append((await probe.get("/readyz")).status_code)
            # A request that was already on its way when SIGTERM arrived is still served.
            straggler.append(await probe.post("/events", json={"source": "late", "action": "post"}))

    load = asyncio.create_task(
        post_until(server.url, workers=16, stop=stop, acked=acked, failures=failures, stop_on_connection_close=True)
    )
    await terminate_under_load()
    await asyncio.wait_for(load, timeout=30)
    started = time.monotonic()
    exit_code = await asyncio.to_thread(server.process.wait, drain_seconds + 5)
    assert exit_code == 0, server.log()
    assert time.monotonic() - started < drain_seconds
    assert failures == []
    assert readiness_after_sigterm == [503]
    assert straggler[0].status_code == 201 and straggler[0].headers["connection"] == "close"
    acked.extend(straggler[0].json()["ids"])
    stored = await read_stored_ids(postgres_url, pg_schema)
    assert set(acked) <= stored
    assert len(acked) >= 1000


async def test_python_m_collector_just_works_with_the_embedded_sqlite_default(spawn_server, tmp_path):
    """If this fails, the zero-configuration start documented in the README is broken."""
    server = spawn_server({}, cwd=tmp_path)
    server.wait_until("/readyz")
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
        created = await client.post("/events", json={"source": "cli", "action": "start"})
        assert created.status_code == 201
        listed = (await client.get("/events")).json()["events"]
        assert [event["id"] for event in listed] == created.json()["ids"]
    server.signal(signal.SIGINT)
    assert server.process.wait(timeout=15) == 0
    assert (tmp_path / "collector.db").exists()


def test_the_collector_console_script_is_installed():
    """If this fails, `pip install ./apps/collector` no longer provides the `collector` command."""
    script = shutil.which("collector", path=str(Path(sys.executable).parent))
    assert script is not None
    result = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "--database-url" in result.stdout and "DATABASE_URL" in result.stdout


async def test_the_process_exits_within_drain_seconds_even_when_the_database_hangs(
    spawn_server, make_proxy, postgres_url, pg_schema
):
    """If this fails, a hung database keeps a terminating pod alive past its grace period (then SIGKILL)."""
    proxy = await make_proxy(postgres_url)
    drain_seconds = 3
    server = spawn_server(
        {
            "DATABASE_URL": proxy.url_for(postgres_url),
            "DATABASE_SCHEMA": pg_schema,
            "DB_TIMEOUT_SECONDS": "60",
            "DRAIN_SECONDS": str(drain_seconds),
            "SHUTDOWN_DELAY_SECONDS": "0.5",
        }
    )
    await asyncio.to_thread(server.wait_until, "/readyz")
    proxy.stall()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        stuck = asyncio.create_task(client.post("/events", json={"source": "s", "action": "stuck"}))
        await asyncio.sleep(0.3)
        started = time.monotonic()
        server.signal(signal.SIGTERM)
        exit_code = await asyncio.to_thread(server.process.wait, drain_seconds + 10)
        elapsed = time.monotonic() - started
        outcome = await asyncio.gather(stuck, return_exceptions=True)
    assert exit_code == 70, server.log()
    assert elapsed < drain_seconds + 2  # a grace period a little above DRAIN_SECONDS suffices
    # The hung request was never acknowledged: an error status or a dropped connection, never a 201.
    assert isinstance(outcome[0], httpx.HTTPError) or outcome[0].status_code >= 500
