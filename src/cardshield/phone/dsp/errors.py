"""Errors of the phone audio core. Messages never contain audio content or digits."""

from __future__ import annotations

from cardshield.errors import InvalidRequestError


class AudioError(InvalidRequestError):
    """Audio input cannot be used: unreadable, malformed or in an unsupported format."""

    code = "invalid_audio"
    default_message = "The audio input is invalid."


class UnsupportedAudioFormat(AudioError):
    """A well-formed file in an encoding, width or layout this core does not handle."""

    code = "unsupported_audio_format"
    default_message = "The audio format is not supported."
