"""Braintree connector: the official ``braintree`` SDK, its HTTP layer replaced by httpx.

Why the SDK: it builds and parses Braintree's XML API exactly as Braintree ships it
(including ``api_request_key``); why not its HTTP layer: the SDK exposes a documented
plug point (``Configuration(http_strategy=...)``), and routing it through
:class:`~cardshield.gateways.http.ProcessorClient` gives the same timeouts, retry rules
and card-safe errors as every other connector, and lets tests intercept the real
requests with respx. (The GraphQL API was the alternative; the SDK speaks the XML API.)

Calls (``/merchants/{merchant_id}/...``, HTTP Basic ``public_key:private_key``):

========= ========================================================================
authorize ``transaction.sale``: amount, credit_card{number, expiration_month/year,
          cvv}, options.submit_for_settlement = capture, order_id = our key
capture   ``transaction.submit_for_settlement(id, amount)``
void      ``transaction.void(id)``
refund    ``transaction.refund(id, {amount, order_id = our key})``
verify    ``credit_card_verification.create`` (the processor's $0/$1 check)
sync      ``transaction.search(order_id == key)``, then ``transaction.find(id)`` /
          ``credit_card_verification.find(id)``
========= ========================================================================

Double-charge defence. Braintree honours no idempotency header, so mutating calls are
never retried once sent (only connection failures, where nothing was sent, are retried).
Instead: our key is the ``order_id``; a lost answer surfaces as GatewayTimeout /
ProcessorOutcomeUnknown and the payment service calls :meth:`sync`, which *searches by
order_id before anything is sent again*; a re-sent sale inside Braintree's duplicate
window (30 s by default) is gateway-rejected as ``duplicate`` and answered here with the
original transaction; a refund searches for its key before it is sent, so a repeated
refund returns the first. Capture and void are naturally repeat-safe: a second one fails
with 91507/91504 and we answer with the transaction's current state when it matches.
With ``at_most_once`` (Braintree's At-Most-Once processing, available to enrolled
merchants), our key also goes out as ``api_request_key`` and those calls become
retryable. A sync miss is ``PENDING`` with ``raw["found"] = False``, never "did not happen".

Braintree's 3-D Secure needs its client SDK, so a raw-card sale can be declined with
2099 (authentication required) but never returns a challenge URL.

Options for ``build``: ``merchant_id``, ``public_key``, ``private_key`` (required);
``environment`` ``sandbox`` (default) | ``production``; ``base_url`` (another gateway URL,
tests and local mocks); ``merchant_accounts`` {currency: merchant account id} (when set,
other currencies are refused before any call); ``at_most_once`` (default false);
``timeout`` (s, default 30); ``max_retries`` (default 2); ``retry_base_delay_s`` (0.5).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, TypeVar
from xml.parsers.expat import ExpatError

import braintree  # type: ignore[import-untyped]
from braintree.exceptions.braintree_error import BraintreeError  # type: ignore[import-untyped]
from braintree.exceptions.not_found_error import NotFoundError  # type: ignore[import-untyped]

from cardshield.crypto.secret import Secret
from cardshield.errors import ConfigError
from cardshield.gateways.base import (
    AuthorizeRequest,
    FollowUpRequest,
    GatewayError,
    GatewayResult,
    GatewayStatus,
    InboundEvent,
)
from cardshield.gateways.braintree import transformers as tx
from cardshield.gateways.braintree.webhooks import parse_notification
from cardshield.gateways.declines import Decline, DeclineCode
from cardshield.gateways.http import (
    ProcessorClient,
    ProcessorOutcomeUnknown,
    RetryPolicy,
    safe_text,
    status_error,
)

T = TypeVar("T")

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# At-Most-Once answers that leave the first request's outcome open.
_OPEN_OUTCOME = frozenset({"915232", "915233", "915235"})
_ANSWERED = frozenset({200, 201, 204, 404, 422})  # the SDK turns these into results
_READ_ONLY = ("/advanced_search_ids", "/advanced_search")
_AMO_KEY = re.compile(rb"<api[_-]request[_-]key>[^<]")


class _HttpxStrategy:
    """The SDK's ``http_strategy``: sends what the SDK built through a ProcessorClient."""

    def __init__(self, client: ProcessorClient, sdk_base: str) -> None:
        self._client = client
        self._sdk_base = sdk_base

    def http_do(self, verb: str, url: str, headers: dict[str, Any], body: Any) -> list[Any]:
        path = url[len(self._sdk_base) :] if url.startswith(self._sdk_base) else url
        content = body.encode("utf-8") if isinstance(body, str) else bytes(body or b"")
        read_only = verb == "GET" or path.endswith(_READ_ONLY)
        # A mutation is safe to repeat only when it carries an At-Most-Once key.
        idempotent = read_only or _AMO_KEY.search(content) is not None
        response = self._client.request(
            verb,
            path,
            idempotent=idempotent,
            mutating=not read_only,
            content=content,
            headers={k: v.decode() if isinstance(v, bytes) else str(v) for k, v in headers.items()},
        )
        if response.status_code not in _ANSWERED:
            raise status_error(response.status_code, mutating=not read_only) or GatewayError(
                f"Braintree answered HTTP {response.status_code}."
            )
        return [response.status_code, response.text]

    def handle_exception(self, exc: Exception) -> NoReturn:
        raise exc

    def close(self) -> None:
        self._client.close()


