"""``cardshield connect``: Amazon Connect encryption keys and the Lambda's signing secrets.

::

    connect keys create --merchant M       a new key pair: prints its id, the public key to
                                           upload to Connect and the certificate for the flow
    connect keys activate KEY --merchant M --connect-key-id UUID
                                           the id Connect showed for the uploaded key
    connect keys list --merchant M
    connect keys retire KEY --merchant M   erases the private key: its ciphertexts no longer open
    connect secrets create --merchant M --instance-arn ARN [--instance-arn ARN ...]
                                           prints the signing secret, once
    connect secrets list --merchant M
    connect secrets revoke SECRET --merchant M

A refused command prints one line (``error: ...``) and exits 2.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from cardshield.commands._shared import runtime, utcnow
from cardshield.errors import CardshieldError
from cardshield.phone.connect.keys import ConnectKey, ConnectKeys
from cardshield.phone.connect.signing_secrets import (
    create_secret,
    list_secrets,
    revoke_secret,
)
from cardshield.runtime import Runtime

app = typer.Typer(help="Amazon Connect: encryption keys and signing secrets.", no_args_is_help=True)
keys_app = typer.Typer(help="Key pairs Connect encrypts callers' input to.", no_args_is_help=True)
secrets_app = typer.Typer(help="Secrets the Connect Lambda signs with.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(secrets_app, name="secrets")

ACTOR = "cli"
_MERCHANT = typer.Option(..., "--merchant", help="Merchant id (mer_...).")
_JSON = typer.Option(False, "--json", help="Print JSON.")


@contextmanager
def _runtime(ctx: typer.Context) -> Iterator[Runtime]:
    """The runtime; CardshieldErrors (the command's own too) become one line, exit 2."""
    try:
        with runtime(ctx) as rt:
            yield rt
    except CardshieldError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _key_json(key: ConnectKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "status": key.status,
        "connect_key_id": key.connect_key_id,
        "fingerprint": key.fingerprint,
        "created_at": _when(key.created_at),
        "activated_at": _when(key.activated_at),
        "retired_at": _when(key.retired_at),
        "last_used_at": _when(key.last_used_at),
    }


@keys_app.command("create")
def keys_create(ctx: typer.Context, merchant: str = _MERCHANT, as_json: bool = _JSON) -> None:
    """Make an RSA-4096 key pair (at most two pending or active per merchant)."""
    with _runtime(ctx) as rt, rt.engine.begin() as conn:
        key = ConnectKeys(rt.vault.keys).create(
            conn, merchant_id=merchant, now=utcnow(), actor=ACTOR
        )
    if as_json:
        out = {
            **_key_json(key),
            "public_key": key.public_key_pem,
            "certificate": key.certificate_pem,
        }
        typer.echo(json.dumps(out))
        return
    typer.echo(f"created {key.id} (pending)")
    typer.echo("\n1. In the Amazon Connect console, add this public key to the instance:\n")
    typer.echo(key.public_key_pem.rstrip())
    typer.echo(
        "\n2. In the Store customer input block (Encrypt entry), paste the key id Connect "
        "shows for it and this certificate:\n"
    )
    typer.echo(key.certificate_pem.rstrip())
    typer.echo(
        f"\n3. Then: cardshield connect keys activate {key.id} --merchant {merchant} "
        "--connect-key-id <the key id Connect shows>"
    )


@keys_app.command("activate")
def keys_activate(
    ctx: typer.Context,
    key_id: str,
    merchant: str = _MERCHANT,
    connect_key_id: str = typer.Option(
        ..., "--connect-key-id", help="The key id Connect shows for the uploaded key (a UUID)."
    ),
) -> None:
    """Record Connect's id for an uploaded key: from now on its ciphertexts open."""
    with _runtime(ctx) as rt, rt.engine.begin() as conn:
        key = ConnectKeys(rt.vault.keys).activate(
            conn,
            merchant_id=merchant,
            key_id=key_id,
            connect_key_id=connect_key_id,
            now=utcnow(),
            actor=ACTOR,
        )
    typer.echo(f"activated {key.id} as Connect key {key.connect_key_id}")


@keys_app.command("list")
def keys_list(ctx: typer.Context, merchant: str = _MERCHANT, as_json: bool = _JSON) -> None:
    with _runtime(ctx) as rt, rt.engine.connect() as conn:
        found = ConnectKeys(rt.vault.keys).list(conn, merchant_id=merchant)
    if as_json:
        typer.echo(json.dumps([_key_json(k) for k in found]))
        return
    table = Table("id", "status", "connect key id", "fingerprint", "created", "last used")
    for k in found:
        table.add_row(
            k.id,
            k.status,
            k.connect_key_id or "",
            k.fingerprint[:16],
            _when(k.created_at) or "",
            _when(k.last_used_at) or "",
        )
    Console().print(table)


@keys_app.command("retire")
def keys_retire(ctx: typer.Context, key_id: str, merchant: str = _MERCHANT) -> None:
    """Erase a key's private half; retire it in Connect too."""
    with _runtime(ctx) as rt, rt.engine.begin() as conn:
        key = ConnectKeys(rt.vault.keys).retire(
            conn, merchant_id=merchant, key_id=key_id, now=utcnow(), actor=ACTOR
        )
    typer.echo(f"retired {key.id}")


@secrets_app.command("create")
def secrets_create(
    ctx: typer.Context,
    merchant: str = _MERCHANT,
    instance_arn: list[str] = typer.Option(
        ..., "--instance-arn", help="A Connect instance the secret may sign for (repeatable)."
    ),
    as_json: bool = _JSON,
) -> None:
    """A new signing secret for the Lambda, printed once: keep it in its environment."""
    with _runtime(ctx) as rt, rt.engine.begin() as conn:
        created = create_secret(
            conn,
            rt.vault.keys,
            merchant_id=merchant,
            instance_arns=instance_arn,
            now=utcnow(),
            actor=ACTOR,
        )
    if as_json:
        out = {
            "id": created.info.id,
            "secret": created.secret.reveal(),
            "instance_arns": list(created.info.instance_arns),
        }
        typer.echo(json.dumps(out))
    else:
        typer.echo(f"{created.info.id}  {created.secret.reveal()}")


@secrets_app.command("list")
def secrets_list(ctx: typer.Context, merchant: str = _MERCHANT, as_json: bool = _JSON) -> None:
    with _runtime(ctx) as rt, rt.engine.connect() as conn:
        found = list_secrets(conn, merchant_id=merchant)
    if as_json:
        rows = [
            {
                "id": s.id,
                "prefix": s.prefix,
                "instance_arns": list(s.instance_arns),
                "created_at": _when(s.created_at),
                "last_used_at": _when(s.last_used_at),
                "revoked_at": _when(s.revoked_at),
            }
            for s in found
        ]
        typer.echo(json.dumps(rows))
        return
    table = Table("id", "prefix", "instances", "created", "last used", "revoked")
    for s in found:
        table.add_row(
            s.id,
            s.prefix + "...",
            "\n".join(s.instance_arns),
            _when(s.created_at) or "",
            _when(s.last_used_at) or "",
            _when(s.revoked_at) or "",
        )
    Console().print(table)


@secrets_app.command("revoke")
def secrets_revoke(ctx: typer.Context, secret_id: str, merchant: str = _MERCHANT) -> None:
    with _runtime(ctx) as rt, rt.engine.begin() as conn:
        revoke_secret(conn, merchant_id=merchant, secret_id=secret_id, now=utcnow(), actor=ACTOR)
    typer.echo(f"revoked {secret_id}")
