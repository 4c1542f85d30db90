"""One test per rule of the packaged rulebook: each rule holds on one set of facts and not on
another, and no rule is left without its case (a new rule needs a new line here)."""

from __future__ import annotations

from typing import Any

import pytest

from cardshield.compliance.rules import load_rules

CHANNEL_BASE: dict[str, Any] = {
    "entity": "merchant",
    "cardshield_is_tpsp": True,
    "channel": "ecommerce",
    "method": "test",
    "entry_point": "cardshield_page",
    "embedded": True,
    "isolated_device": True,
    "pos_isolated": True,
    "script_controls": True,
    "provider_confirmation": False,
    "card_data_in_merchant_systems": False,
    "card_data_in_recordings": False,
    "card_data_on_merchant_telephony": False,
}
PHONE = {"channel": "phone", "entry_point": "cardshield_phone", "embedded": False}

# rule id -> (facts where it holds, facts where it fails, facts where it does not concern
# the channel and therefore holds whatever the answer)
CRITERIA: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]] = {
    "shared.merchant_only": ({}, {"entity": "service_provider"}, None),
    "shared.no_electronic_account_data": ({}, {"card_data_in_merchant_systems": True}, None),
    "shared.no_card_data_in_recordings": (
        PHONE,
        {**PHONE, "card_data_in_recordings": True},
        {"card_data_in_recordings": True},
    ),
    "shared.phone_data_off_merchant_telephony": (
        PHONE,
        {**PHONE, "card_data_on_merchant_telephony": True},
        {"card_data_on_merchant_telephony": True},
    ),
    "a.card_not_present": (PHONE, {"channel": "card_present"}, None),
    "a.outsourced": (PHONE, {"cardshield_is_tpsp": False}, None),
    "a.page_from_tpsp": ({}, {"entry_point": "merchant_page"}, PHONE),
    "a.scripts": (
        {"script_controls": False, "provider_confirmation": True},
        {"script_controls": False},
        {"embedded": False, "script_controls": False},
    ),
    "p2pe.terminals": (
        {"entry_point": "p2pe_terminal"},
        {"entry_point": "dial_out_terminal"},
        None,
    ),
    "spoc.solution": (
        {"channel": "card_present", "entry_point": "spoc_device"},
        {"channel": "phone", "entry_point": "spoc_device"},
        None,
    ),
    "b.dial_out": ({"entry_point": "dial_out_terminal"}, {"entry_point": "ip_terminal"}, None),
    "b_ip.terminals": ({"entry_point": "ip_terminal"}, {"entry_point": "dial_out_terminal"}, None),
    "c_vt.virtual_terminal": (
        {"entry_point": "virtual_terminal"},
        {"entry_point": "merchant_systems"},
        None,
    ),
    "c_vt.isolated": ({}, {"isolated_device": False}, None),
    "a_ep.ecommerce": ({}, PHONE, None),
    "a_ep.no_receipt": ({"entry_point": "merchant_page"}, {"entry_point": "merchant_server"}, None),
    "a_ep.outsourced": ({}, {"cardshield_is_tpsp": False}, None),
    "c.pos": (
        {"channel": "card_present", "entry_point": "pos_application"},
        {"channel": "card_present", "entry_point": "ip_terminal"},
        None,
    ),
    "c.isolated": ({}, {"pos_isolated": False}, None),
    "d_sp.service_provider": ({"entity": "service_provider"}, {}, None),
}

LEVEL_BASE: dict[str, Any] = {
    "entity": "merchant",
    "visa_total": 0,
    "visa_ecommerce": 0,
    "mastercard_total": 0,
    "mastercard_ecommerce": 0,
    "past_compromise": False,
    "designated_level_1": False,
    "sp_role": None,
    "visa_level": 4,
    "mastercard_level": 4,
}
# rule id -> (facts where it holds, facts where it fails; None for the catch-all last rule)
LEVELS: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {
    "visa.merchant.l1.volume": ({"visa_total": 6_000_001}, {"visa_total": 6_000_000}),
    "visa.merchant.l1.designated": ({"designated_level_1": True}, {}),
    "visa.merchant.l2.volume": ({"visa_total": 1_000_000}, {"visa_total": 999_999}),
    "visa.merchant.l3.ecommerce": ({"visa_ecommerce": 20_000}, {"visa_ecommerce": 19_999}),
    "visa.merchant.l4": ({}, None),
    "visa.sp.l1.volume": ({"visa_total": 300_001}, {"visa_total": 300_000}),
    "visa.sp.l2": ({}, None),
    "mastercard.merchant.l1.compromise": ({"past_compromise": True}, {}),
    "mastercard.merchant.l1.volume": (
        {"mastercard_total": 6_000_001},
        {"mastercard_total": 6_000_000},
    ),
    "mastercard.merchant.l1.visa": ({"visa_level": 1}, {"visa_level": 2}),
    "mastercard.merchant.l1.designated": ({"designated_level_1": True}, {}),
    "mastercard.merchant.l2.volume": (
        {"mastercard_total": 1_000_001},
        {"mastercard_total": 1_000_000},
    ),
    "mastercard.merchant.l2.visa": ({"visa_level": 2}, {"visa_level": 3}),
    "mastercard.merchant.l3.ecommerce": (
        {"mastercard_ecommerce": 20_001},
        {"mastercard_ecommerce": 20_000},
    ),
    "mastercard.merchant.l3.visa": ({"visa_level": 3}, {"visa_level": 4}),
    "mastercard.merchant.l4": ({}, None),
    "mastercard.sp.l1.tpp": (
        {"sp_role": "third_party_processor"},
        {"sp_role": "data_storage_entity"},
    ),
    "mastercard.sp.l1.volume": ({"mastercard_total": 300_001}, {"mastercard_total": 300_000}),
    "mastercard.sp.l2": ({}, None),
}

