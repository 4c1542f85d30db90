"""Agent-assisted capture: an agent on a live call starts secure capture, the caller keys the
card, the agent sees only masked progress and charges.

:mod:`.control` holds what the agent does (start, re-request a field, cancel, charge);
:mod:`.keypad` turns the caller's digits (from any transport) into fields; :mod:`.view` is
the masked picture the agent screen shows. All three meet in the call's row in the database,
so the media stream, the agent's screen and the charge may each be served by another node.
"""
