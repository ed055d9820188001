"""Real processes for the observability tests: the collector (`python -m collector`) against the
machine's PostgreSQL and Redis, and a rendered stack read back as objects.

Unlike the collector's own tests these never skip: the observability proofs are only worth something
when they ran, so a missing server is a failure naming what is missing.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml

DATABASE_URL = os.environ.get("COLLECTOR_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("COLLECTOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TOKEN = "live-test-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen, log: Path, what: str, timeout: float = 30.0) -> None:
    """Until `url` answers 200; fails with the process's output if it exits or never answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{what} did not answer 200 on {url} within {timeout}s:\n"
                         f"{log.read_text(errors='replace')[-3000:]}")


class Collector:
    """One collector process on a free port with its own PostgreSQL schema and Redis key prefix."""

    def __init__(self, folder: Path, name: str, log_level: str = "info") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = folder / f"{name}.log"
        tag = f"obs_{uuid.uuid4().hex[:10]}"
        env = {k: v for k, v in os.environ.items() if k not in ("CONFIG_FILE",)}
        env.update({"DATABASE_URL": DATABASE_URL, "DATABASE_SCHEMA": tag, "REDIS_URL": REDIS_URL,
                    "REDIS_KEY_PREFIX": f"{tag}:", "AUTH_TOKENS": TOKEN, "PORT": str(self.port),
                    "HOST": "127.0.0.1", "LOG_LEVEL": log_level, "RETENTION_DAYS": "0"})
        self.schema = tag
        self._log = open(self.log_path, "wb")  # noqa: SIM115 -- closed in stop()
        self.process = subprocess.Popen([sys.executable, "-m", "collector"], env=env, stdout=self._log,
                                        stderr=subprocess.STDOUT)

    def wait_ready(self) -> None:
        wait_for(f"{self.url}/readyz", self.process, self.log_path,
                 f"the collector (PostgreSQL {DATABASE_URL}, Redis {REDIS_URL})")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()
        drop_schema(self.schema)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def drop_schema(schema: str) -> None:
    import asyncio

    import asyncpg

    async def drop() -> None:
        connection = await asyncpg.connect(DATABASE_URL, timeout=5)
        try:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await connection.close()

    asyncio.run(drop())


def drive_load(collectors: list[Collector], seconds: float) -> dict[str, int]:
    """Stored events, reads, client errors (bad JSON, missing token, unknown path) on every collector,
    for about `seconds`. Returns how many requests of each kind were sent."""
    sent = {"post": 0, "get": 0, "bad_json": 0, "unauthorized": 0, "not_found": 0}
    auth = {"Authorization": f"Bearer {TOKEN}"}
    deadline = time.monotonic() + seconds
    with httpx.Client(timeout=5) as client:
        i = 0
        while time.monotonic() < deadline:
            for c in collectors:
                batch = [{"source": ("checkout", "search", "signup")[i % 3], "action": "click",
                          "attributes": {"n": i}} for _ in range(1 + i % 5)]
                assert client.post(f"{c.url}/events", json=batch, headers=auth).status_code in (201, 202)
                sent["post"] += 1
                client.get(f"{c.url}/events", params={"source": "checkout", "limit": 5}, headers=auth)
                sent["get"] += 1
                if i % 4 == 0:
                    client.post(f"{c.url}/events", content=b"{not json", headers={**auth,
                                                                                  "content-type": "application/json"})
                    sent["bad_json"] += 1
                    client.post(f"{c.url}/events", json={"source": "a", "action": "b"})
                    sent["unauthorized"] += 1
                    client.get(f"{c.url}/nowhere")
                    sent["not_found"] += 1
            i += 1
            time.sleep(0.02)
    return sent


def rendered_documents(folder: Path) -> Iterator[dict[str, Any]]:
    for path in sorted(folder.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                yield doc