SUBMIT_BASE: dict[str, Any] = {
    "entity": "merchant",
    "level": 4,
    "visa_level": 4,
    "mastercard_level": 4,
    "saq": "A",
    "saq_asv": True,
    "asv_because": "because",
}
SP = {"entity": "service_provider"}
SUBMIT: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "submit.sp.l1.roc": ({**SP, "level": 1}, {"level": 1}),
    "submit.merchant.l1.roc": ({"level": 1}, {**SP, "level": 1}),
    "submit.l1.aoc_asv": ({"level": 1}, {"level": 2}),
    "submit.sp.l2.saq": ({**SP, "level": 2}, {**SP, "level": 1}),
    "submit.merchant.saq.mastercard_l2": (
        {"level": 2, "visa_level": 2, "mastercard_level": 2},
        {"level": 2, "visa_level": 2, "mastercard_level": 3},
    ),
    "submit.merchant.saq": ({"level": 3}, {"level": 4}),
    "submit.merchant.saq.l4": ({"level": 4}, {"level": 3}),
    "submit.saq.aoc": ({"level": 2}, {"level": 1}),
    "submit.saq.asv": ({"level": 3}, {"level": 3, "saq_asv": False}),
}


def _criteria() -> dict[str, Any]:
    return {c.id: c for saq in load_rules().saqs for c in saq.criteria}


def _levels() -> dict[str, Any]:
    return {rule.id: rule for rules in load_rules().levels.values() for rule in rules}


def test_every_rule_has_a_case_and_every_case_a_rule() -> None:
    rules = load_rules()
    assert set(_criteria()) == set(CRITERIA)
    assert set(_levels()) == set(LEVELS)
    assert {rule.id for rule in rules.submit} == set(SUBMIT)


@pytest.mark.parametrize("rule_id", sorted(CRITERIA))
def test_saq_criterion(rule_id: str) -> None:
    criterion = _criteria()[rule_id]
    holds, fails, unconcerned = CRITERIA[rule_id]
    assert criterion.holds({**CHANNEL_BASE, **holds})
    assert not criterion.holds({**CHANNEL_BASE, **fails})
    assert criterion.sources, "every criterion names its source"
    if unconcerned is not None:
        facts = {**CHANNEL_BASE, **unconcerned}
        assert not criterion.concerns(facts) and criterion.holds(facts)


@pytest.mark.parametrize("rule_id", sorted(LEVELS))
def test_level_rule(rule_id: str) -> None:
    rule = _levels()[rule_id]
    holds, fails = LEVELS[rule_id]
    assert rule.when.holds({**LEVEL_BASE, **holds})
    if fails is None:
        # The catch-all closes its list, so every answer gets a level.
        (brand_rules,) = [rs for rs in load_rules().levels.values() if rule in rs]
        assert brand_rules[-1] is rule
    else:
        assert not rule.when.holds({**LEVEL_BASE, **fails})


@pytest.mark.parametrize("rule_id", sorted(SUBMIT))
def test_submit_rule(rule_id: str) -> None:
    (rule,) = [r for r in load_rules().submit if r.id == rule_id]
    holds, fails = SUBMIT[rule_id]
    assert rule.when.holds({**SUBMIT_BASE, **holds})
    assert not rule.when.holds({**SUBMIT_BASE, **fails})
    assert rule.items and rule.text.sources


def test_saqs_run_from_least_to_most_demanding() -> None:
    codes = [saq.code for saq in load_rules().saqs]
    assert codes[0] == "A" and codes[-2:] == ["D", "D-SP"]
    assert codes.index("C-VT") < codes.index("A-EP") < codes.index("C")


def test_asv_scans_follow_requirement_11_3_2_per_saq() -> None:
    rules = load_rules()
    ecommerce, phone = dict(CHANNEL_BASE), {**CHANNEL_BASE, **PHONE}
    with_scans = {s.code for s in rules.saqs if s.asv_when.holds(ecommerce)}
    assert with_scans == {"A", "A-EP", "B-IP", "C", "D", "D-SP"}
    assert not rules.saq("A").asv_when.holds(phone), "no web server on a phone-only SAQ A"


def test_every_method_names_a_known_entry_point() -> None:
    entries = {m.entry_point for m in load_rules().methods.values()}
    used = {
        "cardshield_page",
        "cardshield_phone",
        "platform_encrypted",
        "platform_connector",
        "merchant_page",
        "merchant_server",
        "keyed",
        "virtual_terminal",
        "dial_out_terminal",
        "ip_terminal",
        "p2pe_terminal",
        "spoc_device",
        "pos_application",
    }
    assert entries == used


@pytest.mark.parametrize("method", ["amazon_connect_encrypted_input", "twilio_pay_connector"])
def test_platform_capture_is_outsourced_only_when_a_provider_runs_cardshield(method: str) -> None:
    # The platform hands the card to cardshield alone: that is outsourcing only when cardshield
    # itself is run by a PCI DSS compliant provider, never when the merchant runs it.
    rules = load_rules()
    outsourced = next(c for c in rules.saq("A").criteria if c.id == "a.outsourced")
    facts = {"entry_point": rules.methods[("phone", method)].entry_point}
    assert outsourced.holds({**facts, "cardshield_is_tpsp": True})
    assert not outsourced.holds({**facts, "cardshield_is_tpsp": False})
