"""The secrets a merchant's Amazon Connect Lambda signs its requests with.

Each secret (``cnsec_`` + 256 random bits) is shown once, when created; the server keeps it
sealed under the merchant's data key (:mod:`.sealed`), since it must recompute the HMAC, and
erases it on revocation. A secret names the Connect instance ARNs it may speak for: a
request signed with it for any other instance is refused. A merchant may hold several live
secrets (one being rolled in while the Lambda still has the old one). Creating and revoking
write an audit entry in the same transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from cardshield.crypto.errors import DecryptionError
from cardshield.crypto.secret import Secret
from cardshield.crypto.tokens import random_token
from cardshield.phone.connect.errors import ConnectSecretNotFound, InvalidInstanceArn
from cardshield.phone.connect.identifiers import canonical_instance_arn
from cardshield.phone.connect.sealed import seal, unseal
from cardshield.security.audit import append as audit
from cardshield.storage.schema import connect_secrets, merchants
from cardshield.vault.errors import MerchantNotFound
from cardshield.vault.keys import DataKeys

SECRET_PREFIX = "cnsec_"  # noqa: S105 - a prefix, not a secret
MAX_INSTANCES = 20
_KIND = "connect-secret"


@dataclass(frozen=True, slots=True)
class SigningSecretInfo:
    id: str
    merchant_id: str
    prefix: str
    instance_arns: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class CreatedSecret:
    info: SigningSecretInfo
    secret: Secret[str]  # shown once


@dataclass(frozen=True, slots=True)
class LiveSecret:
    id: str
    secret: Secret[str]
    instance_arns: tuple[str, ...]


def _info(row: Any) -> SigningSecretInfo:
    m = row._mapping
    return SigningSecretInfo(
        id=m["id"],
        merchant_id=m["merchant_id"],
        prefix=m["prefix"],
        instance_arns=tuple(m["instance_arns"]),
        created_at=m["created_at"],
        last_used_at=m["last_used_at"],
        revoked_at=m["revoked_at"],
    )


_INFO_COLUMNS = [c for c in connect_secrets.c if c.name not in ("secret", "data_key_id")]


def _arns(instance_arns: Sequence[str]) -> tuple[str, ...]:
    if not instance_arns or len(instance_arns) > MAX_INSTANCES:
        raise InvalidInstanceArn(
            f"Give 1 to {MAX_INSTANCES} Amazon Connect instance ARNs.", param="instance_arn"
        )
    canonical = []
    for arn in instance_arns:
        found = canonical_instance_arn(arn)
        if found is None:
            raise InvalidInstanceArn(param="instance_arn")
        if found not in canonical:
            canonical.append(found)
    return tuple(canonical)


def create_secret(
    conn: Connection,
    keys: DataKeys,
    *,
    merchant_id: str,
    instance_arns: Sequence[str],
    now: datetime,
    actor: str,
) -> CreatedSecret:
    arns = _arns(instance_arns)
    row = conn.execute(select(merchants.c.deleted_at).where(merchants.c.id == merchant_id)).first()
    if row is None or row.deleted_at is not None:
        raise MerchantNotFound
    secret_id = random_token("ccs_")
    value = SECRET_PREFIX + secrets.token_urlsafe(32)
    prefix = value[: len(SECRET_PREFIX) + 4]  # enough to tell secrets apart in a list
    data_key_id, blob = seal(
        conn,
        keys,
        kind=_KIND,
        merchant_id=merchant_id,
        object_id=secret_id,
        plaintext=value.encode("ascii"),
    )
    conn.execute(
        connect_secrets.insert().values(
            id=secret_id,
            merchant_id=merchant_id,
            prefix=prefix,
            instance_arns=list(arns),
            data_key_id=data_key_id,
            secret=blob,
            created_at=now,
        )
    )
    audit(
        conn,
        now=now,
        actor=actor,
        action="connect_secret.create",
        merchant_id=merchant_id,
        target=secret_id,
        details={"instance_arns": list(arns)},
    )
    info = SigningSecretInfo(secret_id, merchant_id, prefix, arns, now, None, None)
    return CreatedSecret(info, Secret(value))


def list_secrets(conn: Connection, *, merchant_id: str) -> list[SigningSecretInfo]:
    rows = conn.execute(
        select(*_INFO_COLUMNS)
        .where(connect_secrets.c.merchant_id == merchant_id)
        .order_by(connect_secrets.c.created_at, connect_secrets.c.id)
    )
    return [_info(r) for r in rows]


def revoke_secret(
    conn: Connection, *, merchant_id: str, secret_id: str, now: datetime, actor: str
) -> None:
    result = conn.execute(
        update(connect_secrets)
        .where(
            connect_secrets.c.id == secret_id,
            connect_secrets.c.merchant_id == merchant_id,
            connect_secrets.c.revoked_at.is_(None),
        )
        .values(secret=None, revoked_at=now)
    )
    if result.rowcount != 1:
        raise ConnectSecretNotFound(param="secret_id")
    audit(
        conn,
        now=now,
        actor=actor,
        action="connect_secret.revoke",
        merchant_id=merchant_id,
        target=secret_id,
    )


def live_secrets(conn: Connection, keys: DataKeys, *, merchant_id: str) -> list[LiveSecret]:
    """The merchant's unrevoked secrets, opened; empty for an unknown or deleted merchant
    (whose data keys are destroyed), so a caller cannot tell those from a wrong signature."""
    rows = conn.execute(
        select(
            connect_secrets.c.id,
            connect_secrets.c.instance_arns,
            connect_secrets.c.data_key_id,
            connect_secrets.c.secret,
        )
        .where(
            connect_secrets.c.merchant_id == merchant_id,
            connect_secrets.c.revoked_at.is_(None),
            connect_secrets.c.secret.is_not(None),
        )
        .order_by(connect_secrets.c.created_at.desc())
    ).all()
    found = []
    for row in rows:
        try:
            value = unseal(
                conn,
                keys,
                kind=_KIND,
                merchant_id=merchant_id,
                object_id=row.id,
                data_key_id=row.data_key_id,
                blob=row.secret,
            )
        except (MerchantNotFound, DecryptionError):
            continue  # shredded with the merchant, or not this row's blob: not a live secret
        found.append(LiveSecret(row.id, Secret(value.decode("ascii")), tuple(row.instance_arns)))
    return found


def mark_used(conn: Connection, secret_id: str, *, now: datetime) -> None:
    conn.execute(
        update(connect_secrets).where(connect_secrets.c.id == secret_id).values(last_used_at=now)
    )
