"""``cardshield users``: operator accounts for the console.

Passwords are read from a hidden prompt (typed twice) or, with ``--password-stdin``, from the
first line of standard input; never from the command line, where ``ps`` and shell history
would keep them. Every change is audited with the actor ``cli``. A new operator enrolls TOTP
at the first console sign-in; ``reset-mfa`` sends them through enrollment again.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.table import Table

from cardshield.commands._shared import runtime, utcnow
from cardshield.crypto import Secret
from cardshield.errors import CardshieldError
from cardshield.security.operators import Operator, Operators
from cardshield.security.permissions import ROLE_DESCRIPTIONS, Role
from cardshield.security.security_keys import keys_per_operator

app = typer.Typer(
    help="Operator accounts: add, list, disable, reset-mfa, set-role.", no_args_is_help=True
)

ROLE_HELP = "; ".join(f"{r.value}: {d}" for r, d in ROLE_DESCRIPTIONS.items())
_STDIN = typer.Option(
    False, "--password-stdin", help="Read the password from the first line of stdin."
)


@contextmanager
def _operators(ctx: typer.Context) -> Iterator[Operators]:
    """The accounts over the configured database; CardshieldErrors become one line, exit 2."""
    try:
        with runtime(ctx) as rt:
            yield Operators(rt.engine, rt.kms)
    except CardshieldError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None


def _password(from_stdin: bool) -> Secret[str]:
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            typer.echo("error: no password on standard input", err=True)
            raise typer.Exit(2)
        return Secret(line)
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return Secret(value)


def _row(op: Operator, security_keys: int = 0) -> dict[str, object]:
    return {
        "id": op.id,
        "username": op.username,
        "name": op.display_name,
        "role": op.role.value,
        "merchant": op.merchant_id,
        "mfa": op.mfa_enrolled,
        "security_keys": security_keys,
        "disabled": op.disabled_at is not None,
        "locked_until": op.locked_until.isoformat() if op.locked_until else None,
        "last_login": op.last_login_at.isoformat() if op.last_login_at else None,
    }


@app.command("add")
def add(
    ctx: typer.Context,
    username: str = typer.Argument(..., help="One account per person: no shared logins."),
    role: str = typer.Option(..., "--role", help=ROLE_HELP),
    name: str = typer.Option("", "--name", help="Display name."),
    merchant: str | None = typer.Option(
        None, "--merchant", help="Limit the operator to one merchant (default: all)."
    ),
    password_stdin: bool = _STDIN,
) -> None:
    """Create an operator; they enroll TOTP at their first console sign-in."""
    if role.strip().lower() not in {r.value for r in Role}:
        typer.echo(f"error: unknown role {role[:32]!r} ({', '.join(r for r in Role)})", err=True)
        raise typer.Exit(2)
    password = _password(password_stdin)
    with _operators(ctx) as ops:
        op = ops.create(
            now=utcnow(),
            username=username,
            password=password,
            role=role,
            display_name=name,
            merchant_id=merchant,
            actor="cli",
        )
    typer.echo(f"created {op.id} {op.username} ({op.role.value}); TOTP enrollment at sign-in")


@app.command("list")
def list_cmd(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Every operator with role, MFA (and how many security keys) and lock state."""
    with _operators(ctx) as ops, ops.engine.connect() as conn:
        keys = keys_per_operator(conn)
        rows = [_row(op, keys.get(op.id, 0)) for op in ops.all(conn)]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table(
        "id", "username", "name", "role", "merchant", "mfa", "keys", "state", "last login"
    )
    for r in rows:
        state = "disabled" if r["disabled"] else ("locked" if r["locked_until"] else "active")
        table.add_row(
            str(r["id"]),
            str(r["username"]),
            str(r["name"]),
            str(r["role"]),
            str(r["merchant"] or "all"),
            "yes" if r["mfa"] else "not enrolled",
            str(r["security_keys"]),
            state,
            str(r["last_login"] or ""),
        )
    Console().print(table)


def _change(ctx: typer.Context, who: str, verb: str, **kwargs: object) -> Operator:
    with _operators(ctx) as ops:
        with ops.engine.connect() as conn:
            op = ops.find(conn, who)
        method = getattr(ops, verb)
        result: Operator = method(now=utcnow(), operator_id=op.id, actor="cli", **kwargs)
        return result


@app.command("disable")
def disable(ctx: typer.Context, who: str = typer.Argument(..., help="Username or id.")) -> None:
    """Disable an operator and end their sessions."""
    op = _change(ctx, who, "disable")
    typer.echo(f"disabled {op.username}; their sessions are ended")


@app.command("enable")
def enable(ctx: typer.Context, who: str = typer.Argument(..., help="Username or id.")) -> None:
    """Enable a disabled operator (also clears a lockout)."""
    op = _change(ctx, who, "enable")
    typer.echo(f"enabled {op.username}")


@app.command("reset-mfa")
def reset_mfa(ctx: typer.Context, who: str = typer.Argument(..., help="Username or id.")) -> None:
    """Forget the operator's TOTP, recovery codes and security keys; they enroll again."""
    op = _change(ctx, who, "reset_mfa")
    typer.echo(f"MFA reset for {op.username}; they enroll again at their next sign-in")


@app.command("set-role")
def set_role(
    ctx: typer.Context,
    who: str = typer.Argument(..., help="Username or id."),
    role: str = typer.Argument(..., help=ROLE_HELP),
) -> None:
    """Change an operator's role (their sessions end)."""
    op = _change(ctx, who, "set_role", role=role)
    typer.echo(f"{op.username} is now {op.role.value}")


@app.command("set-password")
def set_password(
    ctx: typer.Context,
    who: str = typer.Argument(..., help="Username or id."),
    password_stdin: bool = _STDIN,
) -> None:
    """Set a new password (their sessions end)."""
    password = _password(password_stdin)
    op = _change(ctx, who, "set_password", password=password)
    typer.echo(f"password changed for {op.username}")
