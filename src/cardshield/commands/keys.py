"""``cardshield keys``: the key-encryption key and the data keys it protects."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cardshield.commands._shared import runtime, settings, utcnow
from cardshield.crypto.kms import init_kms
from cardshield.security.audit import append as audit

app = typer.Typer(help="Key management: init, rotate, status, rewrap.", no_args_is_help=True)


@app.command("init")
def init(ctx: typer.Context) -> None:
    """Create the first KEK version (and the audit signing key) at CARDSHIELD_KMS_URL."""
    s = settings(ctx)
    kms = init_kms(s.effective_kms_url)
    try:
        typer.echo(f"created KEK version {kms.current_version()} in {kms.name}")
    finally:
        kms.close()


@app.command("rotate")
def rotate(ctx: typer.Context) -> None:
    """Add a KEK version; new data keys use it, `keys rewrap` moves the old ones."""
    with runtime(ctx) as rt:
        version = rt.kms.rotate()
        with rt.engine.begin() as conn:
            audit(
                conn,
                now=utcnow(),
                actor="cli",
                action="key.rotate",
                details={"provider": rt.kms.name, "kek_version": version},
            )
            pending = rt.vault.keys.pending_rewrap(conn)
    typer.echo(
        f"KEK version {version} is current; {pending} data keys to rewrap "
        "(run `cardshield keys rewrap`)"
    )


@app.command("status")
def status(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """KEK versions and how many data keys each protects."""
    with runtime(ctx) as rt, rt.engine.connect() as conn:
        counts = rt.vault.keys.counts_by_kek_version(conn)
        current, versions = rt.kms.current_version(), rt.kms.versions()
        pending = rt.vault.keys.pending_rewrap(conn)
        provider = rt.kms.name
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "provider": provider,
                    "current_version": current,
                    "pending_rewrap": pending,
                    "versions": [{"version": v, "data_keys": counts.get(v, 0)} for v in versions],
                }
            )
        )
        return
    table = Table("KEK version", "data keys", "state", title=f"KEK provider: {provider}")
    for v in versions:
        table.add_row(str(v), str(counts.get(v, 0)), "current" if v == current else "old")
    Console().print(table)
    Console().print(f"{pending} data keys wait for rewrap")


@app.command("rewrap")
def rewrap(
    ctx: typer.Context,
    batch_size: int = typer.Option(200, "--batch-size", min=1, max=10_000),
) -> None:
    """Re-wrap every data key under the current KEK, in batches, while the service runs.

    Safe to interrupt and run again: each key is moved in its own small transaction and
    only if nobody moved it meanwhile.
    """
    with runtime(ctx) as rt:
        with rt.engine.connect() as conn:
            total = rt.vault.keys.pending_rewrap(conn)
        moved = 0
        with Progress(
            TextColumn("rewrap"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=False,
            disable=total == 0,
        ) as bar:
            task = bar.add_task("rewrap", total=total)
            while True:
                with rt.engine.begin() as conn:
                    n = rt.vault.keys.rewrap_batch(conn, now=utcnow(), batch_size=batch_size)
                if n == 0:
                    break
                moved += n
                bar.update(task, advance=n)
        with rt.engine.begin() as conn:
            audit(
                conn,
                now=utcnow(),
                actor="cli",
                action="key.rewrap",
                details={"moved": moved, "kek_version": rt.kms.current_version()},
            )
    typer.echo(f"rewrapped {moved} data keys under KEK version {rt.kms.current_version()}")
