"""The ITU-T Q.24 receiver limits (AT&T column), cell by cell, many random trials per cell.

Every trial has random digits, random tone phases, a random start offset (so tones fall at
every alignment with the detector's blocks), goes through a mu-law line and is fed to the
streaming detector in random frame sizes. Accept cells must yield exactly the keyed digits,
reject cells nothing at all.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from cardshield.phone.dsp import g711
from cardshield.phone.dsp.generator import generate
from tests.unit.phone.dsp.q24 import TRIALS, digits_of, feed_in_pieces, line, rng_for, trial


def _offsets(pct: float, hz: float, lo_sign: int, hi_sign: int) -> dict[str, float]:
    return {
        "low_offset_pct": lo_sign * pct,
        "low_offset_hz": lo_sign * hz,
        "high_offset_pct": hi_sign * pct,
        "high_offset_hz": hi_sign * hz,
    }


SIGNS = [(1, 1), (1, -1), (-1, 1), (-1, -1)]
WORST = _offsets(1.5, 2.0, 1, -1)  # tones pulled apart, each 1.5% + 2 Hz off

ACCEPT: dict[str, dict[str, Any]] = {"nominal": {}}
for pct, hz in [(0.5, 0.0), (1.0, 0.0), (1.5, 0.0), (1.5, 2.0)]:
    for lo, hi in SIGNS:
        ACCEPT[f"offset {lo * pct:+}%{lo * hz:+}Hz / {hi * pct:+}%{hi * hz:+}Hz"] = _offsets(
            pct, hz, lo, hi
        )
for level in (0, -5, -10, -15, -20, -25):
    ACCEPT[f"level {level} dBm0"] = {"level_dbm0": float(level)}
ACCEPT |= {
    "twist +4 at 0 dBm0": {"level_dbm0": -4.0, "twist_db": 4.0},
    "twist +4 at -25 dBm0": {"level_dbm0": -25.0, "twist_db": 4.0},
    "twist -8 at 0 dBm0": {"level_dbm0": 0.0, "twist_db": -8.0},
    "twist -8 at -25 dBm0": {"level_dbm0": -17.0, "twist_db": -8.0},
    "twist +4, offsets": {"level_dbm0": -25.0, "twist_db": 4.0, **WORST},
    "twist -8, offsets": {"level_dbm0": -17.0, "twist_db": -8.0, **_offsets(1.5, 2, -1, 1)},
    "twist +4, 15 dB SNR": {"level_dbm0": -25.0, "twist_db": 4.0, "noise_snr_db": 15.0},
    "twist -8, 15 dB SNR": {"level_dbm0": -17.0, "twist_db": -8.0, "noise_snr_db": 15.0},
    "duration 40 ms": {"on_ms": 40.0, "off_ms": 40.0},
    "duration 45 ms": {"on_ms": 45.0, "off_ms": 40.0},
    "duration 50 ms": {"on_ms": 50.0, "off_ms": 40.0},
    "duration 40 ms, weakest": {"on_ms": 40.0, "off_ms": 40.0, "level_dbm0": -25.0},
    "duration 40 ms, twist -8": {
        "on_ms": 40.0,
        "off_ms": 40.0,
        "level_dbm0": -17.0,
        "twist_db": -8.0,
        "noise_snr_db": 15.0,
    },
    "15 dB SNR at -10 dBm0": {"level_dbm0": -10.0, "noise_snr_db": 15.0},
    "15 dB SNR at -25 dBm0": {"level_dbm0": -25.0, "noise_snr_db": 15.0},
    "15 dB SNR, 40 ms, offsets": {
        "level_dbm0": -20.0,
        "noise_snr_db": 15.0,
        "on_ms": 40.0,
        "off_ms": 40.0,
        **WORST,
    },
    "dial tone -10 dB at -10 dBm0": {"level_dbm0": -10.0, "dial_tone_db": -10.0},
    "dial tone -10 dB at -25 dBm0": {"level_dbm0": -25.0, "dial_tone_db": -10.0},
    "dial tone -10 dB, twist -8": {"level_dbm0": -17.0, "twist_db": -8.0, "dial_tone_db": -10.0},
}

REJECT: dict[str, dict[str, Any]] = {}
for pct in (3.5, 4.0, 5.0):
    for sign in (1, -1):
        p = sign * pct
        REJECT[f"offset low {p:+}%"] = {"low_offset_pct": p}
        REJECT[f"offset high {p:+}%"] = {"high_offset_pct": p}
        REJECT[f"offset both {p:+}%"] = {"low_offset_pct": p, "high_offset_pct": p}
REJECT |= {
    "level -55 dBm0": {"level_dbm0": -55.0},
    "level -55 dBm0, 15 dB SNR": {"level_dbm0": -55.0, "noise_snr_db": 15.0},
    "high tone at -55 dBm0": {"level_dbm0": -10.0, "twist_db": -45.0},
    "duration 10 ms": {"on_ms": 10.0, "off_ms": 60.0},
    "duration 20 ms": {"on_ms": 20.0, "off_ms": 60.0},
    "duration 23 ms": {"on_ms": 23.0, "off_ms": 60.0},
    "duration 23 ms, 15 dB SNR": {"on_ms": 23.0, "off_ms": 60.0, "noise_snr_db": 15.0},
}


@pytest.mark.parametrize("name", list(ACCEPT))
def test_accept(name: str) -> None:
    rng = rng_for(name)
    for i in range(TRIALS):
        keyed, sig, events = trial(name, i, rng, **ACCEPT[name])
        assert digits_of(events) == keyed, f"{name}: trial {i}"
        for event, span in zip(events, sig.spans, strict=True):
            assert abs(event.start_ms - span.start / 8) <= 3, f"{name}: start of trial {i}"
            assert abs(event.end_ms - span.end / 8) <= 3, f"{name}: end of trial {i}"


@pytest.mark.parametrize("name", list(REJECT))
def test_reject(name: str) -> None:
    rng = rng_for(name)
    for i in range(TRIALS):
        _keyed, _sig, events = trial(name, i, rng, **REJECT[name])
        assert events == [], f"{name}: trial {i} found digits"


@pytest.mark.parametrize(("digits", "on_ms"), [("11", 40.0), ("2580", 100.0), ("9999", 45.0)])
def test_no_doubled_or_lost_digit_at_any_block_alignment(digits: str, on_ms: float) -> None:
    # 40 ms pauses between repeated digits; the tone start walks over all 102 positions of a
    # detector block.
    for offset in range(102):
        sig = generate(digits, on_ms=on_ms, off_ms=40, lead_ms=offset / 8, seed=offset)
        events = feed_in_pieces(line(sig), rng_for(f"{digits}{offset}"))
        assert digits_of(events) == digits, f"offset {offset}"


@pytest.mark.parametrize("dropout_ms", [5.0, 10.0])
def test_dropouts_inside_a_tone_are_bridged(dropout_ms: float) -> None:
    rng = rng_for(f"dropout {dropout_ms}")
    for i in range(TRIALS * 2):
        on = float(rng.uniform(60, 100))
        at = float(rng.uniform(15, on - dropout_ms - 15))
        keyed, _sig, events = trial(
            "dropout",
            i,
            rng,
            on_ms=on,
            off_ms=60,
            dropout_ms=dropout_ms,
            dropout_at_ms=at,
            level_dbm0=float(rng.uniform(-25, -3)),
            twist_db=float(rng.uniform(-8, 4)),
        )
        assert digits_of(events) == keyed, f"trial {i}: drop-out at {at:.1f} ms"


@pytest.mark.parametrize(
    ("loss", "conceal"), [(0.01, "silence"), (0.02, "silence"), (0.02, "drop")]
)
def test_packet_loss_of_20ms_frames(loss: float, conceal: str) -> None:
    # Isolated lost frames (no bursts), either played as silence or simply missing.
    rng = rng_for(f"loss {loss} {conceal}")
    for i in range(6):
        keyed = "".join(rng.choice(list("0123456789*#"), 40))
        sig = generate(
            keyed,
            on_ms=70,
            off_ms=70,
            level_dbm0=-12,
            noise_snr_db=30,
            seed=int(rng.integers(1 << 31)),
        )
        frames = line(sig)[: len(sig.samples) // 160 * 160].reshape(-1, 160)
        # One of the first two frames of randomly chosen groups of three: never neighbours.
        lost = rng.choice(len(frames) // 3, size=round(loss * len(frames)), replace=False) * 3
        lost += rng.integers(0, 2, size=len(lost))
        if conceal == "silence":
            frames[lost] = 0
        else:
            frames = np.delete(frames, lost, axis=0)
        assert digits_of(feed_in_pieces(frames.reshape(-1), rng)) == keyed, f"trial {i}"


def test_alaw_and_linear_lines_too() -> None:
    rng = rng_for("codecs")
    for i in range(TRIALS):
        sig = generate(
            "".join(rng.choice(list("0123456789*#ABCD"), 6)),
            on_ms=45,
            off_ms=40,
            level_dbm0=float(rng.uniform(-25, 0)),
            seed=i,
        )
        keyed = "".join(s.digit for s in sig.spans)
        assert digits_of(feed_in_pieces(line(sig, "alaw"), rng)) == keyed
        assert digits_of(feed_in_pieces(sig.pcm16(), rng)) == keyed
        assert digits_of(feed_in_pieces(g711.to_int16(sig.samples), rng)) == keyed
