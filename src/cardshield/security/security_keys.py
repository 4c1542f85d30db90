"""Security keys (WebAuthn, through the ``webauthn`` package): a second factor besides TOTP.

An operator who has enrolled TOTP may add security keys from their account page (after a
fresh password-and-code confirmation, like every other sensitive action) and then sign in
with a key instead of typing a code. TOTP stays enrolled: it is the fallback, and it is
what a re-authentication asks for.

* The relying party is the console's own origin (``console_url``, else ``public_url``).
  Keys are bound to its host name by the authenticator, and an answer made for any other
  origin is refused. WebAuthn needs a host name and a secure context, so a console reached
  by IP address or over plain HTTP (other than ``localhost``) offers no security keys.
* Each ceremony's challenge lives in the operator's session row, so any node can check the
  answer, and the first answer takes it, right or wrong: an answer cannot be replayed.
* Only the credential id, its public key, the sign count and a label are stored. A sign
  count that does not grow, for keys that keep one, is refused as a cloned key.
* No attestation is asked for: cardshield does not restrict which authenticator models
  operators use.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from cardshield.redaction.text import redact
from cardshield.security import events
from cardshield.security.audit import append as audit
from cardshield.security.errors import (
    SecurityKeyNotFound,
    SecurityKeyRejected,
    TooManySecurityKeys,
)
from cardshield.storage.schema import operator_security_keys, operators

MAX_KEYS = 10
TIMEOUT_MS = 120_000
NAME_MAX = 64

# For a second factor after the password, presence (a touch) is enough: no PIN prompt.
_VERIFICATION = UserVerificationRequirement.DISCOURAGED
_TRANSPORTS = frozenset(t.value for t in AuthenticatorTransport)


@dataclass(frozen=True)
class RelyingParty:
    """The console as WebAuthn sees it: ``id`` is the host name keys are bound to."""

    id: str
    name: str
    origin: str

    @classmethod
    def for_url(cls, url: str, name: str = "cardshield console") -> RelyingParty | None:
        """The relying party for a console served at ``url``, or None where WebAuthn cannot
        work there (an IP address, no host, or plain HTTP anywhere but localhost)."""
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        if not host or parts.scheme not in ("https", "http"):
            return None
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            return None
        if parts.scheme == "http" and host != "localhost":
            return None
        try:
            port = parts.port
        except ValueError:  # a port that is not a number
            return None
        default = 443 if parts.scheme == "https" else 80
        origin = f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")
        return cls(id=host, name=name, origin=origin)


@dataclass(frozen=True)
class SecurityKey:
    """A registered key as the console shows it (no key material)."""

    id: str
    name: str
    aaguid: str
    created_at: datetime
    last_used_at: datetime | None


def list_keys(conn: Connection, operator_id: str) -> list[SecurityKey]:
    rows = conn.execute(
        select(operator_security_keys)
        .where(operator_security_keys.c.operator_id == operator_id)
        .order_by(operator_security_keys.c.created_at, operator_security_keys.c.id)
    )
    return [SecurityKey(r.id, r.name, r.aaguid, r.created_at, r.last_used_at) for r in rows]


def count_keys(conn: Connection, operator_id: str) -> int:
    found = conn.execute(
        select(func.count())
        .select_from(operator_security_keys)
        .where(operator_security_keys.c.operator_id == operator_id)
    ).scalar_one()
    return int(found)


def keys_per_operator(conn: Connection) -> dict[str, int]:
    """How many security keys each operator has (operators without one are absent)."""
    rows = conn.execute(
        select(operator_security_keys.c.operator_id, func.count()).group_by(
            operator_security_keys.c.operator_id
        )
    )
    return {str(operator): int(n) for operator, n in rows}


def _descriptors(conn: Connection, operator_id: str) -> list[PublicKeyCredentialDescriptor]:
    rows = conn.execute(
        select(operator_security_keys.c.credential_id, operator_security_keys.c.transports).where(
            operator_security_keys.c.operator_id == operator_id
        )
    )
    return [
        PublicKeyCredentialDescriptor(
            id=bytes(r.credential_id),
            transports=[AuthenticatorTransport(t) for t in r.transports if t in _TRANSPORTS],
        )
        for r in rows
    ]


def registration_options(
    conn: Connection, rp: RelyingParty, *, operator_id: str
) -> tuple[str, bytes]:
    """``navigator.credentials.create()`` options (JSON) and their challenge, to keep."""
    row = conn.execute(select(operators).where(operators.c.id == operator_id)).one()
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        # The user handle is the operator id: random, and no personal data.
        user_id=row.id.encode(),
        user_name=row.username,
        user_display_name=row.display_name,
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.DISCOURAGED, user_verification=_VERIFICATION
        ),
        exclude_credentials=_descriptors(conn, operator_id),  # one registration per key
    )
    return options_to_json(options), options.challenge


def authentication_options(
    conn: Connection, rp: RelyingParty, *, operator_id: str
) -> tuple[str, bytes] | None:
    """``navigator.credentials.get()`` options for this operator's keys, or None if none."""
    allowed = _descriptors(conn, operator_id)
    if not allowed:
        return None
    options = generate_authentication_options(
        rp_id=rp.id,
        timeout=TIMEOUT_MS,
        allow_credentials=allowed,
        user_verification=_VERIFICATION,
    )
    return options_to_json(options), options.challenge


