"""Shared fixtures of the collector tests.

Real servers: PostgreSQL from ``COLLECTOR_TEST_DATABASE_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``) and Redis from
``COLLECTOR_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/15``). Each
test gets its own PostgreSQL schema and Redis key prefix, removed afterwards,
so parallel runs and other users of those servers are not disturbed. When a
server is unreachable its tests are skipped with a message naming the URL and
the variable, except when ``CI=true``: then they fail.

Outages are simulated with :class:`TcpProxy` between the service and the
server, never by stopping the shared server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
import redis as sync_redis

from collector.app import create_app
from collector.settings import Settings

DATABASE_ENV = "COLLECTOR_TEST_DATABASE_URL"
DATABASE_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_ENV = "COLLECTOR_TEST_REDIS_URL"
REDIS_DEFAULT = "redis://127.0.0.1:6379/15"
SESSION_TAG = f"ct{os.getpid()}_{uuid.uuid4().hex[:6]}"


def _unreachable(what: str, url: str, env: str, error: BaseException) -> None:
    message = f"{what} not reachable at {url} ({type(error).__name__}: {error}); set {env} to a reachable server"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}. CI=true: real-server tests must run, not skip.", pytrace=False)
    pytest.skip(message)


# -- real servers ------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of the real PostgreSQL server (checked once per session)."""
    url = os.environ.get(DATABASE_ENV, DATABASE_DEFAULT)

    async def check() -> None:
        connection = await asyncpg.connect(url, timeout=3)
        await connection.close()

    try:
        asyncio.run(check())
    except Exception as exc:
        _unreachable("PostgreSQL", url, DATABASE_ENV, exc)
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the real Redis server (checked once per session)."""
    url = os.environ.get(REDIS_ENV, REDIS_DEFAULT)
    try:
        client = sync_redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3)
        client.ping()
        client.close()
    except Exception as exc:
        _unreachable("Redis", url, REDIS_ENV, exc)
    return url


def _drop_schema(url: str, schema: str) -> None:
    async def drop() -> None:
        connection = await asyncpg.connect(url, timeout=5)
        try:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await connection.close()

    asyncio.run(drop())


@pytest.fixture
def pg_schema(postgres_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh schema name for this test; the schema is dropped afterwards."""
    schema = f"{SESSION_TAG}_{uuid.uuid4().hex[:8]}"
    yield schema
    _drop_schema(postgres_url, schema)


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A fresh Redis key prefix for this test; its keys are deleted afterwards."""
    prefix = f"collector-test:{SESSION_TAG}:{uuid.uuid4().hex[:8]}:"
    yield prefix
    client = sync_redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


# -- settings per backend ----------------------------------------------------


def base_settings(**overrides: Any) -> Settings:
    """Settings for tests: quiet, no retention loop surprises, quick timeouts."""
    values: dict[str, Any] = {
        "log_level": "warning",
        "retention_days": 0,
        "db_timeout_seconds": 2.0,
        "redis_timeout_seconds": 0.3,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's or CI's own DATABASE_URL, PORT... must not leak into the tests."""
    for name in _COLLECTOR_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def make_settings():
    """``make_settings(**overrides)`` -> test Settings (quiet, short timeouts, no retention)."""
    return base_settings


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return base_settings(sqlite_path=str(tmp_path / "events.db"))


@pytest.fixture
def postgres_settings(postgres_url: str, pg_schema: str) -> Settings:
    return base_settings(database_url=postgres_url, database_schema=pg_schema)


@pytest.fixture(params=["sqlite", "postgres"])
def backend_settings(request: pytest.FixtureRequest) -> Settings:
    """Settings for each storage backend in turn (the PostgreSQL one needs the real server)."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_settings")
    return request.getfixturevalue("postgres_settings")


# -- running the app in-process ----------------------------------------------


@contextlib.asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """The app with its lifespan started, and an HTTP client talking to it in-process."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://collector", timeout=10) as client:
            yield app, client


@pytest.fixture
def start_app():
    """Factory fixture: ``async with start_app(settings) as (app, client)``."""
    return running_app


def metric_value(
    exposition: str, name: str, labels: dict[str, str] | None = None, *, absent: float | None = None
) -> float:
    """Value of one sample in a Prometheus text exposition.

    A sample that is not there fails the test (a renamed metric must not read as 0), unless the
    caller passes ``absent``: the value a labelled child that was never touched stands for.
    """
    wanted = ""
    if labels:
        wanted = "{" + ",".join(f'{key}="{value}"' for key, value in labels.items()) + "}"
    for line in exposition.splitlines():
        if line.startswith("#"):
            continue
        sample, _, value = line.rpartition(" ")
        if sample == name + wanted:
            return float(value)
    if absent is not None:
        return absent
    families = sorted({line.split()[2] for line in exposition.splitlines() if line.startswith("# TYPE ")})
    raise AssertionError(f"no sample {name + wanted} in /metrics; metric families there: {', '.join(families)}")


