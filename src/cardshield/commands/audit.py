"""``cardshield audit``: seal the audit log into its hash chain, verify it, export it.

``verify`` exits 0 when the log is intact, 1 when it found tampering (one line naming the
entry and the kind), 2 when it could not check (configuration, database or KMS error).
``verify --expect-head`` also checks the chain against a head kept outside the database (the
sealer's head file, a copy of it, or ``SEQ:CHAIN_HASH``): a chain that ends before it or
differs at it was truncated or rewritten. ``seal`` writes each new signed head to the head
file (``CARDSHIELD_AUDIT_HEAD_FILE``) and exits 1 when the sealer stopped before a damaged
entry or below that head. ``export`` writes JSON lines (one entry per line, oldest first) for
a SIEM.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from cardshield.commands._shared import settings, utcnow
from cardshield.crypto.kms import KMSProvider, open_kms
from cardshield.errors import CardshieldError
from cardshield.security.audit import DEFAULT_CHECKPOINT_EVERY
from cardshield.security.audit_head import SignedHead, parse_head, read_head
from cardshield.security.audit_query import AuditFilter
from cardshield.security.audit_query import export as export_entries
from cardshield.security.audit_seal import seal as seal_log
from cardshield.security.audit_verify import verify as verify_log
from cardshield.storage import check_current, make_engine

app = typer.Typer(help="The tamper-evident audit log: seal, verify, export.", no_args_is_help=True)

_EVERY = typer.Option(
    DEFAULT_CHECKPOINT_EVERY,
    "--checkpoint-every",
    min=1,
    help="A signed checkpoint every N entries (the sealer and verify must agree).",
)
_JSON = typer.Option(False, "--json", help="Print one JSON object.")
_EXPECT_HEAD = typer.Option(
    None,
    "--expect-head",
    help="A head kept outside the database: a head file (as the sealer writes it) or "
    "SEQ:CHAIN_HASH. The chain must reach it and match it there.",
)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


@contextmanager
def _open(ctx: typer.Context) -> Iterator[tuple[Engine, KMSProvider]]:
    """The database (at the current schema) and the KMS; any failure is one line, exit 2."""
    try:
        s = settings(ctx)
        engine = make_engine(s.effective_database_url)
    except CardshieldError as exc:
        raise _fail(exc.message) from None
    try:
        check_current(engine)
        kms = open_kms(s.effective_kms_url)
    except CardshieldError as exc:
        engine.dispose()
        raise _fail(exc.message) from None
    try:
        yield engine, kms
    except CardshieldError as exc:
        raise _fail(exc.message) from None
    except SQLAlchemyError as exc:
        raise _fail(f"cannot read the audit log: {type(exc).__name__}") from None
    finally:
        kms.close()
        engine.dispose()


def _table(title: str, rows: dict[str, Any]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(overflow="fold")  # hashes are shown whole: operators compare them
    for key, value in rows.items():
        table.add_row(key, str(value))
    return table


def _expected_head(value: str) -> SignedHead:
    """``--expect-head``: SEQ:CHAIN_HASH, or the path of a head file."""
    try:
        return parse_head(value)
    except ValueError:
        pass  # not a value: a file
    try:
        head = read_head(Path(value))
    except CardshieldError as exc:
        raise _fail(exc.message) from None
    if head is None:
        raise _fail(f"--expect-head: no such file, and not SEQ:CHAIN_HASH: {value[:200]}")
    return head


@app.command("verify")
def verify(
    ctx: typer.Context,
    checkpoint_every: int = _EVERY,
    expect_head: str | None = _EXPECT_HEAD,
    as_json: bool = _JSON,
) -> None:
    """Check the sealed chain end to end and the unsealed tail; report the first problem."""
    expected = None if expect_head is None else _expected_head(expect_head)
    with _open(ctx) as (engine, kms):
        report = verify_log(engine, kms, checkpoint_every=checkpoint_every, expect_head=expected)
    problem = report.problem
    if as_json:
        out = {
            "ok": report.ok,
            "problem": None
            if problem is None
            else {"seq": problem.seq, "kind": problem.kind, "detail": problem.detail},
            "sealed": report.sealed,
            "gaps": report.gaps,
            "unsealed": report.unsealed,
            "checkpoints": report.checkpoints,
            "head_seq": report.head_seq,
            "head_hash": report.head_hash,
            "expected_head": None if expected is None else expected.seq,
        }
        typer.echo(json.dumps(out))
    elif problem is not None:
        typer.echo(f"TAMPERED: {problem.describe()}")
    else:
        Console().print(
            _table(
                "audit log intact",
                {
                    "sealed entries": f"{report.sealed} ({report.gaps} recorded gaps)",
                    "unsealed entries": report.unsealed,
                    "checkpoints verified": report.checkpoints,
                    "head entry": report.head_seq,
                    "head hash": report.head_hash,
                    "expected head": "not given"
                    if expected is None
                    else f"entry {expected.seq}: matches",
                },
            )
        )
    if problem is not None:
        raise typer.Exit(1)


@app.command("seal")
def seal(
    ctx: typer.Context,
    grace: float = typer.Option(
        5.0, "--grace", min=0, help="Seconds before a missing sequence number counts as a gap."
    ),
    checkpoint_every: int = _EVERY,
    as_json: bool = _JSON,
) -> None:
    """Link committed entries into the hash chain and sign checkpoints (safe to run anywhere)."""
    with _open(ctx) as (engine, kms):
        report = seal_log(
            engine,
            kms,
            now=utcnow(),
            grace=timedelta(seconds=grace),
            checkpoint_every=checkpoint_every,
            head_file=settings(ctx).effective_audit_head_file,
        )
    if as_json:
        out = {
            "sealed": report.sealed,
            "gaps": list(report.gaps),
            "checkpoints": list(report.checkpoints),
            "head_seq": report.head_seq,
            "head_hash": report.head_hash,
            "pending": report.pending,
            "stalled_at": report.stalled_at,
            "stall_reason": report.stall_reason,
            "stall_detail": report.stall_detail,
        }
        typer.echo(json.dumps(out))
    elif report.stalled_at is not None:
        typer.echo(
            f"TAMPERED: the sealer stopped at audit entry {report.stalled_at}: "
            f"{report.stall_reason}: {report.stall_detail} (run `cardshield audit verify`)"
        )
    else:
        Console().print(
            _table(
                "audit log sealed",
                {
                    "entries sealed": report.sealed,
                    "gaps recorded": ", ".join(map(str, report.gaps)) or "none",
                    "checkpoints signed": ", ".join(map(str, report.checkpoints)) or "none",
                    "head entry": report.head_seq,
                    "head hash": report.head_hash,
                    "still pending": report.pending,
                },
            )
        )
    if report.stalled_at is not None:
        raise typer.Exit(1)


def parse_since(value: str, *, now: datetime) -> datetime:
    """``2026-11-01``, ``2026-11-01T12:00:00Z`` (UTC if no zone), or ``30m``/``24h``/``7d``."""
    text = value.strip()
    unit = {"m": "minutes", "h": "hours", "d": "days"}.get(text[-1:].lower())
    if unit and text[:-1].isdigit():
        return now - timedelta(**{unit: int(text[:-1])})
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"not a time: {value[:40]!r} (use 2026-11-01, an ISO time, or 24h)"
        ) from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


@app.command("export")
def export(
    ctx: typer.Context,
    since: str = typer.Option(
        ..., "--since", help="Start: a date, an ISO time (UTC if no zone) or 30m / 24h / 7d ago."
    ),
    until: str | None = typer.Option(None, "--until", help="End (exclusive), same forms."),
    action: str | None = typer.Option(
        None, "--action", help="Only this action, or a prefix ending in '.' (card.)."
    ),
    merchant: str | None = typer.Option(None, "--merchant", help="Only this merchant."),
    output: Path | None = typer.Option(None, "--output", "-o", help="File (default: stdout)."),
) -> None:
    """Entries as JSON lines for a SIEM, oldest first (masked data only)."""
    now = utcnow()
    try:
        filters = AuditFilter(
            action=action,
            merchant_id=merchant,
            since=parse_since(since, now=now),
            until=None if until is None else parse_since(until, now=now),
        )
    except ValueError as exc:
        raise _fail(str(exc)) from None
    count = 0
    with _open(ctx) as (engine, _kms):
        out = output.open("w", encoding="utf-8") if output else sys.stdout
        try:
            for entry in export_entries(engine, filters):
                out.write(json.dumps(entry, separators=(",", ":"), sort_keys=True) + "\n")
                count += 1
        finally:
            if output:
                out.close()
    if output:
        typer.echo(f"exported {count} entries to {output}", err=True)
