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
  :mod:`.speech`, heard with the keyed tones blanked out (a tone is not a word, and a prompt
  answered on the keypad has no spoken answer). Prompts count across channels (the agent
  asks, the caller answers) but are never cut themselves: a cut covers the recognised digits,
  snapped to the pauses around them and widened by a small margin (:mod:`.cuts`).
  Confidence is the share of the cut the recogniser attributed to number words; a cut the
  rules made for safety (digits running into unrecognised talk, or fewer digits than the
  prompt asked for) is marked ``unsure`` and its confidence halved.

Analysis runs on resampled linear copies; the output keeps the input's rate, encoding and
channels, and every sample outside the spans is the input's, bit for bit. Segments never
carry the digits.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from cardshield.phone.dsp import Audio, detect, g711, levels
from cardshield.redaction.cuts import CutRules, guard_words, speech_cuts
from cardshield.redaction.spans import Word, card_runs, prompts
from cardshield.redaction.speech import Recognizer, Transcript, activity

Mode = Literal["silence", "beep"]
#: Quiet this long between a prompt and digits on one channel is a turn: the digits answer.
_TURN_PAUSE_MS = 200
_EDGE_ABOVE_FLOOR_DB = 6.0
_OWN_LEG_BRIDGE_MS = 450
SegmentReason = Literal["dtmf", "speech"]
#: Prompt words the recogniser puts in place of a digit in a run of digits: "date" for
#: "eight" (a lone "date" is no prompt; the prompt is the phrase "expiry date").
HEARD_AS = {"date": "eight"}


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
    max_lead_in_ms: int = 1500  # other talk between a prompt and its answer, at most
    margin_ms: int = 80  # beyond the pause-snapped edges of spoken digits
    edge_ms: int = 300  # how far an edge looks for the pause around the digits
    unsure_ms: int = 1000  # how far an edge with no pause in reach grows on (safety first)
    join_ms: int = 1000  # spoken spans on one channel this close, only a pause between, join
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
    unsure: bool = False  # cut for safety: the recogniser's digits or their edges are doubtful
    basis: str = ""  # what the span is: "keyed", or the spoken item (pan, number, expiry, code)

    @property
    def seconds(self) -> float:
        return (self.end_ms - self.start_ms) / 1000

    def to_dict(self) -> dict[str, object]:
        return {
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "reason": self.reason,
            "confidence": self.confidence,
            "channel": self.channel,
            "unsure": self.unsure,
            "basis": self.basis,
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
        out += [Segment(max(a, 0), b, "dtmf", 1.0, channel, False, "keyed") for a, b in spans]
    return out


def speech_segments(
    linear: NDArray[np.int16],
    rate: int,
    recognizer: Recognizer,
    options: RedactOptions,
    keyed: list[Segment] | None = None,
) -> list[Segment]:
    """Spoken card data on each channel of ``linear``; prompts count across channels.

    ``keyed`` are the DTMF segments: blanked before recognition, and they end the wait for a
    spoken answer to the prompt before them.
    """
    heard = linear.copy()
    for seg in keyed or []:
        first, last = seg.start_ms * rate // 1000, -(-seg.end_ms * rate // 1000)
        heard[first:last, seg.channel] = 0
    transcripts = [recognizer.transcribe(heard[:, ch], rate, ch) for ch in range(heard.shape[1])]
    words: list[Word] = [w for t in transcripts for w in t.words]
    active = [activity(heard[:, ch], rate) for ch in range(heard.shape[1])]
    # Edges follow a word's quiet decay too (6 dB over the floor, not the detector's 12).
    edges = [activity(heard[:, ch], rate, _EDGE_ABOVE_FLOOR_DB) for ch in range(heard.shape[1])]
    runs = card_runs(
        words,
        max_gap=options.max_gap_ms,
        prompt_window=options.prompt_window_ms,
        chain_gap=options.chain_gap_ms,
        pair_gap=options.max_gap_ms,
        keyed=[(s.start_ms, s.end_ms) for s in keyed or []],
        talk=_Heard(transcripts, active),
        max_lead_in=options.max_lead_in_ms,
        heard_as=HEARD_AS,
    )
    ends = [w for w, _reason in prompts(sorted(words, key=lambda w: w.start), options.max_gap_ms)]
    rules = CutRules(
        margin_ms=options.margin_ms,
        edge_ms=options.edge_ms,
        unsure_ms=options.unsure_ms,
        join_ms=options.join_ms,
        # On its own leg the digits a reading still lacks may follow a short pause (the comma
        # in "oh seven, twenty nine"): bridge it while digits are missing, the other speaker
        # is not there to be cut. With every digit heard the pause is the edge (the caller's
        # "yes, that is right" after it is kept). On a shared channel that pause may be the
        # turn, so only word-internal dips.
        missing_bridge_ms=_OWN_LEG_BRIDGE_MS if heard.shape[1] > 1 else 0,
    )
    return [
        Segment(c.start_ms, c.end_ms, "speech", c.confidence, c.channel, not c.sure, c.basis)
        for c in speech_cuts(runs, edges, guard_words(words, ends), rules)
    ]


class _Heard:
    """:class:`.spans.Talk` from the transcripts (unrecognised talk) and the activity frames."""

    def __init__(self, transcripts: list[Transcript], active: list[NDArray[np.bool_]]) -> None:
        self.transcripts, self.active = transcripts, active

    def lead_in(self, channel: int, start: int, end: int) -> int:
        spans = self.transcripts[channel].other if channel < len(self.transcripts) else []
        return sum(max(0, min(b, end) - max(a, start)) for a, b in spans)

    def pause(self, channel: int, start: int, end: int) -> bool:
        frames = self.active[channel][max(start, 0) // 10 : max(end, 0) // 10]
        quiet = 0
        for on in frames:
            quiet = 0 if on else quiet + 1
            if quiet >= _TURN_PAUSE_MS // 10:
                return True
        return False


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
                min(last.confidence, seg.confidence),
                seg.channel,
                last.unsure or seg.unsure,
                last.basis if last.basis == seg.basis else f"{last.basis}+{seg.basis}",
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
        segments += speech_segments(linear, audio.sample_rate, recognizer, options, segments)
    duration = audio.frames * 1000 // audio.sample_rate
    segments = [
        dataclasses.replace(s, end_ms=min(s.end_ms, duration))
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
