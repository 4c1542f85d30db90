"""Recording redaction: card data keyed as DTMF or spoken aloud, silenced or beeped out.

::

    result = redact_audio(read_wav("call.wav"), RedactOptions(mode="beep"))
    write_wav("call.redacted.wav", result.audio)
    result.segments        # [Segment(start_ms, end_ms, reason, confidence, channel), ...]

Every channel is handled on its own (agent and caller legs of a stereo recording): a span
found on one channel is silenced on that channel only. Two kinds of spans:

* ``"dtmf"``: every tone the phone audio core's detector finds (keyed digits a few hundred ms
  apart are joined into one span), with a small guard each side. Confidence is 1.0: the
  detector reports only tones that passed all of its ITU-T Q.24 and talk-off checks.
* ``"speech"``: spoken card data by the rules of :mod:`.spans` on the words of
  :mod:`.speech`. Prompts count across channels (the agent asks, the caller answers). A span
  covers its run of number words, widened to the pauses around it when they are near (the
  recogniser's word edges are rough) and padded by 250 ms each side; spans on one channel less
  than ``join_ms`` apart are joined (a sliver of audio between two groups of one card number
  is not worth keeping). Confidence is the share of the span the recogniser attributed to
  number words.

Analysis runs on resampled linear copies; the output keeps the input's rate, encoding and
channels, and every sample outside the spans is the input's, bit for bit. Segments never
carry the digits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from cardshield.phone.dsp import Audio, detect, g711, levels
from cardshield.redaction.spans import CardRun, Word, card_runs
from cardshield.redaction.speech import Recognizer, Transcript

Mode = Literal["silence", "beep"]
SegmentReason = Literal["dtmf", "speech"]


@dataclass(frozen=True)
class RedactOptions:
    mode: Mode = "silence"
    beep_hz: float = 1000.0
    beep_dbm0: float = -18.0
    speech: bool = True  # False: DTMF only (fast)
    padding_ms: int = 250  # around spoken card data
    dtmf_guard_ms: int = 15  # around each tone: the detector's edges are good to ~2 ms
    dtmf_join_ms: int = 600  # tones closer than this are one keyed entry
    max_gap_ms: int = 600  # between number words of one spoken run (a pause between groups)
    prompt_window_ms: int = 4000  # from a prompt to the answer
    chain_gap_ms: int = 2000  # from one prompted run to the next
    widen_ms: int = 1500  # how far a span may widen to reach the pause around it
    join_ms: int = 1000  # spoken spans on one channel closer than this become one
    speech_model: Path | None = None  # an adapted speech model (default: the shipped one)

    def __post_init__(self) -> None:
        if self.mode not in ("silence", "beep"):
            raise ValueError("mode must be 'silence' or 'beep'")
        if not 100.0 <= self.beep_hz <= 3400.0:
            raise ValueError("the beep must lie in 100-3400 Hz")
        if self.beep_dbm0 > 0.0:
            raise ValueError("the beep level must be at most 0 dBm0")


@dataclass(frozen=True)
class Segment:
    """A redacted span on one channel. Holds no digits by construction."""

    start_ms: int
    end_ms: int
    reason: SegmentReason
    confidence: float
    channel: int

    def to_dict(self) -> dict[str, object]:
        return {
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "reason": self.reason,
            "confidence": self.confidence,
            "channel": self.channel,
        }


@dataclass(frozen=True)
class Redacted:
    audio: Audio
    segments: list[Segment]

    @property
    def duration_ms(self) -> int:
        return self.audio.frames * 1000 // self.audio.sample_rate


def dtmf_segments(linear: NDArray[np.int16], rate: int, options: RedactOptions) -> list[Segment]:
    """Keyed digits on each channel of ``linear`` (frames, channels)."""
    out: list[Segment] = []
    for channel in range(linear.shape[1]):
        spans: list[list[int]] = []
        for event in detect(linear[:, channel], rate):
            start, end = (
                event.start_ms - options.dtmf_guard_ms,
                event.end_ms + options.dtmf_guard_ms,
            )
            if spans and start - spans[-1][1] <= options.dtmf_join_ms:
                spans[-1][1] = max(spans[-1][1], end)
            else:
                spans.append([start, end])
        out += [Segment(max(a, 0), b, "dtmf", 1.0, channel) for a, b in spans]
    return out


def speech_segments(
    linear: NDArray[np.int16], rate: int, recognizer: Recognizer, options: RedactOptions
) -> list[Segment]:
    """Spoken card data on each channel of ``linear``; prompts count across channels."""
    transcripts = [recognizer.transcribe(linear[:, ch], rate, ch) for ch in range(linear.shape[1])]
    words: list[Word] = [w for t in transcripts for w in t.words]
    runs = card_runs(
        words,
        max_gap=options.max_gap_ms,
        prompt_window=options.prompt_window_ms,
        chain_gap=options.chain_gap_ms,
        pair_gap=options.max_gap_ms,
    )
    spans = [_speech_segment(run, transcripts[run.channel], options) for run in runs]
    joined: list[Segment] = []
    for seg in sorted(spans, key=lambda s: (s.channel, s.start_ms)):
        last = joined[-1] if joined else None
        near = last is not None and seg.start_ms - last.end_ms < options.join_ms
        if last is not None and near and last.channel == seg.channel:
            confidence = min(last.confidence, seg.confidence)
            end = max(last.end_ms, seg.end_ms)
            joined[-1] = Segment(last.start_ms, end, "speech", confidence, seg.channel)
            continue
        joined.append(seg)
    return joined


def _speech_segment(run: CardRun, transcript: Transcript, options: RedactOptions) -> Segment:
    start, end = run.start, run.end
    for first, last in transcript.utterances:
        if first <= start < last or first < end <= last:
            # Widen to the pause around the run when it is near: word edges are rough.
            if start - first <= options.widen_ms:
                start = min(start, first)
            if last - end <= options.widen_ms:
                end = max(end, last)
    spoken = sum(w.end - w.start for w in run.words)
    confidence = round(min(1.0, spoken / max(run.end - run.start, 1)), 2)
    pad = options.padding_ms
    return Segment(max(start - pad, 0), end + pad, "speech", confidence, run.channel)


def merge(segments: list[Segment]) -> list[Segment]:
    """Overlapping segments of one channel and reason joined; sorted by time and channel."""
    out: list[Segment] = []
    for seg in sorted(segments, key=lambda s: (s.channel, s.reason, s.start_ms)):
        last = out[-1] if out else None
        same = last is not None and (last.channel, last.reason) == (seg.channel, seg.reason)
        if last is not None and same and seg.start_ms <= last.end_ms:
            out[-1] = Segment(
                last.start_ms,
                max(last.end_ms, seg.end_ms),
                seg.reason,
                max(last.confidence, seg.confidence),
                seg.channel,
            )
            continue
        out.append(seg)
    return sorted(out, key=lambda s: (s.start_ms, s.channel))


def _fill(audio: Audio, n: int, options: RedactOptions) -> NDArray[np.generic]:
    """``n`` samples of the fill in the file's own encoding."""
    if options.mode == "silence":
        value = 0 if audio.encoding == "pcm16" else g711.SILENCE[audio.encoding]
        return np.full(n, value, dtype=audio.data.dtype)
    t = np.arange(n) / audio.sample_rate
    ramp = np.minimum(
        1.0, np.minimum(np.arange(n) + 1, n - np.arange(n)) / (0.005 * audio.sample_rate)
    )
    wave = levels.amplitude(options.beep_dbm0) * ramp * np.sin(2 * np.pi * options.beep_hz * t)
    pcm = g711.to_int16(wave)
    return pcm if audio.encoding == "pcm16" else g711.encode(pcm, audio.encoding)


