"""Security services: the tamper-evident audit log and merchant API keys.

Public API::

    append(conn, *, now, actor, action, outcome="success", merchant_id=None, target=None,
           details=None) -> int                          audit.py: one entry, caller's txn
    seal(engine, kms, *, now, grace=5 s, checkpoint_every=1000, batch_size=1000)
        -> SealReport                                    audit_seal.py: link + checkpoints
    verify(engine, kms, *, checkpoint_every=1000) -> VerifyReport     audit_verify.py
    create_key(conn, *, now, merchant_id, kind, scopes, allowed_origins=(), description="",
               actor="system") -> CreatedKey           apikeys.py: plaintext shown once
    authenticate(conn, presented, *, now) -> ApiKeyInfo      InvalidApiKey (401)
    require_scope(info, scope) -> None                       InsufficientScope (403)
    revoke(conn, *, now, merchant_id, key_id, actor="system") -> ApiKeyInfo
    list_keys(conn, *, merchant_id, include_revoked=False) -> list[ApiKeyInfo]

Operators (people who use the console) live in their own modules: ``operators`` (accounts),
``signin`` (password, TOTP or recovery code, lockout), ``sessions`` (database sessions),
``passwords``, ``totp``, ``permissions`` (roles, permissions and route access
declarations, in one place), ``ratelimit``, ``events`` (structured security events) and
``monitor`` (card-data access volume).

The KMS argument is anything with ``sign(data) -> bytes`` and ``verify(data, sig) -> bool``
(:class:`~cardshield.security.audit.Signer`), e.g. ``cardshield.crypto.kms.open_kms(url)``.
"""

from __future__ import annotations

from cardshield.security.apikeys import (
    ApiKeyInfo,
    CreatedKey,
    authenticate,
    create_key,
    list_keys,
    require_scope,
    revoke,
)
from cardshield.security.audit import GAP_ACTION, GENESIS_HASH, Signer, append
from cardshield.security.audit_seal import SealReport, seal
from cardshield.security.audit_verify import Problem, VerifyReport, verify
from cardshield.security.errors import (
    ApiKeyNotFound,
    AuditError,
    InsufficientScope,
    InvalidApiKey,
)

__all__ = [
    "GAP_ACTION",
    "GENESIS_HASH",
    "ApiKeyInfo",
    "ApiKeyNotFound",
    "AuditError",
    "CreatedKey",
    "InsufficientScope",
    "InvalidApiKey",
    "Problem",
    "SealReport",
    "Signer",
    "VerifyReport",
    "append",
    "authenticate",
    "create_key",
    "list_keys",
    "require_scope",
    "revoke",
    "seal",
    "verify",
]
