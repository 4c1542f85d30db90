"""``cardshield scan``: find card numbers in files, archives, documents and databases.

Exit status: 0 nothing found, 1 findings, 2 error (bad option, missing path, unreachable
database). Reports hold masked numbers only; the allowlist holds SHA-256 digests of card
digits, made with ``--allowlist-entry`` from stdin so that no number reaches the shell
history.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import typer

from cardshield.cards import PAN
from cardshield.discovery.context import ScanLimits, ScanOptions
from cardshield.discovery.errors import ScanOptionError
from cardshield.discovery.findings import ScanReport
from cardshield.discovery.reports import RENDERERS
from cardshield.discovery.runner import Progress, run_scan
from cardshield.discovery.settings import (
    allowlist_entry,
    parse_allowlist,
    parse_since,
    parse_size,
)
from cardshield.errors import CardError, CardshieldError

app = typer.Typer(
    help="Find card numbers (PANs) and track data in files, archives and databases.",
    context_settings={"allow_interspersed_args": True},
)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _print_allowlist_entries() -> None:
    """Read card numbers from stdin, print one allowlist entry per number."""
    bad = 0
    for number, raw in enumerate(sys.stdin.read().splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            pan = PAN(raw)
        except CardError as exc:
            bad += 1
            typer.echo(f"error: line {number}: {exc.message}", err=True)
            continue
        typer.echo(f"{allowlist_entry(pan.reveal())}  # {pan.brand.value} {pan.masked()}")
    if bad:
        raise typer.Exit(2)


def _options(
    exclude: list[str],
    ignore_test_cards: bool,
    allowlist: Path | None,
    since: str | None,
    limits: ScanLimits,
) -> ScanOptions:
    digests: frozenset[str] = frozenset()
    if allowlist is not None:
        try:
            digests = parse_allowlist(allowlist.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ScanOptionError(f"cannot read the allowlist: {exc.strerror}") from exc
    return ScanOptions(
        limits=limits,
        excludes=tuple(exclude),
        ignore_test_cards=ignore_test_cards,
        allowlist=digests,
        since=parse_since(since, time.time()) if since else None,
    )


@app.callback(invoke_without_command=True)
def scan(
    paths: list[str] | None = typer.Argument(
        None, help="Files and directories to scan; '-' reads stdin.", show_default=False
    ),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json, sarif or csv."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write the report to this file instead of stdout."
    ),
    exclude: list[str] = typer.Option(
        [], "--exclude", help="Glob of paths or names to skip (repeatable)."
    ),
    ignore_test_cards: bool = typer.Option(
        False, "--ignore-test-cards", help="Do not report published test card numbers."
    ),
    allowlist: Path | None = typer.Option(
        None, "--allowlist", help="File of sha256:<hex> digests of numbers to ignore."
    ),
    since: str | None = typer.Option(
        None, "--since", help="Only files modified since: 7d, 12h, 30m or an ISO date."
    ),
    jobs: int | None = typer.Option(
        None, "--jobs", "-j", min=1, help="Worker processes (default: all cores)."
    ),
    db: str | None = typer.Option(
        None, "--db", help="Also scan the tables of a live postgresql:// database."
    ),
    db_max_rows: int = typer.Option(100_000, "--db-max-rows", min=1, help="Rows per table."),
    max_depth: int = typer.Option(8, "--max-depth", min=0, help="Container nesting limit."),
    max_expanded: str = typer.Option(
        "1G", "--max-expanded", help="Decompressed bytes per file before it is stopped."
    ),
    max_ratio: int = typer.Option(250, "--max-ratio", min=1, help="Expansion ratio limit."),
    file_timeout: float = typer.Option(
        300.0, "--file-timeout", min=0.1, help="Seconds per file before it is stopped."
    ),
    progress: bool | None = typer.Option(
        None, "--progress/--no-progress", help="Progress bar on stderr (default: if a TTY)."
    ),
    allowlist_entry_mode: bool = typer.Option(
        False,
        "--allowlist-entry",
        help="Read card numbers from stdin and print allowlist entries; scan nothing.",
    ),
) -> None:
    """Scan PATH... for card numbers. Exit 0: none found, 1: findings, 2: error."""
    if allowlist_entry_mode:
        if paths:
            raise _fail("--allowlist-entry reads numbers from stdin, never from arguments")
        _print_allowlist_entries()
        return
    if fmt not in RENDERERS:
        raise _fail(f"unknown format {fmt!r}: use {', '.join(RENDERERS)}")
    paths = paths or []
    if not paths and db is None:
        raise _fail("nothing to scan: give PATH..., '-' for stdin, or --db URL")
    missing = [p for p in paths if p != "-" and not os.path.lexists(p)]
    if missing:
        raise _fail(f"no such file or directory: {missing[0]}")
    try:
        limits = ScanLimits(
            max_depth=max_depth,
            max_expanded_bytes=parse_size(max_expanded),
            max_ratio=max_ratio,
            seconds_per_file=file_timeout,
        )
        options = _options(exclude, ignore_test_cards, allowlist, since, limits)
        bar: Progress | None = None
        if sys.stderr.isatty() if progress is None else progress:
            from cardshield.discovery.progress import RichProgress  # Rich loads only if shown

            bar = RichProgress()
        report = run_scan(paths, options, jobs=jobs, progress=bar) if paths else ScanReport()
        if db is not None:
            from cardshield.discovery.db import scan_database  # psycopg loads only if asked

            for result in scan_database(db, options, max_rows=db_max_rows):
                report.add(result)
            report.finish()
    except CardshieldError as exc:
        raise _fail(exc.message) from None
    rendered = RENDERERS[fmt](report)
    if output is not None:
        try:
            output.write_text(rendered, encoding="utf-8")
        except OSError as exc:
            raise _fail(f"cannot write {output}: {exc.strerror}") from None
    else:
        sys.stdout.write(rendered)
        sys.stdout.flush()
    raise typer.Exit(1 if report.findings else 0)
