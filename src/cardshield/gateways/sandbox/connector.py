"""The sandbox connector: cardshield's built-in processor, reached in-process.

See the package docstring for the test cards, the amounts that trigger misbehaviour and
the options :func:`build` reads. It keeps its own ledger through its own engine (it plays
an outside processor), so reconciliation compares two independent records.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine

from cardshield.cards.testcards import Outcome, lookup
from cardshield.errors import ConfigError, InvalidRequestError
from cardshield.gateways.base import (
    AuthorizeRequest,
    FollowUpRequest,
    GatewayError,
    GatewayResult,
    GatewayTimeout,
    InboundEvent,
    Money,
)
from cardshield.gateways.sandbox import ledger, webhooks
from cardshield.gateways.sandbox.transformers import (
    CHARGES,
    OUTCOMES,
    STATUS_MAP,
    Behaviour,
    LedgerEntry,
    behaviour_for,
    not_found,
    to_result,
)
from cardshield.storage.engine import make_engine

DEFAULT_PUBLIC_BASE = "http://127.0.0.1:8750"
_PREFIX = {"authorize": "ch", "sale": "ch", "verify": "vf", "capture": "cp", "void": "vd"}


class ChallengeNotFound(InvalidRequestError):
    code = "resource_missing"
    http_status = 404
    default_message = "No such 3-D Secure challenge."


class SandboxConnector:
    name = "sandbox"

    def __init__(
        self,
        engine: Engine,
        *,
        secret: str,
        public_base: str = DEFAULT_PUBLIC_BASE,
        delay_ms: int = 0,
        slow_ms: int = 1500,
        webhook_url: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.engine = engine
        self.secret = secret
        self.public_base = public_base
        self.delay_ms = delay_ms
        self.slow_ms = slow_ms
        self.webhook_url = webhook_url
        self._clock = clock or (lambda: datetime.now(UTC))

    # -- the Connector protocol ------------------------------------------------------------

    def authorize(self, request: AuthorizeRequest) -> GatewayResult:
        return self._charge(request, "sale" if request.capture else "authorize")

    def verify(self, request: AuthorizeRequest) -> GatewayResult:
        return self._charge(request, "verify")

    def capture(self, request: FollowUpRequest) -> GatewayResult:
        return self._follow_up(request, "capture", _check_capture)

    def void(self, request: FollowUpRequest) -> GatewayResult:
        return self._follow_up(request, "void", _check_void)

    def refund(self, request: FollowUpRequest) -> GatewayResult:
        return self._follow_up(request, "refund", _check_refund)

    def sync(self, idempotency_key: str, connector_reference: str | None) -> GatewayResult:
        self._pause(self.delay_ms)
        entry = ledger.find_by_key(self.engine, idempotency_key)
        if entry is None and connector_reference:
            entry = ledger.find(self.engine, connector_reference)
        if entry is None:
            return not_found(idempotency_key)
        return to_result(entry, self.public_base)

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, url: str
    ) -> list[InboundEvent]:
        header = webhooks.header_value(headers, webhooks.SIGNATURE_HEADER)
        webhooks.verify(self.secret, header, body, now=self._clock().timestamp())
        event = webhooks.parse(body)
        obj = event["data"].get("object") or {}
        status = STATUS_MAP.get((str(obj.get("operation")), str(obj.get("status"))))
        return [
            InboundEvent(
                connector=self.name,
                event_type=str(event.get("type")),
                connector_reference=obj.get("id"),
                status=status,
                raw=event,
            )
        ]

    # -- sandbox extras: the 3-D Secure challenge, the ledger, webhooks ----------------------

    def challenge(self, entry_id: str) -> LedgerEntry:
        """The charge behind a challenge page (amount, currency, brand, last 4)."""
        entry = ledger.find(self.engine, entry_id)
        if entry is None or entry.operation not in CHARGES:
            raise ChallengeNotFound
        return entry

    def approve_challenge(self, entry_id: str, *, approve: bool = True) -> GatewayResult:
        """The customer passed (or failed) the challenge; the charge settles once."""
        self.challenge(entry_id)
        entry = ledger.decide_challenge(self.engine, entry_id, approve)
        if entry is None:  # pragma: no cover - the row was there a moment ago
            raise ChallengeNotFound
        self._notify(entry)
        return to_result(entry, self.public_base)

    def ledger(self) -> list[LedgerEntry]:
        return ledger.entries(self.engine)

    def signed_webhook(
        self, entry: LedgerEntry, *, now: int | None = None
    ) -> tuple[dict[str, str], bytes]:
        return webhooks.signed(entry, self.secret, now=now)

    def close(self) -> None:
        self.engine.dispose()

    # -- internals -------------------------------------------------------------------------

    def _charge(self, request: AuthorizeRequest, operation: str) -> GatewayResult:
        behaviour, replay = self._before(request.idempotency_key, operation, request.money, None)
        if replay is not None:
            return replay
        card = lookup(request.card.pan.reveal())
        status, code = OUTCOMES[card.outcome if card else Outcome.SUCCESS]
        if operation == "verify":
            if request.money.amount != 0:
                status, code = "declined", "invalid_amount"
            elif status == "requires_action":  # no challenge flow for verifications
                status, code = "declined", "authentication_required"
        elif request.money.amount <= 0:
            status, code = "declined", "invalid_amount"
        values = self._values(
            request.idempotency_key, request.merchant_account, operation, None
        ) | {
            "status": status,
            "amount": request.money.amount,
            "currency": request.money.currency,
            "card_brand": request.card.pan.brand.value,
            "card_last4": request.card.pan.last4,
            "decline_code": code,
        }
        entry = ledger.insert(self.engine, values)
        return self._after(entry, values["id"], behaviour, operation, request.money.amount, None)

    def _follow_up(
        self, request: FollowUpRequest, operation: str, check: _FollowUpCheck
    ) -> GatewayResult:
        parent_id = request.connector_reference
        behaviour, replay = self._before(
            request.idempotency_key, operation, request.money, parent_id
        )
        if replay is not None:
            return replay
        amount = request.money.amount
        account = request.merchant_account

        def decide(conn: Connection, parent: LedgerEntry) -> tuple[str, str | None]:
            if parent.account != account or parent.operation not in CHARGES:
                return "declined", "no_such_charge"
            return check(conn, parent, amount)

        values = self._values(request.idempotency_key, account, operation, parent_id) | {
            "status": "declined",
            "amount": amount,
            "currency": request.money.currency,
        }
        entry = ledger.insert(self.engine, values, decide)
        return self._after(entry, values["id"], behaviour, operation, amount, parent_id)

    def _before(
        self, key: str, operation: str, money: Money, parent_id: str | None
    ) -> tuple[Behaviour, GatewayResult | None]:
        """Latency and misbehaviour before anything is recorded. A retry of a misbehaving
        amount is answered from the ledger (normal ones find their first row on insert)."""
        self._pause(self.delay_ms)
        behaviour = behaviour_for(money.amount)
        if behaviour is Behaviour.NORMAL:
            return behaviour, None
        first = ledger.find_by_key(self.engine, key)
        if first is not None:
            return behaviour, self._replay(first, operation, money.amount, parent_id)
        if behaviour is Behaviour.GATEWAY_ERROR:
            raise GatewayError("The sandbox processor answered 500.")
        if behaviour is Behaviour.TIMEOUT_BEFORE_CHARGE:
            raise GatewayTimeout
        if behaviour is Behaviour.SLOW:
            self._pause(self.slow_ms)
        return behaviour, None

    def _after(
        self,
        entry: LedgerEntry,
        new_id: str,
        behaviour: Behaviour,
        operation: str,
        amount: int,
        parent_id: str | None,
    ) -> GatewayResult:
        answer = self._replay(entry, operation, amount, parent_id)
        if entry.id != new_id:  # the key was known: the first answer, nothing new happened
            return answer
        self._notify(entry)
        if behaviour is Behaviour.TIMEOUT_AFTER_CHARGE:
            raise GatewayTimeout  # recorded in the ledger; the answer got lost on the way
        return answer

    def _values(
        self, key: str, account: str, operation: str, parent_id: str | None
    ) -> dict[str, Any]:
        prefix = _PREFIX.get(operation, "re")
        return {
            "id": f"sbx_{prefix}_{secrets.token_hex(10)}",
            "account": account,
            "idempotency_key": key,
            "operation": operation,
            "parent_id": parent_id,
            "card_brand": None,
            "card_last4": None,
            "decline_code": None,
            "created_at": self._clock(),
        }

    def _replay(
        self, entry: LedgerEntry, operation: str, amount: int, parent_id: str | None
    ) -> GatewayResult:
        # Like Stripe, a key reused for a different request is refused, not replayed.
        same_kind = entry.operation == operation
        if not same_kind or entry.amount != amount or entry.parent_id != parent_id:
            refused = replace(entry, status="declined", decline_code="idempotency_mismatch")
            return to_result(refused, self.public_base)
        return to_result(entry, self.public_base)

    def _notify(self, entry: LedgerEntry) -> None:
        if not self.webhook_url:
            return
        headers, body = self.signed_webhook(entry)
        url = self.webhook_url
        # Sent after the ledger commit, off the request path, like a processor's queue.
        threading.Thread(
            target=webhooks.send, args=(url, headers, body), name="sandbox-webhook", daemon=True
        ).start()

    @staticmethod
    def _pause(ms: int) -> None:
        if ms > 0:
            time.sleep(ms / 1000)


_FollowUpCheck = Callable[[Connection, LedgerEntry, int], tuple[str, str | None]]


def _check_capture(conn: Connection, parent: LedgerEntry, amount: int) -> tuple[str, str | None]:
    if parent.operation != "authorize" or parent.status != "succeeded":
        return "declined", "charge_not_capturable"
    done = ledger.children(conn, parent.id)
    if "void" in done:
        return "declined", "already_voided"
    if "capture" in done:
        return "declined", "already_captured"
    if not 0 < amount <= parent.amount:
        return "declined", "amount_too_large" if amount > 0 else "invalid_amount"
    return "succeeded", None


def _check_void(conn: Connection, parent: LedgerEntry, amount: int) -> tuple[str, str | None]:
    if parent.operation != "authorize" or parent.status != "succeeded":
        return "declined", "charge_not_capturable"
    done = ledger.children(conn, parent.id)
    if "capture" in done:
        return "declined", "already_captured"
    if "void" in done:
        return "declined", "already_voided"
    return "succeeded", None


def _check_refund(conn: Connection, parent: LedgerEntry, amount: int) -> tuple[str, str | None]:
    if parent.status != "succeeded":
        return "declined", "no_such_charge"
    done = ledger.children(conn, parent.id)
    captured = parent.amount if parent.operation == "sale" else done.get("capture", (0, 0))[1]
    refunded = done.get("refund", (0, 0))[1]
    if not 0 < amount <= captured - refunded:
        return "declined", "amount_too_large" if amount > 0 else "invalid_amount"
    return "succeeded", None


def build(options: Mapping[str, Any]) -> SandboxConnector:
    """Options: ``database_url`` (required: where the sandbox keeps its ledger; its own
    engine), ``secret`` (webhook signing; a random one if absent, so only this process can
    verify), ``public_base`` (base URL of the 3-D Secure challenge page), ``delay_ms`` (every
    call), ``slow_ms`` (amounts ending in 993), ``webhook_url`` (POST signed webhooks there),
    ``pool_size``."""
    url = options.get("database_url")
    if not url:
        raise ConfigError("the sandbox connector needs a database_url for its ledger")
    try:
        delay_ms = int(options.get("delay_ms", 0))
        slow_ms = int(options.get("slow_ms", 1500))
        pool_size = int(options.get("pool_size", 8))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"sandbox connector: invalid number in options: {exc}") from exc
    return SandboxConnector(
        make_engine(str(url), pool_size=pool_size),
        secret=str(options.get("secret") or "whsec_" + secrets.token_hex(24)),
        public_base=str(options.get("public_base") or DEFAULT_PUBLIC_BASE),
        delay_ms=max(0, delay_ms),
        slow_ms=max(0, slow_ms),
        webhook_url=options.get("webhook_url") or None,
    )
