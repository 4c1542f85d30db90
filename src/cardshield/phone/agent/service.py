"""Wiring agent-assisted capture from the runtime."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from cardshield.phone.agent.control import AgentControl
from cardshield.phone.agent.keypad import Keypad
from cardshield.phone.ivr.service import capture_for
from cardshield.phone.live import call_store
from cardshield.runtime import Runtime


def agent_control(runtime: Runtime) -> AgentControl:
    return AgentControl(call_store(runtime), runtime.payments)


def keypad(runtime: Runtime, clock: Callable[[], datetime]) -> Keypad:
    return Keypad(call_store(runtime), capture_for(runtime, "phone-agent"), clock)
