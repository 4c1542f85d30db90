"""Fingerprints: stable per merchant, unlinkable across merchants, HMAC-SHA256 in hex."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from cardshield.cards import PAN, TEST_CARDS
from cardshield.crypto import Secret, fingerprint, generate_fingerprint_key
from tests.conftest import CANARY_PAN, assert_no_card_data


def test_same_card_same_merchant_gives_the_same_fingerprint() -> None:
    key = generate_fingerprint_key()
    assert fingerprint(key, PAN(CANARY_PAN)) == fingerprint(key, PAN("4242 4242-4242 4242"))
    assert fingerprint(Secret(key), PAN(CANARY_PAN)) == fingerprint(key, PAN(CANARY_PAN))


def test_different_merchants_get_unrelated_fingerprints() -> None:
    pan = PAN(CANARY_PAN)
    prints = {fingerprint(generate_fingerprint_key(), pan) for _ in range(50)}
    assert len(prints) == 50


def test_different_cards_differ_under_one_key() -> None:
    key = generate_fingerprint_key()
    numbers = sorted({c.number for c in TEST_CARDS})
    prints = {fingerprint(key, PAN(n)) for n in numbers}
    assert len(prints) == len(numbers)


def test_is_hex_hmac_sha256_of_the_digits() -> None:
    key = bytes.fromhex("11" * 32)
    expected = hmac.new(key, CANARY_PAN.encode(), hashlib.sha256).hexdigest()
    fp = fingerprint(key, PAN(CANARY_PAN))
    assert fp == expected
    assert len(fp) == 64
    assert fp == fp.lower()
    assert fp != hashlib.sha256(CANARY_PAN.encode()).hexdigest()  # keyed, not a bare hash
    assert_no_card_data(fp)


def test_keys_are_random_and_long_enough() -> None:
    keys = {generate_fingerprint_key() for _ in range(32)}
    assert len(keys) == 32
    assert {len(k) for k in keys} == {32}
    with pytest.raises(ValueError, match="32 bytes"):
        fingerprint(b"short", PAN(CANARY_PAN))
