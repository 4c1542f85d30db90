"""``cardshield merchants``: create, list and delete (crypto-shred) merchants."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from cardshield.commands._shared import runtime, utcnow
from cardshield.storage.schema import merchants

app = typer.Typer(help="Merchants (each has its own data keys).", no_args_is_help=True)


@app.command("add")
def add(
    ctx: typer.Context, name: str, merchant_id: str | None = typer.Option(None, "--id")
) -> None:
    """Create a merchant with fresh data keys; prints its id."""
    with runtime(ctx) as rt:
        typer.echo(
            rt.vault.create_merchant(name, now=utcnow(), merchant_id=merchant_id, actor="cli")
        )


@app.command("list")
def list_cmd(ctx: typer.Context) -> None:
    with runtime(ctx) as rt, rt.engine.connect() as conn:
        rows = conn.execute(select(merchants).order_by(merchants.c.created_at)).all()
    table = Table("id", "name", "created", "deleted")
    for r in rows:
        table.add_row(
            r.id, r.name, r.created_at.isoformat(), r.deleted_at and r.deleted_at.isoformat()
        )
    Console().print(table)


@app.command("delete")
def delete(
    ctx: typer.Context,
    merchant_id: str,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Delete all of a merchant's cards and destroy its data keys. Irreversible."""
    if not yes:
        typer.confirm(f"Destroy every card and key of {merchant_id}?", abort=True)
    with runtime(ctx) as rt:
        removed = rt.vault.delete_merchant(merchant_id, now=utcnow(), actor="cli")
    typer.echo(f"deleted {merchant_id}: {removed} cards removed, data keys destroyed")
