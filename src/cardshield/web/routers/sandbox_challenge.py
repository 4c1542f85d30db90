"""``/sandbox/3ds/{charge}``: the sandbox processor's 3-D Secure challenge page.

A real processor (or the card issuer) hosts this page; the sandbox plays it so the demo
and tests can walk a ``requires_action`` payment end to end. The shopper sees the amount
and the masked card (brand and last 4 from the sandbox ledger) and chooses to pass or fail
the check; the charge settles once and the browser goes back to the payment's
``return_url``, where the merchant confirms the payment (``POST /v1/payments/{id}/confirm``).

Only mounted where the sandbox is the connector (``cardshield demo``); anyone holding the
link may decide, as with any processor's test challenge page.
"""

from __future__ import annotations

from html import escape
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from cardshield.errors import InvalidRequestError
from cardshield.gateways.sandbox import SandboxConnector
from cardshield.runtime import Runtime
from cardshield.storage.schema import payments
from cardshield.web.deps import Public, RuntimeDep

router = APIRouter(prefix="/sandbox/3ds", include_in_schema=False, dependencies=[Public])


class SandboxNotConfigured(InvalidRequestError):
    code = "resource_missing"
    http_status = 404
    default_message = "The sandbox processor is not configured here."


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sandbox 3-D Secure check</title></head>
<body>
<h1>3-D Secure check (sandbox)</h1>
<p>Pay <strong>{amount}</strong> with {brand} ending in {last4}?</p>
<p>{state}</p>
<form method="post">
<button type="submit" name="decision" value="approve" id="approve">Complete the check</button>
<button type="submit" name="decision" value="fail" id="fail">Fail the check</button>
</form>
</body></html>
"""


def _sandbox(runtime: Runtime) -> SandboxConnector:
    connector, _ = runtime.payments.connector_for("")
    if not isinstance(connector, SandboxConnector):
        raise SandboxNotConfigured
    return connector


def _return_url(runtime: Runtime, charge_id: str) -> str | None:
    with runtime.engine.connect() as conn:
        stored = conn.execute(
            select(payments.c.next_action).where(
                payments.c.connector == "sandbox", payments.c.connector_reference == charge_id
            )
        ).scalar()
    url = stored.get("return_url") if isinstance(stored, dict) else None
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None


def _policy(return_url: str | None) -> str:
    # The form posts here, and the answer redirects to the merchant's return URL: browsers
    # apply form-action to that redirect, so its origin is allowed too.
    target = ""
    if return_url:
        parts = urlsplit(return_url)
        target = f" {parts.scheme}://{parts.netloc}"
    return (
        f"default-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'{target}"
    )


@router.get("/{charge_id}", response_class=HTMLResponse)
def challenge_page(charge_id: str, runtime: RuntimeDep) -> Response:
    entry = _sandbox(runtime).challenge(charge_id)
    amount = f"{entry.amount / 100:.2f} {entry.currency.upper()}"
    state = (
        "Waiting for your answer."
        if entry.status == "requires_action"
        else f"Already decided: {entry.status}."
    )
    html = PAGE.format(
        amount=escape(amount),
        brand=escape(entry.card_brand or "card"),
        last4=escape(entry.card_last4 or "????"),
        state=escape(state),
    )
    headers = {"content-security-policy": _policy(_return_url(runtime, charge_id))}
    return HTMLResponse(html, headers=headers)


@router.post("/{charge_id}")
def decide(
    charge_id: str, runtime: RuntimeDep, decision: Annotated[str, Form(max_length=16)] = ""
) -> Response:
    if decision not in ("approve", "fail"):
        raise InvalidRequestError("Choose approve or fail.", param="decision")
    _sandbox(runtime).approve_challenge(charge_id, approve=decision == "approve")
    target = _return_url(runtime, charge_id) or f"/sandbox/3ds/{charge_id}"
    return RedirectResponse(target, status_code=303)
