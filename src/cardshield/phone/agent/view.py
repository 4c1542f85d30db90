"""The agent's picture of a capture: statuses and masked placeholders, never a digit but the
card's last four once it is tokenized (PCI DSS 3.4.1 allows BIN and last four)."""

from __future__ import annotations

from typing import Any

from cardshield.phone.agent.control import AGENT_FIELDS
from cardshield.phone.calls import CallState

DOT = "\u2022"


def _grouped(count: int, tail: str = "") -> str:
    text = DOT * count + tail
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def _field(state: CallState, name: str) -> dict[str, Any]:
    status = state.fields.get(name, "pending")
    keyed = int(status.split(":", 1)[1]) if status.startswith("keying:") else 0
    if status.startswith("keying:"):
        status = "keying"
    view: dict[str, Any] = {"status": status, "keyed": keyed}
    if name == "card":
        if status == "valid" and state.last4:
            view["display"] = _grouped(12, state.last4)
            view["brand"] = state.brand
        else:
            view["display"] = _grouped(keyed)
    elif name == "expiry":
        view["display"] = "\u2022\u2022/\u2022\u2022" if status == "valid" else DOT * keyed
    else:
        view["display"] = DOT * (3 if status == "valid" else keyed)
    return view


def masked_view(state: CallState) -> dict[str, Any]:
    return {
        "type": "capture",
        "call_sid": state.call_sid,
        "step": state.step,
        "version": state.version,
        "fields": {name: _field(state, name) for name in AGENT_FIELDS},
        "ready": state.step == "ready",
        "outcome": state.outcome,
        "payment_id": state.payment_id,
    }
