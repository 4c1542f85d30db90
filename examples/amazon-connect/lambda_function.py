"""Amazon Connect -> cardshield: the Lambda a contact flow invokes after collecting a card.

The flow's Store customer input blocks (Encrypt entry on) leave Connect's ciphertexts in
contact attributes; the Invoke AWS Lambda function block passes them to this function as
parameters (or this function reads them from the contact's attributes). It forwards them,
still encrypted, to cardshield in a signed request and hands the flow a token. This function
never sees a card number: it cannot decrypt (cardshield holds the private key), and it logs
neither the ciphertexts nor anything cardshield answers beyond a status.

Environment:

    CARDSHIELD_URL             https://cardshield.example.com (no trailing path)
    CARDSHIELD_MERCHANT        mer_...
    CARDSHIELD_SIGNING_SECRET  cnsec_... (from `cardshield connect secrets create`)

Parameters (or contact attributes) it reads:

    CardNumber     encrypted card number              required
    Expiry         encrypted expiry, MMYY             required
    SecurityCode   encrypted security code            optional
    Amount         minor units, e.g. "1999"           optional: charge at once
    Currency       ISO 4217, e.g. "EUR"               with Amount
    Reusable       "true" for a reusable token        optional

It returns a flat map of strings (all Connect accepts): ``status`` is ``tokenized``, the
payment's status (``captured``, ``authorized``, ``failed`` ...) or ``error``; then ``token``,
``brand``, ``last4``, ``payment_id`` and, on error, ``error_code``. Standard library only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import time
import urllib.error
import urllib.request
from typing import Any

log = logging.getLogger()
log.setLevel(logging.INFO)

PATH = "/v1/phone/amazon-connect/tokens"
TIMEOUT_S = 6.0  # Connect waits at most 8 seconds for a Lambda


def _sign(secret: str, body: bytes, timestamp: int) -> str:
    signed = str(timestamp).encode("ascii") + b"." + body
    mac = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def _inputs(event: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    details = event.get("Details") or {}
    contact = details.get("ContactData") or {}
    attributes = contact.get("Attributes") or {}
    parameters = details.get("Parameters") or {}
    merged = {**attributes, **parameters}  # the block's parameters win
    return {k: v for k, v in merged.items() if isinstance(v, str)}, contact


class _Refused(Exception):
    """The event lacks what the request needs; ``code`` goes back to the flow."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _error(code: str) -> dict[str, str]:
    return {"status": "error", "error_code": code, "token": "", "brand": "", "last4": ""}


def _request(event: dict[str, Any]) -> dict[str, Any]:
    values, contact = _inputs(event)
    if not values.get("CardNumber") or not values.get("Expiry"):
        raise _Refused("input_missing")
    body: dict[str, Any] = {
        "merchant": os.environ["CARDSHIELD_MERCHANT"],
        "contact_id": str(contact.get("ContactId", "")),
        "instance_arn": str(contact.get("InstanceARN", "")),
        "card_number": values["CardNumber"],
        "expiry": values["Expiry"],
        "reusable": values.get("Reusable", "").strip().lower() == "true",
    }
    if values.get("SecurityCode"):
        body["security_code"] = values["SecurityCode"]
    amount = values.get("Amount", "").strip()
    if amount:
        if not amount.isdigit():
            raise _Refused("invalid_amount")
        body["charge"] = {"amount": int(amount), "currency": values.get("Currency", "").strip()}
    return body


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    try:
        body = _request(event)
    except _Refused as exc:
        log.warning("cardshield: not sent (%s)", exc.code)
        return _error(exc.code)
    base = os.environ["CARDSHIELD_URL"].rstrip("/")
    if not base.startswith(("https://", "http://")):  # never file: or another scheme
        return _error("cardshield_url_invalid")
    raw = json.dumps(body, separators=(",", ":")).encode("utf-8")
    secret = os.environ["CARDSHIELD_SIGNING_SECRET"]
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        base + PATH,
        data=raw,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Cardshield-Signature": _sign(secret, raw, int(time.time())),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 - as above
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            code = str(json.loads(exc.read())["error"]["code"])
        except (ValueError, KeyError, TypeError):
            code = f"http_{exc.code}"
        log.warning("cardshield refused the request: %s %s", exc.code, code)
        return _error(code)
    except (urllib.error.URLError, TimeoutError, ValueError) as exc:
        log.warning("cardshield unreachable: %s", type(exc).__name__)
        return _error("cardshield_unreachable")
    payment = answer.get("payment") or {}
    status = str(payment.get("status") or "tokenized")
    log.info("cardshield: %s", status)
    return {
        "status": status,
        "token": str(answer.get("token", "")),
        "brand": str(answer.get("brand", "")),
        "last4": str(answer.get("last4", "")),
        "payment_id": str(payment.get("id", "")),
        "error_code": str(payment.get("decline_code") or ""),
    }
