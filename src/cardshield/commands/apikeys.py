"""``cardshield apikeys``: merchant API keys (secret for servers, publishable for browsers)."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from cardshield.commands._shared import runtime, utcnow
from cardshield.security.apikeys import PUBLISHABLE_SCOPES, SCOPES, create_key, list_keys, revoke

app = typer.Typer(help="Merchant API keys.", no_args_is_help=True)


@app.command("create")
def create(
    ctx: typer.Context,
    merchant: str = typer.Option(..., "--merchant", help="Merchant id (mer_...)."),
    kind: str = typer.Option("secret", "--kind", help="secret or publishable."),
    scope: list[str] = typer.Option(
        [], "--scope", help="Scopes (default: all for secret keys, tokens:create otherwise)."
    ),
    origin: list[str] = typer.Option(
        [], "--origin", help="Allowed page origins for a publishable key (https://shop...)."
    ),
    description: str = typer.Option("", "--description"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Create a key. The key is printed once and never stored: keep it safe now."""
    if kind not in ("secret", "publishable"):
        typer.echo("error: --kind must be secret or publishable", err=True)
        raise typer.Exit(2)
    scopes = scope or sorted(SCOPES if kind == "secret" else PUBLISHABLE_SCOPES)
    with runtime(ctx) as rt, rt.engine.begin() as conn:
        created = create_key(
            conn,
            now=utcnow(),
            merchant_id=merchant,
            kind="secret" if kind == "secret" else "publishable",
            scopes=scopes,
            allowed_origins=origin,
            description=description,
            actor="cli",
        )
    if as_json:
        typer.echo(json.dumps({"id": created.info.id, "key": created.key.reveal()}))
    else:
        typer.echo(f"{created.info.id}  {created.key.reveal()}")


@app.command("list")
def list_cmd(ctx: typer.Context, merchant: str = typer.Option(..., "--merchant")) -> None:
    with runtime(ctx) as rt, rt.engine.connect() as conn:
        keys = list_keys(conn, merchant_id=merchant, include_revoked=True)
    table = Table("id", "kind", "prefix", "scopes", "origins", "revoked")
    for k in keys:
        table.add_row(
            k.id,
            k.kind,
            k.prefix,
            " ".join(sorted(k.scopes)),
            " ".join(k.allowed_origins),
            k.revoked_at.isoformat() if k.revoked_at else "",
        )
    Console().print(table)


@app.command("revoke")
def revoke_cmd(
    ctx: typer.Context, key_id: str, merchant: str = typer.Option(..., "--merchant")
) -> None:
    with runtime(ctx) as rt, rt.engine.begin() as conn:
        revoke(conn, now=utcnow(), merchant_id=merchant, key_id=key_id, actor="cli")
    typer.echo(f"revoked {key_id}")
