"""The fingerprint oracle and card probing.

A merchant that knows a stored card's first six and last four digits has about 10^5
candidates for the rest. Nothing the API answers may let it test one: no fingerprint or
other per-card value in any body, and tokenizing many different cards that share a BIN and
last four from one key (or one merchant) is refused with 429 ``card_probing_detected``, a
security event and an audit entry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from cardshield.cards import luhn_valid
from cardshield.config import Settings, load_settings
from cardshield.errors import ConfigError
from cardshield.security import events
from cardshield.security.apikeys import create_key
from cardshield.security.probing import probe_rules
from cardshield.security.ratelimit import RULES, RateLimiter
from cardshield.storage.schema import audit_log, cards
from tests.apps import NOW, Api
from tests.conftest import CANARY_CVV, assert_no_card_data, assert_no_cvv


def _same_bin_and_last4(bin6: str, last4: str, count: int) -> list[str]:
    """``count`` Luhn-valid 16-digit numbers: ``bin6`` + six middle digits + ``last4``."""
    found = []
    for middle in range(10**6):
        number = f"{bin6}{middle:06d}{last4}"
        if luhn_valid(number):
            found.append(number)
            if len(found) == count:
                return found
    raise AssertionError("not enough numbers")


# 4242424242424242 (the published test card) is the stored card; the candidates share its
# BIN and last four, and differ in the middle digits only.
STORED = "4242424242424242"
CANDIDATES = [n for n in _same_bin_and_last4("424242", "4242", 13) if n != STORED][:12]
OTHER_LAST4 = _same_bin_and_last4("424242", "1881", 1)[0]
ALL_PANS = (STORED, *CANDIDATES, OTHER_LAST4)
_HEX64 = re.compile(r"\b[0-9a-f]{64}\b")


def _card(number: str) -> dict[str, Any]:
    return {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": CANARY_CVV}


def _tokenize(api: Api, number: str, key: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {key or api.publishable}"}
    return api.client.post("/v1/tokens", json={"card": _card(number)}, headers=headers)


def _without_ids(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("id", "created", "expires")}


@pytest.fixture
def probe_events() -> Iterator[list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []

    def listener(name: str, fields: dict[str, Any]) -> None:
        if name == events.CARD_PROBING:
            seen.append(fields)

    events.subscribe(listener)
    yield seen
    events.unsubscribe(listener)


def _limits(api: Api, *, per_key: str, per_merchant: str) -> None:
    """The app's limiter with small probing limits (and the per-address tokenization limit
    out of the way, since every request here comes from the same address)."""
    rules = {**RULES, "tokenize_key_ip": "1000/minute"}
    rules.update(probe_rules(per_key=per_key, per_merchant=per_merchant))
    api.client.app.state.rate_limiter = RateLimiter("memory://", rules)  # type: ignore[attr-defined]


def _publishable(api: Api) -> str:
    with api.runtime.engine.begin() as conn:
        created = create_key(
            conn,
            now=NOW,
            merchant_id=api.merchant,
            kind="publishable",
            scopes=["tokens:create"],
            allowed_origins=["https://shop.example"],
        )
    return created.key.reveal()


def test_a_candidate_token_is_indistinguishable_from_the_stored_card(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """The oracle: save the stored card, then tokenize a candidate with the publishable key
    and read everything the secret key may read about both. The answers for the candidate
    and for the stored card differ only in ids and times: no fingerprint, nothing else that
    is the same for the same card."""
    stored = _tokenize(api, STORED)
    assert stored.status_code == 200, stored.text
    saved = api.client.post(
        "/v1/payment_methods", json={"token": stored.json()["id"]}, headers=api.sk()
    )
    assert saved.status_code == 200, saved.text
    candidate = _tokenize(api, CANDIDATES[0])
    assert candidate.status_code == 200, candidate.text
    again = _tokenize(api, STORED)  # the stored card itself, tokenized once more
    bodies = [stored, saved, candidate, again]
    reads = {
        name: api.client.get(f"/v1/tokens/{resp.json()['id']}", headers=api.sk())
        for name, resp in (("candidate", candidate), ("again", again))
    }
    reads["saved"] = api.client.get(f"/v1/payment_methods/{saved.json()['id']}", headers=api.sk())
    for resp in [*bodies, *reads.values()]:
        assert resp.status_code == 200, resp.text
        assert "fingerprint" not in resp.text
        assert not _HEX64.search(resp.text), resp.text
    assert _without_ids(candidate.json()) == _without_ids(again.json())
    assert _without_ids(reads["candidate"].json()) == _without_ids(reads["again"].json())
    assert set(reads["saved"].json()["card"]) == {"brand", "last4", "exp_month", "exp_year"}
    text = "\n".join(r.text for r in [*bodies, *reads.values()]) + caplog.text
    assert_no_card_data(text, ALL_PANS)
    assert_no_cvv(text)


def test_the_openapi_description_offers_no_fingerprint(api: Api) -> None:
    spec = api.client.get("/openapi.json").text
    assert "fingerprint" not in spec


def test_many_cards_with_one_bin_and_last4_from_one_key_are_refused(
    api: Api, probe_events: list[dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    _limits(api, per_key="3/hour", per_merchant="100/hour")
    answers = [_tokenize(api, number) for number in CANDIDATES[:3]]
    assert [a.status_code for a in answers] == [200, 200, 200]
    refused = _tokenize(api, CANDIDATES[3])
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "card_probing_detected"
    assert set(refused.json()["error"]) == {"type", "code", "message", "param"}
    assert int(refused.headers["retry-after"]) >= 1
    assert _tokenize(api, CANDIDATES[3]).status_code == 429  # and stays refused
    assert _tokenize(api, CANDIDATES[4]).status_code == 429
    # A card counted already (a shopper trying again), another last four, another key of
    # the merchant: not refused.
    assert _tokenize(api, CANDIDATES[0]).status_code == 200
    assert _tokenize(api, OTHER_LAST4).status_code == 200
    assert _tokenize(api, CANDIDATES[5], key=_publishable(api)).status_code == 200
    # Nothing was stored for the refused cards.
    with api.runtime.engine.connect() as conn:
        stored = conn.execute(select(cards.c.token).where(cards.c.last4 == "4242")).all()
        entries = conn.execute(
            select(audit_log).where(audit_log.c.action == "api_key.card_probing")
        ).all()
    assert len(stored) == 4 + 1  # three cards, the retry, the other key's card
    assert len(probe_events) == 3
    assert probe_events[0]["masked"] == "424242******4242"
    assert probe_events[0]["scope"] == "api_key"
    assert len(entries) == 3
    assert entries[0].merchant_id == api.merchant
    assert json.loads(entries[0].details)["masked"] == "424242******4242"
    assert "'security_event': 'card_probing'" in caplog.text  # logged, masked
    assert "424242******4242" in caplog.text
    with api.runtime.engine.connect() as conn:
        everything = json.dumps([list(map(str, r)) for r in conn.execute(select(audit_log))])
    text = refused.text + caplog.text + everything
    assert_no_card_data(text, ALL_PANS)
    assert_no_cvv(refused.text + caplog.text)


def test_the_merchant_limit_holds_across_its_keys(
    api: Api, probe_events: list[dict[str, Any]]
) -> None:
    """A merchant can make as many publishable keys as it likes: the merchant's own limit
    counts the distinct cards of all of them."""
    _limits(api, per_key="3/hour", per_merchant="4/hour")
    second = _publishable(api)
    assert [_tokenize(api, n).status_code for n in CANDIDATES[:2]] == [200, 200]
    assert [_tokenize(api, n, key=second).status_code for n in CANDIDATES[2:4]] == [200, 200]
    refused = _tokenize(api, CANDIDATES[4], key=_publishable(api))
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "card_probing_detected"
    assert probe_events[-1]["scope"] == "merchant"


def test_the_default_limits_and_the_settings_that_change_them(api: Api) -> None:
    assert RULES["tokenize_card_probe_key"] == "10/hour"
    assert RULES["tokenize_card_probe_merchant"] == "50/hour"
    assert probe_rules(per_key="5/2 hours", per_merchant="20/day") == {
        "tokenize_card_probe_key": "5/2 hours",
        "tokenize_card_seen_key": "1/2 hour",
        "tokenize_card_probe_merchant": "20/day",
        "tokenize_card_seen_merchant": "1/1 day",
    }
    defaults = Settings()
    assert probe_rules(
        per_key=defaults.card_probe_limit_per_key,
        per_merchant=defaults.card_probe_limit_per_merchant,
    ) == {name: rule for name, rule in RULES.items() if name.startswith("tokenize_card_")}
    # Ten distinct cards a key may tokenize by default; the eleventh is refused.
    rules = {**RULES, "tokenize_key_ip": "1000/minute"}
    api.client.app.state.rate_limiter = RateLimiter("memory://", rules)  # type: ignore[attr-defined]
    many = CANDIDATES[:11]
    assert [_tokenize(api, n).status_code for n in many] == [200] * 10 + [429]


def test_the_app_takes_its_limits_from_the_settings(api: Api) -> None:
    api.runtime.settings = Settings(card_probe_limit_per_key="2/hour")
    assert [_tokenize(api, n).status_code for n in CANDIDATES[:3]] == [200, 200, 429]
    with pytest.raises(ConfigError, match="CARDSHIELD_CARD_PROBE_LIMIT_PER_MERCHANT"):
        load_settings(env={"CARDSHIELD_CARD_PROBE_LIMIT_PER_MERCHANT": "lots"})
