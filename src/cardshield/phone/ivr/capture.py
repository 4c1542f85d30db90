"""Turning keyed fields into a vault token as they arrive; shared by the IVR and the agent
screen.

The expiry is keyed first so that the moment the card number is complete it can be
tokenized (single use): the number is never held anywhere but the vault. The security code
goes straight to the vault's volatile CVV store under that token (as the API's tokenize
does), so it too is never in the call's state. Only field statuses, the brand and the last
four digits are written to the call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cardshield.cards import Expiry
from cardshield.errors import CardError
from cardshield.phone.calls import CallState
from cardshield.phone.ivr.fields import check_card, check_cvc, check_expiry, check_postal
from cardshield.vault import CVVStore, Vault


@dataclass(frozen=True)
class Accepted:
    state: CallState
    error: str | None  # the card error code when the field was refused


class CardCapture:
    def __init__(self, vault: Vault, cvv_store: CVVStore, *, cvv_ttl_s: float, actor: str) -> None:
        self.vault = vault
        self.cvv_store = cvv_store
        self.cvv_ttl_s = cvv_ttl_s
        self.actor = actor

    def accept(self, state: CallState, field: str, digits: str, now: datetime) -> Accepted:
        """Check ``digits`` for ``field`` and store what it yields; never raises CardError."""
        try:
            return Accepted(self._accept(state, field, digits, now), None)
        except CardError as exc:
            fields = {**state.fields, field: "invalid"}
            return Accepted(state.evolve(fields=fields), exc.code)

    def _accept(self, state: CallState, field: str, digits: str, now: datetime) -> CallState:
        fields = dict(state.fields)
        if field == "expiry":
            expiry = check_expiry(digits, now)
            fields["expiry"] = "valid"
            return state.evolve(exp_month=expiry.month, exp_year=expiry.year, fields=fields)
        if field == "card":
            pan = check_card(digits)
            if state.exp_month is None or state.exp_year is None:
                raise ValueError("the expiry is captured before the card number")
            record = self.vault.tokenize(
                state.merchant_id,
                pan,
                Expiry(state.exp_year, state.exp_month),
                now=now,
                single_use=True,
                actor=self.actor,
            )
            fields["card"] = "valid"
            fields.pop("cvc", None)  # a new card needs its own code
            return state.evolve(
                token=record.token, brand=pan.brand.value, last4=pan.last4, fields=fields
            )
        if field == "cvc":
            cvv = check_cvc(digits, state.brand)
            if state.token is None:
                raise ValueError("the card number is captured before the security code")
            self.cvv_store.put(f"{state.merchant_id}:{state.token}", cvv, self.cvv_ttl_s)
            fields["cvc"] = "valid"
            return state.evolve(fields=fields)
        if field == "postal":
            fields["postal"] = "valid" if check_postal(digits) else "skipped"
            return state.evolve(fields=fields)
        raise ValueError(f"unknown field {field!r}")
