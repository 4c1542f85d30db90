"""The ``auth`` parameter of a bridged stream: proof that cardshield placed this call on this
side of this bridge, a short while ago.

Twilio signs a Media Streams upgrade over its URL alone, and the ``<Parameter>`` elements
that name a stream's bridge and leg arrive afterwards, unsigned, in the ``start`` message: a
captured upgrade could be replayed naming any bridge and leg. So the TwiML that connects a
call gives its stream one more parameter, a MAC under the KMS signing key (the audit
checkpoints' key, under its own domain prefix) over the purpose, the CallSid of the call
being connected, the bridge, the leg and an expiry; the ``start`` message must bring it back
for the same call (its ``callSid``), bridge and leg before the expiry.

Form: ``v1.<expiry, unix seconds>.<MAC, base64url without padding>``. Time is passed in.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Protocol

from cardshield.phone.transports.bridge import BRIDGE_ID, Leg

PARAM = "auth"
TTL_S = 300  # the TwiML is fetched as the call is answered; its stream starts within seconds
DOMAIN = b"cardshield.phone.stream.v1\x00"
PURPOSE = "bridge"
_FORM = re.compile(r"v1\.([0-9]{1,12})\.([A-Za-z0-9_-]{16,128})")


class Signer(Protocol):
    """The KMS provider's MAC (:class:`~cardshield.crypto.kms.KMSProvider`)."""

    def sign(self, data: bytes) -> bytes: ...

    def verify(self, data: bytes, signature: bytes) -> bool: ...


class StreamAuthRefused(Exception):
    """The ``start`` message's ``auth`` is ``missing``, ``malformed``, ``invalid`` (not
    cardshield's for this call, bridge and leg) or ``expired``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _message(call_sid: str, leg: Leg, expires: int) -> bytes:
    # Each field length-prefixed, so no two different tuples give the same bytes.
    fields = (PURPOSE, call_sid, leg.bridge, leg.side)
    body = b"".join(len(f).to_bytes(2, "big") + f.encode("ascii") for f in fields)
    return DOMAIN + body + expires.to_bytes(8, "big")


def issue(signer: Signer, *, call_sid: str, leg: Leg, now: datetime, ttl_s: int = TTL_S) -> str:
    """The ``auth`` value for the stream of ``call_sid`` as ``leg``, valid ``ttl_s`` from now."""
    if not BRIDGE_ID.fullmatch(call_sid):
        raise ValueError("call_sid must be 1 to 64 letters, digits, '-' or '_'")
    expires = int(now.timestamp()) + ttl_s
    mac = signer.sign(_message(call_sid, leg, expires))
    return f"v1.{expires}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode('ascii')}"


def check(signer: Signer, value: str | None, *, call_sid: str, leg: Leg, now: datetime) -> None:
    """Return if ``value`` is cardshield's ``auth`` for ``call_sid`` as ``leg`` and has not
    expired at ``now``; raise :class:`StreamAuthRefused` otherwise."""
    if not value:
        raise StreamAuthRefused("missing")
    found = _FORM.fullmatch(value)
    if found is None:
        raise StreamAuthRefused("malformed")
    try:
        mac = base64.urlsafe_b64decode(found.group(2) + "=" * (-len(found.group(2)) % 4))
    except (binascii.Error, ValueError):
        raise StreamAuthRefused("malformed") from None
    expires = int(found.group(1))
    # The provider compares in constant time; the MAC is checked before the expiry, so an
    # answer of "expired" is only ever given for a value cardshield issued.
    if not BRIDGE_ID.fullmatch(call_sid) or not signer.verify(
        _message(call_sid, leg, expires), mac
    ):
        raise StreamAuthRefused("invalid")
    if now.timestamp() > expires:
        raise StreamAuthRefused("expired")
