"""The phone audio core: G.711, WAV, resampling, DTMF detection, generation and masking.

The public API, which IVR flows, recording redaction and the transports build on:

* :class:`DTMFDetector` (``feed(samples) -> list[DTMFEvent]``, ``flush()``) and
  :func:`detect` for whole recordings; :class:`DTMFEvent` ``(digit, start_ms, end_ms)``;
* :class:`StreamMasker` and :class:`BatchMasker`: the agent-leg audio with every tone replaced,
  digits to a callback only;
* :func:`generate` for DTMF sequences; :mod:`.g711`, :mod:`.wav`, :func:`resample`.

Audio is linear samples on the signed 16-bit scale at 8 kHz unless said otherwise; levels are
in dBm0 as defined once in :mod:`.levels`.
"""

from __future__ import annotations

from cardshield.phone.dsp.errors import AudioError, UnsupportedAudioFormat
from cardshield.phone.dsp.generator import DTMFSignal, ToneSpan, generate
from cardshield.phone.dsp.goertzel import (
    DEFAULT_CONFIG,
    DetectorConfig,
    DTMFDetector,
    DTMFEvent,
    detect,
)
from cardshield.phone.dsp.masker import BatchMasker, StreamMasker
from cardshield.phone.dsp.resample import resample
from cardshield.phone.dsp.wav import Audio, read_wav, write_wav

__all__ = [
    "DEFAULT_CONFIG",
    "Audio",
    "AudioError",
    "BatchMasker",
    "DTMFDetector",
    "DTMFEvent",
    "DTMFSignal",
    "DetectorConfig",
    "StreamMasker",
    "ToneSpan",
    "UnsupportedAudioFormat",
    "detect",
    "generate",
    "read_wav",
    "resample",
    "write_wav",
]
