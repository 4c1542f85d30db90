"""``cardshield report scope``: the scope evidence pack (report.html and report.json).

Every section is read from the deployment named by the settings; with ``--canary`` (the
default) the canary leak test runs against a scratch merchant that is deleted, keys
destroyed, before the command ends. Exit status: 0 report written and the canary test
passed (or was skipped), 1 written but the canary test failed or could not run, 2 error.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cardshield.commands._shared import settings, utcnow
from cardshield.compliance.report import build_report, render_html, render_json
from cardshield.errors import CardshieldError

app = typer.Typer(help="Compliance evidence reports.", no_args_is_help=True)


@app.command("scope")
def scope(
    ctx: typer.Context,
    out: Path = typer.Option(Path("scope-report"), "--out", help="Folder for the report files."),
    as_json: bool = typer.Option(False, "--json", help="Also print the report JSON."),
    canary: bool = typer.Option(
        True, "--canary/--no-canary", help="Run the canary leak test (scratch merchant)."
    ),
    server: str | None = typer.Option(
        None, "--server", help="Send the canary requests to this live server (same database)."
    ),
    scan: list[Path] = typer.Option(
        [], "--scan", help="Also scan this file or folder for the canaries (e.g. server logs)."
    ),
) -> None:
    """Build the scope evidence report from this deployment, with the canary leak test."""
    try:
        report = build_report(
            settings(ctx), now=utcnow(), canary=canary, server=server, extra_paths=tuple(scan)
        )
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(render_json(report), encoding="utf-8")
        (out / "report.html").write_text(render_html(report), encoding="utf-8")
    except CardshieldError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    except OSError as exc:
        typer.echo(f"error: cannot write the report to {out}: {exc.strerror}", err=True)
        raise typer.Exit(2) from None
    verdict = report["canary"]["verdict"]
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
    else:
        typer.echo(f"canary leak test: {verdict}; audit chain: {report['summary']['audit_chain']}")
        typer.echo(f"wrote {out / 'report.html'} and {out / 'report.json'}")
    if verdict in ("FAIL", "ERROR"):
        raise typer.Exit(1)
