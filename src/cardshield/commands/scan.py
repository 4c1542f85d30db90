"""``cardshield scan``: find card numbers in files, archives, documents and databases.

``--db URL`` also scans a live PostgreSQL, MySQL or MariaDB database, table by table.
Exit status: 0 no open finding (none found, or every one closed by a mark), 1 open findings
remain, 2 error (bad option, missing path, unreachable database, unknown finding id, a
refused or failed remediation). Each finding has an id keyed with the scan key
(``--key-file``); with ``--marks FILE`` findings carry their status, ``--mark ID=STATUS``
records marks and ``--remediate mask|quarantine`` acts on the confirmed findings (see
:mod:`cardshield.commands._scan_marks`). Reports hold masked numbers only; the allowlist
holds HMAC-SHA256 digests of card digits under the scan key, made with ``--allowlist-entry``
from stdin so that no number reaches the shell history (older unkeyed ``sha256:`` entries
are still honoured, with a warning: anyone can reverse them).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import typer

from cardshield.cards import PAN
from cardshield.commands._scan_marks import Closing, close
from cardshield.discovery.context import ScanLimits, ScanOptions
from cardshield.discovery.databases import scan_database
from cardshield.discovery.errors import ScanOptionError
from cardshield.discovery.findings import ScanReport
from cardshield.discovery.remediate import FileState, snapshot
from cardshield.discovery.reports import RENDERERS
from cardshield.discovery.runner import Progress, run_scan
from cardshield.discovery.scankey import default_key_path, load_key
from cardshield.discovery.settings import (
    allowlist_entry,
    parse_allowlist,
    parse_since,
    parse_size,
    unkeyed_entries,
)
from cardshield.errors import CardError, CardshieldError
from cardshield.safetext import terminal_text

app = typer.Typer(
    help="Find card numbers (PANs) and track data in files, archives and databases.",
    context_settings={"allow_interspersed_args": True},
)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _print_allowlist_entries(key: bytes) -> None:
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
        typer.echo(f"{allowlist_entry(key, pan.reveal())}  # {pan.brand.value} {pan.masked()}")
    if bad:
        raise typer.Exit(2)


def _options(
    exclude: list[str],
    ignore_test_cards: bool,
    allowlist: Path | None,
    since: str | None,
    limits: ScanLimits,
    key: bytes,
) -> ScanOptions:
    digests: frozenset[str] = frozenset()
    if allowlist is not None:
        try:
            digests = parse_allowlist(allowlist.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ScanOptionError(f"cannot read the allowlist: {exc.strerror}") from exc
        unkeyed = unkeyed_entries(digests)
        if unkeyed:
            typer.echo(
                f"warning: {allowlist} holds {unkeyed} unkeyed sha256 entries, which anyone can "
                "reverse to the card number; make keyed ones with --allowlist-entry and "
                "replace them",
                err=True,
            )
    return ScanOptions(
        limits=limits,
        excludes=tuple(exclude),
        ignore_test_cards=ignore_test_cards,
        allowlist=digests,
        since=parse_since(since, time.time()) if since else None,
        scan_key=key,
    )


@app.callback(invoke_without_command=True)
def scan(
    ctx: typer.Context,
    paths: list[str] | None = typer.Argument(
        None, help="Files and directories to scan; '-' reads stdin.", show_default=False
    ),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json, sarif, csv or html."),
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
        None,
        "--allowlist",
        help="File of hmac:<hex> entries (from --allowlist-entry) of numbers to ignore.",
    ),
    since: str | None = typer.Option(
        None, "--since", help="Only files modified since: 7d, 12h, 30m or an ISO date."
    ),
    jobs: int | None = typer.Option(
        None, "--jobs", "-j", min=1, help="Worker processes (default: all cores)."
    ),
    db: str | None = typer.Option(
        None,
        "--db",
        help="Also scan the tables of a live database: a postgresql:// or mysql://"
        " (mariadb://) URL.",
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
    key_file: Path | None = typer.Option(
        None,
        "--key-file",
        help="Scan key finding ids are keyed with (default: $CARDSHIELD_SCAN_KEY_FILE, "
        "else ~/.config/cardshield/scan.key, created on first use).",
    ),
    marks_file: Path | None = typer.Option(
        None, "--marks", help="Marks file (JSON): findings get their status from it."
    ),
    mark: list[str] = typer.Option(
        [], "--mark", help="ID=confirmed|false_positive|test_data: record a mark (repeatable)."
    ),
    reason: str | None = typer.Option(None, "--reason", help="Why, for the marks recorded."),
    by: str | None = typer.Option(None, "--by", help="Who marks (default: the OS user)."),
    remediate: str | None = typer.Option(
        None, "--remediate", help="mask or quarantine the confirmed findings (or --finding)."
    ),
    quarantine_dir: Path | None = typer.Option(
        None, "--quarantine-dir", help="Where --remediate quarantine moves files."
    ),
    finding: list[str] = typer.Option(
        [], "--finding", help="Remediate this finding id instead of the confirmed ones."
    ),
) -> None:
    """Scan PATH... for card numbers. Exit 0: no open finding, 1: open findings, 2: error."""
    if allowlist_entry_mode:
        if paths:
            raise _fail("--allowlist-entry reads numbers from stdin, never from arguments")
        try:
            key = load_key(key_file or default_key_path())
        except CardshieldError as exc:
            raise _fail(exc.message) from None
        _print_allowlist_entries(key)
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
        closing = Closing.from_options(
            marks_file, mark, reason, by, remediate, quarantine_dir, finding
        )
        key = load_key(key_file or default_key_path())
        limits = ScanLimits(
            max_depth=max_depth,
            max_expanded_bytes=parse_size(max_expanded),
            max_ratio=max_ratio,
            seconds_per_file=file_timeout,
        )
        options = _options(exclude, ignore_test_cards, allowlist, since, limits, key)
        # Before the scan: a file changed after this is refused by remediation.
        states: dict[str, FileState] = snapshot(paths, options) if remediate else {}
        bar: Progress | None = None
        if sys.stderr.isatty() if progress is None else progress:
            from cardshield.discovery.progress import RichProgress  # Rich loads only if shown

            bar = RichProgress()
        report = run_scan(paths, options, jobs=jobs, progress=bar) if paths else ScanReport()
        if db is not None:
            for result in scan_database(db, options, max_rows=db_max_rows):
                report.add(result)
            report.finish()
        failures = close(ctx, closing, report, options, states)
    except CardshieldError as exc:
        raise _fail(exc.message) from None
    if failures:
        for line in failures:
            typer.echo(terminal_text(f"error: {line}"), err=True)
        raise typer.Exit(2)
    rendered = RENDERERS[fmt](report)
    if output is not None:
        try:
            output.write_text(rendered, encoding="utf-8")
        except OSError as exc:
            raise _fail(f"cannot write {output}: {exc.strerror}") from None
    else:
        sys.stdout.write(rendered)
        sys.stdout.flush()
    raise typer.Exit(1 if report.open_count() else 0)
