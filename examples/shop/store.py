"""The shop's own database (SQLite): orders, payment attempts, webhook events seen.

What it holds about a payment is the token the browser sent, the payment id cardshield
returned, amounts and statuses; never a card number, expiry or security code (the shop
never has them). Status changes are conditional updates, so a webhook that arrives before
the payment call has returned cannot be overwritten by the slower answer.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY,
    created INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    currency TEXT NOT NULL,
    items TEXT NOT NULL,
    status TEXT NOT NULL,
    token TEXT,
    payment_id TEXT,
    decline_code TEXT,
    amount_refunded INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS orders_payment ON orders (payment_id);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id TEXT NOT NULL REFERENCES orders (id),
    created INTEGER NOT NULL,
    token TEXT NOT NULL,
    payment_id TEXT,
    status TEXT NOT NULL,
    decline_code TEXT
);
CREATE TABLE IF NOT EXISTS webhook_events (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    order_id TEXT,
    received INTEGER NOT NULL
);
"""

# An order may take a new payment attempt only from these states.
PAYABLE = ("pending", "failed")
# States the answer to a payment call may replace (never a webhook's paid or refunded).
BEFORE_OUTCOME = ("pending", "failed", "requires_action")


@dataclass(frozen=True)
class Order:
    id: str
    created: int
    amount: int
    currency: str
    items: list[dict[str, Any]]
    status: str
    token: str | None
    payment_id: str | None
    decline_code: str | None
    amount_refunded: int

    @property
    def payable(self) -> bool:
        return self.status in PAYABLE


@dataclass(frozen=True)
class Attempt:
    created: int
    token: str
    payment_id: str | None
    status: str
    decline_code: str | None


def _order(row: sqlite3.Row) -> Order:
    return Order(
        id=row["id"],
        created=row["created"],
        amount=row["amount"],
        currency=row["currency"],
        items=json.loads(row["items"]),
        status=row["status"],
        token=row["token"],
        payment_id=row["payment_id"],
        decline_code=row["decline_code"],
        amount_refunded=row["amount_refunded"],
    )


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._conn() as conn:
            conn.executescript(SCHEMA)

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=10)
        conn.row_factory = sqlite3.Row
        try:
            with conn:  # one transaction, committed on success
                yield conn
        finally:
            conn.close()

    def create_order(self, amount: int, currency: str, items: list[dict[str, Any]]) -> Order:
        order_id = "ord_" + secrets.token_hex(8)
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO orders (id, created, amount, currency, items, status) "
                "VALUES (?, ?, ?, ?, ?, 'pending')",
                (order_id, int(time.time()), amount, currency, json.dumps(items)),
            )
        order = self.get(order_id)
        assert order is not None
        return order

    def get(self, order_id: str) -> Order | None:
        with self._conn() as conn:
            row = conn.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
        return None if row is None else _order(row)

    def by_payment(self, payment_id: str) -> Order | None:
        with self._conn() as conn:
            row = conn.execute(
                "SELECT * FROM orders WHERE payment_id = ?", (payment_id,)
            ).fetchone()
        return None if row is None else _order(row)

    def all(self, limit: int = 100) -> list[Order]:
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT * FROM orders ORDER BY created DESC, rowid DESC LIMIT ?", (limit,)
            ).fetchall()
        return [_order(r) for r in rows]

    def attempts(self, order_id: str) -> list[Attempt]:
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT created, token, payment_id, status, decline_code FROM attempts "
                "WHERE order_id = ? ORDER BY id",
                (order_id,),
            ).fetchall()
        return [Attempt(**dict(r)) for r in rows]

    def record_attempt(
        self,
        order_id: str,
        *,
        token: str,
        payment_id: str | None,
        payment_status: str,
        order_status: str,
        decline_code: str | None,
    ) -> None:
        """Log the attempt; move the order unless a webhook already settled it."""
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO attempts (order_id, created, token, payment_id, status, decline_code)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (order_id, int(time.time()), token, payment_id, payment_status, decline_code),
            )
            conn.execute(
                "UPDATE orders SET status = ?, token = ?, payment_id = ?, decline_code = ? "
                "WHERE id = ? AND status IN (SELECT value FROM json_each(?))",
                (
                    order_status,
                    token,
                    payment_id,
                    decline_code,
                    order_id,
                    json.dumps(BEFORE_OUTCOME),
                ),
            )

    def settle(
        self,
        order_id: str,
        *,
        payment_id: str,
        status: str,
        decline_code: str | None = None,
        amount_refunded: int | None = None,
    ) -> bool:
        """Apply an outcome reported by a webhook; False if the order has moved past it."""
        allowed = {
            "paid": ("pending", "failed", "requires_action", "processing"),
            "failed": ("pending", "requires_action", "processing"),
            "partially_refunded": ("paid", "processing", "partially_refunded"),
            "refunded": ("paid", "processing", "partially_refunded"),
        }[status]
        with self._conn() as conn:
            moved = conn.execute(
                "UPDATE orders SET status = ?, payment_id = ?, "
                "decline_code = COALESCE(?, decline_code), "
                "amount_refunded = COALESCE(?, amount_refunded) "
                "WHERE id = ? AND status IN (SELECT value FROM json_each(?)) "
                "AND (payment_id IS NULL OR payment_id = ? OR ? = 'paid')",
                (
                    status,
                    payment_id,
                    decline_code,
                    amount_refunded,
                    order_id,
                    json.dumps(allowed),
                    payment_id,
                    status,
                ),
            )
        return moved.rowcount == 1

    def first_sight(self, event_id: str, event_type: str, order_id: str | None) -> bool:
        """Remember a webhook event; False if it was seen before (deliveries may repeat)."""
        with self._conn() as conn:
            inserted = conn.execute(
                "INSERT OR IGNORE INTO webhook_events (id, type, order_id, received) "
                "VALUES (?, ?, ?, ?)",
                (event_id, event_type, order_id, int(time.time())),
            )
        return inserted.rowcount == 1

    def forget_event(self, event_id: str) -> None:
        with self._conn() as conn:
            conn.execute("DELETE FROM webhook_events WHERE id = ?", (event_id,))
