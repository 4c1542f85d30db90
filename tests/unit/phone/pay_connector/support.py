"""Shared pieces of the pay connector tests: Twilio-shaped bodies, credentials, row counts
and the canary scans."""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import MetaData, func, select
from sqlalchemy.engine import Engine

from cardshield.phone.pay_connector.credentials import create_credential
from cardshield.storage.schema import cards, idempotency_keys, payments
from tests.apps import NOW, Api
from tests.conftest import CANARY_CVV, CANARY_PAN, assert_no_card_data, assert_no_cvv

PATH = "/v1/phone/twilio/pay-connector"
DECLINED = "4000000000000002"  # the sandbox's generic decline (a published Stripe card)
LUHN_INVALID = CANARY_PAN[:-1] + "1"


def charge(**changes: Any) -> dict[str, Any]:
    """A charge request as Twilio's Generic Pay Connector sends it."""
    body: dict[str, Any] = {
        "method": "charge",
        "transaction_id": "8c9d14d5-52ae-4e2e-b880-a14e6e1cda7d",
        "cardnumber": CANARY_PAN,
        "cvv": CANARY_CVV,
        "expiry_month": "08",
        "expiry_year": "2030",
        "description": "pizza",
        "amount": "10.0",
        "currency_code": "USD",
        "postal_code": "94111",
        "parameters": {"order": "A-17"},
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def tokenize(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "method": "tokenize",
        "transaction_id": "0f5e9c8e-2b7a-4d1e-9a39-6d2f1c1b7e11",
        "token_type": "reusable",
        "cardnumber": CANARY_PAN,
        "cvv": CANARY_CVV,
        "expiry_month": "08",
        "expiry_year": "2030",
        "postal_code": "94111",
        "parameters": {},
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def basic(username: str, password: str) -> dict[str, str]:
    pair = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def credential(api: Api, merchant: str | None = None) -> dict[str, str]:
    with api.runtime.engine.begin() as conn:
        created = create_credential(
            conn, now=NOW, merchant_id=merchant or api.merchant, actor="test"
        )
    return basic(created.info.username, created.password.reveal())


def counts(engine: Engine) -> tuple[int, int, int]:
    """(cards, payments, idempotency keys): what a request may have written."""
    with engine.connect() as conn:
        return (
            conn.scalar(select(func.count()).select_from(cards)) or 0,
            conn.scalar(select(func.count()).select_from(payments)) or 0,
            conn.scalar(select(func.count()).select_from(idempotency_keys)) or 0,
        )


def database_text(engine: Engine) -> str:
    """Every row of every table, as text (the vault's ciphertext is bytes, not digits)."""
    metadata = MetaData()
    metadata.reflect(engine)
    rows: list[str] = []
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            rows.extend(repr(tuple(r)) for r in conn.execute(table.select()))
    return "\n".join(rows)


def assert_no_leak(*texts: str | bytes) -> None:
    for text in texts:
        value = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        assert_no_card_data(value, pans=(CANARY_PAN, DECLINED, LUHN_INVALID))
        # Timestamps hold runs of digits that may contain the code by chance.
        assert_no_cvv(value.replace(NOW.isoformat(), "").replace("2026-11-26", ""))
