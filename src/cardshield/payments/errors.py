"""Errors of the payments core; each maps to one public error code and HTTP status.

::

    code                              status  when
    resource_missing                  404     no such payment / refund for this merchant
    parameter_invalid                 400     capture_method, metadata, description, limit...
    payment_invalid_state             400     the operation is not allowed in the current status
    amount_too_large                  400     capture above the authorized amount, refund above
                                              captured minus refunded (pending refunds count)
    payment_operation_in_progress     409     a conflicting capture/void is still pending
    payment_conflict                  409     the payment kept changing under us (retry)
    idempotency_key_invalid           400     empty key or longer than 255 characters
    idempotency_key_reused            409     same key, different request
    idempotency_key_in_use            409     same key while the first request still runs
    operation_declined                402     the processor refused a capture, void or refund
    payment_processing                503     the processor's answer is unknown (timeout or
                                              error); retry with the same Idempotency-Key

Invalid amounts and currencies come from :mod:`cardshield.payments.money`
(``invalid_amount``, ``invalid_currency``), token problems from the vault
(``resource_missing``, ``token_already_used``, ``token_expired``) and an expired card from
:mod:`cardshield.errors` (``expired_card``).
"""

from __future__ import annotations

from typing import Any

from cardshield.errors import CardError, CardshieldError, InvalidRequestError


class PaymentNotFound(InvalidRequestError):
    code = "resource_missing"
    http_status = 404
    default_message = "No such payment."


class RefundNotFound(InvalidRequestError):
    code = "resource_missing"
    http_status = 404
    default_message = "No such refund."


class InvalidParameter(InvalidRequestError):
    code = "parameter_invalid"
    default_message = "A parameter is invalid."


class InvalidPaymentState(InvalidRequestError):
    """The operation is not allowed from the payment's current status (nothing changed)."""

    code = "payment_invalid_state"

    def __init__(self, operation: str, status: str) -> None:
        super().__init__(f"You cannot {operation} this payment because its status is {status}.")
        self.operation = operation
        self.status = status


class AmountTooLarge(InvalidRequestError):
    code = "amount_too_large"
    default_message = "The amount is larger than what the payment allows."


class OperationInProgress(InvalidRequestError):
    code = "payment_operation_in_progress"
    http_status = 409
    default_message = "Another operation on this payment is still being processed."


class PaymentConflict(InvalidRequestError):
    code = "payment_conflict"
    http_status = 409
    default_message = "The payment was changed by another request; retry."


class IdempotencyKeyInvalid(InvalidRequestError):
    code = "idempotency_key_invalid"
    default_message = "The Idempotency-Key must be 1 to 255 characters."


class IdempotencyKeyReused(InvalidRequestError):
    code = "idempotency_key_reused"
    http_status = 409
    default_message = (
        "This Idempotency-Key was already used with different parameters; use a new key."
    )


class IdempotencyKeyInUse(InvalidRequestError):
    code = "idempotency_key_in_use"
    http_status = 409
    default_message = "A request with this Idempotency-Key is still being processed; retry shortly."


class OperationDeclined(CardError):
    """The processor refused a capture, void or refund; the payment is unchanged."""

    code = "operation_declined"

    def __init__(self, operation: str, decline_code: str | None) -> None:
        reason = decline_code or "processing_error"
        super().__init__(f"The processor declined the {operation} ({reason}).")
        self.decline_code = reason


class PaymentProcessing(CardshieldError):
    """The processor's outcome is not known yet; the operation stays pending.

    Retrying with the same Idempotency-Key resumes it (the processor sees the same
    idempotency key, so nothing is charged twice); ``cardshield payments resume`` settles
    it otherwise.
    """

    type = "api_error"
    code = "payment_processing"
    http_status = 503

    def __init__(self, payment_id: str, reason: str) -> None:
        super().__init__(
            f"The processor has not confirmed the outcome of payment {payment_id} ({reason}); "
            "retry with the same Idempotency-Key or retrieve the payment later."
        )
        self.payment_id = payment_id
        self.reason = reason


def replayed_error(status: int, body: dict[str, Any]) -> CardshieldError:
    """Rebuild a stored error response as an exception with the same status and fields."""
    err = body.get("error", {})
    cls = type(
        "ReplayedError",
        (CardshieldError,),
        {
            "type": str(err.get("type", "api_error")),
            "code": str(err.get("code", "internal_error")),
            "http_status": status,
        },
    )
    replay: CardshieldError = cls(err.get("message"), param=err.get("param"))
    return replay
