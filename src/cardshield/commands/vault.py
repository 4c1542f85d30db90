"""``cardshield vault``: retention."""

from __future__ import annotations

import typer

from cardshield.commands._shared import runtime, utcnow

app = typer.Typer(help="Card data retention.", no_args_is_help=True)


@app.command("purge")
def purge(ctx: typer.Context) -> None:
    """Delete expired or used single-use tokens and reusable cards past retention."""
    with runtime(ctx) as rt:
        removed = rt.vault.purge(now=utcnow(), actor="cli")
    typer.echo(f"purged {removed} cards")
