"""Errors of the phone channel (IVR, agent capture, transports)."""

from __future__ import annotations

from cardshield.errors import CardshieldError, InvalidRequestError


class PhoneError(CardshieldError):
    code = "phone_error"
    default_message = "The phone channel failed."


class CallNotFound(InvalidRequestError):
    code = "call_not_found"
    http_status = 404
    default_message = "No such call."


class CallStateConflict(PhoneError):
    code = "call_state_conflict"
    http_status = 409
    default_message = "The call changed at the same time; retry."


class RecordingControlError(PhoneError):
    code = "recording_control_failed"
    http_status = 502
    default_message = "The call recording could not be paused or resumed."


class RelayError(PhoneError):
    code = "rtp_relay_error"
    http_status = 503
    default_message = "The RTP relay could not be set up."


class RelaySessionExists(InvalidRequestError):
    code = "rtp_session_exists"
    http_status = 409
    default_message = "This call already has an RTP relay session."
