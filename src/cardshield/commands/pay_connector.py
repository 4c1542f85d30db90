"""``cardshield pay-connector credentials``: the HTTP Basic credentials a merchant enters
for Twilio's Generic Pay Connector (see docs/twilio-pay.md)."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from cardshield.commands._shared import runtime, utcnow
from cardshield.phone.pay_connector.credentials import (
    create_credential,
    list_credentials,
    revoke_credential,
)

app = typer.Typer(help="Twilio Generic Pay Connector.", no_args_is_help=True)
credentials = typer.Typer(help="HTTP Basic credentials for the connector.", no_args_is_help=True)
app.add_typer(credentials, name="credentials")


@credentials.command("create")
def create(
    ctx: typer.Context,
    merchant: str = typer.Option(..., "--merchant", help="Merchant id (mer_...)."),
    description: str = typer.Option("", "--description"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Create a credential. The password is printed once and never stored: enter it in
    Twilio's console now."""
    with runtime(ctx) as rt, rt.engine.begin() as conn:
        created = create_credential(
            conn, now=utcnow(), merchant_id=merchant, description=description, actor="cli"
        )
    username, password = created.info.username, created.password.reveal()
    if as_json:
        typer.echo(json.dumps({"username": username, "password": password}))
    else:
        typer.echo(f"username: {username}\npassword: {password}")


@credentials.command("list")
def list_cmd(
    ctx: typer.Context,
    merchant: str = typer.Option(..., "--merchant"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The merchant's credentials (never their passwords)."""
    with runtime(ctx) as rt, rt.engine.connect() as conn:
        found = list_credentials(conn, merchant_id=merchant)
    if as_json:
        rows = [
            {
                "username": c.username,
                "description": c.description,
                "created": c.created_at.isoformat(),
                "last_used": c.last_used_at.isoformat() if c.last_used_at else None,
                "revoked": c.revoked_at.isoformat() if c.revoked_at else None,
            }
            for c in found
        ]
        typer.echo(json.dumps(rows))
        return
    table = Table("username", "description", "created", "last used", "revoked")
    for c in found:
        table.add_row(
            c.username,
            c.description,
            c.created_at.isoformat(),
            c.last_used_at.isoformat() if c.last_used_at else "",
            c.revoked_at.isoformat() if c.revoked_at else "",
        )
    Console().print(table)


@credentials.command("revoke")
def revoke_cmd(
    ctx: typer.Context, username: str, merchant: str = typer.Option(..., "--merchant")
) -> None:
    """Revoke a credential: Twilio's requests with it get 401 from now on."""
    with runtime(ctx) as rt, rt.engine.begin() as conn:
        revoke_credential(conn, now=utcnow(), merchant_id=merchant, username=username, actor="cli")
    typer.echo(f"revoked {username}")
