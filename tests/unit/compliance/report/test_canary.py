from __future__ import annotations

from cardshield.cards import PAN, is_test_card, luhn_valid
from cardshield.compliance.report.canary import Canary, mastercard_2series, visa
from cardshield.discovery import Finding, Severity


def test_canaries_are_fresh_luhn_valid_cards_of_their_brand() -> None:
    seen = set()
    for _ in range(200):
        mc, v = mastercard_2series(), visa()
        assert luhn_valid(mc.reveal()) and luhn_valid(v.reveal())
        assert 222100 <= int(mc.reveal()[:6]) <= 272099 and len(mc.reveal()) == 16
        assert mc.brand.value == "mastercard" and v.brand.value == "visa"
        assert not is_test_card(mc.reveal()) and not is_test_card(v.reveal())
        seen.add(mc.reveal())
    assert len(seen) == 200  # random digits after the BIN: a fresh number every run


def test_a_finding_is_a_canary_only_when_its_masked_form_is_one() -> None:
    canary = Canary.generate()

    def finding(pan: PAN) -> Finding:
        return Finding("f", 1, pan.brand.value, pan.masked(), "pan", Severity.HIGH, False)

    assert canary.matches(finding(canary.phone)) == "phone"
    assert canary.matches(finding(canary.api)) == "api"
    assert canary.matches(finding(PAN("4242424242424242"))) is None
    assert "*" in repr(canary.hosted) and canary.hosted.reveal() not in repr(canary)


def test_the_cvv_counts_only_next_to_a_key_that_names_it() -> None:
    canary = Canary.generate()
    code = canary.cvv.reveal().encode()
    pattern = canary.cvv_pattern()
    assert pattern.search(b'{"cvc": "' + code + b'"}')
    assert pattern.search(b"card cvv=" + code + b" ok")
    assert not pattern.search(b"amount " + code)
    assert not pattern.search(b'{"cvc": "' + code + b'9"}')


def test_the_verdict_needs_every_flow_and_a_seeing_scanner() -> None:
    from datetime import UTC, datetime

    from cardshield.compliance.report.build import canary_verdict
    from cardshield.compliance.report.flows import FlowRun, Step
    from cardshield.compliance.report.leakscan import Hit, LeakScan

    run = FlowRun("mer_x", datetime.now(UTC), steps=[Step("api", "POST /v1/tokens", True, "")])
    clean = LeakScan(control_ok=True)
    assert canary_verdict(run, clean, None) == "PASS"
    assert canary_verdict(run, LeakScan(control_ok=False), None) == "ERROR"
    assert canary_verdict(None, None, "cannot reach the server") == "ERROR"
    failed = FlowRun("mer_x", datetime.now(UTC), steps=[Step("api", "x", False, "HTTP 429")])
    assert canary_verdict(failed, clean, None) == "ERROR"
    leak = LeakScan(control_ok=True, hits=[Hit("logs", "l", 1, None, "api", "pan", "m")])
    assert canary_verdict(failed, leak, "later error") == "FAIL"  # a found canary always fails
