"""``cardshield payments``: settle pending operations, reconcile with the sandbox ledger."""

from __future__ import annotations

import json
from datetime import timedelta

import typer

from cardshield.commands._shared import runtime, settings, utcnow
from cardshield.gateways.sandbox import account_for, build
from cardshield.gateways.sandbox.ledger import entries
from cardshield.payments.reconcile import reconcile
from cardshield.payments.recovery import resume_pending
from cardshield.payments.service import PaymentService
from cardshield.storage import check_current, make_engine

app = typer.Typer(help="Payments: recovery and reconciliation.", no_args_is_help=True)


@app.command("reconcile")
def reconcile_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    ledger_url: str | None = typer.Option(
        None, "--ledger-url", help="Database of the sandbox ledger (default: cardshield's)."
    ),
) -> None:
    """Compare payments with the sandbox processor's ledger; exit 1 on any difference."""
    url = settings(ctx).effective_database_url
    engine = make_engine(url)
    ledger_engine = make_engine(ledger_url or url)
    try:
        check_current(engine)
        report = reconcile(engine, entries(ledger_engine))
    finally:
        engine.dispose()
        ledger_engine.dispose()
    if as_json:
        typer.echo(json.dumps(report.to_dict(), sort_keys=True))
    else:
        stats = report.to_dict()["stats"]
        typer.echo(
            f"{stats['payments']} payments, {stats['operations']} operations, "
            f"{stats['ledger_rows']} ledger rows"
        )
        for kind, count in report.counts().items():
            typer.echo(f"  {kind:<22}{count:>6}")
        for diff in report.differences:
            typer.echo(f"{diff.kind}: {diff.payment_id or '-'}: {diff.detail}")
        typer.echo("no differences" if report.ok else f"{len(report.differences)} differences")
    raise typer.Exit(0 if report.ok else 1)


@app.command("resume")
def resume_command(
    ctx: typer.Context,
    older_than: int = typer.Option(
        300, "--older-than", min=0, help="Only operations pending for this many seconds."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Settle gateway operations left pending by a crash or a timeout (sandbox processor)."""
    with runtime(ctx) as rt:
        sandbox = build({"database_url": rt.settings.effective_database_url, "pool_size": 2})
        try:
            service = PaymentService(
                rt.engine, rt.vault, lambda m: (sandbox, account_for(m)), actor="cli"
            )
            report = resume_pending(service, now=utcnow(), older_than=timedelta(seconds=older_than))
        finally:
            sandbox.close()
    data = report.to_dict()
    if as_json:
        typer.echo(json.dumps(data, sort_keys=True))
    else:
        typer.echo(
            f"examined {data['examined']}, resolved {data['resolved']}, "
            f"still pending {data['still_pending']}, errors {data['errors']}"
        )
    raise typer.Exit(1 if report.errors else 0)
