"""From a signed Lambda request with Connect's ciphertexts to a vault token (and a charge).

The order of checks, each refusing with its own error before anything is stored::

    1. signature     the merchant's live signing secrets; t within the tolerance    401
    2. instance      the request's instance ARN is one the matching secret names    403
    3. contact id    a UUID                                                         400
    4. charge        amount and currency valid, before the caller's card is opened  400
    5. replay        the signature was not accepted before (recorded from here on)  409
    6. decrypt       every field opens with the active key its message names        400
    7. digits        each plaintext is digits only, then PAN / expiry / code rules  400/402

Steps 5 and 6 share one transaction with the key-use audit entry, which is written whether
or not the fields opened (a failed use is worth an entry too). Only then does the vault
tokenize: single use unless ``reusable``; the security code goes to the volatile CVV store
under the token, as :mod:`cardshield.phone.ivr.capture` does, and never to the database.
Plaintext lives in :class:`~cardshield.cards.PAN` / :class:`~cardshield.cards.CVV` objects
for the length of this call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import Connection, Engine

from cardshield.cards import CVV, PAN, Expiry
from cardshield.errors import CardError, CardshieldError
from cardshield.payments.money import check_amount, normalize_currency
from cardshield.payments.service import PaymentService
from cardshield.payments.views import PaymentView
from cardshield.phone.connect import replay, signature
from cardshield.phone.connect.decrypt import Decryptor, KeyRing
from cardshield.phone.connect.errors import (
    ConnectInputNotDigits,
    InvalidContactId,
    UnknownConnectInstance,
)
from cardshield.phone.connect.identifiers import canonical_instance_arn, canonical_uuid
from cardshield.phone.connect.keys import ConnectKeys
from cardshield.phone.connect.signing_secrets import LiveSecret, live_secrets, mark_used
from cardshield.phone.ivr.fields import check_cvc, check_expiry
from cardshield.security.audit import append as audit
from cardshield.vault import Vault
from cardshield.vault.service import CardRecord

ACTOR = "amazon-connect"


@dataclass(frozen=True, slots=True)
class EncryptedCard:
    """Connect's base64 ciphertexts, as the Lambda found them in the contact."""

    card_number: str
    expiry: str
    security_code: str | None = None


@dataclass(frozen=True, slots=True)
class Charge:
    amount: int  # minor units
    currency: str


@dataclass(frozen=True, slots=True)
class TokenRequest:
    merchant_id: str
    contact_id: str
    instance_arn: str
    card: EncryptedCard
    reusable: bool = False
    charge: Charge | None = None


@dataclass(frozen=True, slots=True)
class TokenResult:
    card: CardRecord
    payment: PaymentView | None


@dataclass(frozen=True, slots=True)
class _Opened:
    pan: PAN
    expiry: Expiry
    cvv: CVV | None


