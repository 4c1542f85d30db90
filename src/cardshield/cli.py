"""The ``cardshield`` command line: the root app and the registry of command groups.

Each group lives in its own module under :mod:`cardshield.commands`; adding one is one
module plus one line below. Errors cardshield raises on purpose become a one-line message on
stderr and exit status 2; tracebacks never show local variables (they could hold card data)
and pass through redaction.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from cardshield import __version__
from cardshield.commands import apikeys, audit, cards, db, keys, merchants, redact, serve, vault
from cardshield.commands import connect as connect_command
from cardshield.commands import demo as demo_command
from cardshield.commands import dtmf as dtmf_command
from cardshield.commands import pay_connector as pay_connector_command
from cardshield.commands import payments as payments_command
from cardshield.commands import report as report_command
from cardshield.commands import saq as saq_command
from cardshield.commands import scan as scan_command
from cardshield.commands import users as users_command
from cardshield.commands import webhooks as webhooks_command
from cardshield.errors import CardshieldError
from cardshield.redaction.logging import configure_logging

app = typer.Typer(
    name="cardshield",
    help="cardshield: take card payments online and by phone without touching card data.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)

# Command groups: one line each.
app.add_typer(cards.app, name="cards")
app.add_typer(redact.app, name="redact")
app.add_typer(db.app, name="db")
app.add_typer(keys.app, name="keys")
app.add_typer(merchants.app, name="merchants")
app.add_typer(vault.app, name="vault")
app.add_typer(serve.app, name="serve")
app.add_typer(apikeys.app, name="apikeys")
app.add_typer(audit.app, name="audit")
app.add_typer(scan_command.app, name="scan")
app.add_typer(dtmf_command.app, name="dtmf")
app.add_typer(connect_command.app, name="connect")
app.add_typer(users_command.app, name="users")
app.add_typer(webhooks_command.app, name="webhooks")
app.add_typer(payments_command.app, name="payments")
app.add_typer(pay_connector_command.app, name="pay-connector")
app.add_typer(saq_command.app, name="saq")
app.add_typer(report_command.app, name="report")
app.add_typer(demo_command.app, name="demo")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cardshield {__version__}")
        raise typer.Exit


@app.callback()
def root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
    config: Path | None = typer.Option(
        None, "--config", help="TOML settings file (default: $CARDSHIELD_CONFIG)."
    ),
    log_level: str = typer.Option(
        "WARNING", "--log-level", envvar="CARDSHIELD_LOG_LEVEL", help="Log level for this command."
    ),
) -> None:
    """Set up redacting logging before any command runs."""
    configure_logging(level=log_level, fmt="console")
    ctx.obj = {"config": config}


def main() -> None:
    try:
        app()
    except CardshieldError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        sys.exit(2)
