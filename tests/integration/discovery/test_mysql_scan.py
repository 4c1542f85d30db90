"""``--db mysql://``: scanning a live MySQL or MariaDB database (127.0.0.1:3306, root).

Creates its own database and a user with a password that may only SELECT, and drops both
afterwards. Locally an unreachable server skips; under CI (CI=true) it fails.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from typer.testing import CliRunner

from cardshield.cli import app
from cardshield.discovery import FileResult, ScanLimits, ScanOptions, scan_database
from cardshield.discovery.databases import mysql
from cardshield.discovery.extractors.cells import MAX_CELL
from tests.conftest import CANARY_PAN, assert_no_card_data
from tests.unit.discovery.builders import luhn

pymysql = pytest.importorskip("pymysql")

pytestmark = pytest.mark.integration

ADMIN_URL = os.environ.get("CARDSHIELD_TEST_SCAN_MYSQL", "mysql://root@127.0.0.1:3306/test")
SOCKET = os.environ.get("CARDSHIELD_TEST_SCAN_MYSQL_SOCKET", "/run/mysqld/mysqld.sock")
ADMIN = mysql.parse_url(ADMIN_URL)
SERVER = f"mysql://{ADMIN.host}:{ADMIN.port}"  # as reports name it

OTHER_PAN = luhn("510510510510510")
NUMBER_PAN = luhn("601100099990000")
MASTERCARD_TEST = "5555555555554444"
JCB_TEST = luhn("353011133330000")
ALL_PANS = (CANARY_PAN, OTHER_PAN, NUMBER_PAN, MASTERCARD_TEST, JCB_TEST)
ODD_TABLE = "we`ird %s name"


def masked(pan: str) -> str:
    return pan[:6] + "*" * (len(pan) - 10) + pan[-4:]


def _admin(database: str | None = None) -> Any:
    try:
        return pymysql.connect(
            host=ADMIN.host,
            port=ADMIN.port,
            user=ADMIN.user,
            password=ADMIN.password,
            database=database,
            unix_socket=ADMIN.unix_socket,
            autocommit=True,
            connect_timeout=5,
            charset="utf8mb4",
        )
    except pymysql.Error as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"MySQL/MariaDB is required under CI: {type(exc).__name__}")
        pytest.skip(f"MySQL/MariaDB unavailable: {type(exc).__name__}")


def ident(name: str) -> str:
    """A quoted identifier for a statement with parameters (pymysql formats it with %)."""
    return mysql.quote_identifier(name).replace("%", "%%")


def url(database: str = "", *, user: str = ADMIN.user, password: str = ADMIN.password) -> str:
    secret = f":{quote(password, safe='')}" if password else ""
    return f"mysql://{quote(user, safe='')}{secret}@{ADMIN.host}:{ADMIN.port}/{database}"


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A database with cards in every kind of column; dropped afterwards."""
    conn = _admin()
    name = "cs_scan_" + secrets.token_hex(4)
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        try:
            cur.execute(f"USE `{name}`")
            cur.execute(
                "CREATE TABLE orders (id INT PRIMARY KEY, note VARCHAR(200), memo TEXT, raw BLOB)"
            )
            cur.executemany(
                "INSERT INTO orders VALUES (%s, %s, %s, %s)",
                [
                    (1, "fine", f"paid with {MASTERCARD_TEST}", None),
                    (2, f"card {CANARY_PAN} ok", "nothing", None),
                    (3, "x", None, f";{OTHER_PAN}=25121010000000000?".encode()),
                ],
            )
            cur.execute(
                "CREATE TABLE profile"
                " (id INT PRIMARY KEY, data JSON, num DECIMAL(20,0), big BIGINT UNSIGNED)"
            )
            cur.execute(
                "INSERT INTO profile VALUES (1, %s, %s, %s)",
                (json.dumps({"pan": "3782 822463 10005"}), int(OTHER_PAN), int(NUMBER_PAN)),
            )
            cur.execute("CREATE TABLE many (id INT PRIMARY KEY, v VARCHAR(40))")
            cur.executemany(
                "INSERT INTO many VALUES (%s, %s)", [(i, f"row {i}") for i in range(1, 3001)]
            )
            cur.execute("INSERT INTO many VALUES (3001, '6011111111111117')")
            cur.execute("CREATE TABLE big (id INT PRIMARY KEY, v LONGTEXT)")
            cur.execute("INSERT INTO big VALUES (1, %s)", ("x" * MAX_CELL + CANARY_PAN,))
            cur.execute(f"CREATE TABLE {mysql.quote_identifier(ODD_TABLE)} (`odd col` TEXT)")
            cur.execute(f"INSERT INTO {ident(ODD_TABLE)} VALUES (%s)", (f"jcb: {JCB_TEST}",))
            yield name
        finally:
            cur.execute(f"DROP DATABASE `{name}`")
            conn.close()


