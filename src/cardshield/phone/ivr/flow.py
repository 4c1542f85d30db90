"""The IVR state machine: each webhook brings the digits keyed for one step; the flow checks
them, moves the call on and says what to prompt next.

Steps: ``confirm`` (the amount) -> ``expiry`` -> ``card`` -> ``cvc`` -> ``postal`` (optional)
-> authorization -> result. The recording is paused before the first card field is asked for
and resumed once the security code is in. A field keyed wrongly is asked again up to
``max_attempts`` times; ``*`` anywhere cancels; an empty result (Gather timed out) counts as
an attempt. A webhook for a step the call is no longer at (a retry) repeats the current
prompt. No digit is ever put into a prompt or a log line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cardshield.errors import CardshieldError
from cardshield.payments.money import check_amount, format_amount, normalize_currency
from cardshield.payments.service import PaymentService
from cardshield.phone.calls import CallState, CallStore
from cardshield.phone.errors import RecordingControlError
from cardshield.phone.ivr.capture import CardCapture
from cardshield.phone.ivr.recordings import RecordingControl
from cardshield.redaction.logging import get_logger

log = get_logger(__name__)

CARD_STEPS = ("expiry", "card", "cvc")
STEPS = ("confirm", *CARD_STEPS, "postal")


@dataclass(frozen=True)
class Prompt:
    """What to tell the caller; ``gather`` is the step whose digits come back next."""

    say: list[str] = field(default_factory=list)
    gather: str | None = None
    num_digits: int | None = None
    hangup: bool = False


ASK = {
    "confirm": "To pay, press 1. To cancel at any time, press star.",
    "expiry": "Please key your card's expiry date, two digits for the month and two for "
    "the year, then press hash.",
    "card": "Please key your card number, then press hash.",
    "cvc": "Please key the security code from the back of your card, then press hash.",
    "postal": "If your billing postal code is numeric, key it now then press hash. "
    "Otherwise just press hash.",
}
NUM_DIGITS = {"confirm": 1, "expiry": 4}
PROBLEM = {
    "invalid_expiry": "That expiry date is not valid.",
    "expired_card": "That card has expired.",
    "incorrect_number": "That card number is not valid.",
    "invalid_number": "That card number is not valid.",
    "unsupported_brand": "That card type is not accepted.",
    "invalid_cvc": "That security code is not valid.",
    "invalid_choice": "Sorry, that was not a valid choice.",
    "timeout": "Sorry, I did not receive any input.",
}


def spoken_amount(amount: int, currency: str) -> str:
    """The amount as the caller hears it, with the currency's own minor unit (ISO 4217):
    ``1050 EUR`` is 10.50 EUR, ``1050 JPY`` is 1050 JPY."""
    return format_amount(amount, currency)


class IvrFlow:
    def __init__(
        self,
        store: CallStore,
        capture: CardCapture,
        payments: PaymentService,
        recordings: RecordingControl,
        *,
        max_attempts: int = 3,
    ) -> None:
        self.store = store
        self.capture = capture
        self.payments = payments
        self.recordings = recordings
        self.max_attempts = max_attempts

    def start(
        self, call_sid: str, *, merchant_id: str, amount: int, currency: str, now: datetime
    ) -> Prompt:
        """Answer a call. An invalid amount or currency is refused here (InvalidAmount,
        InvalidCurrency), before the caller keys anything, not at the charge."""
        amount = check_amount(amount)
        currency = normalize_currency(currency)
        state = self.store.create(
            CallState(
                call_sid=call_sid,
                merchant_id=merchant_id,
                mode="ivr",
                step="confirm",
                amount=amount,
                currency=currency,
                created_at=now,
                updated_at=now,
            )
        )
        if state.step != "confirm":
            return self._ask(state)
        log.info("phone.ivr.start", call_sid=call_sid)
        greeting = f"Welcome. You are about to pay {spoken_amount(amount, currency)}."
        return Prompt([greeting, ASK["confirm"]], gather="confirm", num_digits=1)

    def handle(self, call_sid: str, step: str, digits: str, now: datetime) -> Prompt:
        state = self.store.get(call_sid)
        if state.step not in STEPS:
            return Prompt(["This call has ended. Goodbye."], hangup=True)
        if step != state.step:
            return self._ask(state)
        if "*" in digits:
            return self._end(state, "cancelled", "Payment cancelled. Goodbye.", now)
        if digits == "" and step != "postal":
            return self._retry(state, "timeout", now)
        log.info("phone.ivr.input", call_sid=call_sid, step=step, keyed=len(digits))
        if step == "confirm":
            return self._confirm(state, digits, now)
        accepted = self.capture.accept(state, step, digits, now)
        if accepted.error is not None:
            return self._retry(accepted.state, accepted.error, now)
        state = accepted.state
        if step == "cvc":
            state = self._recording(state, paused=False)
        if step == "postal":
            return self._charge(state, now)
        following = STEPS[STEPS.index(step) + 1]
        state = self.store.save(state.evolve(step=following, attempts=0), now=now)
        return self._ask(state)

    def _confirm(self, state: CallState, digits: str, now: datetime) -> Prompt:
        if digits != "1":
            return self._retry(state, "invalid_choice", now)
        try:
            state = self._recording(state, paused=True)
        except RecordingControlError:
            # Never take card digits while the recording may still be running.
            log.warning("phone.ivr.recording_not_paused", call_sid=state.call_sid)
            return self._end(state, "unavailable", "Card payments are unavailable.", now)
        state = self.store.save(state.evolve(step="expiry", attempts=0), now=now)
        return self._ask(state)

    def _recording(self, state: CallState, *, paused: bool) -> CallState:
        if state.recording_paused == paused:
            return state
        if paused:
            self.recordings.pause(state.call_sid)
        else:
            self.recordings.resume(state.call_sid)
        return state.evolve(recording_paused=paused)

    def _retry(self, state: CallState, problem: str, now: datetime) -> Prompt:
        attempts = state.attempts + 1
        log.info("phone.ivr.retry", call_sid=state.call_sid, step=state.step, problem=problem)
        if attempts >= self.max_attempts:
            return self._end(state, "too_many_attempts", "Too many attempts. Goodbye.", now)
        state = self.store.save(state.evolve(attempts=attempts), now=now)
        ask = self._ask(state)
        problem_text = PROBLEM.get(problem, "Sorry, that was not valid.")
        return Prompt([problem_text, *ask.say], ask.gather, ask.num_digits)

    def _ask(self, state: CallState) -> Prompt:
        if state.step not in STEPS:
            return Prompt(["This call has ended. Goodbye."], hangup=True)
        return Prompt([ASK[state.step]], state.step, NUM_DIGITS.get(state.step))

    def _end(self, state: CallState, outcome: str, message: str, now: datetime) -> Prompt:
        try:
            state = self._recording(state, paused=False)
        except RecordingControlError:
            log.warning("phone.ivr.recording_not_resumed", call_sid=state.call_sid)
        self.store.save(state.evolve(step="done", outcome=outcome), now=now)
        log.info("phone.ivr.end", call_sid=state.call_sid, outcome=outcome)
        return Prompt([message], hangup=True)

    def _charge(self, state: CallState, now: datetime) -> Prompt:
        if state.token is None or state.amount is None or state.currency is None:
            raise ValueError("a charge needs the token, amount and currency")
        try:
            payment = self.payments.create(
                state.merchant_id,
                amount=state.amount,
                currency=state.currency,
                token=state.token,
                idempotency_key=f"phone-ivr-{state.call_sid}",
                metadata={"channel": "phone_ivr", "call_sid": state.call_sid},
                now=now,
            )
        except CardshieldError as exc:
            # The caller still gets a clear ending (and the recording resumes) on any failure.
            log.warning("phone.ivr.charge_failed", call_sid=state.call_sid, code=exc.code)
            message = "Sorry, the payment could not be completed. No money was taken."
            return self._end(state, "error", message, now)
        approved = payment.status in ("captured", "succeeded", "authorized")
        outcome = "approved" if approved else "declined"
        state = state.evolve(payment_id=payment.id)
        if approved:
            message = "Thank you. Your payment was approved."
        else:
            message = "Sorry, your payment was declined. No money was taken."
        return self._end(state, outcome, message, now)
