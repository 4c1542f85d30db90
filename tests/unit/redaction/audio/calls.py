"""Generated phone calls for the recording-redaction tests and the benchmark.

A call is a scripted conversation between an agent and a caller, each line spoken by
espeak-ng in the speaker's voice and converted by sox to the line's rate, with keyed DTMF
card entry where the script says so. Every line's place is known exactly, so tests can check
what was redacted against where the card data really was.
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from cardshield.phone.dsp import generate, read_wav

AGENT, CALLER = 0, 1


@dataclass(frozen=True)
class Line:
    speaker: int
    text: str = ""
    keyed: str = ""  # DTMF digits instead of speech
    card: bool = False  # the line is card data that must be redacted


@dataclass(frozen=True)
class Call:
    """Linear 16-bit samples per speaker, shape (frames, 2), and where each line lies."""

    samples: NDArray[np.int16]
    rate: int
    lines: tuple[tuple[Line, int, int], ...]  # line, first sample, one past the last

    def card_spans(self) -> list[tuple[int, int, int]]:
        """(channel, first, end) of every card line."""
        return [(ln.speaker, a, b) for ln, a, b in self.lines if ln.card]

    def mono(self) -> NDArray[np.int16]:
        mixed = self.samples.astype(np.int32).sum(axis=1)
        return np.clip(mixed, -32768, 32767).astype(np.int16)


def say(text: str, voice: str, rate: int, cache: Path, speed: int = 150) -> NDArray[np.int16]:
    """``text`` spoken by espeak-ng ``voice``, at ``rate`` Hz (cached by content)."""
    key = hashlib.sha256(f"{text}|{voice}|{rate}|{speed}".encode()).hexdigest()[:20]
    out = cache / f"{key}.wav"
    if not out.exists():
        raw = cache / f"{key}.raw.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            ["sox", "-D", str(raw), "-r", str(rate), "-b", "16", str(out), "norm", "-3"],
            check=True,
            capture_output=True,
        )
        raw.unlink()
    return read_wav(out).linear()[:, 0]


def make_call(
    script: list[Line],
    voices: tuple[str, str],
    cache: Path,
    rate: int = 8000,
    gap_ms: int = 400,
    noise_dbfs: float = -60.0,
    seed: int = 0,
) -> Call:
    """Render ``script``: agent on channel 0, caller on channel 1, ``gap_ms`` between lines."""
    rng = np.random.default_rng(seed)
    gap = rate * gap_ms // 1000
    parts: list[tuple[int, NDArray[np.float64], int, int]] = []  # speaker, clip, card extent
    for line in script:
        if line.keyed:
            sig = generate(line.keyed, sample_rate=rate, level_dbm0=-8.0, on_ms=90, off_ms=90)
            clip = sig.samples
            lo, hi = sig.spans[0].start, sig.spans[-1].end  # the tones, not the quiet around
        else:
            clip = say(line.text, voices[line.speaker], rate, cache).astype(np.float64)
            lo, hi = 0, len(clip)
        parts.append((line.speaker, clip, lo, hi))
    total = sum(len(p[1]) for p in parts) + gap * (len(parts) + 1)
    noise = 32768 * 10 ** (noise_dbfs / 20)
    out = rng.normal(0.0, noise, (total, 2))
    placed: list[tuple[Line, int, int]] = []
    pos = gap
    for line, (speaker, clip, lo, hi) in zip(script, parts, strict=True):
        out[pos : pos + len(clip), speaker] += clip
        placed.append((line, pos + lo, pos + hi))
        pos += len(clip) + gap
    pcm = np.clip(np.rint(out), -32768, 32767).astype(np.int16)
    return Call(pcm, rate, tuple(placed))


def card_script(pan_words: str, expiry_words: str, cvv_words: str, keyed: str) -> list[Line]:
    """An ordinary call in which the caller reads out a card, then keys one in."""
    return [
        Line(AGENT, "Thank you for calling the city water company, how can I help you today?"),
        Line(CALLER, "Hello, I would like to pay the bill for my apartment please."),
        Line(AGENT, "Of course. What is the card number?"),
        Line(CALLER, pan_words, card=True),
        Line(AGENT, "Thank you. And the expiry date?"),
        Line(CALLER, expiry_words, card=True),
        Line(AGENT, "And the security code on the back?"),
        Line(CALLER, cvv_words, card=True),
        Line(AGENT, "Great. For the second payment please key the card in on your phone."),
        Line(CALLER, keyed=keyed, card=True),
        Line(AGENT, "That went through. Is there anything else I can help with?"),
        Line(CALLER, "No, that is all, thank you very much. Goodbye."),
    ]


def negative_script() -> list[Line]:
    """A call with an order number, a phone number and prices, and no card data."""
    return [
        Line(AGENT, "Good morning, thank you for calling the garden shop."),
        Line(CALLER, "Hi, I am calling about my order, the order number is four five one two."),
        Line(AGENT, "Let me look. Could I have a phone number for the account?"),
        Line(CALLER, "Sure, it is five five five, two one three, eight six four zero."),
        Line(AGENT, "I see it. The lawn mower was two hundred and nineteen dollars."),
        Line(CALLER, "And the hose, was it twenty nine ninety nine?"),
        Line(AGENT, "Yes, twenty nine dollars and ninety nine cents, delivered on Friday."),
        Line(CALLER, "Wonderful, thank you so much for your help. Goodbye."),
    ]


def words_for(digits: str) -> str:
    """Digits read out in groups of four, the way people read a card."""
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    groups = [digits[i : i + 4] for i in range(0, len(digits), 4)]
    return ", ".join(" ".join(names[int(d)] for d in g) for g in groups)