@pytest.fixture(scope="module")
def reader(database: str) -> Iterator[tuple[str, str]]:
    """(user, password) of a user that may SELECT every table but ``profile``, and of
    ``profile`` only the ``id`` column."""
    conn = _admin()
    user, password = "cs_reader_" + secrets.token_hex(4), "s3cret-" + secrets.token_hex(8)
    with conn.cursor() as cur:
        cur.execute("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", (user, password))
        try:
            for table in ("orders", "many", ODD_TABLE):
                cur.execute(
                    f"GRANT SELECT ON `{database}`.{ident(table)} TO %s@'%%'",
                    (user,),
                )
            cur.execute(f"GRANT SELECT (id) ON `{database}`.profile TO %s@'%%'", (user,))
            yield user, password
        finally:
            cur.execute("DROP USER IF EXISTS %s@'%%'", (user,))
            conn.close()


def _found(results: list[FileResult], database: str) -> list[tuple[str, int, str | None, str, str]]:
    return [
        (f.path.rsplit("!", 1)[1], f.line, f.column, f.masked, f.kind)
        for r in results
        for f in r.findings
        if f"!{database}." in f.path
    ]


def _expected(db: str) -> list[tuple[str, int, str | None, str, str]]:
    return [
        (f"{db}.many", 3001, "v", "601111******1117", "pan"),
        (f"{db}.orders", 1, "memo", masked(MASTERCARD_TEST), "pan"),
        (f"{db}.orders", 2, "note", masked(CANARY_PAN), "pan"),
        (f"{db}.orders", 3, "raw", masked(OTHER_PAN), "track2"),
        (f"{db}.profile", 1, "data", "378282*****0005", "pan"),
        (f"{db}.profile", 1, "num", masked(OTHER_PAN), "pan"),
        (f"{db}.profile", 1, "big", masked(NUMBER_PAN), "pan"),
        (f"{db}.{ODD_TABLE}", 1, "odd col", masked(JCB_TEST), "pan"),
    ]


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["scan", *args])
    return result.exit_code, result.output


def test_scan_database_tables_and_columns(database: str) -> None:
    results = scan_database(url(database), ScanOptions())
    tables = ("big", "many", "orders", "profile", ODD_TABLE)
    assert [r.path for r in results] == [f"{SERVER}/{database}!{database}.{t}" for t in tables]
    assert [w for r in results for w in r.warnings] == []
    assert _found(results, database) == _expected(database)
    assert results[0].bytes_read == MAX_CELL  # only the start of a value is scanned


def test_without_a_database_every_user_database_is_scanned(database: str) -> None:
    results = scan_database(url(), ScanOptions())
    assert _found(results, database) == _expected(database)
    schemas = {r.path.split("!", 1)[1].split(".", 1)[0] for r in results}
    assert schemas.isdisjoint(mysql.SYSTEM_DATABASES)
    assert all(r.path.startswith(f"{SERVER}/!") for r in results)


def test_unix_socket(database: str) -> None:
    if not os.path.exists(SOCKET):
        pytest.skip(f"no socket at {SOCKET}")
    socket_url = url(database).replace(f"@{ADMIN.host}:{ADMIN.port}/", "@localhost/")
    results = scan_database(f"{socket_url}?unix_socket={quote(SOCKET)}", ScanOptions())
    assert f"mysql://localhost/{database}!{database}.orders" in {r.path for r in results}
    assert _found(results, database) == _expected(database)


@pytest.mark.parametrize(("max_rows", "found"), [(3000, False), (4000, True)])
def test_reads_are_bounded(database: str, max_rows: int, found: bool) -> None:
    code, out = _cli("--db", url(database), "--db-max-rows", str(max_rows), "--format", "json")
    assert code == 1, out
    lines = {(f["path"], f["line"]) for f in json.loads(out)["findings"]}
    assert ((f"{SERVER}/{database}!{database}.many", 3001) in lines) is found


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_report_has_no_credentials_or_full_pan(
    database: str, reader: tuple[str, str], fmt: str
) -> None:
    user, password = reader
    code, out = _cli("--db", url(database, user=user, password=password), "--format", fmt)
    assert code == 1, out
    assert password not in out
    assert user not in out
    assert_no_card_data(out, ALL_PANS)
    if fmt == "json":
        report = json.loads(out)
        found = {(f["path"].rsplit(".", 1)[1], f["column"]) for f in report["findings"]}
        assert found == {
            ("many", "v"),
            ("orders", "memo"),
            ("orders", "note"),
            ("orders", "raw"),
            (ODD_TABLE, "odd col"),
        }
        warnings = {w["path"].rsplit(".", 1)[1]: w["message"] for w in report["warnings"]}
        assert set(warnings) == {"profile"}  # column rights only: 1142 on MariaDB, 1143 MySQL
        assert warnings["profile"] in {
            "table not readable (OperationalError 1142)",
            "table not readable (OperationalError 1143)",
        }


