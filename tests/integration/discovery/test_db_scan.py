"""``--db``: scanning a live PostgreSQL database (127.0.0.1:5432, database ``test``).

Creates its own schema with a few tables and drops it afterwards. Locally an unreachable
server skips; under CI (CI=true) it fails.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from cardshield.cli import app
from cardshield.discovery import ScanOptions, scan_database
from tests.conftest import CANARY_PAN, assert_no_card_data
from tests.unit.discovery.builders import luhn

pytestmark = pytest.mark.integration

URL = os.environ.get("CARDSHIELD_TEST_SCAN_PG", "postgresql://postgres@127.0.0.1:5432/test")
OTHER_PAN = luhn("510510510510510")


@pytest.fixture
def schema() -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg")
    name = "cs_scan_" + secrets.token_hex(4)
    try:
        conn = psycopg.connect(URL, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI: {type(exc).__name__}")
        pytest.skip(f"PostgreSQL unavailable: {type(exc).__name__}")
    with conn:
        conn.execute(f"CREATE SCHEMA {name}")
        conn.execute(f"CREATE TABLE {name}.orders (id int, note text, amount numeric, raw bytea)")
        conn.execute(
            f"INSERT INTO {name}.orders VALUES (1, 'fine', 10, NULL), (2, %s, 20, NULL), "
            "(3, 'x', 30, %s)",
            (f"card {CANARY_PAN} ok", f";{OTHER_PAN}=25121010000000000?".encode()),
        )
        conn.execute(f"CREATE TABLE {name}.profile (id int, data jsonb, num numeric(20,0))")
        conn.execute(
            f"INSERT INTO {name}.profile VALUES (1, %s, %s)",
            (json.dumps({"pan": "3782 822463 10005"}), int(OTHER_PAN)),
        )
        conn.execute(f"CREATE TABLE {name}.many (id int, v text)")
        conn.execute(
            f"INSERT INTO {name}.many SELECT g, 'row ' || g FROM generate_series(1, 3000) g"
        )
        conn.execute(f"INSERT INTO {name}.many VALUES (3001, '6011111111111117')")
        try:
            yield name
        finally:
            conn.execute(f"DROP SCHEMA {name} CASCADE")


def _mine(schema: str, results: list) -> list[tuple[str, int, str | None, str, str]]:  # type: ignore[type-arg]
    return [
        (f.path.rsplit("!", 1)[1], f.line, f.column, f.masked, f.kind)
        for r in results
        for f in r.findings
        if f"!{schema}." in f.path
    ]


def test_scan_database_tables_and_columns(schema: str) -> None:
    results = scan_database(URL, ScanOptions(), max_rows=100_000)
    assert _mine(schema, results) == [
        (f"{schema}.many", 3001, "v", "601111******1117", "pan"),
        (f"{schema}.orders", 2, "note", "424242******4242", "pan"),
        (f"{schema}.orders", 3, "raw", OTHER_PAN[:6] + "******" + OTHER_PAN[-4:], "track2"),
        (f"{schema}.profile", 1, "data", "378282*****0005", "pan"),
        (f"{schema}.profile", 1, "num", OTHER_PAN[:6] + "******" + OTHER_PAN[-4:], "pan"),
    ]


def test_reads_are_bounded(schema: str) -> None:
    results = scan_database(URL, ScanOptions(), max_rows=1000)
    assert f"{schema}.many" not in {p for p, *_ in _mine(schema, results)}


def test_cli_db_report_has_no_credentials_or_full_pan(schema: str) -> None:
    url = URL.replace("postgres@", "postgres:s3cret@")  # trust auth ignores the password
    result = CliRunner().invoke(app, ["scan", "--db", url, "--format", "json"])
    assert result.exit_code == 1, result.output
    assert "s3cret" not in result.output
    assert_no_card_data(result.output, (CANARY_PAN, OTHER_PAN))
    paths = {f["path"] for f in json.loads(result.output)["findings"]}
    assert f"postgresql://127.0.0.1:5432/test!{schema}.orders" in paths


def test_unreachable_database_is_exit_2() -> None:
    result = CliRunner().invoke(app, ["scan", "--db", "postgresql://postgres@127.0.0.1:1/none"])
    assert result.exit_code == 2
    assert result.output.startswith("error: cannot connect")
