"""Sections of the scope report read from the deployment itself: configuration and
database, never typed in. Each collector takes the open runtime and returns plain data
(masked or non-card values only) for the JSON and HTML renderers.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, or_, select

from cardshield.compliance.report.flows import SCRATCH_PREFIX
from cardshield.runtime import Runtime
from cardshield.security.audit_verify import verify
from cardshield.security.operators import Operators
from cardshield.security.security_keys import keys_per_operator
from cardshield.storage.schema import (
    api_keys,
    audit_log,
    cards,
    connect_keys,
    connect_secrets,
    forward_destinations,
    merchants,
    pay_connector_credentials,
    webhook_endpoints,
)
from cardshield.web import sri

# Audit actions that touch card data (PCI DSS 10.2.1.1: every access to cardholder data).
CARD_ACCESS_ACTIONS = ("card.tokenize", "card.use", "card.forward", "card.reveal", "card.delete")
VOLUME_DAYS = 30


def _safe_url(url: str) -> str:
    """A URL without user name, password or query string."""
    if url.startswith("sqlite"):
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else url


def wiring(rt: Runtime) -> dict[str, Any]:
    """How each channel is wired, from the settings and the database."""
    s = rt.settings
    db = s.effective_database_url
    with rt.engine.connect() as conn:
        live = select(merchants.c.id).where(merchants.c.deleted_at.is_(None))
        keys = conn.execute(
            select(api_keys.c.merchant_id, api_keys.c.prefix, api_keys.c.allowed_origins).where(
                api_keys.c.kind == "publishable",
                api_keys.c.revoked_at.is_(None),
                api_keys.c.merchant_id.in_(live),
            )
        ).all()
        hooks = conn.execute(
            select(webhook_endpoints.c.merchant_id, webhook_endpoints.c.url).where(
                webhook_endpoints.c.disabled_at.is_(None),
                webhook_endpoints.c.merchant_id.in_(live),
            )
        ).all()
        forwards = conn.execute(
            select(forward_destinations.c.merchant_id, forward_destinations.c.host).where(
                forward_destinations.c.merchant_id.in_(live)
            )
        ).all()
        merchant_count = int(
            conn.execute(select(func.count()).select_from(live.subquery())).scalar_one()
        )
    return {
        "merchants": merchant_count,
        "online": {
            "connector": s.connector,
            "connector_options": sorted(s.connector_options),  # names only: values are secrets
            "public_url": s.effective_public_url,
            "hosted_fields_frame": f"{s.effective_public_url}/elements/v1/frame.html",
            "publishable_keys": [
                {
                    "merchant": k.merchant_id,
                    "key": k.prefix + "...",
                    "origins": list(k.allowed_origins),
                }
                for k in keys
            ],
            "webhook_endpoints": [
                {"merchant": h.merchant_id, "url": _safe_url(h.url)} for h in hooks
            ],
            "forward_destinations": [{"merchant": f.merchant_id, "host": f.host} for f in forwards],
        },
        "phone": phone_wiring(rt),
        "storage": {
            "database": "sqlite" if db.startswith("sqlite") else "postgresql",
            "database_url": _safe_url(db),
            "cvv_store": "redis" if s.redis_url else "memory",
            "token_ttl_minutes": s.token_ttl_minutes,
            "cvv_ttl_minutes": s.cvv_ttl_minutes,
        },
    }


_SECRET_WORDS = ("token", "secret", "password", "key")


def phone_wiring(rt: Runtime) -> dict[str, Any]:
    """The phone settings this version has (``phone_*``, ``twilio_*``); secrets as set/unset."""
    values = rt.settings.model_dump(mode="json")
    settings: dict[str, Any] = {}
    for name in sorted(values):
        if not name.startswith(("phone_", "twilio_")):
            continue
        value = values[name]
        if any(word in name for word in _SECRET_WORDS):
            value = "set" if value else "unset"
        settings[name] = value
    configured = bool(values.get("phone_merchant_id") or values.get("twilio_account_sid"))
    note = (
        "Phone channel configured from the settings below."
        if configured
        else "No phone channel is configured in this deployment's settings."
    )
    return {
        "configured": configured,
        "settings": settings,
        "platforms": platform_wiring(rt),
        "note": note + " The canary run drives the IVR flow in process (keyed, tokenized,"
        " charged through the sandbox) and the built-in DTMF masker (keyed canary audio,"
        " masked, detector run over the masked recording), and sends the requests Twilio's"
        " Generic Pay Connector and an Amazon Connect Lambda would send; it places no call.",
    }


def platform_wiring(rt: Runtime) -> dict[str, Any]:
    """Which voice platforms can hand card data to this deployment: live credentials of real
    merchants (the report's scratch merchants left out) and what each does to scope."""
    live = merchants.c.deleted_at.is_(None) & ~merchants.c.name.startswith(SCRATCH_PREFIX)
    P, K, S = pay_connector_credentials, connect_keys, connect_secrets
    with rt.engine.connect() as conn:

        def count(table: Any, *where: Any) -> int:
            query = select(func.count()).select_from(
                table.join(merchants, merchants.c.id == table.c.merchant_id)
            )
            return int(conn.execute(query.where(live, *where)).scalar_one())

        twilio = count(P, P.c.revoked_at.is_(None))
        keys = count(K, K.c.status == "active")
        secrets = count(S, S.c.revoked_at.is_(None))
    return {
        "twilio_pay_connector": {
            "credentials": twilio,
            "note": "Twilio captures the digits (PCI Mode) and posts them only to cardshield;"
            " the merchant's TwiML app and agents get a token (SAQ advisor method"
            " twilio_pay_connector).",
        },
        "amazon_connect": {
            "active_keys": keys,
            "signing_secrets": secrets,
            "note": "Connect encrypts the digits to a key only cardshield holds; the merchant's"
            " flow and Lambda carry ciphertext they cannot open (SAQ advisor method"
            " amazon_connect_encrypted_input).",
        },
    }


def encryption(rt: Runtime) -> dict[str, Any]:
    with rt.engine.connect() as conn:
        counts = rt.vault.keys.counts_by_kek_version(conn)
        pending = rt.vault.keys.pending_rewrap(conn)
        last = conn.execute(
            select(func.max(audit_log.c.occurred_at)).where(audit_log.c.action == "key.rotate")
        ).scalar_one()
        created = conn.execute(select(func.min(audit_log.c.occurred_at))).scalar_one()
    current = rt.kms.current_version()
    return {
        "provider": rt.kms.name,
        "current_version": current,
        "versions": [
            {"version": v, "data_keys": counts.get(v, 0), "current": v == current}
            for v in rt.kms.versions()
        ],
        "pending_rewrap": pending,
        "last_rotation": last.isoformat() if last else None,
        "first_audit_entry": created.isoformat() if created else None,
        "cipher": "AES-256-GCM data keys per merchant, wrapped by the KEK",
    }


def audit_chain(rt: Runtime) -> dict[str, Any]:
    report = verify(rt.engine, rt.kms)
    return {
        "ok": report.ok,
        "problem": report.problem.describe() if report.problem else None,
        "sealed": report.sealed,
        "unsealed": report.unsealed,
        "gaps": report.gaps,
        "checkpoints": report.checkpoints,
        "head_seq": report.head_seq,
        "head_hash": report.head_hash,
    }


def access_control(rt: Runtime) -> dict[str, Any]:
    with rt.engine.connect() as conn:
        ops = Operators(rt.engine, rt.kms).all(conn)
        key_rows = conn.execute(
            select(api_keys.c.kind, func.count())
            .where(api_keys.c.revoked_at.is_(None))
            .group_by(api_keys.c.kind)
        ).all()
        revoked = int(
            conn.execute(
                select(func.count()).where(api_keys.c.revoked_at.is_not(None))
            ).scalar_one()
        )
        keys_by_operator = keys_per_operator(conn)
    active = [o for o in ops if o.active]
    enrolled = sum(o.mfa_enrolled for o in active)
    return {
        "operators": [
            {
                "username": o.username,
                "role": o.role.value,
                "merchant": o.merchant_id,
                "mfa": o.mfa_enrolled,
                "security_keys": keys_by_operator.get(o.id, 0),
                "active": o.active,
                "last_login": o.last_login_at.isoformat() if o.last_login_at else None,
            }
            for o in ops
        ],
        "roles": dict(Counter(o.role.value for o in active)),
        "active_operators": len(active),
        "mfa_enrolled": enrolled,
        "mfa_coverage": round(enrolled / len(active), 4) if active else None,
        # Phishing-resistant factors: active operators with at least one security key.
        "security_key_operators": len([o for o in active if keys_by_operator.get(o.id)]),
        "api_keys": {str(kind): int(n) for kind, n in key_rows},
        "api_keys_revoked": revoked,
    }


def scripts(rt: Runtime) -> dict[str, Any]:
    """The scripts and stylesheet the payment frame loads, with the SRI hashes it pins."""
    base = rt.settings.effective_public_url
    assets = [
        {
            "url": f"{base}/elements/v1/{name}",
            "type": media.split(";")[0],
            "integrity": sri.asset(name).integrity,
            "bytes": len(sri.asset(name).body),
            "loaded_by": "merchant page" if name == "cardshield.js" else "payment frame",
        }
        for name, media in sri.ASSETS.items()
    ]
    return {
        "assets": assets,
        "manifest_url": f"{base}/elements/v1/sri.json",
        "third_party_scripts": 0,
        "requirement": "PCI DSS 6.4.3: scripts authorized, integrity assured, inventoried",
    }


def retention(rt: Runtime, now: datetime) -> dict[str, Any]:
    policy = rt.vault.policy
    with rt.engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(cards)).scalar_one())
        expired = int(
            conn.execute(
                select(func.count()).where(
                    or_(cards.c.expires_at <= now, cards.c.used_at.is_not(None))
                )
            ).scalar_one()
        )
        past = 0
        if policy.retention is not None:
            cutoff = now - policy.retention
            past = int(
                conn.execute(
                    select(func.count()).where(
                        cards.c.single_use.is_(False),
                        cards.c.created_at <= cutoff,
                        or_(cards.c.last_used_at.is_(None), cards.c.last_used_at <= cutoff),
                    )
                ).scalar_one()
            )
        last = conn.execute(
            select(func.max(audit_log.c.occurred_at)).where(audit_log.c.action == "card.purge")
        ).scalar_one()
    return {
        "retention_days": policy.retention.days if policy.retention else None,
        "single_use_ttl_minutes": int(policy.single_use_ttl.total_seconds() // 60),
        "cards_stored": total,
        "tokens_pending_purge": expired,
        "cards_past_retention": past,
        "last_purge": last.isoformat() if last else None,
        "purge_command": "cardshield vault purge",
    }


def access_volume(rt: Runtime, now: datetime, days: int = VOLUME_DAYS) -> dict[str, Any]:
    """Card-data accesses per day and action, from the audit log, for the last ``days``.

    Accesses by earlier canary runs (their scratch merchants) are counted apart, so the
    chart shows the deployment's own traffic."""
    start = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    per_day: dict[str, Counter[str]] = defaultdict(Counter)
    canary_runs = 0
    with rt.engine.connect() as conn:
        scratch = {
            r.id
            for r in conn.execute(
                select(merchants.c.id).where(merchants.c.name.like(f"{SCRATCH_PREFIX}-%"))
            )
        }
        rows = conn.execute(
            select(audit_log.c.occurred_at, audit_log.c.action, audit_log.c.merchant_id).where(
                audit_log.c.action.in_(CARD_ACCESS_ACTIONS), audit_log.c.occurred_at >= start
            )
        )
        for at, action, merchant_id in rows:
            if merchant_id in scratch:
                canary_runs += 1
                continue
            per_day[at.date().isoformat()][action] += 1
    series = []
    for i in range(days):
        day = (start + timedelta(days=i)).date().isoformat()
        counts = per_day.get(day, Counter())
        series.append({"date": day, "total": sum(counts.values()), "by_action": dict(counts)})
    return {
        "days": days,
        "actions": list(CARD_ACCESS_ACTIONS),
        "series": series,
        "canary_accesses_excluded": canary_runs,
    }
