"""Varied generated calls for the redaction integrity bench, with exact ground truth.

Every call is drawn from a seed: two espeak-ng voices (agent, caller) and a speaking speed
each, a shuffled order of topics, several phrasings of each card prompt, the card answered by
voice or by keypad (DTMF from :func:`cardshield.phone.dsp.generate`), prompts that mention
the card with no card data after them, and ordinary sentences holding numbers that are not
card data (order numbers, times, amounts). Each sentence is placed at a known sample range
(its audible part: espeak-ng's own leading and trailing silence is trimmed off, so the truth
is the speech itself), with a turn gap drawn from ``GAPS_MS``.

The calls are rendered stereo (agent on channel 0, caller on 1) and, mixed down, mono: on
one channel a prompt and its answer lie side by side, the hard case for keeping the prompt.
Card numbers are generated Luhn-valid numbers on published test prefixes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from tests.unit.redaction.audio.calls import say

from cardshield.phone.dsp import generate

Kind = Literal["ordinary", "numbers", "prompt", "mention", "card", "keyed"]
AGENT, CALLER = 0, 1
GAPS_MS = (250, 350, 450, 600, 800)
VOICES = (
    "en-us+m3", "en-gb+f2", "en-us+f2", "en-us+m7", "en-gb+m1", "en-us+f4", "en-gb-x-rp+m2",
    "en-us+m5", "en-us+f3", "en-gb+m4", "en-029+m1", "en-us+f1", "en-gb-scotland+m2",
    "en-us-nyc+f2",
)  # fmt: skip
SPEEDS = (130, 150, 170, 190)
NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
NOISE_DBFS = -60.0


@dataclass(frozen=True)
class Sentence:
    speaker: int
    kind: Kind
    text: str = ""
    keyed: str = ""


@dataclass(frozen=True)
class Placed:
    sentence: Sentence
    first: int  # first audible sample
    end: int  # one past the last


@dataclass(frozen=True)
class VariedCall:
    samples: NDArray[np.int16]  # (frames, 2): agent, caller
    rate: int
    sentences: tuple[Placed, ...]
    label: str

    def mono(self) -> NDArray[np.int16]:
        mixed = self.samples.astype(np.int32).sum(axis=1)
        return np.clip(mixed, -32768, 32767).astype(np.int16)[:, None]


def luhn_number(rng: random.Random, prefix: str = "4", length: int = 16) -> str:
    """A Luhn-valid number on a test prefix (never a real account: generated per call)."""
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # the check digit is appended on the right
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def spoken_digits(digits: str, rng: random.Random) -> str:
    """Digits read the ways people read them: groups of four, "oh" for zero, "double"."""
    groups = [digits[i : i + 4] for i in range(0, len(digits), 4)]
    out = []
    for group in groups:
        words, i = [], 0
        while i < len(group):
            name = NAMES[int(group[i])]
            if group[i] == "0" and rng.random() < 0.5:
                name = "oh"
            if i + 1 < len(group) and group[i + 1] == group[i] and rng.random() < 0.3:
                words.append(f"double {name}")
                i += 2
                continue
            words.append(name)
            i += 1
        out.append(" ".join(words))
    return ", ".join(out)


PAN_PROMPTS = (
    "What is the card number?",
    "Could you read me the long number on the front of the card?",
    "Can I take the card number, please?",
    "Okay, go ahead with the sixteen digit card number when you are ready.",
)
PAN_KEYED_PROMPTS = (
    "Please key the card number in on your phone now.",
    "Please enter your card number using the keypad, followed by the hash key.",
)
EXPIRY_PROMPTS = (
    "And the expiry date?",
    "What is the expiration date on the card?",
    "Thank you. When does the card expire, the expiry date?",
)
EXPIRY_KEYED_PROMPTS = ("Now please key in the expiry date, month then year.",)
CODE_PROMPTS = (
    "And the security code on the back?",
    "Lastly, the three digit security code please.",
    "What is the CVV on the back of the card?",
)
CODE_KEYED_PROMPTS = ("And please key in the security code on the back of the card.",)
MENTIONS = (
    "For your security we never keep your card number on file.",
    "You can pay by card or by bank transfer, whichever suits you.",
    "The card you used last time has an expiry date coming up soon.",
    "I can send you a reminder before your card expires next year.",
)
AGENT_ORDINARY = (
    "Thank you for calling the city water company, how can I help you today?",
    "Of course, I can help you with that.",
    "Let me just bring up your account.",
    "That has gone through, is there anything else I can help with?",
    "You are welcome, have a lovely day.",
)
CALLER_ORDINARY = (
    "Hello, I would like to pay the bill for my apartment please.",
    "Yes, that is right.",
    "No, that is all, thank you very much. Goodbye.",
    "Great, thank you for your help.",
)
AGENT_NUMBERS = (
    "Your order number is four five one two, and it ships on Friday.",
    "The total comes to forty nine dollars and ninety five cents.",
    "We are open until five thirty this afternoon.",
    "Your reference is seven seven two one, please keep it safe.",
)
CALLER_NUMBERS = (
    "My order number is eight two six three.",
    "I was charged two hundred and nineteen dollars last week.",
    "You can call me back at ten thirty tomorrow.",
    "My phone number is five five five, two one three, eight six four zero.",
)


def script(seed: int) -> tuple[list[Sentence], str]:
    """One call's sentences and a label (voices, speeds, answer modes)."""
    rng = random.Random(seed)
    pan = luhn_number(rng)
    expiry = f"{rng.randrange(1, 13):02d}{rng.randrange(26, 33)}"
    code = f"{rng.randrange(1000):03d}"
    out = [
        Sentence(AGENT, "ordinary", rng.choice(AGENT_ORDINARY[:1])),
        Sentence(CALLER, "ordinary", rng.choice(CALLER_ORDINARY[:1])),
    ]
    topics: list[list[Sentence]] = []
    keyed_pan = rng.random() < 0.4
    if keyed_pan:
        card = [
            Sentence(AGENT, "prompt", rng.choice(PAN_KEYED_PROMPTS)),
            Sentence(CALLER, "keyed", keyed=pan + "#"),
        ]
    else:
        card = [
            Sentence(AGENT, "prompt", rng.choice(PAN_PROMPTS)),
            Sentence(CALLER, "card", spoken_digits(pan, rng)),
        ]
    keyed_expiry = rng.random() < 0.3
    if keyed_expiry:
        card += [
            Sentence(AGENT, "prompt", rng.choice(EXPIRY_KEYED_PROMPTS)),
            Sentence(CALLER, "keyed", keyed=expiry),
        ]
    else:
        month = spoken_digits(expiry[:2], rng)
        card += [
            Sentence(AGENT, "prompt", rng.choice(EXPIRY_PROMPTS)),
            Sentence(CALLER, "card", f"{month}, {_tens(int(expiry[2:]))}"),
        ]
    keyed_code = rng.random() < 0.3
    if keyed_code:
        card += [
            Sentence(AGENT, "prompt", rng.choice(CODE_KEYED_PROMPTS)),
            Sentence(CALLER, "keyed", keyed=code),
        ]
    else:
        card += [
            Sentence(AGENT, "prompt", rng.choice(CODE_PROMPTS)),
            Sentence(CALLER, "card", " ".join(NAMES[int(d)] for d in code)),
        ]
    topics.append(card)
    topics.append(
        [
            Sentence(AGENT, "mention", rng.choice(MENTIONS)),
            Sentence(CALLER, "numbers", rng.choice(CALLER_NUMBERS)),
        ]
    )
    topics.append(
        [
            Sentence(CALLER, "ordinary", rng.choice(CALLER_ORDINARY[1:2])),
            Sentence(AGENT, "numbers", rng.choice(AGENT_NUMBERS)),
        ]
    )
    rng.shuffle(topics)
    for topic in topics:
        out += topic
    out += [
        Sentence(AGENT, "ordinary", rng.choice(AGENT_ORDINARY[3:])),
        Sentence(CALLER, "ordinary", rng.choice(CALLER_ORDINARY[2:])),
    ]
    modes = "".join("K" if k else "S" for k in (keyed_pan, keyed_expiry, keyed_code))
    return out, modes