class BraintreeConnector:
    name = "braintree"

    def __init__(
        self,
        gateway: Any,
        *,
        public_key: str,
        private_key: Secret[str],
        merchant_accounts: Mapping[str, str] | None = None,
        at_most_once: bool = False,
    ) -> None:
        self._gw = gateway
        self._public_key = public_key
        self._private_key = private_key
        self._accounts = {k.upper(): v for k, v in (merchant_accounts or {}).items()}
        self._amo = at_most_once

    # -- operations -------------------------------------------------------------------

    def authorize(self, request: AuthorizeRequest) -> GatewayResult:
        supported, account = self._account(request.merchant_account, request.money.currency)
        if not supported:
            return _unsupported_currency(request.money.currency)
        params = tx.sale_params(request, account, self._amo)
        result = self._required(self._gw.transaction.sale, params)
        if result.is_success:
            return tx.transaction_result(result.transaction)
        if result.transaction is not None:
            declined = tx.transaction_result(result.transaction)
            if getattr(result.transaction, "gateway_rejection_reason", None) == "duplicate":
                # Our key is the order_id: the duplicate is the first attempt; answer with it.
                original = self._search(request.idempotency_key)
                if original is not None:
                    return original
            return declined
        return self._refused(result)

    def verify(self, request: AuthorizeRequest) -> GatewayResult:
        supported, account = self._account(request.merchant_account, request.money.currency)
        if not supported:
            return _unsupported_currency(request.money.currency)
        params = tx.verification_params(request, account)
        result = self._required(self._gw.verification.create, params)
        verification = result.verification if result.is_success else result.credit_card_verification
        if verification is not None:
            return tx.verification_result(verification)
        return self._refused(result)

    def capture(self, request: FollowUpRequest) -> GatewayResult:
        ref = request.connector_reference
        result = self._call(
            self._gw.transaction.submit_for_settlement,
            ref,
            tx.amount_text(request.money),
            self._amo_params(request.idempotency_key),
            mutating=True,
        )
        if result is None:
            return _not_found(ref)
        if result.transaction is not None:
            return tx.transaction_result(result.transaction)
        if "91507" in tx.validation_codes(result):  # not authorized any more: already captured?
            current = self._find(ref)
            if current.status is GatewayStatus.CAPTURED and current.amount == request.money.amount:
                return current
        return self._refused(result)

    def void(self, request: FollowUpRequest) -> GatewayResult:
        ref = request.connector_reference
        params = self._amo_params(request.idempotency_key) or None
        result = self._call(self._gw.transaction.void, ref, params, mutating=True)
        if result is None:
            return _not_found(ref)
        if result.transaction is not None:
            return tx.transaction_result(result.transaction)
        if "91504" in tx.validation_codes(result):  # cannot be voided: already voided?
            current = self._find(ref)
            if current.status is GatewayStatus.VOIDED:
                return current
        return self._refused(result)

    def refund(self, request: FollowUpRequest) -> GatewayResult:
        earlier = self._search(request.idempotency_key)
        if earlier is not None:  # this refund was sent before and its answer lost
            return earlier
        params = {
            "amount": tx.amount_text(request.money),
            "order_id": request.idempotency_key,
            **self._amo_params(request.idempotency_key),
        }
        ref = request.connector_reference
        result = self._call(self._gw.transaction.refund, ref, params, mutating=True)
        if result is None:
            return _not_found(ref)
        if result.transaction is not None:
            return tx.transaction_result(result.transaction)
        return self._refused(result)

    def sync(self, idempotency_key: str, connector_reference: str | None) -> GatewayResult:
        found = self._search(idempotency_key)
        if found is not None:
            return found
        if connector_reference is not None:
            txn = self._call(self._gw.transaction.find, connector_reference, mutating=False)
            if txn is not None:
                return tx.transaction_result(txn)
            verification = self._call(
                self._gw.verification.find, connector_reference, mutating=False
            )
            if verification is not None:
                return tx.verification_result(verification)
        return GatewayResult(status=GatewayStatus.PENDING, raw={"found": False})

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, url: str
    ) -> list[InboundEvent]:
        return parse_notification(body, self._public_key, self._private_key.reveal())

    # -- helpers ------------------------------------------------------------------------

    def _account(self, requested: str, currency: str) -> tuple[bool, str | None]:
        """(supported, merchant account id); None means the gateway's default account."""
        if requested:
            return True, requested
        if not self._accounts:
            return True, None
        account = self._accounts.get(currency.upper())
        return account is not None, account

    def _amo_params(self, key: str) -> dict[str, str]:
        return {"api_request_key": key} if self._amo else {}

    def _find(self, ref: str) -> GatewayResult:
        txn = self._call(self._gw.transaction.find, ref, mutating=False)
        return _not_found(ref) if txn is None else tx.transaction_result(txn)

    def _search(self, key: str) -> GatewayResult | None:
        def run() -> list[Any]:
            query = braintree.TransactionSearch.order_id == key
            return list(self._gw.transaction.search(query).items)

        matches = self._call(run, mutating=False) or []
        if not matches:
            return None
        # Prefer a transaction that went through; more than one means duplicate checking
        # was off and the key was charged twice: say so in raw for reconciliation.
        ok = [t for t in matches if t.status not in ("processor_declined", "gateway_rejected")]
        found = tx.transaction_result((ok or matches)[0])
        if len(matches) > 1:
            found = GatewayResult(
                found.status,
                found.connector_reference,
                found.amount,
                found.decline,
                found.next_action_url,
                {**found.raw, "matches": len(matches)},
            )
        return found

    def _refused(self, result: Any) -> GatewayResult:
        if _OPEN_OUTCOME.intersection(tx.validation_codes(result)):
            raise ProcessorOutcomeUnknown(
                "Braintree could not settle a repeated api_request_key; sync to learn the outcome."
            )
        return tx.validation_failure(result)

    def _required(self, fn: Callable[..., Any], *args: Any) -> Any:
        """A mutating call that has no "not found" answer (sale, verification)."""
        result = self._call(fn, *args, mutating=True)
        if result is None:
            raise GatewayError("Braintree answered 404 to a create request: check merchant_id.")
        return result

    def _call(self, fn: Callable[..., T], *args: Any, mutating: bool) -> T | None:
        """Run one SDK call; None for "not found", SDK failures translated outside ``except``."""
        try:
            return fn(*args)
        except NotFoundError:
            return None
        except BraintreeError as exc:
            failure = _sdk_error(exc, mutating)
        except (
            ExpatError,
            TypeError,
            KeyError,
            AttributeError,
            ValueError,
            ArithmeticError,
        ) as exc:
            # An answer the SDK could not read: after a mutation Braintree may have acted.
            failure = _sdk_error(exc, mutating)
        raise failure