@pytest.fixture
def parse_metric():
    """:func:`metric_value` itself, for tests of the reader."""
    return metric_value


@pytest.fixture
def read_metric():
    """``await read_metric(client, name, labels)`` -> current value from /metrics (missing fails)."""

    async def read(
        client: httpx.AsyncClient, name: str, labels: dict[str, str] | None = None, *, absent: float | None = None
    ) -> float:
        response = await client.get("/metrics")
        return metric_value(response.text, name, labels, absent=absent)

    return read


# -- fault injection ---------------------------------------------------------


class TcpProxy:
    """A TCP relay between the service and a real server, to cut or stall the link.

    * ``cut()``: stop listening and drop every relayed connection (server "gone").
    * ``restore()``: listen again on the same port (server "back").
    * ``stall()`` / ``unstall()``: keep connections open but stop relaying bytes
      (server "hanging" / "slow").
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def url_for(self, url: str) -> str:
        """``url`` with host and port replaced by the proxy's."""
        parts = urlsplit(url)
        userinfo = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return urlunsplit((parts.scheme, f"{userinfo}127.0.0.1:{self.port}", parts.path, parts.query, parts.fragment))

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self._writers.add(client_writer)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        self._writers.add(upstream_writer)
        for source, sink in ((client_reader, upstream_writer), (upstream_reader, client_writer)):
            task = asyncio.create_task(self._relay(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _relay(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while True:
                data = await source.read(65536)
                if not data:
                    break
                await self._flowing.wait()
                sink.write(data)
                await sink.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            sink.close()

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.sleep(0)

    async def restore(self) -> None:
        self._flowing.set()
        if self._server is None:
            await self.start()

    def stall(self) -> None:
        self._flowing.clear()

    def unstall(self) -> None:
        self._flowing.set()

    async def close(self) -> None:
        self._flowing.set()
        await self.cut()


@pytest.fixture
async def make_proxy() -> AsyncIterator[Any]:
    """Factory: ``proxy = await make_proxy(url)`` relays to the host:port of ``url``."""
    proxies: list[TcpProxy] = []

    async def make(url: str) -> TcpProxy:
        parts = urlsplit(url)
        proxy = await TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        await proxy.close()


# -- the real server as a subprocess -----------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """``python -m collector`` in a subprocess on a free port, output in a log file."""

    def __init__(self, env: dict[str, str], log_path: Path, cwd: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        full_env = {key: value for key, value in os.environ.items() if key not in _COLLECTOR_ENV}
        full_env.update(env)
        full_env["PORT"] = str(self.port)
        full_env["HOST"] = "127.0.0.1"
        full_env.setdefault("LOG_LEVEL", "warning")
        self._log = open(log_path, "wb")  # noqa: SIM115 — kept open for the process lifetime, closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "collector"], env=full_env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT
        )

    def wait_until(self, path: str, status: int = 200, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + path, timeout=1).status_code == status:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"server did not answer {status} on {path} within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-5000:]

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self._log.close()


# Variables the service reads; the parent test environment must not leak into subprocesses.
_COLLECTOR_ENV = frozenset(name.upper() for name in Settings.model_fields) | {"CONFIG_FILE"}


@pytest.fixture
def spawn_server(tmp_path: Path) -> Iterator[Any]:
    """Factory: ``server = spawn_server({"DATABASE_URL": ...})``; every server is killed afterwards."""
    servers: list[ServerProcess] = []

    def spawn(env: dict[str, str], cwd: Path | None = None) -> ServerProcess:
        server = ServerProcess(env, tmp_path / f"server-{len(servers)}.log", cwd=cwd)
        servers.append(server)
        return server

    yield spawn
    for server in servers:
        server.stop()


async def stored_ids(postgres_url: str, schema: str) -> set[str]:
    """Every event id in ``schema``.events, read directly from PostgreSQL."""
    connection = await asyncpg.connect(postgres_url, timeout=5)
    try:
        rows = await connection.fetch(f'SELECT id::text FROM "{schema}".events')
    finally:
        await connection.close()
    return {row[0] for row in rows}


@pytest.fixture
def read_stored_ids():
    """``await read_stored_ids(url, schema)`` -> set of ids stored in that schema."""
    return stored_ids
