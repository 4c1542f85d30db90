"""Goertzel-based DTMF detection (see :mod:`.detector` for the public API)."""

from __future__ import annotations

from cardshield.phone.dsp.goertzel.config import DEFAULT_CONFIG, DetectorConfig
from cardshield.phone.dsp.goertzel.detector import DTMFDetector, DTMFEvent, detect

__all__ = ["DEFAULT_CONFIG", "DTMFDetector", "DTMFEvent", "DetectorConfig", "detect"]
