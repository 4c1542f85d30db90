"""``cardshield db``: schema migrations."""

from __future__ import annotations

import typer

from cardshield.commands._shared import settings
from cardshield.storage import make_engine, upgrade
from cardshield.storage.migrate import current_revision, head_revision

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_cmd(ctx: typer.Context) -> None:
    """Create the schema or bring it to the newest revision."""
    engine = make_engine(settings(ctx).effective_database_url)
    try:
        upgrade(engine)
        typer.echo(f"database at revision {current_revision(engine)}")
    finally:
        engine.dispose()


@app.command("status")
def status_cmd(ctx: typer.Context) -> None:
    """Show the current and the required schema revision."""
    engine = make_engine(settings(ctx).effective_database_url)
    try:
        current, head = current_revision(engine), head_revision()
    finally:
        engine.dispose()
    typer.echo(f"current {current or '(empty)'}, required {head}")
    if current != head:
        raise typer.Exit(1)
