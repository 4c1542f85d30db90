"""Wiring the IVR from settings and the runtime: the vault, payments, the call store and the
Recordings API client."""

from __future__ import annotations

from cardshield.errors import CardshieldError
from cardshield.phone.ivr.capture import CardCapture
from cardshield.phone.ivr.flow import IvrFlow
from cardshield.phone.ivr.recordings import RecordingControl, TwilioRecordings
from cardshield.phone.live import call_store
from cardshield.runtime import Runtime


class PhoneNotConfigured(CardshieldError):
    code = "phone_not_configured"
    http_status = 503
    default_message = "Phone payments are not configured (twilio_auth_token, phone_merchant_id)."


def recordings_for(runtime: Runtime) -> RecordingControl:
    s = runtime.settings
    return TwilioRecordings(
        s.twilio_account_sid, s.twilio_auth_token.get_secret_value(), s.twilio_api_base_url
    )


def capture_for(runtime: Runtime, actor: str) -> CardCapture:
    return CardCapture(
        runtime.vault,
        runtime.cvv_store,
        cvv_ttl_s=runtime.settings.cvv_ttl_minutes * 60,
        actor=actor,
    )


def ivr_flow(runtime: Runtime) -> IvrFlow:
    s = runtime.settings
    if not s.twilio_auth_token.get_secret_value() or not s.phone_merchant_id:
        raise PhoneNotConfigured
    return IvrFlow(
        call_store(runtime),
        capture_for(runtime, "phone-ivr"),
        runtime.payments,
        recordings_for(runtime),
        max_attempts=s.phone_max_attempts,
    )
