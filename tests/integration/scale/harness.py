"""A multi-node deployment for tests: several `cardshield serve` processes on loopback ports,
one PostgreSQL database and one Redis database, behind a round-robin TCP proxy.

The proxy runs on its own asyncio loop in a thread. Each client connection goes to the next
node that accepts a connection (a killed node is skipped, as a load balancer's health check
would), and the proxy connects to that node *from the client's own loopback address*, so the
nodes see the real client address (tokenization is rate limited per key and address).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.databases import postgres_database
from tests.servers import Node, cli, free_port

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


class RoundRobinProxy:
    """A TCP load balancer in front of ``ports``; :attr:`port` is where clients connect."""

    def __init__(self, ports: list[int]) -> None:
        self.port = free_port()
        self._ports = ports
        self._next = itertools.cycle(range(len(ports)))
        self.connections = [0] * len(ports)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.AbstractServer | None = None

    def __enter__(self) -> RoundRobinProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.port, backlog=512)
        )
        self._ready.set()
        self._loop.run_forever()

    async def _upstream(
        self, client_host: str
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        for _ in range(len(self._ports)):
            i = next(self._next)
            try:
                pair = await asyncio.open_connection(
                    "127.0.0.1", self._ports[i], local_addr=(client_host, 0)
                )
            except OSError:
                continue  # that node is down: try the next one
            self.connections[i] += 1
            return pair
        return None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client_host = writer.get_extra_info("peername")[0]
        upstream = await self._upstream(client_host)
        if upstream is None:
            writer.close()
            return
        up_reader, up_writer = upstream

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                # At shutdown the loop may close under a pipe still waiting: closing its
                # writer then raises RuntimeError, which is no failure of the test.
                with contextlib.suppress(OSError, RuntimeError):
                    dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


def _redis_db() -> int:
    # One Redis database per pytest-xdist worker, so parallel workers never flush each other.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return 10 + int(worker.removeprefix("gw") or 0) % 6


def redis_url() -> str:
    """A flushed Redis database for this test; missing Redis fails under CI, skips locally."""
    import redis

    db = _redis_db()
    try:
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db, socket_connect_timeout=2)
        client.flushdb()
        client.close()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required under CI: {exc}")
        pytest.skip(f"Redis unavailable: {exc}")
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"


@dataclass
class Cluster:
    env: dict[str, str]
    database_url: str
    redis_url: str
    nodes: list[Node]
    secret_key: str
    publishable_key: str
    merchant: str
    logs: list[Path] = field(default_factory=list)

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        for node in self.nodes:
            node.wait_ready()

    def stop(self) -> list[int | None]:
        return [node.stop() for node in self.nodes]


def make_cluster(tmp_path: Path, nodes: int, **settings: str) -> Iterator[Cluster]:
    """Provision a PostgreSQL database and a Redis database and ``nodes`` (not started)."""
    for url in postgres_database():
        env = {k: v for k, v in os.environ.items() if not k.startswith("CARDSHIELD_")}
        env |= {
            "CARDSHIELD_DATA_DIR": str(tmp_path),
            "CARDSHIELD_DATABASE_URL": url,
            "CARDSHIELD_REDIS_URL": redis_url(),
            "CARDSHIELD_LOG_LEVEL": "WARNING",
            "CARDSHIELD_ALLOW_HTTP_LOOPBACK_WEBHOOKS": "true",
        }
        env |= {f"CARDSHIELD_{k.upper()}": v for k, v in settings.items()}
        cli(env, "db", "upgrade")
        cli(env, "keys", "init")
        merchant = cli(env, "merchants", "add", "Scale shop").strip()
        sk = json.loads(cli(env, "apikeys", "create", "--merchant", merchant, "--json"))["key"]
        pk = json.loads(
            cli(
                env,
                "apikeys",
                "create",
                "--merchant",
                merchant,
                "--kind",
                "publishable",
                "--origin",
                "https://shop.example",
                "--json",
            )
        )["key"]
        logs = [tmp_path / f"node{i}.log" for i in range(nodes)]
        members = [Node(env, free_port(), log) for log in logs]
        cluster = Cluster(env, url, env["CARDSHIELD_REDIS_URL"], members, sk, pk, merchant, logs)
        try:
            yield cluster
        finally:
            cluster.stop()
