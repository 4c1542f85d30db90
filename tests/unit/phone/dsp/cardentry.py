"""Card-entry calls for the masking tests: speech, keyed card digits, line noise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from cardshield.phone.dsp import g711, levels
from cardshield.phone.dsp.generator import ToneSpan, generate
from tests.conftest import CANARY_CVV, CANARY_PAN

KEYED = CANARY_PAN + "#" + CANARY_CVV + "#"
NOISE_DBM0 = -50.0


@dataclass(frozen=True)
class Call:
    codes: NDArray[np.uint8]  # mu-law, as the agent leg carries it
    tones: list[ToneSpan]  # where the keyed tones are
    speech: list[tuple[int, int]]  # where the speech clips are


def card_entry_call(
    speech: list[NDArray[np.int16]], rng: np.random.Generator, keyed: str = KEYED
) -> Call:
    """Speech, the keyed digits in two groups (varied level, twist, offset, timing), speech."""
    parts: list[NDArray[np.float64]] = []
    tones: list[ToneSpan] = []
    spoken: list[tuple[int, int]] = []
    pos = 0

    def add(x: NDArray[np.float64]) -> None:
        nonlocal pos
        parts.append(x)
        pos += len(x)

    groups = [keyed[: keyed.index("#") + 1], keyed[keyed.index("#") + 1 :]]
    for i, group in enumerate([*groups, ""]):
        clip = speech[int(rng.integers(len(speech)))].astype(np.float64)
        spoken.append((pos, pos + len(clip)))
        add(clip)
        if not group:
            break
        sig = generate(
            group,
            level_dbm0=float(rng.uniform(-20, -4)),
            twist_db=float(rng.uniform(-6, 3)),
            low_offset_pct=float(rng.uniform(-1.5, 1.5)),
            high_offset_pct=float(rng.uniform(-1.5, 1.5)),
            on_ms=float(rng.uniform(45, 90)),
            off_ms=float(rng.uniform(45, 90)),
            lead_ms=float(rng.uniform(200, 400)),
            tail_ms=float(rng.uniform(200, 400)),
            seed=i,
        )
        tones += [ToneSpan(s.digit, s.start + pos, s.end + pos) for s in sig.spans]
        add(sig.samples)
    audio = np.concatenate(parts)
    audio += rng.normal(0, np.sqrt(levels.power(NOISE_DBM0)), len(audio))
    return Call(g711.encode(audio, "mulaw"), tones, spoken)
