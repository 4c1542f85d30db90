"""Per-call state in the database, so any node can answer a call's next webhook.

No card data lives here: the card becomes a single-use vault token the moment its number is
keyed (the expiry is asked first, so nothing must wait), the security code goes to the
volatile CVV store under that token, and only the brand and last four digits (displayable
per PCI DSS 3.4.1) are kept for prompts and the agent screen. ``fields`` holds the status of
each capture field (``pending``/``valid``/``invalid``), never a digit.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)

from cardshield.phone.errors import CallNotFound, CallStateConflict
from cardshield.storage.types import UTCDateTime

_metadata = MetaData()
phone_calls = Table(
    "phone_calls",
    _metadata,
    Column("call_sid", String(64), primary_key=True),
    Column("merchant_id", String(64), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("step", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("amount", BigInteger),
    Column("currency", String(3)),
    Column("exp_month", Integer),
    Column("exp_year", Integer),
    Column("token", String(64)),
    Column("brand", String(32)),
    Column("last4", String(4)),
    Column("fields", JSON, nullable=False),
    Column("recording_paused", Boolean, nullable=False),
    Column("payment_id", String(64)),
    Column("outcome", String(32)),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime(timezone=True), nullable=False),
    Column("updated_at", UTCDateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class CallState:
    call_sid: str
    merchant_id: str
    mode: str  # "ivr" | "agent"
    step: str
    created_at: datetime
    updated_at: datetime
    attempts: int = 0
    amount: int | None = None
    currency: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None
    token: str | None = None
    brand: str | None = None
    last4: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    recording_paused: bool = False
    payment_id: str | None = None
    outcome: str | None = None
    version: int = 1

    def evolve(self, **changes: Any) -> CallState:
        return replace(self, **changes)


_COLUMNS = [c.name for c in phone_calls.columns]


class ChangeNotices(Protocol):
    """Told of each committed write (see :mod:`cardshield.phone.live`)."""

    def publish(self, call_sid: str, version: int) -> None: ...


class CallStore:
    """Calls by ``CallSid``; :meth:`save` is optimistic (a stale version is refused).
    ``notices`` hears of every committed create and save (the agent screens' live view)."""

    def __init__(self, engine: Engine, notices: ChangeNotices | None = None) -> None:
        self.engine = engine
        self.notices = notices

    def create(self, state: CallState) -> CallState:
        with self.engine.begin() as conn:
            existing = conn.execute(
                select(phone_calls).where(phone_calls.c.call_sid == state.call_sid)
            ).first()
            if existing is not None:
                return _row(existing._mapping)
            conn.execute(insert(phone_calls).values(**_values(state)))
        self._notify(state)
        return state

    def _notify(self, state: CallState) -> None:
        if self.notices is not None:
            self.notices.publish(state.call_sid, state.version)

    def find(self, call_sid: str) -> CallState | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(phone_calls).where(phone_calls.c.call_sid == call_sid)
            ).first()
        return None if row is None else _row(row._mapping)

    def get(self, call_sid: str) -> CallState:
        state = self.find(call_sid)
        if state is None:
            raise CallNotFound
        return state

    def save(self, state: CallState, *, now: datetime) -> CallState:
        new = state.evolve(version=state.version + 1, updated_at=now)
        with self.engine.begin() as conn:
            done = conn.execute(
                update(phone_calls)
                .where(phone_calls.c.call_sid == state.call_sid)
                .where(phone_calls.c.version == state.version)
                .values(**_values(new))
            ).rowcount
        if done != 1:
            raise CallStateConflict
        self._notify(new)
        return new

    def prune(self, *, before: datetime) -> int:
        """Forget calls last touched before ``before``; returns how many.

        A call's row is what a webhook for that call needs next; a call untouched for days has
        ended, and keeping its token, brand and last four digits serves nothing.
        """
        with self.engine.begin() as conn:
            result = conn.execute(delete(phone_calls).where(phone_calls.c.updated_at < before))
        return int(result.rowcount or 0)


def _values(state: CallState) -> dict[str, Any]:
    return {name: getattr(state, name) for name in _COLUMNS}


def _row(mapping: Any) -> CallState:
    return CallState(**{name: mapping[name] for name in _COLUMNS})
