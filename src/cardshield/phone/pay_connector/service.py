"""What one Generic Pay Connector request does: tokenize into the vault, or tokenize and
charge through the configured connector, once per Twilio ``transaction_id``.

* ``tokenize`` stores the card in the vault: single use for ``token_type: one-time``,
  reusable (deduplicated by fingerprint, as a saved card) for ``reusable``. The security
  code goes to the vault's volatile CVV store under the token, nowhere else (the vault does
  this, as the phone IVR's capture does).
* ``charge`` stores the card as a single-use token, with its security code in the volatile
  store, and charges it through :class:`~cardshield.payments.service.PaymentService`, so the
  card is decrypted only inside the vault for the processor call.

Twilio retries a request it got no answer to with the same ``transaction_id``. The answer is
kept with Stripe's idempotency semantics (:mod:`cardshield.payments.idempotency`), keyed by
merchant and ``twilio-pay:<transaction_id>``: the same request again gets the first answer
and charges nothing; the same id with a different request is 409 ``idempotency_key_reused``.
"The same request" is compared on everything but the card's digits and security code: the
card counts through a keyed digest (:meth:`Vault.card_digest`), which means nothing without
the merchant's key, and the security code not at all, since no form of it may be kept.

The payment itself is created with its own idempotency key (``twilio-pay:<id>:charge``), so
when a retry takes over from an attempt that died mid-charge it finds that payment (and
resumes it with the processor, same processor key) instead of charging again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from cardshield.errors import CardError, CardshieldError
from cardshield.payments.idempotency import Claim, request_hash, run_claimed, storable
from cardshield.payments.service import PaymentService
from cardshield.payments.views import PaymentView
from cardshield.phone.pay_connector import answers
from cardshield.phone.pay_connector.request import (
    PaymentMethodNotSupported,
    PayRequest,
    method_of,
    parse,
)
from cardshield.storage.schema import idempotency_keys
from cardshield.vault.service import Vault

ACTOR = "twilio_pay_connector"
KEY_PREFIX = "twilio-pay:"
# A processed outcome that <Pay> acts on (tell the caller, ask again): answered 200.
PROCESSED = (CardError, PaymentMethodNotSupported)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any]
    replayed: bool = False


class PayConnectorService:
    def __init__(self, vault: Vault, payments: PaymentService) -> None:
        self.vault = vault
        self.payments = payments
        self.engine = payments.engine

    def handle(self, merchant_id: str, body: object, *, now: datetime) -> Answer:
        """Answer one decoded request body for ``merchant_id``; never raises CardshieldError."""
        method = method_of(body)
        try:
            request = parse(body, now)
        except PROCESSED as exc:
            return Answer(200, answers.failed(method, exc))
        except CardshieldError as exc:
            return Answer(exc.http_status, answers.refused(method, exc))
        material = request.material() | {"card": self.vault.card_digest(merchant_id, request.pan)}
        try:
            status, answer, replayed = run_claimed(
                self.engine,
                merchant_id=merchant_id,
                key=KEY_PREFIX + request.transaction_id,
                request_hash=request_hash(material),
                now=now,
                fn=lambda held: self._run(merchant_id, request, held, now),
                lock_ttl=self.payments.lock_ttl,
            )
        except CardshieldError as exc:  # idempotency conflicts, an unanswered processor
            return Answer(exc.http_status, answers.refused(request.method, exc))
        return Answer(status, answer, replayed)

    def _run(
        self, merchant_id: str, request: PayRequest, held: Claim, now: datetime
    ) -> tuple[int, dict[str, Any]]:
        # Answers meant to be stored come back as (status, body) in Twilio's shape; errors
        # with an unknown outcome (5xx) or a passing conflict (409) are raised, not stored.
        try:
            if request.method == "tokenize":
                return 200, self._tokenize(merchant_id, request, now)
            return 200, answers.charged(self._charge(merchant_id, request, held, now))
        except PROCESSED as exc:
            return 200, answers.failed(request.method, exc)
        except CardshieldError as exc:
            if not storable(exc):
                raise
            return exc.http_status, answers.refused(request.method, exc)

    def _tokenize(self, merchant_id: str, request: PayRequest, now: datetime) -> dict[str, Any]:
        reusable = request.reusable
        record = self.vault.tokenize(
            merchant_id,
            request.pan,
            request.expiry,
            request.cvv,
            now=now,
            single_use=not reusable,
            dedup=reusable,
            actor=ACTOR,
        )
        return answers.tokenized(record, request.token_type)

    def _charge(
        self, merchant_id: str, request: PayRequest, held: Claim, now: datetime
    ) -> PaymentView:
        assert request.amount is not None
        assert request.currency is not None
        key = f"{KEY_PREFIX}{request.transaction_id}:charge"
        if held.taken_over:
            earlier = self._earlier_payment(merchant_id, key)
            if earlier is not None and earlier.status != "created":
                return earlier  # settled: answer from it, charge nothing
            if earlier is not None and earlier.token is not None:
                # Still pending: the same call with the same token and key resumes it.
                return self._create(merchant_id, request, earlier.token, key, now)
        record = self.vault.tokenize(
            merchant_id,
            request.pan,
            request.expiry,
            request.cvv,
            now=now,
            single_use=True,
            actor=ACTOR,
        )
        return self._create(merchant_id, request, record.token, key, now)

    def _create(
        self, merchant_id: str, request: PayRequest, token: str, key: str, now: datetime
    ) -> PaymentView:
        assert request.amount is not None
        assert request.currency is not None
        metadata = {**request.parameters, "twilio_transaction_id": request.transaction_id}
        return self.payments.create(
            merchant_id,
            amount=request.amount,
            currency=request.currency,
            token=token,
            capture_method="automatic",
            description=request.description,
            metadata=metadata,
            idempotency_key=key,
            now=now,
        )

    def _earlier_payment(self, merchant_id: str, key: str) -> PaymentView | None:
        """The payment an earlier attempt of this transaction created, if it got that far."""
        K = idempotency_keys
        with self.engine.connect() as conn:
            row = conn.execute(
                select(K.c.payment_id).where(K.c.merchant_id == merchant_id, K.c.key == key)
            ).first()
        if row is None or row.payment_id is None:
            return None
        try:
            return self.payments.retrieve(merchant_id, row.payment_id)
        except CardshieldError:
            return None
