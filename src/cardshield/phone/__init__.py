"""Phone payments: capture card digits keyed by a caller without anyone else hearing them.

:mod:`cardshield.phone.dsp` holds the audio core (G.711, WAV, DTMF detection, generation and
masking); IVR flows, agent-assisted capture and transports build on its small public API.
"""