def _tens(n: int) -> str:
    tens = ("", "", "twenty", "thirty")
    units = "" if n % 10 == 0 else " " + NAMES[n % 10]
    return tens[n // 10] + units


def _audible(clip: NDArray[np.float64], rate: int) -> tuple[int, int]:
    """First and one-past-last sample of the audible part (10 ms frames above -50 dBFS)."""
    step = rate // 100
    n = len(clip) // step
    energy = (clip[: n * step].reshape(n, step) ** 2).mean(axis=1)
    loud = np.flatnonzero(energy > (32768 * 10 ** (-50 / 20)) ** 2)
    if len(loud) == 0:
        return 0, len(clip)
    return int(loud[0]) * step, min(len(clip), (int(loud[-1]) + 1) * step)


def render(seed: int, cache: Path, rate: int = 8000) -> VariedCall:
    """Render call ``seed``: voices, speeds and gaps drawn from the seed."""
    sentences, modes = script(seed)
    rng = random.Random(seed * 7919 + 1)
    voices = rng.sample(VOICES, 2)
    speeds = (rng.choice(SPEEDS), rng.choice(SPEEDS))
    clips: list[NDArray[np.float64]] = []
    for s in sentences:
        if s.keyed:
            sig = generate(s.keyed, sample_rate=rate, level_dbm0=-8.0, on_ms=90, off_ms=90)
            clip = sig.samples[sig.spans[0].start : sig.spans[-1].end]
        else:
            raw = say(s.text, voices[s.speaker], rate, cache, speeds[s.speaker])
            full = raw.astype(np.float64)
            a, b = _audible(full, rate)
            clip = full[a:b]
        clips.append(clip)
    gaps = [rate * rng.choice(GAPS_MS) // 1000 for _ in range(len(clips) + 1)]
    total = sum(len(c) for c in clips) + sum(gaps)
    nprng = np.random.default_rng(seed)
    out = nprng.normal(0.0, 32768 * 10 ** (NOISE_DBFS / 20), (total, 2))
    placed, pos = [], gaps[0]
    for s, clip, gap in zip(sentences, clips, gaps[1:], strict=True):
        out[pos : pos + len(clip), s.speaker] += clip
        placed.append(Placed(s, pos, pos + len(clip)))
        pos += len(clip) + gap
    pcm = np.clip(np.rint(out), -32768, 32767).astype(np.int16)
    label = f"{voices[0]}@{speeds[0]}/{voices[1]}@{speeds[1]} {modes}"
    return VariedCall(pcm, rate, tuple(placed), label)


__all__ = ["Placed", "Sentence", "VariedCall", "luhn_number", "render", "script"]
