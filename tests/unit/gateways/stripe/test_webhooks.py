"""Stripe webhooks: Stripe-Signature verification (valid, tampered, wrong secret, stale,
missing, rotation) cross-checked against the official library, and event mapping."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import stripe as stripe_sdk

from cardshield.errors import InvalidRequestError
from cardshield.gateways import WebhookSignatureError, get_connector
from cardshield.gateways.base import GatewayStatus
from cardshield.gateways.stripe import StripeConnector
from cardshield.gateways.stripe.webhooks import sign, verify_signature
from tests.conftest import load_vectors
from tests.unit.gateways.stripe.conftest import API_KEY, NOW

SECRET = "whsec_test_9f8e7d6c5b4a"
EVENTS = load_vectors("gateways/stripe/events.json")["events"]
BODY = json.dumps(EVENTS[0]["event"], indent=2).encode()


def header(body: bytes = BODY, *, secret: str = SECRET, at: int = int(NOW)) -> dict[str, str]:
    return {"Stripe-Signature": f"t={at},v1={sign(secret, at, body)}"}


def test_a_valid_signature_yields_the_event(stripe: StripeConnector) -> None:
    events = stripe.parse_webhook(header(), BODY, "https://cardshield.example/hooks/stripe")

    assert len(events) == 1
    assert events[0].connector == "stripe"
    assert events[0].event_type == "payment_intent.succeeded"
    assert events[0].status is GatewayStatus.CAPTURED
    assert events[0].raw["id"] == "evt_3PqKx2LkdIwHu7ix0Evt0001"


def test_header_name_is_case_insensitive(stripe: StripeConnector) -> None:
    ((name, value),) = header().items()
    assert stripe.parse_webhook({name.lower(): value}, BODY, "")[0].status is GatewayStatus.CAPTURED


def test_tampered_body_is_refused(stripe: StripeConnector) -> None:
    tampered = BODY.replace(b'"amount": 2000', b'"amount": 2001')
    assert tampered != BODY
    with pytest.raises(WebhookSignatureError):
        stripe.parse_webhook(header(), tampered, "")


def test_wrong_secret_is_refused(stripe: StripeConnector) -> None:
    with pytest.raises(WebhookSignatureError):
        stripe.parse_webhook(header(secret="whsec_someone_else"), BODY, "")


@pytest.mark.parametrize("skew", [-301, 301, -86_400])
def test_timestamps_outside_300_seconds_are_refused(stripe: StripeConnector, skew: int) -> None:
    with pytest.raises(WebhookSignatureError):
        stripe.parse_webhook(header(at=int(NOW) + skew), BODY, "")


@pytest.mark.parametrize("skew", [-300, 0, 299])
def test_timestamps_inside_the_tolerance_pass(stripe: StripeConnector, skew: int) -> None:
    assert stripe.parse_webhook(header(at=int(NOW) + skew), BODY, "")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Stripe-Signature": ""},
        {"Stripe-Signature": f"t={int(NOW)}"},
        {"Stripe-Signature": f"v1={sign(SECRET, int(NOW), BODY)}"},
        {"Stripe-Signature": f"t=soon,v1={sign(SECRET, int(NOW), BODY)}"},
        {"Stripe-Signature": f"t={int(NOW)},v0={sign(SECRET, int(NOW), BODY)}"},
    ],
    ids=["missing", "empty", "no-v1", "no-t", "bad-t", "v0-only"],
)
def test_missing_or_malformed_headers_are_refused(
    stripe: StripeConnector, headers: dict[str, str]
) -> None:
    with pytest.raises(WebhookSignatureError):
        stripe.parse_webhook(headers, BODY, "")


def test_any_matching_v1_and_any_configured_secret_is_accepted() -> None:
    at = int(NOW)
    good = sign("whsec_new", at, BODY)
    value = f"t={at},v1={sign('whsec_unrelated', at, BODY)},v1={good}"
    verify_signature(value, BODY, ["whsec_old", "whsec_new"], now=NOW)
    with pytest.raises(WebhookSignatureError):
        verify_signature(value, BODY, ["whsec_old"], now=NOW)


def test_no_configured_secret_refuses_everything() -> None:
    connector = get_connector("stripe", {"api_key": API_KEY, "clock": lambda: NOW})
    with pytest.raises(WebhookSignatureError):
        connector.parse_webhook(header(), BODY, "")


def test_signatures_agree_with_the_official_library() -> None:
    now = time.time()
    at = int(now)
    ours = f"t={at},v1={sign(SECRET, at, BODY)}"
    assert stripe_sdk.WebhookSignature.verify_header(BODY, ours, SECRET, tolerance=300)
    theirs = stripe_sdk.WebhookSignature.generate_signature_header(BODY.decode(), SECRET, at)
    verify_signature(theirs, BODY, [SECRET], now=now)
    with pytest.raises(stripe_sdk.SignatureVerificationError):
        stripe_sdk.WebhookSignature.verify_header(BODY + b" ", ours, SECRET, tolerance=300)


@pytest.mark.parametrize("vector", EVENTS, ids=[v["event"]["type"] for v in EVENTS])
def test_events_map_to_our_statuses(stripe: StripeConnector, vector: dict[str, Any]) -> None:
    body = json.dumps(vector["event"]).encode()
    (event,) = stripe.parse_webhook(header(body), body, "")
    expected = vector["expect"]
    assert event.event_type == vector["event"]["type"]
    assert event.status == (
        None if expected["status"] is None else GatewayStatus(expected["status"])
    )
    assert event.connector_reference == expected["connector_reference"]


def test_a_signed_body_that_is_not_an_event_is_rejected(stripe: StripeConnector) -> None:
    body = b"[1, 2, 3]"
    with pytest.raises(InvalidRequestError, match=r"data\.object") as info:
        stripe.parse_webhook(header(body), body, "")
    assert not isinstance(info.value, WebhookSignatureError)  # the signature was fine
