"""What the HTTP benches share: a throwaway PostgreSQL database, a provisioned merchant
with its keys, free ports, and a server process started and waited for."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEFAULT_PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def postgres(admin_url: str) -> Iterator[str | None]:
    from sqlalchemy import create_engine, text

    from cardshield.storage.engine import normalize_url

    name = "cs_bench_" + secrets.token_hex(6)
    try:
        admin = create_engine(normalize_url(admin_url), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no server: say so and go on with SQLite only
        print(f"PostgreSQL unavailable ({type(exc).__name__}); skipping it")
        yield None
        return
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def provision(data_dir: Path, database_url: str, n_keys: int) -> dict[str, Any]:
    from cardshield.config import Settings
    from cardshield.crypto.kms import init_kms
    from cardshield.runtime import open_runtime
    from cardshield.security.apikeys import SCOPES, create_key
    from cardshield.storage import make_engine, upgrade

    settings = Settings(data_dir=data_dir, database_url=database_url)
    init_kms(settings.effective_kms_url).close()
    engine = make_engine(settings.effective_database_url)
    upgrade(engine)
    engine.dispose()
    runtime = open_runtime(settings)
    try:
        now = datetime.now(UTC)
        merchant = runtime.vault.create_merchant("bench", now=now)
        with runtime.engine.begin() as conn:
            sk = create_key(
                conn, now=now, merchant_id=merchant, kind="secret", scopes=sorted(SCOPES)
            )
            pks = [
                create_key(
                    conn,
                    now=now,
                    merchant_id=merchant,
                    kind="publishable",
                    scopes=["tokens:create"],
                    allowed_origins=["https://shop.example"],
                ).key.reveal()
                for _ in range(n_keys)
            ]
    finally:
        runtime.close()
    return {"secret_key": sk.key.reveal(), "publishable_keys": pks}


def cardshield_command() -> list[str]:
    script = Path(sys.executable).with_name("cardshield")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cardshield"]


def cardshield_env(data_dir: Path, database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a ``cardshield serve`` for this data dir and database; ``settings``
    are further CARDSHIELD_* values by lower-case name (``redis_url=...``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDSHIELD_")}
    env.update(CARDSHIELD_DATA_DIR=str(data_dir), CARDSHIELD_DATABASE_URL=database_url)
    env.update({f"CARDSHIELD_{name.upper()}": value for name, value in settings.items()})
    return env


@contextmanager
def serving(
    command: list[str], env: dict[str, str], log_path: Path, ready_path: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run ``command`` (given ``--host``/``--port`` here) until it answers 200 on
    ``ready_path``; yields its base URL and process, and stops it afterwards."""
    port = free_port()
    log = log_path.open("ab")
    proc = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{command[-1]} did not start; see {log_path}")
            try:
                with urllib.request.urlopen(url + ready_path, timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
