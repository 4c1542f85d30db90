"""The scope report on a PostgreSQL deployment: the canary scan reads every table through
the discovery scanner's database scan, and a PAN written to any table is found there."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from cardshield.cards import PAN
from cardshield.commands.demo import _origins, provision
from cardshield.compliance.report import build_report
from cardshield.config import Settings
from cardshield.storage import make_engine
from cardshield.vault import Vault
from tests.databases import postgres_database

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_deployment(tmp_path: Path) -> Iterator[Settings]:
    for url in postgres_database():
        settings = Settings(
            data_dir=tmp_path / "data", database_url=url, allow_http_loopback_webhooks=True
        )
        provision(settings, _origins("127.0.0.1", 8750, 8751), datetime.now(UTC))
        yield settings


def test_postgres_deployment_passes(pg_deployment: Settings) -> None:
    report = build_report(pg_deployment, now=datetime.now(UTC))
    canary = report["canary"]
    assert canary["verdict"] == "PASS", canary
    assert canary["scan"]["scanned"]["database"] > 0
    assert report["wiring"]["storage"]["database"] == "postgresql"
    assert "@" not in report["wiring"]["storage"]["database_url"]
    assert canary["cleanup"]["data_keys_left_readable"] == 0


def test_a_pan_in_any_postgres_table_is_found(
    pg_deployment: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(pg_deployment.effective_database_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE debug_notes (id serial PRIMARY KEY, note text)"))
    tokenize = Vault.tokenize

    def leaky(self: Vault, merchant_id: str, pan: PAN, *args: Any, **kwargs: Any) -> Any:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO debug_notes (note) VALUES (:n)"), {"n": pan.reveal()})
        return tokenize(self, merchant_id, pan, *args, **kwargs)

    monkeypatch.setattr(Vault, "tokenize", leaky)
    try:
        report = build_report(pg_deployment, now=datetime.now(UTC))
    finally:
        engine.dispose()
    hits = report["canary"]["scan"]["hits"]
    assert report["canary"]["verdict"] == "FAIL"
    assert {(h["source"], h["column"], h["line"]) for h in hits} == {
        ("database", "note", 1),
        ("database", "note", 2),
        ("database", "note", 3),
        ("database", "note", 4),
        ("database", "note", 5),  # hosted fields, API, Twilio <Pay>, Amazon Connect, the IVR
    }
    assert all(h["location"].endswith("!public.debug_notes") for h in hits)
