"""Talk-off material: synthetic speech and music-like chords that must never yield a digit.

Shipped beside the detector (as test cards ship beside the card primitives) so that tests and
benchmarks draw on the same corpus. Speech comes from espeak-ng in many voices, pitches and
speeds, converted by sox to 8 kHz mu-law like a phone line would carry it; music is rendered
here: chords and melodies of harmonic-rich notes with envelopes and vibrato, including notes
that sit within 2% of DTMF frequencies (F5, G5, A#5, F#6 ...).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from cardshield.phone.dsp import g711, levels
from cardshield.phone.dsp.errors import AudioError
from cardshield.phone.dsp.wav import read_wav

SAMPLE_RATE = 8000
VOICES = (
    "en-us",
    "en-gb",
    "en-gb-scotland",
    "en-029",
    "de",
    "fr-fr",
    "es",
    "it",
    "pt-br",
    "nl",
    "pl",
    "ru",
    "sv",
    "hu",
    "cs",
    "fi",
    "tr",
    "hi",
    "vi",
    "sw",
)
VARIANTS = (
    "m1",
    "m2",
    "m3",
    "m4",
    "m5",
    "m6",
    "m7",
    "f1",
    "f2",
    "f3",
    "f4",
    "f5",
    "klatt",
    "klatt2",
    "croak",
    "Andy",
    "Annie",
    "belinda",
    "grandma",
    "grandpa",
    "Mr serious",
)
TEXTS = (
    "Thank you for calling. Please enter your card number, followed by the hash key.",
    "The quick brown fox jumps over the lazy dog, while the five boxing wizards jump quickly.",
    "Your order of three hundred and forty two dollars has been confirmed for Tuesday.",
    "Hello, can you hear me? I am calling about the invoice we sent on the ninth of June.",
    "Please hold while I transfer you to an agent. Your call is important to us.",
    "Seven eight nine, four five six, one two three, star zero hash.",
    "She sells sea shells by the sea shore; the shells she sells are surely sea shells.",
    "Ah, oh, ee, oo, mmm, hmm, yes, no, maybe, absolutely, certainly, right away.",
    "We'll need the expiry date and the three digit security code on the back.",
    "Whistling wind and singing birds welcome the early morning over the hills.",
    "One moment please. I am just checking that for you. Thank you for your patience.",
    "Could you spell your surname for me? Is that with a double L or a single one?",
)


def tool(name: str) -> str:
    """Full path of the program ``name``; :class:`AudioError` when it is not installed."""
    path = shutil.which(name)
    if path is None:
        raise AudioError(f"{name} is not installed")
    return path


def _run(args: list[str]) -> None:
    try:
        # The program is resolved by tool() and every argument is built here.
        subprocess.run(args, check=True, capture_output=True, timeout=60)  # noqa: S603
    except (subprocess.SubprocessError, OSError) as exc:
        raise AudioError(f"{Path(args[0]).name} failed") from exc


def speech_clips(workdir: Path, count: int, seed: int = 0) -> Iterator[NDArray[np.int16]]:
    """``count`` clips of espeak-ng speech, each as 8 kHz linear samples after mu-law."""
    espeak, sox = tool("espeak-ng"), tool("sox")
    rng = np.random.default_rng(seed)
    for i in range(count):
        voice = f"{VOICES[i % len(VOICES)]}+{VARIANTS[(i * 7) % len(VARIANTS)]}"
        text = TEXTS[int(rng.integers(len(TEXTS)))]
        raw, out = workdir / f"speech{i}.wav", workdir / f"speech{i}.ul.wav"
        gain = float(rng.uniform(-22.0, -1.0))  # peak level after normalisation, dBFS
        pitch, speed = int(rng.integers(10, 95)), int(rng.integers(120, 220))
        _run([espeak, "-v", voice, "-p", str(pitch), "-s", str(speed), "-w", str(raw), text])
        _run(
            [
                sox,
                "-D",
                str(raw),
                "-r",
                "8000",
                "-e",
                "mu-law",
                "-b",
                "8",
                str(out),
                "norm",
                f"{gain:.1f}",
            ]
        )
        yield read_wav(out).linear()[:, 0]


_SEMITONE = 2 ** (1 / 12)


def _note(hz: float, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    t = np.arange(n) / SAMPLE_RATE
    vibrato = 1 + rng.uniform(0, 0.006) * np.sin(2 * np.pi * rng.uniform(4, 7) * t)
    phase = 2 * np.pi * hz * np.cumsum(vibrato) / SAMPLE_RATE
    tilt = rng.uniform(0.8, 2.0)  # bright to mellow timbres, every one with overtones
    wave = np.zeros(n)
    for k in range(1, 9):
        if k * hz < 3800:
            wave += np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k**tilt
    attack, release = int(rng.uniform(0.005, 0.05) * SAMPLE_RATE), int(0.03 * SAMPLE_RATE)
    env = np.minimum(1.0, np.arange(n) / max(attack, 1)) * np.exp(-t * rng.uniform(0.5, 4))
    env[-release:] *= np.linspace(1, 0, release)
    note: NDArray[np.float64] = wave * env
    return note


def music(seconds: float, seed: int = 0) -> NDArray[np.int16]:
    """Chords (3-4 notes) under a melody, random keys and rhythms, ``seconds`` long."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * SAMPLE_RATE))
    pos = 0
    while pos < len(out):
        n = int(rng.uniform(0.15, 0.8) * SAMPLE_RATE)
        root = 220.0 * _SEMITONE ** int(rng.integers(0, 24))
        chord = [root * _SEMITONE**s for s in (0, 4, 7, 12)[: int(rng.integers(3, 5))]]
        melody = 440.0 * _SEMITONE ** int(rng.integers(0, 22))  # A4..F#6
        seg = sum((_note(hz, n, rng) for hz in chord), np.zeros(n)) + 1.5 * _note(melody, n, rng)
        end = min(pos + n, len(out))
        out[pos:end] += seg[: end - pos]
        pos += int(n * rng.uniform(0.6, 1.0))  # notes overlap a little
    level = float(rng.uniform(-25, -5))
    out *= np.sqrt(levels.power(level) / max(float(np.mean(out**2)), 1e-9))
    return g711.decode(g711.encode(out, "mulaw"), "mulaw")