def clean_name(name: str) -> str:
    """A label for the key list: printable, trimmed, at most 64 characters, and masked like
    any other free text, so a card number typed as a name is never stored."""
    printable = redact("".join(c for c in name if c.isprintable()).strip())
    return printable[:NAME_MAX] or "Security key"


def add_key(
    engine: Engine,
    rp: RelyingParty,
    *,
    now: datetime,
    operator_id: str,
    challenge: bytes | None,
    response: str,
    name: str,
    actor: str,
) -> SecurityKey:
    """Check a ``create()`` answer against ``challenge`` and store the new key.

    SecurityKeyRejected when the answer does not verify (or no challenge was outstanding);
    TooManySecurityKeys past :data:`MAX_KEYS`. Nothing is stored on error.
    """
    if challenge is None:
        raise SecurityKeyRejected
    try:
        credential = parse_registration_credential_json(response)
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_verification=False,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise SecurityKeyRejected from exc
    key = SecurityKey(
        id="sk_" + secrets.token_hex(12),
        name=clean_name(name),
        aaguid=verified.aaguid,
        created_at=now,
        last_used_at=None,
    )
    with engine.begin() as conn:
        owner = conn.execute(select(operators).where(operators.c.id == operator_id)).one()
        if count_keys(conn, operator_id) >= MAX_KEYS:
            raise TooManySecurityKeys
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(operator_security_keys).values(
                        id=key.id,
                        operator_id=operator_id,
                        credential_id=verified.credential_id,
                        public_key=verified.credential_public_key,
                        sign_count=verified.sign_count,
                        name=key.name,
                        aaguid=key.aaguid,
                        # The transports the browser reported: a hint for later sign-ins.
                        transports=sorted({t.value for t in credential.response.transports or []}),
                        created_at=now,
                    )
                )
        except IntegrityError as exc:  # the same authenticator credential, registered already
            raise SecurityKeyRejected("This security key is registered already.") from exc
        audit(
            conn,
            now=now,
            actor=actor,
            action="operator.security_key_add",
            merchant_id=owner.merchant_id,
            target=operator_id,
            details={"key": key.id, "name": key.name, "aaguid": key.aaguid},
        )
    events.emit(events.MFA_CHANGED, operator=operator_id, change="security_key_added", key=key.id)
    return key


def remove_key(engine: Engine, *, now: datetime, operator_id: str, key_id: str, actor: str) -> None:
    """Remove one of the operator's keys (SecurityKeyNotFound if it is not theirs)."""
    with engine.begin() as conn:
        owner = conn.execute(select(operators).where(operators.c.id == operator_id)).one()
        removed = conn.execute(
            delete(operator_security_keys).where(
                operator_security_keys.c.id == key_id,
                operator_security_keys.c.operator_id == operator_id,
            )
        )
        if removed.rowcount != 1:
            raise SecurityKeyNotFound
        audit(
            conn,
            now=now,
            actor=actor,
            action="operator.security_key_remove",
            merchant_id=owner.merchant_id,
            target=operator_id,
            details={"key": key_id},
        )
    events.emit(events.MFA_CHANGED, operator=operator_id, change="security_key_removed", key=key_id)


def remove_all(conn: Connection, operator_id: str) -> int:
    """Forget every key of the operator (an MFA reset); the caller audits."""
    result = conn.execute(
        delete(operator_security_keys).where(operator_security_keys.c.operator_id == operator_id)
    )
    return int(result.rowcount or 0)


def check_assertion(
    conn: Connection,
    rp: RelyingParty,
    *,
    now: datetime,
    operator_id: str,
    challenge: bytes,
    response: str,
) -> str | None:
    """The id of the operator's key that made this ``get()`` answer, or None.

    None for anything that does not verify: an unknown key or another operator's, a wrong
    challenge, origin or relying party, a bad signature, or a sign count that did not grow.
    """
    try:
        credential = parse_authentication_credential_json(response)
    except (WebAuthnException, ValueError, KeyError, TypeError):
        return None
    row: Any = conn.execute(
        select(operator_security_keys).where(
            operator_security_keys.c.credential_id == credential.raw_id,
            operator_security_keys.c.operator_id == operator_id,
        )
    ).first()
    if row is None:
        return None
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=bytes(row.public_key),
            credential_current_sign_count=row.sign_count,
            require_user_verification=False,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError):
        return None
    # Conditional on the count read above: of two answers racing, one wins.
    claimed = conn.execute(
        update(operator_security_keys)
        .where(
            operator_security_keys.c.id == row.id,
            operator_security_keys.c.sign_count == row.sign_count,
        )
        .values(sign_count=verified.new_sign_count, last_used_at=now)
    )
    return str(row.id) if claimed.rowcount == 1 else None