class ConnectTokens:
    def __init__(
        self,
        engine: Engine,
        vault: Vault,
        payments: PaymentService,
        *,
        tolerance_s: int = 300,
        actor: str = ACTOR,
    ) -> None:
        self.engine = engine
        self.vault = vault
        self.payments = payments
        self.tolerance_s = tolerance_s
        self.actor = actor
        self.keys = ConnectKeys(vault.keys)
        self._decryptor = Decryptor()

    def tokenize(
        self, request: TokenRequest, *, body: bytes, header: str | None, now: datetime
    ) -> TokenResult:
        """Check, open and tokenize one request; raises the CardshieldError that says why not.

        ``body`` is the raw request body ``request`` was parsed from, as signed.
        """
        secret, verified = self._authenticate(request.merchant_id, body, header, now)
        arn = canonical_instance_arn(request.instance_arn)
        if arn is None or arn not in secret.instance_arns:
            raise UnknownConnectInstance(param="instance_arn")
        contact_id = canonical_uuid(request.contact_id)
        if contact_id is None:
            raise InvalidContactId(param="contact_id")
        if request.charge is not None:
            check_amount(request.charge.amount)
            normalize_currency(request.charge.currency)
        with self.engine.begin() as conn:
            replay.claim(
                conn,
                merchant_id=request.merchant_id,
                timestamp=verified.timestamp,
                signature=verified.signature,
                now=now,
                keep=timedelta(seconds=2 * self.tolerance_s),
            )
            mark_used(conn, secret.id, now=now)
            opened = self._open(conn, request, secret, contact_id, arn, now)
        if isinstance(opened, CardshieldError):
            raise opened
        record = self.vault.tokenize(
            request.merchant_id,
            opened.pan,
            opened.expiry,
            opened.cvv,
            now=now,
            single_use=not request.reusable,
            dedup=request.reusable,
            actor=self.actor,
        )
        payment = None
        if request.charge is not None:
            payment = self.payments.create(
                request.merchant_id,
                amount=request.charge.amount,
                currency=request.charge.currency,
                token=record.token,
                metadata={"channel": "amazon_connect"},
                now=now,
            )
        return TokenResult(record, payment)

    def _authenticate(
        self, merchant_id: str, body: bytes, header: str | None, now: datetime
    ) -> tuple[LiveSecret, signature.Verified]:
        with self.engine.connect() as conn:
            live = live_secrets(conn, self.vault.keys, merchant_id=merchant_id)
        verified = signature.verify(
            header, body, [s.secret for s in live], now=now, tolerance_s=self.tolerance_s
        )
        return live[verified.index], verified

    def _open(
        self,
        conn: Connection,
        request: TokenRequest,
        secret: LiveSecret,
        contact_id: str,
        arn: str,
        now: datetime,
    ) -> _Opened | CardshieldError:
        """The card's plaintext, or the error to answer with; audited either way."""
        used: list[str] = []

        def lookup(connect_key_id: str) -> rsa.RSAPrivateKey | None:
            found = self.keys.private_key(
                conn, merchant_id=request.merchant_id, connect_key_id=connect_key_id
            )
            if found is None:
                return None
            used.append(found[0])
            return found[1]

        ring = KeyRing(lookup)
        result: _Opened | CardshieldError
        try:
            result = self._fields(request.card, ring, now)
        except CardshieldError as exc:
            result = exc
        self.keys.mark_used(conn, used, now=now)
        failed = isinstance(result, CardshieldError)
        audit(
            conn,
            now=now,
            actor=self.actor,
            action="connect_key.use",
            outcome="failure" if failed else "success",
            merchant_id=request.merchant_id,
            target=used[0] if used else None,
            details={
                "keys": sorted(set(used)),
                "contact_id": contact_id,
                "instance_arn": arn,
                "signing_secret": secret.id,
                "fields": ["card_number", "expiry"]
                + (["security_code"] if request.card.security_code else []),
                "code": result.code if isinstance(result, CardshieldError) else None,
            },
        )
        return result

    def _digits(self, value: str, ring: KeyRing, param: str) -> str:
        plaintext = self._decryptor.decrypt(value, ring, param=param)
        # bytes.isdigit() is ASCII only: no other script's digits, no '*' or '#'.
        if not plaintext or not plaintext.isdigit():
            raise ConnectInputNotDigits(param=param)
        return plaintext.decode("ascii")

    def _fields(self, card: EncryptedCard, ring: KeyRing, now: datetime) -> _Opened:
        try:
            pan = PAN(self._digits(card.card_number, ring, "card_number"))
        except CardError as exc:
            exc.param = exc.param or "card_number"
            raise
        try:
            expiry = check_expiry(self._digits(card.expiry, ring, "expiry"), now)
        except CardError as exc:
            exc.param = exc.param or "expiry"
            raise
        cvv = None
        if card.security_code is not None:
            try:
                cvv = check_cvc(
                    self._digits(card.security_code, ring, "security_code"), pan.brand.value
                )
            except CardError as exc:
                exc.param = exc.param or "security_code"
                raise
        return _Opened(pan, expiry, cvv)
