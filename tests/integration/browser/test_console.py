"""The operator console in a real browser (Debian's Chromium through Playwright), against
``cardshield serve``'s app in its own process.

An operator made with ``cardshield users add`` signs in, enrolls TOTP from the page (the key
shown beside the QR code, as an authenticator app would read it), keeps the recovery codes,
opens a payment, refunds it, and checks the audit log. Screenshots go to test-artifacts/.
No page ever shows the full card number.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyotp
import pytest

from cardshield.cards import PAN, Expiry
from cardshield.config import Settings
from cardshield.runtime import open_runtime
from tests.conftest import CANARY_PAN, assert_no_card_data
from tests.integration.browser.conftest import Stack, sign_in_and_enroll

pytestmark = pytest.mark.integration

PASSWORD = "glacier-copper-lantern-81"


def _add_operator(stack: Stack, username: str, role: str) -> None:
    """As an administrator would: the CLI, the password on stdin."""
    env = {**os.environ, "CARDSHIELD_DATA_DIR": str(stack.database.parent)}
    done = subprocess.run(
        [sys.executable, "-m", "cardshield", "users", "add", username, "--role", role,
         "--password-stdin"],
        input=PASSWORD + "\n", capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr


def _captured_payment(stack: Stack) -> str:
    runtime = open_runtime(Settings(data_dir=stack.database.parent))
    try:
        now = datetime.now(UTC)
        token = runtime.vault.tokenize(stack.merchant, PAN(CANARY_PAN), Expiry(2031, 4), now=now)
        payment = runtime.payments.create(
            stack.merchant, amount=4200, currency="EUR", token=token.token, now=now
        )
        assert payment.status == "captured"
        return str(payment.id)
    finally:
        runtime.close()


def _pages_seen(page: Any, seen: list[str]) -> None:
    seen.append(page.content())


def test_enroll_sign_in_and_refund_a_payment(stack: Stack, page: Any, artifacts: Path) -> None:
    _add_operator(stack, "pay.ops", "operator")
    payment_id = _captured_payment(stack)
    page.on("dialog", lambda dialog: dialog.accept())  # the refund button asks to confirm
    seen: list[str] = []

    page.goto(f"{stack.cardshield}/console/payments")
    assert page.url.startswith(f"{stack.cardshield}/console/login")
    page.fill("input[name=username]", "pay.ops")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/enroll**")
    assert page.locator("figure.qr svg").count() == 1  # drawn inline by cardshield
    key = page.locator("#totp-secret").inner_text().strip()
    seed = base64.b32decode(key + "=" * (-len(key) % 8))
    assert len(seed) == 20
    page.screenshot(path=str(artifacts / "console-enroll.png"), full_page=True)
    _pages_seen(page, seen)
    page.fill("input[name=code]", pyotp.TOTP(key).now())
    page.click("button[type=submit]")
    page.wait_for_selector("#recovery-codes")
    assert page.locator("#recovery-codes li").count() == 10
    page.click("text=Continue")
    page.wait_for_url("**/console/payments")

    page.click(f"a[href='/console/payments/{payment_id}']")
    page.wait_for_selector("#payment-status")
    assert page.locator("#payment-status").inner_text() == "captured"
    assert "•••• 4242" in page.content()
    _pages_seen(page, seen)
    page.click("#refund")
    page.wait_for_selector("text=Refund requested")
    assert page.locator("#payment-status").inner_text() == "refunded"
    assert "42.00 EUR" in page.locator("#payment-refunded").inner_text()
    assert "refund" in page.locator("#timeline").inner_text()
    page.screenshot(path=str(artifacts / "console-refunded.png"), full_page=True)
    _pages_seen(page, seen)

    # An operator's role has no audit log: the console says so instead of showing it.
    denied = page.goto(f"{stack.cardshield}/console/audit")
    assert denied is not None and denied.status == 403
    for html in seen:
        assert_no_card_data(html)
    assert_no_card_data(stack.server_log())


def test_auditor_reads_the_audit_log_and_verifies_the_chain(
    stack: Stack, page: Any, artifacts: Path
) -> None:
    _add_operator(stack, "audit.amy", "auditor")
    sign_in_and_enroll(page, stack.cardshield, "audit.amy", PASSWORD)
    page.wait_for_url("**/console/dashboard")
    assert page.locator("svg.chart").count() == 3
    page.goto(f"{stack.cardshield}/console/audit?action=operator.login")
    rows = page.locator("#audit-entries tbody tr")
    assert rows.count() >= 1
    page.goto(f"{stack.cardshield}/console/audit?action=operator.&outcome=success")
    text = page.locator("#audit-entries").inner_text()
    assert "operator.mfa_enroll" in text and "operator.create" in text
    page.click("text=Verify the hash chain")
    page.wait_for_selector("#verify-result")
    assert page.locator("#verify-result").inner_text() == "The audit log is intact"
    page.screenshot(path=str(artifacts / "console-audit-verify.png"), full_page=True)
    assert_no_card_data(page.content())


def test_add_a_security_key_and_sign_in_with_it(stack: Stack, page: Any, artifacts: Path) -> None:
    """Chromium's own WebAuthn stack, with a virtual authenticator in place of a USB key:
    the page's script runs the real create() and get() ceremonies against the console."""
    _add_operator(stack, "key.kim", "operator")
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    authenticator = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": False,
                "hasUserVerification": False,
                "automaticPresenceSimulation": True,
            }
        },
    )["authenticatorId"]
    page.on("dialog", lambda dialog: dialog.accept())

    sign_in_and_enroll(page, stack.console, "key.kim", PASSWORD)
    page.wait_for_url("**/console/payments")
    page.goto(f"{stack.console}/console/account")
    page.click("#new-security-key")  # just signed in: no confirmation needed yet
    page.wait_for_url("**/console/account/security-keys/new")
    page.fill("input[name=name]", "virtual key")
    page.click("#add-security-key")
    page.wait_for_url("**/console/account?key=added")
    assert "virtual key" in page.locator("#security-keys").inner_text()
    page.screenshot(path=str(artifacts / "console-security-key-added.png"), full_page=True)
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert len(stored["credentials"]) == 1
    assert stored["credentials"][0]["rpId"] == "localhost"

    page.click("text=Sign out")
    page.wait_for_url("**/console/login")
    page.fill("input[name=username]", "key.kim")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/mfa**")
    page.screenshot(path=str(artifacts / "console-mfa-security-key.png"), full_page=True)
    page.click("#use-security-key")  # no code typed
    page.wait_for_url("**/console/payments")
    used = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert used["credentials"][0]["signCount"] >= 1
    page.goto(f"{stack.console}/console/account")
    last_used = page.locator("#security-keys tbody tr td").nth(2).inner_text()
    assert last_used.endswith("UTC")  # the sign-in just now
    assert_no_card_data(stack.server_log())
