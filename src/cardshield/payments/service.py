"""PaymentService: the payments API the HTTP layer, the CLI and the demo call.

Every operation that reaches a processor runs in three recoverable phases:

1. one transaction: check the request, write the payment (or reserve it at its version)
   and a ``pending`` operation holding the gateway key, commit;
2. no transaction open: the gateway call, through ``Vault.use_for_forwarding`` for
   authorize/verify (the card is decrypted only for this call), with the gateway key as the
   processor's idempotency key;
3. one transaction: record the outcome on the operation and the payment (optimistic
   ``version`` check), emit the events and the audit entry.

With an ``idempotency_key`` the gateway key is derived from it (merchant, key, first use,
operation), so a retry after a crash or a timeout finds the pending operation and resolves
it with ``connector.sync`` (or re-sends it with the same key, which the processor answers
from its records): never a second charge, and a consumed single-use token is not needed
again. Without a key, ``cardshield payments resume`` settles pending operations.

Errors: see :mod:`cardshield.payments.errors`. A processor that does not answer gives 503
``payment_processing`` and leaves the operation pending; a refused capture or void gives
402 ``operation_declined``; a refused refund comes back as a refund with status ``failed``.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from cardshield.gateways.base import (
    AuthorizeRequest,
    Connector,
    FollowUpRequest,
    GatewayError,
    GatewayResult,
    GatewayStatus,
    InboundEvent,
    Money,
)
from cardshield.gateways.declines import Decline, DeclineCode
from cardshield.payments import params, phases, recovery
from cardshield.payments.errors import OperationDeclined, PaymentProcessing
from cardshield.payments.idempotency import DEFAULT_LOCK_TTL, Claim, gateway_key_for, run_view
from cardshield.payments.money import check_amount, normalize_currency
from cardshield.payments.record import record_result
from cardshield.payments.states import Operation
from cardshield.payments.views import PaymentView, RefundView
from cardshield.vault.errors import TokenAlreadyUsed, TokenExpired, TokenNotFound
from cardshield.vault.service import Vault

ConnectorFor = Callable[[str], tuple[Connector, str]]
PaymentPage = tuple[builtins.list[PaymentView], bool]
V = TypeVar("V", PaymentView, RefundView)
_TOKEN_ERRORS = (TokenNotFound, TokenAlreadyUsed, TokenExpired)
_DONE = {Operation.CAPTURE: "captured", Operation.VOID: "voided"}


class PaymentService:
    def __init__(
        self,
        engine: Engine,
        vault: Vault,
        connector_for: ConnectorFor,
        *,
        actor: str = "api",
        lock_ttl: timedelta = DEFAULT_LOCK_TTL,
    ) -> None:
        self.engine = engine
        self.vault = vault
        self.connector_for = connector_for
        self.actor = actor
        self.lock_ttl = lock_ttl

    # -- charges -------------------------------------------------------------------------

    def create(
        self,
        merchant_id: str,
        *,
        amount: int,
        currency: str,
        token: str,
        capture_method: str = "automatic",
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        return_url: str | None = None,
        idempotency_key: str | None = None,
        now: datetime,
    ) -> PaymentView:
        """Authorize (``manual``) or charge (``automatic``) ``amount`` on a vault token."""
        params.refuse_card_data(
            description=description, metadata=metadata, return_url=return_url
        )  # before the idempotency record, which keeps the request's hash and its answer
        request = {
            "op": "create",
            "amount": amount,
            "currency": currency,
            "token": token,
            "capture_method": capture_method,
            "description": description,
            "metadata": metadata,
            "return_url": return_url,
        }

        def work(held: Claim | None) -> PaymentView:
            check_amount(amount)
            fields = {
                "amount": amount,
                "currency": normalize_currency(currency),
                "capture_method": params.capture_method(capture_method),
                "description": params.description(description),
                "metadata": params.metadata(metadata),
                "return_url": params.return_url(return_url),
            }
            return self._charge(merchant_id, Operation.AUTHORIZE, token, fields, held, now)

        return self._idempotent(merchant_id, idempotency_key, request, now, work, PaymentView)

    def verify(
        self,
        merchant_id: str,
        *,
        token: str,
        currency: str,
        idempotency_key: str | None = None,
        now: datetime,
    ) -> PaymentView:
        """A $0 verification of the card behind ``token``: status ``verified`` or ``failed``."""
        request = {"op": "verify", "token": token, "currency": currency}

        def work(held: Claim | None) -> PaymentView:
            fields = {
                "amount": 0,
                "currency": normalize_currency(currency),
                "capture_method": "none",
                "description": None,
                "metadata": {},
                "return_url": None,
            }
            return self._charge(merchant_id, Operation.VERIFY, token, fields, held, now)

        return self._idempotent(merchant_id, idempotency_key, request, now, work, PaymentView)

    def complete_action(self, merchant_id: str, payment_id: str, *, now: datetime) -> PaymentView:
        """After the customer's 3-D Secure challenge: ask the processor and record the result
        (still ``requires_action`` while the challenge is open)."""
        return recovery.complete_action(self, merchant_id, payment_id, now=now)

    # -- follow-ups ----------------------------------------------------------------------

    def capture(
        self,
        merchant_id: str,
        payment_id: str,
        *,
        amount: int | None = None,
        idempotency_key: str | None = None,
        now: datetime,
    ) -> PaymentView:
        """Capture all (or ``amount``, at most the authorized amount) of an authorization."""
        request = {"op": "capture", "payment": payment_id, "amount": amount}
        return self._idempotent(
            merchant_id,
            idempotency_key,
            request,
            now,
            lambda held: self._follow_up(
                merchant_id, payment_id, Operation.CAPTURE, amount, None, held, now
            )[0],
            PaymentView,
        )

    def void(
        self,
        merchant_id: str,
        payment_id: str,
        *,
        idempotency_key: str | None = None,
        now: datetime,
    ) -> PaymentView:
        """Release an authorization that was not captured."""
        request = {"op": "void", "payment": payment_id}
        return self._idempotent(
            merchant_id,
            idempotency_key,
            request,
            now,
            lambda held: self._follow_up(
                merchant_id, payment_id, Operation.VOID, None, None, held, now
            )[0],
            PaymentView,
        )

    def refund(
        self,
        merchant_id: str,
        payment_id: str,
        *,
        amount: int | None = None,
        reason: str | None = None,
        idempotency_key: str | None = None,
        now: datetime,
    ) -> RefundView:
        """Refund all that is left (or ``amount``) of a captured payment; several allowed."""
        params.refuse_card_data(reason=reason)
        request = {"op": "refund", "payment": payment_id, "amount": amount, "reason": reason}

        def work(held: Claim | None) -> RefundView:
            _, op_id = self._follow_up(
                merchant_id, payment_id, Operation.REFUND, amount, reason, held, now
            )
            with self.engine.connect() as conn:
                op = phases.operation(conn, op_id)
                refund = phases.load_refund(conn, merchant_id, op["refund_id"])
                return phases.refund_view(conn, refund)

        return self._idempotent(merchant_id, idempotency_key, request, now, work, RefundView)

    # -- reading -------------------------------------------------------------------------

    def retrieve(self, merchant_id: str, payment_id: str) -> PaymentView:
        with self.engine.connect() as conn:
            return PaymentView.from_row(phases.load_payment(conn, merchant_id, payment_id))

    def retrieve_refund(self, merchant_id: str, refund_id: str) -> RefundView:
        with self.engine.connect() as conn:
            return phases.refund_view(conn, phases.load_refund(conn, merchant_id, refund_id))

    def list(
        self,
        merchant_id: str,
        *,
        limit: int = 10,
        starting_after: str | None = None,
        status: str | None = None,
    ) -> PaymentPage:
        """Newest first; ``starting_after`` is the last id of the previous page."""
        with self.engine.connect() as conn:
            rows = phases.list_payments(
                conn,
                merchant_id,
                limit=params.limit(limit),
                starting_after=starting_after,
                status=params.status(status),
            )
        return [PaymentView.from_row(r) for r in rows[:limit]], len(rows) > limit

    def handle_gateway_event(self, event: InboundEvent, *, now: datetime) -> PaymentView | None:
        """A verified processor webhook: settle the pending operations of its payment."""
        return recovery.handle_event(self, event, now=now)

    # -- the phases ----------------------------------------------------------------------

    def _charge(
        self,
        merchant_id: str,
        kind: Operation,
        token: str,
        fields: dict[str, Any],
        held: Claim | None,
        now: datetime,
    ) -> PaymentView:
        connector, account = self.connector_for(merchant_id)
        key = gateway_key_for(merchant_id, held, kind.value)
        resumed = recovery.retried(self, key, held, now)
        if resumed is not None:  # a retry: the card is not needed again
            return resumed[0]
        card = params.usable_card(self.vault, merchant_id, token, now)
        payment_id = phases.new_id("pay")
        try:
            with self.engine.begin() as conn:  # phase 1
                op_id = phases.open_payment(
                    conn,
                    payment_id=payment_id,
                    merchant_id=merchant_id,
                    kind=kind,
                    fields=fields,
                    card=card,
                    connector=connector.name,
                    gateway_key=key,
                    now=now,
                    actor=self.actor,
                )
        except IntegrityError:
            # A later attempt took our claim over and got here first: its operation stands.
            resumed = recovery.retried(self, key, held, now, look=True)
            if resumed is None:
                raise
            return resumed[0]
        try:  # phase 2: the card exists in plaintext only inside this block
            with self.vault.use_for_forwarding(
                merchant_id,
                token,
                now=now,
                actor=self.actor,
                purpose=f"gateway:{connector.name}:{kind.value}",
            ) as data:
                request = AuthorizeRequest(
                    money=Money(fields["amount"], fields["currency"]),
                    card=data,
                    capture=fields["capture_method"] == "automatic",
                    idempotency_key=key,
                    merchant_account=account,
                    reference=payment_id,
                    description=fields["description"],
                    return_url=fields["return_url"],
                    metadata=fields["metadata"],
                )
                call = connector.verify if kind is Operation.VERIFY else connector.authorize
                result = call(request)
        except _TOKEN_ERRORS as exc:
            # Used or expired since the check: the card never left, the payment fails.
            refused = Decline(DeclineCode.INVALID_REQUEST, exc.code, exc.message)
            self.record(op_id, GatewayResult(GatewayStatus.DECLINED, decline=refused), now)
            raise
        except GatewayError as exc:
            raise PaymentProcessing(payment_id, exc.code) from exc
        return self._recorded(op_id, payment_id, result, now)  # phase 3

    def _follow_up(
        self,
        merchant_id: str,
        payment_id: str,
        kind: Operation,
        amount: int | None,
        reason: str | None,
        held: Claim | None,
        now: datetime,
    ) -> tuple[PaymentView, str]:
        connector, account = self.connector_for(merchant_id)
        key = gateway_key_for(merchant_id, held, kind.value)
        resumed = recovery.retried(self, key, held, now)
        if resumed is None:
            params.refund_reason(reason)
            payment, op_id, value = phases.reserve_follow_up(
                self.engine,
                merchant_id=merchant_id,
                payment_id=payment_id,
                kind=kind,
                amount=amount,
                reason=reason,
                gateway_key=key,
                now=now,
            )
            request = FollowUpRequest(
                money=Money(value, payment["currency"]),
                connector_reference=payment["connector_reference"] or "",
                idempotency_key=key,
                merchant_account=account,
                reference=payment_id,
            )
            call = getattr(connector, kind.value)  # capture | void | refund
            try:
                result: GatewayResult = call(request)
            except GatewayError as exc:
                raise PaymentProcessing(payment_id, exc.code) from exc
            resumed = self._recorded(op_id, payment_id, result, now), op_id
        view, op_id = resumed
        if kind is not Operation.REFUND and view.status != _DONE[kind]:
            # Refused by the processor: the payment stayed where it was.
            with self.engine.connect() as conn:
                raise OperationDeclined(kind.value, phases.operation(conn, op_id)["unified_code"])
        return view, op_id

    def record(self, op_id: str, result: GatewayResult, now: datetime) -> PaymentView | None:
        """Phase 3 for one gateway result (see :func:`record_result`)."""
        return record_result(self.engine, op_id, result, now=now, actor=self.actor)

    def _recorded(
        self, op_id: str, payment_id: str, result: GatewayResult, now: datetime
    ) -> PaymentView:
        view = self.record(op_id, result, now)
        if view is None:
            raise PaymentProcessing(payment_id, f"processor status {result.status.value}")
        return view

    def _idempotent(
        self,
        merchant_id: str,
        key: str | None,
        request: dict[str, Any],
        now: datetime,
        work: Callable[[Claim | None], V],
        view_type: type[V],
    ) -> V:
        return run_view(
            self.engine,
            merchant_id=merchant_id,
            key=key,
            request=request,
            now=now,
            work=work,
            replay=lambda body: view_type.from_dict(body, replayed=True),
            payment_id=lambda v: v.payment if isinstance(v, RefundView) else v.id,
            lock_ttl=self.lock_ttl,
        )
