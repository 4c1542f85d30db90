"""The caller's keypad during agent-assisted capture, fed by any transport.

Digits of the field being keyed are held in this object only (process memory of the node
holding the media stream) until ``#`` ends the field; the field is then checked and stored
(the number straight into the vault as a single-use token) and the buffer wiped. ``*``
clears the field being keyed. Progress written to the call row is a count, never a digit.
Digits arriving while no capture is active are dropped (they were masked all the same).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from cardshield.phone.agent.control import AGENT_FIELDS
from cardshield.phone.calls import CallState, CallStore
from cardshield.phone.ivr.capture import CardCapture
from cardshield.redaction.logging import get_logger

log = get_logger(__name__)
MAX_FIELD_DIGITS = 19


class Keypad:
    def __init__(
        self, store: CallStore, capture: CardCapture, clock: Callable[[], datetime]
    ) -> None:
        self.store = store
        self.capture = capture
        self.clock = clock
        self._buffer: list[str] = []
        self._field: str | None = None

    def press(self, call_sid: str, digit: str) -> None:
        state = self.store.find(call_sid)
        if state is None or state.step not in AGENT_FIELDS:
            self._wipe(None)
            return
        # A new field, or the agent asked for this one again (its status was reset).
        if self._field != state.step or (self._buffer and state.step not in state.fields):
            self._wipe(state.step)
        now = self.clock()
        if digit == "*":
            self._wipe(state.step)
            self._progress(state, "keying:0", now)
        elif digit == "#":
            self._submit(state, now)
        elif digit.isdigit() and len(self._buffer) < MAX_FIELD_DIGITS:
            self._buffer.append(digit)
            self._progress(state, f"keying:{len(self._buffer)}", now)

    def _progress(self, state: CallState, status: str, now: datetime) -> None:
        self.store.save(state.evolve(fields={**state.fields, state.step: status}), now=now)

    def _submit(self, state: CallState, now: datetime) -> None:
        digits = "".join(self._buffer)
        self._wipe(state.step)
        accepted = self.capture.accept(state, state.step, digits, now)
        new = accepted.state
        if accepted.error is None:
            position = AGENT_FIELDS.index(state.step)
            following = AGENT_FIELDS[position + 1] if position + 1 < len(AGENT_FIELDS) else "ready"
            new = new.evolve(step=following)
        log.info(
            "phone.agent.field", call_sid=state.call_sid, field=state.step, problem=accepted.error
        )
        self.store.save(new, now=now)

    def _wipe(self, field: str | None) -> None:
        self._buffer.clear()
        self._field = field