def _sdk_error(exc: Exception, mutating: bool) -> GatewayError:
    message = f"Braintree SDK error {type(exc).__name__}: {safe_text(str(exc), 120)}"
    return ProcessorOutcomeUnknown(message) if mutating else GatewayError(message)


def _not_found(ref: str) -> GatewayResult:
    return GatewayResult(
        status=GatewayStatus.FAILED,
        decline=Decline(DeclineCode.INVALID_REQUEST, "not_found", "No such transaction."),
        raw={"not_found": safe_text(ref, 64)},
    )


def _unsupported_currency(currency: str) -> GatewayResult:
    return GatewayResult(
        status=GatewayStatus.FAILED,
        decline=Decline(DeclineCode.CURRENCY_NOT_SUPPORTED, "no_merchant_account", currency),
    )


def _environment(options: Mapping[str, Any]) -> tuple[Any, str]:
    base_url = options.get("base_url")
    if base_url:
        # The SDK only needs a well-formed environment; requests go to base_url via httpx.
        return braintree.Environment.Sandbox, str(base_url).rstrip("/")
    name = str(options.get("environment", "sandbox"))
    if name not in ("sandbox", "production"):
        raise ConfigError("braintree: environment must be 'sandbox' or 'production'")
    env = braintree.Environment.All[name]
    return env, env.base_url


def build(options: Mapping[str, Any]) -> BraintreeConnector:
    missing = [k for k in ("merchant_id", "public_key", "private_key") if not options.get(k)]
    if missing:
        raise ConfigError(f"braintree: missing option(s) {', '.join(missing)}")
    environment, base_url = _environment(options)
    client = ProcessorClient(
        base_url,
        timeout=float(options.get("timeout", 30.0)),
        policy=RetryPolicy(
            retries=int(options.get("max_retries", 2)),
            base_delay_s=float(options.get("retry_base_delay_s", 0.5)),
        ),
        retry_statuses=RETRY_STATUSES,
    )
    strategy = _HttpxStrategy(client, environment.base_url)
    config = braintree.Configuration(
        environment=environment,
        merchant_id=str(options["merchant_id"]),
        public_key=str(options["public_key"]),
        private_key=str(options["private_key"]),
        http_strategy=lambda _config, _env: strategy,
        timeout=float(options.get("timeout", 30.0)),
    )
    return BraintreeConnector(
        braintree.BraintreeGateway(config),
        public_key=str(options["public_key"]),
        private_key=Secret(str(options["private_key"])),
        merchant_accounts=options.get("merchant_accounts"),
        at_most_once=bool(options.get("at_most_once", False)),
    )
