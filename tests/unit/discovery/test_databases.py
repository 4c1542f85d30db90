"""Database URLs: which scanner a scheme picks, and what of a URL may be printed."""

from __future__ import annotations

import pytest

from cardshield.discovery import databases
from cardshield.discovery.context import ScanOptions
from cardshield.discovery.databases import mysql, postgresql, public_url, scan_database
from cardshield.discovery.errors import ScanOptionError


@pytest.mark.parametrize(
    ("scheme", "scanner"),
    [("postgresql", postgresql), ("postgres", postgresql), ("mysql", mysql), ("mariadb", mysql)],
)
def test_scheme_picks_the_scanner(scheme: str, scanner: object) -> None:
    assert databases.scanner_for(f"{scheme}://host/db") is scanner


@pytest.mark.parametrize("url", ["oracle://u:s3cret@host/db", "host/db", "sqlite:///x.db"])
def test_unknown_scheme_names_the_accepted_ones(url: str) -> None:
    with pytest.raises(ScanOptionError) as exc:
        scan_database(url, ScanOptions())
    message = exc.value.message
    assert all(f"{s}://" in message for s in ("postgresql", "postgres", "mysql", "mariadb"))
    assert "s3cret" not in message


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mysql://scanner:s3cret@db.example:3307/shop", "mysql://db.example:3307/shop"),
        ("mariadb://scanner:s3cret@db.example/shop", "mysql://db.example:3306/shop"),
        ("mysql://127.0.0.1", "mysql://127.0.0.1:3306/"),
        ("mysql://scanner@[::1]/shop", "mysql://[::1]:3306/shop"),
        ("mysql://scanner:s3cret@/shop?unix_socket=/run/mysqld/mysqld.sock", "mysql://localhost/shop"),
        ("postgresql://scanner:s3cret@db.example:5433/shop?sslmode=require", "postgresql://db.example:5433/shop"),
        ("postgres://scanner@db.example/shop", "postgresql://db.example/shop"),
    ],
)  # fmt: skip
def test_public_url_has_no_credentials_or_query(url: str, shown: str) -> None:
    assert public_url(url) == shown


def test_mysql_url_parts() -> None:
    target = mysql.parse_url("mysql://sc%40nner:p%3Ass@db.example/my%20shop")
    assert (target.host, target.port, target.user, target.password, target.database) == (
        "db.example", 3306, "sc@nner", "p:ss", "my shop"
    )  # fmt: skip
    assert "p:ss" not in repr(target)
    defaults = mysql.parse_url("mysql://db.example")
    assert (defaults.user, defaults.password, defaults.database) == ("root", "", None)


@pytest.mark.parametrize(
    "url",
    [
        "mysql://scanner:s3cret@host:port/db",
        "postgresql://scanner:s3cret@host:99999/db",
        "mysql://scanner:s3cret@host/db?password=s3cret",
    ],
)
def test_bad_urls_are_option_errors_without_the_password(url: str) -> None:
    with pytest.raises(ScanOptionError) as exc:
        public_url(url)
    assert "s3cret" not in exc.value.message


def test_identifiers_are_quoted_with_backticks() -> None:
    assert mysql.quote_identifier("we`ird name") == "`we``ird name`"
