"""Pausing and resuming the call recording around card capture (Twilio Recordings API).

``Twilio.CURRENT`` names the call's active recording. ``pauseBehavior=skip`` leaves the
card-entry part out of the recording altogether rather than recording silence.
"""

from __future__ import annotations

from typing import Protocol

from twilio.base.exceptions import TwilioException  # type: ignore[import-untyped]
from twilio.rest import Client  # type: ignore[import-untyped]

from cardshield.phone.errors import RecordingControlError

CURRENT = "Twilio.CURRENT"


class RecordingControl(Protocol):
    def pause(self, call_sid: str) -> None: ...
    def resume(self, call_sid: str) -> None: ...


class TwilioRecordings:
    """The Recordings API through the ``twilio`` client; ``base_url`` for a stand-in API."""

    def __init__(self, account_sid: str, auth_token: str, base_url: str = "") -> None:
        self._client = Client(account_sid, auth_token)
        if base_url:
            self._client.api.base_url = base_url.rstrip("/")

    def _update(self, call_sid: str, status: str) -> None:
        recording = self._client.calls(call_sid).recordings(CURRENT)
        try:
            if status == "paused":
                recording.update(status="paused", pause_behavior="skip")
            else:
                recording.update(status="in-progress")
        except (TwilioException, OSError) as exc:
            raise RecordingControlError(f"recording {status} failed: {type(exc).__name__}") from exc

    def pause(self, call_sid: str) -> None:
        self._update(call_sid, "paused")

    def resume(self, call_sid: str) -> None:
        self._update(call_sid, "in-progress")
