"""Operator passwords: the policy and argon2id hashing.

Policy (PCI DSS 8.3.6 and NIST SP 800-63B): at least 12 characters, at most 256, not one of
the 10,000 most common passwords (``data/common-passwords.txt``), not such a password with
digits or symbols added at either end, not a repetition of one, and not the operator's own
username. Passwords are NFKC-normalized first, so the same password typed on two keyboards
hashes the same; they are never truncated.

Hashing is argon2id with the RFC 9106 "second recommended" parameters (64 MiB, t=3, p=4);
a stored hash carries its own parameters, so :meth:`PasswordHasher.verify` works for hashes
made with other settings and :meth:`PasswordHasher.needs_rehash` tells when to upgrade one.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher as _Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from cardshield.security.errors import WeakPassword

MIN_LENGTH = 12
MAX_LENGTH = 256
_AFFIXES = re.compile(r"^[\W\d_]*(.*?)[\W\d_]*$", re.UNICODE)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords, lower case."""
    text = resources.files("cardshield.security").joinpath("data/common-passwords.txt")
    lines = text.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def normalize(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def _is_repetition(word: str, common: frozenset[str]) -> bool:
    for size in range(1, len(word) // 2 + 1):
        if len(word) % size == 0 and word[:size] * (len(word) // size) == word:
            unit = word[:size]
            return size < 4 or unit in common
    return False


def check_policy(password: str, *, username: str | None = None) -> None:
    """Raise :class:`WeakPassword` (with the reason) unless ``password`` meets the policy."""
    text = normalize(password)
    if len(text) < MIN_LENGTH:
        raise WeakPassword(
            f"The password must have at least {MIN_LENGTH} characters.", param="password"
        )
    if len(text) > MAX_LENGTH:
        raise WeakPassword(
            f"The password must have at most {MAX_LENGTH} characters.", param="password"
        )
    common = common_passwords()
    lowered = text.lower()
    core_match = _AFFIXES.match(lowered)
    core = core_match.group(1) if core_match else lowered
    if lowered in common or (len(core) >= 4 and core in common):
        raise WeakPassword(
            "This password is on the list of commonly used passwords; choose another.",
            param="password",
        )
    if _is_repetition(lowered, common) or _is_repetition(core, common):
        raise WeakPassword(
            "The password must not be one short sequence repeated.", param="password"
        )
    if username and len(username) >= 3 and username.lower() in lowered:
        raise WeakPassword("The password must not contain the username.", param="password")


class PasswordHasher:
    """argon2id hashing and verification. Cheaper parameters are for tests only."""

    def __init__(self, *, time_cost: int = 3, memory_kib: int = 65536, parallelism: int = 4):
        self._argon2 = _Argon2(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        # Verifying against this when the account does not exist costs the same time as a
        # real check, so response timing does not tell which usernames exist.
        self._dummy = self._argon2.hash("cardshield-no-such-operator")

    def hash(self, password: str) -> str:
        return self._argon2.hash(normalize(password))

    def verify(self, stored: str | None, password: str) -> bool:
        """True when ``password`` matches ``stored``; False otherwise (also for a bad hash)."""
        try:
            return self._argon2.verify(stored or self._dummy, normalize(password)) and bool(stored)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        try:
            return self._argon2.check_needs_rehash(stored)
        except InvalidHashError:
            return True


@lru_cache(maxsize=1)
def default_hasher() -> PasswordHasher:
    return PasswordHasher()
