"""After 1,000 cards with security codes are tokenized, the database bytes hold neither.

PANs (12-19 digits) cannot appear in random bytes by chance, so any hit is a leak. A short
security code can, so the codes are Amex CIDs (4 digits) drawn to differ from every last 4
and from years (both are stored on purpose), and searched as a 4-digit run standing alone
(no digit or letter on either side, which also skips hex hashes and base62 tokens). Random
ciphertext still matches one now and then, so the test allows a few, far below the 1,000
a stored code would give; a control on the same bytes with the codes appended proves the
search finds every one.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import make_url

from cardshield.cards import CVV, PAN, Expiry, luhn_check_digit
from cardshield.crypto.kms import open_kms
from cardshield.storage import make_engine, upgrade
from cardshield.vault import MemoryCVVStore, Vault
from tests.databases import postgres_database

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
COUNT = 1000


def _cards(seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pans = []
    for _ in range(COUNT):
        body = rng.choice(["34", "37"]) + "".join(rng.choice("0123456789") for _ in range(12))
        pans.append(body + luhn_check_digit(body))
    taken = {p[-4:] for p in pans} | {str(y) for y in range(1900, 2100)}
    codes = [c for c in (f"{n:04d}" for n in range(1000, 10000)) if c not in taken]
    return [(pan, rng.choice(codes)) for pan in pans]


def _tokenize_all(url: str, cards: list[tuple[str, str]]) -> Vault:
    engine = make_engine(url)
    upgrade(engine)
    vault = Vault(engine, open_kms("memory:"), MemoryCVVStore())
    merchant = vault.create_merchant("canary", now=NOW)
    for pan, cid in cards:
        vault.tokenize(merchant, PAN(pan), Expiry(2031, 1), CVV(cid), now=NOW)
    return vault


def _leaks(blob: bytes, cards: list[tuple[str, str]]) -> tuple[int, int]:
    """(PANs found, distinct security codes found as a 4-digit run) in ``blob``."""
    pans = sum(1 for pan, _ in cards if pan.encode() in blob)
    runs = set(re.findall(rb"(?<![0-9A-Za-z])[0-9]{4}(?![0-9A-Za-z])", blob))
    codes = sum(1 for cid in {c for _, c in cards} if cid.encode() in runs)
    return pans, codes


def _assert_clean(blob: bytes, cards: list[tuple[str, str]]) -> None:
    pans, codes = _leaks(blob, cards)
    assert pans == 0, f"{pans} PANs in the database bytes"
    assert codes <= 10, f"{codes} of {COUNT} security codes in the database bytes"
    # Control: the same search finds every code and PAN once they are really there.
    planted = blob + b"\n".join(f"{p},{c}".encode() for p, c in cards)
    assert _leaks(planted, cards) == (COUNT, len({c for _, c in cards}))


def test_sqlite_file_and_wal_hold_no_pan_or_cvv(tmp_path: Path) -> None:
    cards = _cards(1)
    db = tmp_path / "vault.db"
    vault = _tokenize_all(f"sqlite:///{db}", cards)
    wal = Path(f"{db}-wal")
    blob = db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    vault.engine.dispose()
    assert len(blob) > 100_000
    _assert_clean(blob, cards)


def _decode_bytea(dump: bytes) -> bytes:
    # pg_dump writes bytea as \x<hex>; scan the bytes themselves, not their hex spelling.
    return re.sub(rb"\\\\x([0-9a-f]+)", lambda m: bytes.fromhex(m.group(1).decode()), dump)


def test_pg_dump_holds_no_pan_or_cvv() -> None:
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump (postgresql-client) is required"
    cards = _cards(2)
    for url in postgres_database():
        vault = _tokenize_all(url, cards)
        vault.engine.dispose()
        u = make_url(url)
        dump = subprocess.run(
            [
                pg_dump,
                "-h",
                u.host or "127.0.0.1",
                "-U",
                u.username or "postgres",
                u.database or "",
            ],
            capture_output=True,
            check=True,
        ).stdout
        assert b"COPY public.cards" in dump
        _assert_clean(_decode_bytea(dump), cards)
