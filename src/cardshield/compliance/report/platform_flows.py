"""The canary through the voice platforms that hand card data to cardshield: Twilio's Generic
Pay Connector (a ``<Pay>`` request as Twilio posts it, with a scratch Basic credential) and
Amazon Connect's encrypted input (the canary encrypted exactly as a contact flow encrypts
it, to a scratch Connect key, in a request signed as the shipped Lambda signs it).

Both go through the same HTTP client as the other flows (the app in process, or the live
server), so their answers and the server's logs are scanned like every other channel's. No
Twilio or AWS service is called: these are the requests those platforms would send.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from datetime import datetime
from typing import Any

import httpx

from cardshield.cards import Expiry
from cardshield.compliance.report.canary import Canary
from cardshield.config import Settings
from cardshield.phone.connect import ConnectKeys
from cardshield.phone.connect.signature import SIGNATURE_HEADER, sign
from cardshield.phone.connect.signing_secrets import create_secret
from cardshield.phone.connect.simulate import connect_encrypt
from cardshield.phone.pay_connector.credentials import create_credential
from cardshield.runtime import open_runtime

PAY_CONNECTOR_PATH = "/v1/phone/twilio/pay-connector"
CONNECT_PATH = "/v1/phone/amazon-connect/tokens"
ACTOR = "report"
# A made-up instance of the scratch merchant: the signing secret speaks for it alone.
SCRATCH_INSTANCE = "arn:aws:connect:eu-west-1:000000000000:instance/{}"


def pay_connector_flow(
    client: httpx.Client | Any,
    canary: Canary,
    settings: Settings,
    merchant_id: str,
    now: datetime,
    *,
    charge: bool,
) -> tuple[int, bytes, dict[str, Any] | None]:
    """One Generic Pay Connector request for the canary: (status, body, answer when it
    succeeded). A charge when the server's processor is the sandbox, else a tokenize."""
    rt = open_runtime(settings)
    try:
        with rt.engine.begin() as conn:
            made = create_credential(
                conn, now=now, merchant_id=merchant_id, description="scope report", actor=ACTOR
            )
    finally:
        rt.close()
    exp = Expiry(year=now.year + 3, month=now.month)
    body: dict[str, Any] = {
        "method": "charge" if charge else "tokenize",
        "transaction_id": "canary-" + secrets.token_hex(8),
        "cardnumber": canary.twilio_pay.reveal(),
        "cvv": canary.cvv.reveal(),
        "expiry_month": f"{exp.month:02d}",
        "expiry_year": str(exp.year),
        "postal_code": "94111",
        "parameters": {"order": "scope-report"},
    }
    if charge:
        body |= {"amount": "12.34", "currency_code": "USD", "description": "scope report"}
    else:
        body["token_type"] = "one-time"  # noqa: S105 (a token kind, not a secret)
    basic = f"{made.info.username}:{made.password.reveal()}".encode()
    headers = {"Authorization": "Basic " + base64.b64encode(basic).decode("ascii")}
    resp = client.post(PAY_CONNECTOR_PATH, json=body, headers=headers)
    answer = resp.json() if resp.status_code == 200 else None
    if answer is not None and answer.get("error_code") is not None:
        answer = None
    return resp.status_code, resp.content, answer


def connect_flow(
    client: httpx.Client | Any,
    canary: Canary,
    settings: Settings,
    merchant_id: str,
    now: datetime,
    *,
    charge: bool,
) -> tuple[int, bytes, dict[str, Any] | None]:
    """One Lambda request for the canary, encrypted to a scratch Connect key."""
    connect_key_id = str(uuid.uuid4())  # what Connect would show for the uploaded key
    instance = SCRATCH_INSTANCE.format(uuid.uuid4())
    rt = open_runtime(settings)
    try:
        keys = ConnectKeys(rt.vault.keys)
        with rt.engine.begin() as conn:
            key = keys.create(conn, merchant_id=merchant_id, now=now, actor=ACTOR)
            key = keys.activate(
                conn,
                merchant_id=merchant_id,
                key_id=key.id,
                connect_key_id=connect_key_id,
                now=now,
                actor=ACTOR,
            )
            secret = create_secret(
                conn,
                rt.vault.keys,
                merchant_id=merchant_id,
                instance_arns=[instance],
                now=now,
                actor=ACTOR,
            ).secret
    finally:
        rt.close()
    exp = Expiry(year=now.year + 3, month=now.month)

    def encrypted(digits: str) -> str:
        return connect_encrypt(digits, key.certificate_pem, connect_key_id)

    body: dict[str, Any] = {
        "merchant": merchant_id,
        "contact_id": str(uuid.uuid4()),
        "instance_arn": instance,
        "card_number": encrypted(canary.amazon_connect.reveal()),
        "expiry": encrypted(f"{exp.month:02d}{exp.year % 100:02d}"),
        "security_code": encrypted(canary.cvv.reveal()),
    }
    if charge:
        body["charge"] = {"amount": 1234, "currency": "usd"}
    raw = json.dumps(body).encode()
    headers = {
        "content-type": "application/json",
        SIGNATURE_HEADER: sign(secret.reveal(), raw, timestamp=int(now.timestamp())),
    }
    resp = client.post(CONNECT_PATH, content=raw, headers=headers)
    return resp.status_code, resp.content, resp.json() if resp.status_code == 200 else None
