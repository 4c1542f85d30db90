"""Rate limits are settings: ``rate_limits`` changes the named rules, leaves the rest alone."""

from __future__ import annotations

import pytest

from cardshield.config import Settings, load_settings
from cardshield.errors import ConfigError
from cardshield.security.ratelimit import RULES
from cardshield.web.ratelimit import limiter_rules
from tests.apps import Api

CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030}


def _use(api: Api, **settings: object) -> None:
    api.runtime.settings = Settings(data_dir=api.runtime.settings.data_dir, **settings)  # type: ignore[arg-type]
    api.client.app.state.rate_limiter = None  # type: ignore[attr-defined]  # rebuilt from them


def test_a_lowered_tokenize_limit_is_enforced(api: Api) -> None:
    _use(api, rate_limits={"tokenize_key_ip": "3/minute"})
    statuses = [
        api.client.post("/v1/tokens", json={"card": CARD}, headers=api.pk()).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]


def test_a_raised_limit_lets_more_through_and_defaults_stay(api: Api) -> None:
    _use(api, rate_limits={"tokenize_key_ip": "100/minute"})
    statuses = {
        api.client.post("/v1/tokens", json={"card": CARD}, headers=api.pk()).status_code
        for _ in range(40)  # past the default of 30 a minute
    }
    assert statuses == {200}
    rules = limiter_rules(Settings(rate_limits={"tokenize_key": "20000/minute"}))
    assert rules["tokenize_key"] == "20000/minute"
    assert {k: v for k, v in rules.items() if k != "tokenize_key"}.items() >= {
        k: v for k, v in RULES.items() if k not in ("tokenize_key",)
    }.items()


def test_defaults_are_unchanged() -> None:
    rules = limiter_rules(Settings())
    assert rules["tokenize_key_ip"] == "30/minute" and rules["tokenize_key"] == "3000/minute"
    assert rules["login_ip"] == "20/minute" and rules["mfa"] == "10/minute"


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ('{"tokenise_key": "5/minute"}', "unknown rate limit 'tokenise_key'"),
        ('{"tokenize_card_probe_key": "5/minute"}', "unknown rate limit"),  # its own settings
        ('{"tokenize_key": "lots"}', "CARDSHIELD_RATE_LIMITS"),
        ("not json", "not valid JSON"),
    ],
)
def test_bad_rate_limit_settings_are_refused(value: str, needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env={"CARDSHIELD_RATE_LIMITS": value})
    assert needle in caught.value.message


def test_rate_limits_from_the_environment() -> None:
    s = load_settings(env={"CARDSHIELD_RATE_LIMITS": '{"login_ip": "100/minute"}'})
    assert s.rate_limits == {"login_ip": "100/minute"}
