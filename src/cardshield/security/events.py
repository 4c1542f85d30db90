"""Structured security events: failed sign-ins, lockouts, permission denials, rate limits,
unusual card-data access volume, card probing, changes to an operator's second factors.

:func:`emit` writes one structlog event (``security_event=<name>`` plus key/value fields)
through the redacting logging set-up, and tells the subscribers (the Prometheus counters in
:mod:`cardshield.web.metrics`). Fields hold names, ids, counts and addresses, never card data
or a secret; the logging layer redacts card numbers anyway.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from cardshield.redaction.logging import get_logger

LOGIN_FAILED = "login_failed"
LOCKOUT = "account_locked"
MFA_FAILED = "mfa_failed"
PERMISSION_DENIED = "permission_denied"
CSRF_REJECTED = "csrf_rejected"
RATE_LIMITED = "rate_limited"
CARD_ACCESS_VOLUME = "card_access_volume"
# Many different cards with one BIN and last 4 tokenized by one key or merchant: someone
# trying the middle digits of a card whose first 6 and last 4 they know.
CARD_PROBING = "card_probing"
SESSION_EXPIRED = "session_expired"
# A second factor added or removed (security keys) or reset: how a stolen session or an
# insider would make access last, so SIEMs should see every one.
MFA_CHANGED = "mfa_changed"

Listener = Callable[[str, dict[str, Any]], None]

_log = get_logger("cardshield.security")
_listeners: list[Listener] = []
_lock = threading.Lock()


def subscribe(listener: Listener) -> None:
    """Call ``listener(name, fields)`` for every event from now on (idempotent)."""
    with _lock:
        if listener not in _listeners:
            _listeners.append(listener)


def unsubscribe(listener: Listener) -> None:
    """Stop calling ``listener`` (no error if it was not subscribed)."""
    with _lock:
        if listener in _listeners:
            _listeners.remove(listener)


def emit(name: str, **fields: Any) -> None:
    _log.warning("security event", security_event=name, **fields)
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener(name, fields)
