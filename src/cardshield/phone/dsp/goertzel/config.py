"""Detector thresholds, gathered in one frozen value so that variants are explicit.

The defaults meet ITU-T Q.24 (AT&T column) with margin on both sides of each limit:

==========================  ===================  =================  ====================
limit                        must accept          must reject        default threshold
==========================  ===================  =================  ====================
frequency deviation          1.5% + 2 Hz          3.5%               2.5% + 1 Hz
level per tone               0 to -25 dBm0        -55 dBm0           -38 dBm0
twist, high above low        4 dB                 --                 6 dB
twist, low above high        8 dB                 --                 10 dB
tone duration                40 ms                23 ms              32 ms, 3 blocks
pause between digits         40 ms                --                 bridge gaps <= 28 ms
interruption inside a tone   10 ms (bridged)      --                 bridge gaps <= 28 ms
==========================  ===================  =================  ====================

Talk-off checks. Each block must pass all of these: the two tones carry ``energy_ratio``
of the block's power (after correcting for their measured offset), each beats the other tones
of its group by ``group_peak_db``, their second harmonics stay ``second_harmonic_db`` below
them and the low tone's third harmonic ``third_harmonic_db`` below it, and both hold their
frequency from one block to the next. A tone must then have ``min_blocks`` such blocks, switch
on and off abruptly (speech glides into a DTMF-like spectrum over several half-blocks), and
carry ``tone_purity`` of the power over its whole length, measured with one window as long
as the tone (dial tone counts as expected). These were set against speech from espeak-ng and
synthetic music (see :mod:`cardshield.phone.dsp.talkoff`) with the Q.24 accept matrix of the
tests kept fully green at every block alignment.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DetectorConfig:
    threshold_dbm0: float = -38.0
    normal_twist_db: float = 6.0
    reverse_twist_db: float = 10.0
    group_peak_db: float = 7.0
    energy_ratio: float = 0.85
    second_harmonic_db: float = 14.0
    third_harmonic_db: float = 18.0
    deviation_pct: float = 2.5
    deviation_hz: float = 1.0
    min_duration_ms: float = 32.0
    min_blocks: int = 3
    tone_purity: float = 0.8
    bridge_ms: float = 28.0


DEFAULT_CONFIG = DetectorConfig()
