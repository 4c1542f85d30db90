"""What the agent may do with a call's secure capture. Every change is a new version of the
call's row; the keypad (on the node holding the media stream) reads it at the next digit.

Every action names the merchants the agent acts for (:class:`MerchantScope`): a call of
another merchant is answered exactly as a call that does not exist (``call_not_found``), so
an agent limited to one merchant can neither see nor change another merchant's capture."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cardshield.errors import InvalidRequestError
from cardshield.payments.service import PaymentService
from cardshield.phone.calls import CallState, CallStore
from cardshield.phone.errors import CallNotFound
from cardshield.redaction.logging import get_logger
from cardshield.security.audit import append as audit

log = get_logger(__name__)

AGENT_FIELDS = ("expiry", "card", "cvc")
# Re-keying a field invalidates what was built on it: the token carries the expiry, and
# the security code belongs to the card.
DEPENDENTS = {"expiry": ("expiry", "card", "cvc"), "card": ("card", "cvc"), "cvc": ("cvc",)}


class CaptureNotReady(InvalidRequestError):
    code = "capture_not_ready"
    http_status = 409
    default_message = "Every card field must be valid before charging."


@dataclass(frozen=True)
class MerchantScope:
    """The merchants an agent acts for: one (``merchant_id``), or all of them (``None``, an
    operator not limited to a merchant)."""

    merchant_id: str | None

    def covers(self, merchant_id: str) -> bool:
        return self.merchant_id is None or self.merchant_id == merchant_id


class AgentControl:
    def __init__(self, store: CallStore, payments: PaymentService) -> None:
        self.store = store
        self.payments = payments

    def find(self, call_sid: str, scope: MerchantScope) -> CallState | None:
        """The call, if it exists and belongs to a merchant in ``scope``."""
        state = self.store.find(call_sid)
        return state if state is not None and scope.covers(state.merchant_id) else None

    def _get(self, call_sid: str, scope: MerchantScope) -> CallState:
        state = self.find(call_sid, scope)
        if state is None:
            raise CallNotFound
        return state

    def _audit(self, state: CallState, action: str, actor: str, now: datetime) -> CallState:
        """Each agent action on a capture is an audit entry (PCI DSS 10.2.1.2)."""
        with self.store.engine.begin() as conn:
            audit(
                conn,
                now=now,
                actor=actor,
                action=f"phone.capture.{action}",
                merchant_id=state.merchant_id,
                target=state.call_sid,
                details={"step": state.step, "outcome": state.outcome},
            )
        return state

    def start(
        self,
        call_sid: str,
        merchant_id: str,
        *,
        now: datetime,
        actor: str,
        scope: MerchantScope | None = None,
    ) -> CallState:
        """Start (or restart) capture; a call that does not exist yet is created for
        ``merchant_id``, which must be in ``scope`` (by default, that merchant alone)."""
        scope = scope or MerchantScope(merchant_id)
        if not scope.covers(merchant_id):
            raise CallNotFound
        state = self.store.find(call_sid)
        if state is None:
            state = self.store.create(
                CallState(
                    call_sid=call_sid,
                    merchant_id=merchant_id,
                    mode="agent",
                    step="idle",
                    created_at=now,
                    updated_at=now,
                )
            )
        # Checked on what is stored: create returns the row another node may have created
        # for another merchant in between.
        if not scope.covers(state.merchant_id):
            raise CallNotFound
        log.info("phone.agent.start", call_sid=call_sid, actor=actor)
        state = self.store.save(
            state.evolve(
                step="expiry", fields={}, token=None, brand=None, last4=None, outcome=None
            ),
            now=now,
        )
        return self._audit(state, "start", actor, now)

    def rerequest(
        self,
        call_sid: str,
        field: str,
        *,
        scope: MerchantScope,
        now: datetime,
        actor: str = "system",
    ) -> CallState:
        state = self._get(call_sid, scope)
        if field not in AGENT_FIELDS:
            raise InvalidRequestError("Unknown field.", param="field")
        fields = {k: v for k, v in state.fields.items() if k not in DEPENDENTS[field]}
        changes: dict[str, object] = {"step": field, "fields": fields, "outcome": None}
        if field in ("expiry", "card"):
            changes.update(token=None, brand=None, last4=None)
        state = self.store.save(state.evolve(**changes), now=now)
        return self._audit(state, f"rerequest_{field}", actor, now)

    def cancel(
        self, call_sid: str, *, scope: MerchantScope, now: datetime, actor: str = "system"
    ) -> CallState:
        state = self._get(call_sid, scope)
        state = self.store.save(state.evolve(step="cancelled", outcome="cancelled"), now=now)
        return self._audit(state, "cancel", actor, now)

    def charge(
        self,
        call_sid: str,
        *,
        scope: MerchantScope,
        amount: int,
        currency: str,
        now: datetime,
        actor: str,
    ) -> CallState:
        state = self._get(call_sid, scope)
        ready = all(state.fields.get(f) == "valid" for f in AGENT_FIELDS)
        if not ready or state.token is None or state.step != "ready":
            raise CaptureNotReady
        if amount <= 0 or len(currency) != 3:
            raise InvalidRequestError("Give a positive amount and a currency.", param="amount")
        payment = self.payments.create(
            state.merchant_id,
            amount=amount,
            currency=currency.upper(),
            token=state.token,
            idempotency_key=f"phone-agent-{call_sid}-{state.token}",
            metadata={"channel": "phone_agent", "call_sid": call_sid},
            now=now,
        )
        outcome = "approved" if payment.status in ("captured", "authorized") else "declined"
        log.info("phone.agent.charge", call_sid=call_sid, actor=actor, outcome=outcome)
        state = self.store.save(
            state.evolve(
                step="done",
                amount=amount,
                currency=currency.upper(),
                payment_id=payment.id,
                outcome=outcome,
            ),
            now=now,
        )
        return self._audit(state, "charge", actor, now)
