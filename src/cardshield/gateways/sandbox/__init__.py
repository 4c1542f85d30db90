"""The sandbox: a built-in payment processor for the demo and the tests.

It behaves like a real processor reached over the network: it keeps its own ledger
(``sandbox_ledger``, written through its own engine and transactions), answers a repeated
idempotency key with the first result instead of charging again, checks captures, voids
and refunds against what it recorded, and signs its webhooks
(``Sandbox-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "t.body")>``, 300 s tolerance).

Outcomes by card (``cardshield.cards.testcards``; any other Luhn-valid number succeeds):

=====================  ===============================================================
4242424242424242 ...   success (every published "succeeds" card)
4000000000000002       declined ``generic_decline`` (unified ``card_declined``)
4000000000009995       declined ``insufficient_funds``
4000000000000069       declined ``expired_card``
4000000000000127       declined ``incorrect_cvc``
4000000000000119       declined ``processing_error``
4000000000003220,      3-D Secure: ``requires_action`` with the challenge page
4000002500003155       ``{public_base}/sandbox/3ds/{charge id}``; the charge settles when
                       the challenge is decided (:meth:`SandboxConnector.approve_challenge`),
                       and ``sync`` then reports it. A verification cannot be challenged:
                       it is declined ``authentication_required``.
=====================  ===============================================================

Misbehaviour by amount (last three digits of the amount in minor units, any card; a
retry with the same idempotency key is answered normally from the ledger):

=========  ==========================================================================
...991     timeout after the charge: the ledger row commits, then ``GatewayTimeout``
...992     timeout before the charge: nothing recorded, ``GatewayTimeout``
...993     slow response: sleeps ``slow_ms`` (default 1500) before answering
...994     processor error: nothing recorded, ``GatewayError``
=========  ==========================================================================

``delay_ms`` adds latency to every call. ``sync(key, reference)`` reads the ledger; for a
key it never received it answers ``FAILED`` with ``raw["error"] == "no_such_operation"``.
"""

from __future__ import annotations

from cardshield.gateways.sandbox.connector import ChallengeNotFound, SandboxConnector, build
from cardshield.gateways.sandbox.transformers import LedgerEntry


def account_for(merchant_id: str) -> str:
    """The sandbox account of a cardshield merchant (``merchant_account`` in requests)."""
    return f"sbx_acct_{merchant_id}"


__all__ = ["ChallengeNotFound", "LedgerEntry", "SandboxConnector", "account_for", "build"]
