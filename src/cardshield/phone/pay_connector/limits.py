"""Rate limits for the pay connector endpoint, counted per username and per address.

Every request counts against ``pay_connector_user`` and ``pay_connector_ip`` before the
credentials are checked, so a flood is turned away without a database read; each failed
check also counts against ``pay_connector_fail_user`` and ``pay_connector_fail_ip``, and a
client over those gets 429 instead of 401. With 256-bit passwords the failure limits do not
protect the password (nobody can guess one); they keep a misconfigured or hostile client from
filling the audit log with failures, and make such a client show up as rate-limit events.
A failure limit never turns away a request with good credentials: Twilio sends every
merchant's requests from its own shared addresses, so one merchant's stale password must not
stop another's payments. For the same reason the per-address attempt limit is sized for all
merchants together.

The limiter is cardshield's own (:class:`~cardshield.security.ratelimit.RateLimiter`:
memory for one node, Redis shared by several), with these rules; the settings
``pay_connector_attempt_limit`` and ``pay_connector_failure_limit`` change them.
"""

from __future__ import annotations

from cardshield.config import Settings

ATTEMPTS_PER_USER = "pay_connector_user"
ATTEMPTS_PER_IP = "pay_connector_ip"
FAILURES_PER_USER = "pay_connector_fail_user"
FAILURES_PER_IP = "pay_connector_fail_ip"


def rules(settings: Settings) -> dict[str, str]:
    attempts = settings.pay_connector_attempt_limit
    failures = settings.pay_connector_failure_limit
    return {
        ATTEMPTS_PER_USER: attempts,
        ATTEMPTS_PER_IP: attempts,
        FAILURES_PER_USER: failures,
        FAILURES_PER_IP: failures,
    }
