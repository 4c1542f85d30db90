"""Helpers for the ITU-T Q.24 receiver tests: random trials through a G.711 line."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from cardshield.phone.dsp import g711
from cardshield.phone.dsp.generator import DTMFSignal, generate
from cardshield.phone.dsp.goertzel import DTMFDetector, DTMFEvent

KEYS = "0123456789*#ABCD"
TRIALS = 40


def rng_for(name: str) -> np.random.Generator:
    """A generator seeded from a cell's name, so each cell is random but reproducible."""
    return np.random.default_rng(zlib.crc32(name.encode()))


def line(sig: DTMFSignal, codec: g711.Codec = "mulaw") -> np.ndarray:
    """The signal as a G.711 line delivers it, decoded."""
    return g711.decode(g711.encode(sig.samples, codec), codec)


def feed_in_pieces(x: np.ndarray, rng: np.random.Generator) -> list[DTMFEvent]:
    """Run the streaming detector over ``x`` in random frame sizes (1 to 400 samples)."""
    det = DTMFDetector()
    events: list[DTMFEvent] = []
    pos = 0
    while pos < len(x):
        step = int(rng.integers(1, 401))
        events += det.feed(x[pos : pos + step])
        pos += step
    return events + det.flush()


def trial(
    name: str, index: int, rng: np.random.Generator, digits: str | None = None, **options: Any
) -> tuple[str, DTMFSignal, list[DTMFEvent]]:
    """One random trial: random digits, phases, start offset (block alignment), frame sizes."""
    keyed = digits or "".join(rng.choice(list(KEYS), 4))
    options.setdefault("lead_ms", float(rng.uniform(0, 40)))
    sig = generate(keyed, seed=int(rng.integers(1 << 31)), **options)
    return keyed, sig, feed_in_pieces(line(sig), rng)


def digits_of(events: list[DTMFEvent]) -> str:
    return "".join(e.digit for e in events)