def apply(audio: Audio, segments: list[Segment], options: RedactOptions) -> Audio:
    """A copy of ``audio`` with each segment's samples replaced on its channel."""
    data = audio.data.copy()
    rate = audio.sample_rate
    for seg in segments:
        first = max(seg.start_ms * rate // 1000, 0)
        last = min(-(-seg.end_ms * rate // 1000), audio.frames)
        if first < last:
            data[first:last, seg.channel] = _fill(audio, last - first, options)
    return Audio(data=data, sample_rate=rate, encoding=audio.encoding)


def redact_audio(
    audio: Audio, options: RedactOptions | None = None, recognizer: Recognizer | None = None
) -> Redacted:
    """Find card data in ``audio`` and return it redacted, with the segments.

    ``recognizer`` defaults to the process's shared pocketsphinx recogniser when
    ``options.speech`` is on.
    """
    options = options or RedactOptions()
    linear = audio.linear()
    segments = dtmf_segments(linear, audio.sample_rate, options)
    if options.speech:
        if recognizer is None:
            from cardshield.redaction.speech import shared_recognizer

            recognizer = shared_recognizer(options.speech_model)
        segments += speech_segments(linear, audio.sample_rate, recognizer, options)
    duration = audio.frames * 1000 // audio.sample_rate
    segments = [
        Segment(s.start_ms, min(s.end_ms, duration), s.reason, s.confidence, s.channel)
        for s in merge(segments)
        if s.start_ms < duration
    ]
    return Redacted(apply(audio, segments, options), segments)


__all__ = [
    "Mode",
    "RedactOptions",
    "Redacted",
    "Segment",
    "apply",
    "dtmf_segments",
    "merge",
    "redact_audio",
    "speech_segments",
]
