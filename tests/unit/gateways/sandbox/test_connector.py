"""The sandbox processor against its own ledger, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from cardshield.cards import TEST_CARDS, Outcome
from cardshield.errors import ConfigError
from cardshield.gateways import get_connector
from cardshield.gateways.base import GatewayError, GatewayStatus, GatewayTimeout
from cardshield.gateways.declines import DeclineCode
from cardshield.gateways.sandbox import ChallengeNotFound, SandboxConnector
from tests.conftest import CANARY_PAN, assert_no_card_data
from tests.unit.gateways.sandbox.conftest import ACCOUNT, auth, card, follow

EXPECTED = {
    Outcome.SUCCESS: (GatewayStatus.AUTHORIZED, None),
    Outcome.GENERIC_DECLINE: (GatewayStatus.DECLINED, DeclineCode.CARD_DECLINED),
    Outcome.INSUFFICIENT_FUNDS: (GatewayStatus.DECLINED, DeclineCode.INSUFFICIENT_FUNDS),
    Outcome.EXPIRED_CARD: (GatewayStatus.DECLINED, DeclineCode.EXPIRED_CARD),
    Outcome.INCORRECT_CVC: (GatewayStatus.DECLINED, DeclineCode.INCORRECT_CVC),
    Outcome.PROCESSING_ERROR: (GatewayStatus.DECLINED, DeclineCode.PROCESSING_ERROR),
    Outcome.AUTHENTICATION_REQUIRED: (GatewayStatus.REQUIRES_ACTION, None),
}


def test_every_published_test_card_and_an_unknown_card(sandbox: SandboxConnector) -> None:
    for i, tc in enumerate(TEST_CARDS):
        result = sandbox.authorize(auth(f"k{i}", 1000 + i, number=tc.number))
        status, code = EXPECTED[tc.outcome]
        assert result.status is status, tc.description
        assert (result.decline.code if result.decline else None) == code, tc.description
        if tc.outcome is Outcome.AUTHENTICATION_REQUIRED:
            assert result.next_action_url == (
                f"https://cs.example/sandbox/3ds/{result.connector_reference}"
            )
        else:
            assert result.next_action_url is None
    # A generated Luhn-valid number that is no test card succeeds.
    assert sandbox.authorize(auth("unknown", number="4000000000000010")).status is (
        GatewayStatus.AUTHORIZED
    )
    rows = sandbox.ledger()
    assert len(rows) == len(TEST_CARDS) + 1
    assert all(r.card_last4 and len(r.card_last4) == 4 for r in rows)


def test_repeated_key_returns_the_first_result_and_charges_once(sandbox: SandboxConnector) -> None:
    first = sandbox.authorize(auth("same", 1500, capture=True))
    again = sandbox.authorize(auth("same", 1500, capture=True))
    assert first.status is GatewayStatus.CAPTURED
    assert (again.status, again.connector_reference) == (first.status, first.connector_reference)
    # The same key for a different request is refused, never replayed as a new charge.
    other = sandbox.authorize(auth("same", 2000, capture=True))
    assert other.status is GatewayStatus.DECLINED and other.decline is not None
    assert other.decline.raw_code == "idempotency_mismatch"
    assert [r.amount for r in sandbox.ledger()] == [1500]


def test_concurrent_calls_with_one_key_write_one_row(sandbox: SandboxConnector) -> None:
    results = []
    barrier = threading.Barrier(16)

    def call() -> None:
        barrier.wait()
        results.append(sandbox.authorize(auth("race", 700)))

    threads = [threading.Thread(target=call) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 16
    assert len({r.connector_reference for r in results}) == 1
    assert len(sandbox.ledger()) == 1


def test_capture_void_refund_rules(sandbox: SandboxConnector) -> None:
    ch = sandbox.authorize(auth("a1", 1000)).connector_reference
    assert ch is not None
    too_much = sandbox.capture(follow("c0", ch, 1001))
    assert too_much.status is GatewayStatus.DECLINED and too_much.decline is not None
    assert too_much.decline.raw_code == "amount_too_large"
    cap = sandbox.capture(follow("c1", ch, 600))
    assert (cap.status, cap.amount) == (GatewayStatus.CAPTURED, 600)
    assert sandbox.capture(follow("c1", ch, 600)).connector_reference == cap.connector_reference
    second = sandbox.capture(follow("c2", ch, 100))
    assert second.decline is not None and second.decline.raw_code == "already_captured"
    void = sandbox.void(follow("v1", ch, 1000))
    assert void.decline is not None and void.decline.raw_code == "already_captured"
    assert sandbox.refund(follow("r1", ch, 400)).status is GatewayStatus.REFUNDED
    over = sandbox.refund(follow("r2", ch, 201))
    assert over.decline is not None and over.decline.raw_code == "amount_too_large"
    assert sandbox.refund(follow("r3", ch, 200)).status is GatewayStatus.REFUNDED
    # Another account cannot touch this charge.
    foreign = sandbox.refund(follow("r4", ch, 1, account="sbx_acct_other"))
    assert foreign.decline is not None and foreign.decline.raw_code == "no_such_charge"
    missing = sandbox.capture(follow("c9", "sbx_ch_nope", 1))
    assert missing.decline is not None and missing.decline.raw_code == "no_such_charge"

    held = sandbox.authorize(auth("a2", 500)).connector_reference
    assert held is not None
    assert sandbox.void(follow("v2", held, 500)).status is GatewayStatus.VOIDED
    late = sandbox.capture(follow("c3", held, 500))
    assert late.decline is not None and late.decline.raw_code == "already_voided"

    sale = sandbox.authorize(auth("s1", 800, capture=True)).connector_reference
    assert sale is not None
    assert sandbox.refund(follow("r5", sale, 800)).status is GatewayStatus.REFUNDED
    not_held = sandbox.capture(follow("c4", sale, 1))
    assert not_held.decline is not None and not_held.decline.raw_code == "charge_not_capturable"


def test_three_d_secure_challenge(sandbox: SandboxConnector) -> None:
    started = sandbox.authorize(auth("3ds", 2500, number="4000000000003220", capture=True))
    ref = started.connector_reference
    assert started.status is GatewayStatus.REQUIRES_ACTION and ref
    assert sandbox.sync("3ds", None).status is GatewayStatus.REQUIRES_ACTION
    assert not sandbox.ledger()[0].is_charge
    assert sandbox.challenge(ref).amount == 2500
    assert sandbox.approve_challenge(ref).status is GatewayStatus.CAPTURED
    assert sandbox.sync("3ds", ref).status is GatewayStatus.CAPTURED
    # Decided once: a later refusal does not undo the approval.
    assert sandbox.approve_challenge(ref, approve=False).status is GatewayStatus.CAPTURED
    assert sandbox.ledger()[0].is_charge

    refused = sandbox.authorize(auth("3ds-no", 900, number="4000002500003155"))
    assert refused.connector_reference
    failed = sandbox.approve_challenge(refused.connector_reference, approve=False)
    assert failed.status is GatewayStatus.DECLINED and failed.decline is not None
    assert failed.decline.code is DeclineCode.AUTHENTICATION_REQUIRED
    with pytest.raises(ChallengeNotFound):
        sandbox.approve_challenge("sbx_ch_missing")


def test_verify(sandbox: SandboxConnector) -> None:
    assert sandbox.verify(auth("v", 0)).status is GatewayStatus.VERIFIED
    declined = sandbox.verify(auth("v2", 0, number="4000000000009995"))
    assert declined.status is GatewayStatus.DECLINED
    challenge = sandbox.verify(auth("v3", 0, number="4000000000003220"))
    assert challenge.decline is not None
    assert challenge.decline.code is DeclineCode.AUTHENTICATION_REQUIRED
    assert sandbox.authorize(auth("zero", 0)).status is GatewayStatus.DECLINED


def test_misbehaving_amounts(sandbox: SandboxConnector) -> None:
    with pytest.raises(GatewayTimeout):
        sandbox.authorize(auth("t-after", 1991))
    # The charge happened: sync finds it, and a retry gets the answer without a new charge.
    found = sandbox.sync("t-after", None)
    assert found.status is GatewayStatus.AUTHORIZED and found.amount == 1991
    assert sandbox.authorize(auth("t-after", 1991)).connector_reference == (
        found.connector_reference
    )
    with pytest.raises(GatewayTimeout):
        sandbox.authorize(auth("t-before", 1992))
    lost = sandbox.sync("t-before", None)
    assert lost.status is GatewayStatus.FAILED and lost.raw["error"] == "no_such_operation"
    with pytest.raises(GatewayError) as info:
        sandbox.authorize(auth("err", 3994))
    assert not isinstance(info.value, GatewayTimeout)
    started = time.perf_counter()
    assert sandbox.authorize(auth("slow", 1993)).status is GatewayStatus.AUTHORIZED
    assert time.perf_counter() - started >= 0.3
    assert sorted(r.idempotency_key for r in sandbox.ledger()) == ["slow", "t-after"]


def test_no_card_data_in_results_ledger_or_logs(
    sandbox: SandboxConnector, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    results = [
        sandbox.authorize(auth("c1", number=CANARY_PAN)),
        sandbox.verify(auth("c2", 0, number=CANARY_PAN)),
    ]
    with pytest.raises(GatewayTimeout) as info:
        sandbox.authorize(auth("c3", 5991, number=CANARY_PAN))
    blob = repr(results) + repr(sandbox.ledger()) + str(info.value) + caplog.text
    blob += repr(card(CANARY_PAN))
    assert_no_card_data(blob)
    assert "123" not in repr(card(CANARY_PAN))


def test_registry_builds_the_sandbox(ledger_url: str, sandbox: SandboxConnector) -> None:
    built = get_connector("sandbox", {"database_url": ledger_url, "delay_ms": "0"})
    assert isinstance(built, SandboxConnector) and built.name == "sandbox"
    built.close()
    with pytest.raises(ConfigError, match="database_url"):
        get_connector("sandbox", {})
    with pytest.raises(ConfigError, match="invalid number"):
        get_connector("sandbox", {"database_url": ledger_url, "delay_ms": "soon"})
    assert ACCOUNT.startswith("sbx_")
