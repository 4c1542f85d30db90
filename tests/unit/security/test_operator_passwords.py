"""The password policy and argon2id hashing."""

from __future__ import annotations

import pytest

from cardshield.security.errors import WeakPassword
from cardshield.security.passwords import (
    MIN_LENGTH,
    PasswordHasher,
    check_policy,
    common_passwords,
)
from tests.unit.security.operator_support import FAST_HASHER


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("a" * (MIN_LENGTH - 1), "at least 12"),
        ("qwerty123456", "commonly used"),  # on the list as it is
        ("QWERTY123456", "commonly used"),  # case does not matter
        ("password1234", "commonly used"),  # a listed word with digits added
        ("!!Football2024!!", "commonly used"),
        ("abcabcabcabcabc", "repeated"),
        ("zzzzzzzzzzzzzzzz", "repeated"),
        ("dragondragondragon", "repeated"),
        ("x" * 257, "at most 256"),
        ("my name is maria, hi!", "username"),
    ],
)
def test_policy_refuses(password: str, reason: str) -> None:
    with pytest.raises(WeakPassword, match=reason):
        check_policy(password, username="maria")


@pytest.mark.parametrize(
    "password",
    ["violet-anchor-meadow-42", "tr0mbone Orbit sable", "Ünïcode-pässwörd-ok", "x" * 11 + "y"],
)
def test_policy_accepts(password: str) -> None:
    check_policy(password, username="maria")


def test_the_shipped_list_is_loaded() -> None:
    words = common_passwords()
    assert len(words) > 9000
    assert {"123456", "password", "qwerty"} <= words
    assert not any(w.startswith("#") for w in words)


def test_hash_verify_and_rehash() -> None:
    stored = FAST_HASHER.hash("violet-anchor-meadow-42")
    assert stored.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert FAST_HASHER.verify(stored, "violet-anchor-meadow-42")
    assert not FAST_HASHER.verify(stored, "violet-anchor-meadow-43")
    assert not FAST_HASHER.verify("not a hash", "violet-anchor-meadow-42")
    assert not FAST_HASHER.verify(None, "cardshield-no-such-operator")  # the dummy never passes
    # NFKC: the same password typed as composed or decomposed characters.
    assert FAST_HASHER.verify(
        FAST_HASHER.hash("caf\u00e9-tables-twelve"), "cafe\u0301-tables-twelve"
    )
    stronger = PasswordHasher(time_cost=2, memory_kib=2048, parallelism=1)
    assert stronger.needs_rehash(stored) and not FAST_HASHER.needs_rehash(stored)
    assert stronger.verify(stored, "violet-anchor-meadow-42")  # parameters come from the hash
