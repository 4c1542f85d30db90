"""Settings, read once at start-up and passed explicitly; never a global.

Sources, later ones winning: defaults, an optional TOML file (``CARDSHIELD_CONFIG`` or an
explicit path; keys at the top level or under ``[cardshield]``), then environment variables
named ``CARDSHIELD_<SETTING>``. An unknown key or variable is an error rather than silently
ignored, so a typo cannot leave a default (say, the local dev key file) in force.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from limits import parse as parse_limit
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from cardshield.errors import ConfigError
from cardshield.security.ratelimit import RULES

ENV_PREFIX = "CARDSHIELD_"
CONFIG_ENV = "CARDSHIELD_CONFIG"


class Settings(BaseModel):
    """Every setting cardshield reads. Frozen: pass it around, never mutate it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    data_dir: Path = Field(
        default=Path(".cardshield"), description="Folder for the embedded database and key file."
    )
    database_url: str = Field(
        default="", description="SQLAlchemy URL; empty means SQLite in data_dir."
    )
    kms_url: str = Field(default="", description="KEK provider URL; empty means local key file.")
    redis_url: str | None = Field(default=None, description="Redis for several nodes.")
    audit_head_file: Path | None = Field(
        default=None,
        description="Where the audit sealer keeps the newest signed chain head, outside the"
        " database; empty means audit-head.json in data_dir.",
    )
    scan_key_file: Path | None = Field(
        default=None,
        description="The key `cardshield scan` keys finding ids with (32 bytes, mode 0600);"
        " empty means $XDG_CONFIG_HOME/cardshield/scan.key, created on first use.",
    )
    redaction_review_dir: Path | None = Field(
        default=None,
        description="The output folder of `cardshield redact audio DIR --out OUT` (OUT, with"
        " its redaction-report.json) that the console's recordings page shows to auditors;"
        " empty: the page is off. Never the source recordings' folder.",
    )
    retention_days: int | None = Field(
        default=730, ge=1, description="Purge reusable cards unused this long; unset keeps them."
    )
    token_ttl_minutes: int = Field(default=15, ge=1, le=60 * 24)
    cvv_ttl_minutes: int = Field(default=10, ge=1, le=60)
    card_probe_limit_per_key: str = Field(
        default="10/hour",
        description="Different cards with the same BIN and last 4 one publishable key may"
        " tokenize per window (e.g. 10/hour); more is 429 card_probing_detected.",
    )
    card_probe_limit_per_merchant: str = Field(
        default="50/hour",
        description="The same, counted over all of a merchant's publishable keys.",
    )
    rate_limits: dict[str, str] = Field(
        default_factory=dict,
        description="Rate limits to change, by rule name: login_ip, login_user, mfa,"
        ' tokenize_key_ip, tokenize_key (e.g. {"tokenize_key": "20000/minute"}); a TOML'
        " table or JSON. Rules not named keep their defaults.",
    )
    # Off by default: while a key is remembered, a revocation or a merchant deletion made on
    # another node (or from the CLI) reaches this node only when the entry expires, and a
    # node's cached data keys would go on encrypting for a merchant deleted meanwhile.
    api_key_cache_seconds: float = Field(
        default=0.0,
        ge=0,
        le=60,
        description="How long a node remembers a successfully authenticated API key (0, the"
        " default: look every key up); revoking a key or deleting a merchant elsewhere takes"
        " effect on this node within this time.",
    )
    connector: str = Field(default="sandbox", description="Payment processor connector.")
    # Holds the processor's API keys: every string is a SecretStr, so repr(), str() and
    # model dumps of the settings show '**********'; connector_values() reveals them.
    connector_options: dict[str, SecretStr | int | bool] = Field(
        default_factory=dict,
        description="Connector settings (keys, account, base URL); a TOML table or JSON.",
        repr=False,
    )
    public_url: str = Field(
        default="", description="Base URL browsers use to reach cardshield (hosted fields, 3DS)."
    )
    console_url: str = Field(
        default="",
        description="Base URL operators open the console at; security keys are bound to its"
        " host name. Empty: public_url.",
    )
    idempotency_lock_seconds: int = Field(
        default=60,
        ge=1,
        le=3600,
        description="How long a request holds its idempotency key before a retry may take over.",
    )
    pending_resolve_seconds: int = Field(
        default=60,
        ge=1,
        le=86400,
        description="Settle payment operations left pending (crash, timeout) after this long.",
    )
    allow_http_loopback_webhooks: bool = Field(
        default=False, description="Let webhook endpoints be http://localhost (demo, tests)."
    )
    webhook_lease_seconds: int = Field(
        default=30,
        ge=5,
        le=600,
        description="How long a node holds a webhook delivery before another node may take it.",
    )
    twilio_account_sid: str = Field(default="", description="Twilio account (phone payments).")
    phone_call_retention_days: int = Field(
        default=30, ge=1, le=3650, description="Forget phone calls untouched this long."
    )
    # A secret: repr() and model dumps show it as '**********'.
    twilio_auth_token: SecretStr = Field(
        default=SecretStr(""),
        description="Twilio auth token: checks X-Twilio-Signature, calls the API.",
    )
    twilio_api_base_url: str = Field(
        default="", description="Twilio REST API base URL (recordings); empty means Twilio's."
    )
    # The rate limiter's syntax ("300/minute", "10/5 minutes"), checked here so that a typo
    # refuses to start rather than failing the first payment.
    pay_connector_attempt_limit: str = Field(
        default="600/minute",
        pattern=r"^[1-9][0-9]*\s*/\s*([1-9][0-9]*\s+)?(second|minute|hour|day)s?$",
        description="Twilio Generic Pay Connector requests per username and per address.",
    )
    pay_connector_failure_limit: str = Field(
        default="10/minute",
        pattern=r"^[1-9][0-9]*\s*/\s*([1-9][0-9]*\s+)?(second|minute|hour|day)s?$",
        description="Failed pay connector credential checks per username and per address;"
        " more are answered 429.",
    )
    phone_merchant_id: str = Field(default="", description="Merchant the phone IVR charges for.")
    phone_amount: int = Field(
        default=0, ge=0, description="IVR amount in minor units unless the webhook URL names one."
    )
    phone_currency: str = Field(default="EUR", min_length=3, max_length=3)
    phone_max_attempts: int = Field(default=3, ge=1, le=10)
    amazon_connect_signature_tolerance_s: int = Field(
        default=300,
        ge=30,
        le=900,
        description="How far a signed Amazon Connect Lambda request's timestamp may be from now.",
    )
    rtp_agent_hosts: tuple[str, ...] = Field(
        default=("127.0.0.1", "::1", "localhost"),
        description="Where RTP relay sessions may send the agent's audio: IP addresses,"
        " networks (10.20.0.0/16) or host names; a comma-separated list in the environment."
        " Default: this machine only.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"
    host: str = "127.0.0.1"
    port: int = Field(default=8750, ge=1, le=65535)

    @field_validator("rtp_agent_hosts", mode="before")
    @classmethod
    def _host_list(cls, value: object) -> object:
        # The environment gives one string; a TOML file gives a list.
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("rtp_agent_hosts")
    @classmethod
    def _hosts_valid(cls, hosts: tuple[str, ...]) -> tuple[str, ...]:
        for host in hosts:
            if any(c.isspace() for c in host) or not 0 < len(host) <= 255:
                raise ValueError(f"not a host, address or network: {host[:40]!r}")
            if any(c in host for c in "/:") or host.replace(".", "").isdigit():
                ipaddress.ip_network(host)  # ValueError names what is wrong
        return hosts

    @field_validator("redaction_review_dir", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # CARDSHIELD_REDACTION_REVIEW_DIR= (empty) turns the page off, rather than naming "."
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("card_probe_limit_per_key", "card_probe_limit_per_merchant")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        parse_limit(value)  # the rate limiter's syntax ("10/hour", "5/2 hours"); ValueError
        return value

    @field_validator("rate_limits")
    @classmethod
    def _rate_limits(cls, value: dict[str, str]) -> dict[str, str]:
        for name, limit in value.items():
            if name not in RULES or name.startswith("tokenize_card_"):
                known = ", ".join(n for n in RULES if not n.startswith("tokenize_card_"))
                raise ValueError(f"unknown rate limit {name!r} (known: {known})")
            parse_limit(limit)
        return value

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'vault.db'}"

    @property
    def effective_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def connector_values(self) -> dict[str, str | int | bool]:
        """The connector options with their strings revealed: for the connector only."""
        return {
            name: value.get_secret_value() if isinstance(value, SecretStr) else value
            for name, value in self.connector_options.items()
        }

    @property
    def effective_console_url(self) -> str:
        return (self.console_url or self.effective_public_url).rstrip("/")

    @property
    def effective_kms_url(self) -> str:
        return self.kms_url or f"local:{self.data_dir / 'kek.key'}"

    @property
    def effective_audit_head_file(self) -> Path:
        return self.audit_head_file or self.data_dir / "audit-head.json"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    section = data.get("cardshield", data)
    if not isinstance(section, dict):
        raise ConfigError(f"config file {path}: [cardshield] must be a table")
    return dict(section)


def _from_env(env: Mapping[str, str]) -> dict[str, object]:
    known = set(Settings.model_fields)
    values: dict[str, object] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key not in known:
            raise ConfigError(f"unknown setting {name} (known: {', '.join(sorted(known))})")
        values[key] = _json_setting(name, value) if key in _JSON_SETTINGS else value
    return values


_JSON_SETTINGS = frozenset({"connector_options", "rate_limits"})


def _json_setting(name: str, value: str) -> object:
    try:
        return json.loads(value)
    except ValueError as exc:
        raise ConfigError(f"invalid setting {name}: not valid JSON", param=name) from exc


def load_settings(
    config_file: Path | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Build the settings from a TOML file and the environment; raise ConfigError if invalid."""
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    path = config_file or (Path(env[CONFIG_ENV]) if env.get(CONFIG_ENV) else None)
    if path is not None:
        data.update(_read_toml(path))
    data.update(_from_env(env))
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ENV_PREFIX + "_".join(str(p) for p in first["loc"]).upper()
        raise ConfigError(f"invalid setting {name}: {first['msg']}", param=name) from exc
