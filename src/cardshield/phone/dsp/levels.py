"""The level scale: where dBm0 meets sample values. Defined here and nowhere else.

Samples are linear values on the signed 16-bit scale (what G.711 decodes to). G.711 puts a
sine whose peak reaches the codec's full scale at +3.17 dBm0 (mu-law; 8159 on mu-law's 14-bit
scale, 32636 on the 16-bit one), so a 0 dBm0 sine has a peak amplitude of about 22662.
"""

from __future__ import annotations

import math

#: Peak of the largest sine mu-law represents, on the 16-bit linear scale (8159 * 4).
FULL_SCALE = 32636.0
#: Level of that full-scale sine.
FULL_SCALE_SINE_DBM0 = 3.17
#: Peak amplitude of a 0 dBm0 sine.
DBM0_AMPLITUDE = FULL_SCALE * 10.0 ** (-FULL_SCALE_SINE_DBM0 / 20.0)
#: Mean power (amplitude squared over 2) of a 0 dBm0 sine.
DBM0_POWER = DBM0_AMPLITUDE**2 / 2.0


def amplitude(dbm0: float) -> float:
    """Peak amplitude of a sine at ``dbm0``."""
    return float(DBM0_AMPLITUDE * 10.0 ** (dbm0 / 20.0))


def power(dbm0: float) -> float:
    """Mean power of a signal at ``dbm0``."""
    return float(DBM0_POWER * 10.0 ** (dbm0 / 10.0))


def dbm0_of_power(p: float) -> float:
    """Level in dBm0 of a signal with mean power ``p`` (``-inf`` for silence)."""
    return 10.0 * math.log10(p / DBM0_POWER) if p > 0 else -math.inf
