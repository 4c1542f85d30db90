"""Reconciliation: cardshield's payment records against a processor's ledger.

Each of our gateway operations carries the idempotency key the processor saw, so a ledger
row finds its operation (and its payment) by that key. The differences reported:

=======================  ===============================================================
charged_twice            more than one successful charge for one payment
charged_not_recorded     the processor moved money (charge, capture, void, refund) that we
                         did not record as succeeded (pending, failed, or no operation)
recorded_not_charged     we recorded success; the processor has no successful row for it
amount_mismatch          an operation's amount differs from the processor's, or a
                         payment's captured/refunded totals differ from the ledger's
unresolved               an operation still pending that the processor never saw (run
                         ``cardshield payments resume``)
=======================  ===============================================================

A 3-D Secure charge waiting for its challenge is pending on both sides: no difference.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine, select

from cardshield.gateways.sandbox.transformers import CHARGES, LedgerEntry
from cardshield.storage.schema import payment_operations as O
from cardshield.storage.schema import payments as P

KINDS = (
    "charged_twice",
    "charged_not_recorded",
    "recorded_not_charged",
    "amount_mismatch",
    "unresolved",
)


@dataclass(frozen=True, slots=True)
class Difference:
    kind: str
    payment_id: str | None
    detail: str
    operation_id: str | None = None
    ledger_id: str | None = None


@dataclass
class Report:
    payments: int = 0
    operations: int = 0
    ledger_rows: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(KINDS, 0)
        for diff in self.differences:
            counts[diff.kind] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "stats": {
                "payments": self.payments,
                "operations": self.operations,
                "ledger_rows": self.ledger_rows,
            },
            "counts": self.counts(),
            "differences": [asdict(d) for d in self.differences],
        }


def reconcile(
    engine: Engine, ledger: Iterable[LedgerEntry], *, connector: str = "sandbox"
) -> Report:
    """Compare every operation of ``connector``'s payments with the processor's ledger."""
    entries = list(ledger)
    with engine.connect() as conn:
        ops = list(
            conn.execute(
                select(O).join(P, P.c.id == O.c.payment_id).where(P.c.connector == connector)
            ).mappings()
        )
        payments = {
            r.id: r
            for r in conn.execute(
                select(P.c.id, P.c.amount_captured, P.c.amount_refunded).where(
                    P.c.connector == connector
                )
            )
        }
    report = Report(payments=len(payments), operations=len(ops), ledger_rows=len(entries))
    diffs = report.differences
    by_key = {op["gateway_key"]: op for op in ops}
    charges: dict[str, list[LedgerEntry]] = defaultdict(list)
    captured: dict[str, int] = defaultdict(int)
    refunded: dict[str, int] = defaultdict(int)
    seen: set[str] = set()

    for e in entries:
        op = by_key.get(e.idempotency_key)
        pid = op["payment_id"] if op is not None else None
        if op is not None:
            seen.add(op["id"])
        moved = e.status == "succeeded"
        if pid is not None and moved:
            if e.operation in CHARGES:
                charges[pid].append(e)
            if e.operation in ("sale", "capture"):
                captured[pid] += e.amount
            if e.operation == "refund":
                refunded[pid] += e.amount
        if moved and (op is None or op["status"] != "succeeded"):
            state = "no operation" if op is None else f"operation {op['status']}"
            detail = f"{e.operation} of {e.amount} {e.currency} at the processor, {state} here"
            diffs.append(Difference("charged_not_recorded", pid, detail, _id(op), e.id))
        elif op is not None and op["status"] == "succeeded" and not moved:
            detail = f"{op['kind']} recorded, processor says {e.status}"
            diffs.append(Difference("recorded_not_charged", pid, detail, op["id"], e.id))
        elif op is not None and moved and op["amount"] != e.amount:
            detail = f"{op['kind']} of {op['amount']} here, {e.amount} at the processor"
            diffs.append(Difference("amount_mismatch", pid, detail, op["id"], e.id))

    for op in ops:
        if op["id"] in seen:
            continue
        if op["status"] == "succeeded":
            detail = f"{op['kind']} of {op['amount']} recorded, unknown to the processor"
            diffs.append(Difference("recorded_not_charged", op["payment_id"], detail, op["id"]))
        elif op["status"] == "pending":
            detail = f"{op['kind']} pending, unknown to the processor"
            diffs.append(Difference("unresolved", op["payment_id"], detail, op["id"]))

    for pid, rows in charges.items():
        if len(rows) > 1:
            ids = ", ".join(r.id for r in rows)
            diffs.append(Difference("charged_twice", pid, f"{len(rows)} charges: {ids}"))
    for pid, row in payments.items():
        for name, ours, theirs in (
            ("captured", row.amount_captured, captured.get(pid, 0)),
            ("refunded", row.amount_refunded, refunded.get(pid, 0)),
        ):
            if ours != theirs:
                detail = f"amount {name} {ours} here, {theirs} at the processor"
                diffs.append(Difference("amount_mismatch", pid, detail))
    return report


def _id(op: Any) -> str | None:
    return None if op is None else str(op["id"])