def _connections(user: str) -> int:
    conn = _admin()
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.processlist WHERE user = %s", (user,))
        (count,) = cur.fetchone()
    conn.close()
    return int(count)


def test_time_limit_stops_one_table_and_the_scan_goes_on(
    database: str, reader: tuple[str, str]
) -> None:
    user, password = reader
    options = ScanOptions(limits=ScanLimits(seconds_per_file=1e-9))
    results = scan_database(url(database, user=user, password=password), options, batch=1000)
    by_table = {r.path.rsplit(".", 1)[1]: r for r in results}
    assert [w.message for w in by_table["many"].warnings] == [
        "stopped: time limit of 1e-09 s per file reached"
    ]
    assert by_table["many"].findings == []  # row 3001 is in the fourth batch
    assert len(by_table["orders"].findings) == 3  # read on a new connection
    deadline = time.monotonic() + 5
    while _connections(user) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _connections(user) == 0  # the abandoned connection and the last one are closed


def test_statement_timeout_stops_one_table_and_the_scan_goes_on(database: str) -> None:
    conn = _admin(database)
    with conn.cursor() as cur:
        cur.execute("LOCK TABLES many WRITE")  # a reader now waits until its timeout
        try:
            started = time.monotonic()
            results = scan_database(url(database), ScanOptions(), statement_timeout_ms=300)
            elapsed = time.monotonic() - started
        finally:
            cur.execute("UNLOCK TABLES")
            conn.close()
    by_table = {r.path.rsplit(".", 1)[1]: r for r in results}
    assert [w.message for w in by_table["many"].warnings] == [
        "stopped: statement timeout of 300 ms reached"
    ]
    assert _found(results, database) == _expected(database)[1:]
    assert elapsed < 10


def test_session_is_read_only(database: str) -> None:
    conn = mysql.connect(url(database), statement_timeout_ms=2500)
    try:
        with conn.cursor() as cur:
            with pytest.raises(pymysql.Error) as refused:
                cur.execute("INSERT INTO orders VALUES (9, 'written', NULL, NULL)")
            assert refused.value.args[0] == 1792  # cannot execute in a READ ONLY transaction
            conn.rollback()
            cur.execute("SELECT VERSION()")
            (version,) = cur.fetchone()
            if b"mariadb" in version.lower():
                cur.execute("SELECT @@SESSION.max_statement_time")
                assert float(cur.fetchone()[0]) == 2.5
            else:
                cur.execute("SELECT @@SESSION.max_execution_time")
                assert int(cur.fetchone()[0]) == 2500
    finally:
        conn.close()
    check = _admin(database)
    with check.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM orders WHERE id = 9")
        assert cur.fetchone() == (0,)
    check.close()


def test_unreachable_server_is_exit_2_with_one_line() -> None:
    code, out = _cli("--db", "mysql://scanner:s3cret@127.0.0.1:1/none")
    assert code == 2
    assert out == "error: cannot connect to mysql://127.0.0.1:1/none (OperationalError)\n"


def test_bad_credentials_are_exit_2_without_naming_the_user(database: str) -> None:
    user, password = "cs_nobody_" + secrets.token_hex(4), "s3cret-" + secrets.token_hex(8)
    code, out = _cli("--db", url(database, user=user, password=password))
    assert code == 2
    assert out == f"error: cannot connect to {SERVER}/{database} (OperationalError)\n"


def test_unknown_scheme_is_exit_2_naming_the_accepted_ones() -> None:
    code, out = _cli("--db", "oracle://scanner:s3cret@127.0.0.1/shop")
    assert code == 2
    assert len(out.strip().splitlines()) == 1
    assert out.startswith("error: --db takes")
    assert "postgresql://" in out and "mysql://" in out and "mariadb://" in out
    assert "s3cret" not in out
