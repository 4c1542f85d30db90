"""Scan everything the canary flows could have touched for the canaries, with the
discovery scanner: the captured logs, HTTP answers, the data folder (log files, the SQLite
file and its WAL, byte for byte and table by table), a PostgreSQL database, the webhook
events and deliveries, and the phone recording with its transcript.

A finding counts as a leak when its masked form is a canary's (fresh random numbers, so
another card cannot be mistaken for one). The vault's ciphertext is AES-GCM output, so a
canary found anywhere means plaintext outside the vault. A CVV is recognised only beside
a key that names it (see :meth:`Canary.cvv_pattern`). Before scanning, a control document
holding each canary checks that the scanner does see them, so "no hits" means something.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from cardshield.compliance.report.canary import Canary
from cardshield.compliance.report.flows import FlowRun
from cardshield.config import Settings
from cardshield.discovery import FileResult, ScanOptions, run_scan, scan_database
from cardshield.discovery.context import FileContext
from cardshield.discovery.errors import DiscoveryError
from cardshield.discovery.extractors.cells import scan_cell
from cardshield.discovery.matcher import scan_chunks
from cardshield.discovery.scanner import scan_bytes_named
from cardshield.redaction.text import redact
from cardshield.storage import make_engine
from cardshield.storage.schema import events, webhook_attempts, webhook_deliveries

_RAW_CAP = 256 << 20  # CVV search reads files up to this size


@dataclass(frozen=True)
class Hit:
    source: str  # logs | responses | files | database | webhooks | recordings
    location: str  # file, table or stream, as the scanner names it (masked)
    line: int
    column: str | None
    canary: str  # channel whose canary it is, or "cvv"
    kind: str  # pan | track1 | track2 | cvv
    masked: str

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()

    def where(self) -> str:
        col = f" column {self.column}" if self.column else ""
        return f"{self.location} line {self.line}{col}"


@dataclass
class LeakScan:
    hits: list[Hit] = field(default_factory=list)
    scanned: dict[str, int] = field(default_factory=dict)  # source -> bytes or rows looked at
    other_findings: int = 0  # card numbers found that are not this run's canaries
    warnings: list[str] = field(default_factory=list)
    control_ok: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "hits": [h.to_dict() for h in self.hits],
            "scanned": dict(self.scanned),
            "other_findings": self.other_findings,
            "warnings": list(self.warnings),
            "scanner_control_ok": self.control_ok,
        }


class _Collector:
    def __init__(self, canary: Canary, options: ScanOptions) -> None:
        self.canary = canary
        self.options = options
        self.scan = LeakScan()
        self._cvv = canary.cvv_pattern()

    def results(self, source: str, results: list[FileResult]) -> None:
        for result in results:
            self.scan.scanned[source] = self.scan.scanned.get(source, 0) + result.bytes_read
            self.scan.warnings.extend(f"{w.path}: {w.message}" for w in result.warnings)
            for f in result.findings:
                channel = self.canary.matches(f)
                if channel is None:
                    self.scan.other_findings += 1
                    continue
                self.scan.hits.append(
                    Hit(source, f.path, f.line, f.column, channel, f.kind, f.masked)
                )

    def blob(self, source: str, name: str, data: bytes) -> None:
        self.results(source, [scan_bytes_named(name, data, self.options)])
        self.cvv(source, name, data)

    def cvv(self, source: str, name: str, data: bytes) -> None:
        for match in self._cvv.finditer(data):
            line = data.count(b"\n", 0, match.start()) + 1
            self.scan.hits.append(Hit(source, redact(name), line, None, "cvv", "cvv", "***"))


def _control(collector: _Collector) -> bool:
    cards = collector.canary.cards()
    text = "\n".join(f"control {pan.reveal()}" for pan in cards.values())
    result = scan_bytes_named("control", text.encode("ascii"), collector.options)
    seen = {collector.canary.matches(f) for f in result.findings}
    cvv_seen = collector._cvv.search(f'{{"cvc": "{collector.canary.cvv.reveal()}"}}'.encode())
    return seen == set(cards) and cvv_seen is not None


def _files(collector: _Collector, paths: list[Path]) -> None:
    existing = [str(p) for p in paths if p.exists()]
    collector.scan.warnings.extend(f"{p}: not found, not scanned" for p in paths if not p.exists())
    if not existing:
        return
    try:
        report = run_scan(existing, collector.options, jobs=1)
    except DiscoveryError as exc:
        collector.scan.warnings.append(f"file scan failed: {exc.message}")
        return
    collector.scan.scanned["files"] = report.stats.bytes
    collector.scan.warnings.extend(f"{w.path}: {w.message}" for w in report.warnings)
    for f in report.findings:
        channel = collector.canary.matches(f)
        if channel is None:
            collector.scan.other_findings += 1
            continue
        source = "database" if f.column else "files"
        collector.scan.hits.append(Hit(source, f.path, f.line, f.column, channel, f.kind, f.masked))
    for root in existing:
        base = Path(root)
        for path in [base] if base.is_file() else sorted(base.rglob("*")):
            if path.is_file() and path.stat().st_size <= _RAW_CAP:
                collector.cvv("files", str(path), path.read_bytes())


def _sqlite_tables(collector: _Collector, url: str) -> None:
    """Every column of every table through a live connection, so rows still in the WAL
    count too (the file scan opens the database file as it is on disk)."""
    engine = make_engine(url)
    results: list[FileResult] = []
    try:
        with engine.connect() as conn:
            names = [
                r[0]
                for r in conn.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                )
            ]
            for name in names:
                member = f"{url.removeprefix('sqlite:///')}!{name}"
                result = FileResult(path=member, members=1)
                ctx = FileContext(collector.options, result, 1)
                quoted = '"' + name.replace('"', '""') + '"'
                # B608 does not apply: no value is interpolated, only a table name read from
                # sqlite_master, quoted as an identifier (identifiers cannot be bound).
                cursor = conn.exec_driver_sql(f"SELECT * FROM {quoted}")  # noqa: S608  # nosec B608
                columns = list(cursor.keys())
                for row_number, row in enumerate(cursor, start=1):
                    for column, value in zip(columns, row, strict=False):
                        result.bytes_read += scan_cell(ctx, member, row_number, column, value)
                results.append(result)
    finally:
        engine.dispose()
    collector.results("database", results)


def _raw_bytes(collector: _Collector, path: Path) -> None:
    """The database file byte for byte: free pages and unvacuumed space keep deleted rows,
    which a table scan cannot see."""
    if not path.is_file():
        return
    member = f"{path}#bytes"
    result = FileResult(path=member, members=1)
    ctx = FileContext(collector.options, result, path.stat().st_size)

    def chunks() -> Iterator[bytes]:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                result.bytes_read += len(chunk)
                yield chunk

    ctx.report(member, list(scan_chunks(chunks(), lookalikes=False)))
    collector.results("files", [result])


def _webhooks(collector: _Collector, settings: Settings, merchant_id: str) -> None:
    engine = make_engine(settings.effective_database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(events.c.id, events.c.type, events.c.data).where(
                    events.c.merchant_id == merchant_id
                )
            ).all()
            for row in rows:
                body = json.dumps({"id": row.id, "type": row.type, "data": row.data}).encode()
                collector.blob("webhooks", f"events!{row.id}", body)
            deliveries = conn.execute(
                select(webhook_deliveries.c.id, webhook_deliveries.c.last_error).where(
                    webhook_deliveries.c.merchant_id == merchant_id
                )
            ).all()
            for d in deliveries:
                collector.blob("webhooks", f"webhook_deliveries!{d.id}", str(d.last_error).encode())
            attempts = conn.execute(
                select(webhook_attempts.c.id, webhook_attempts.c.error).where(
                    webhook_attempts.c.delivery_id.in_([d.id for d in deliveries])
                )
            ).all()
            for a in attempts:
                collector.blob("webhooks", f"webhook_attempts!{a.id}", str(a.error).encode())
    finally:
        engine.dispose()
    collector.scan.scanned["webhook_events"] = len(rows)


def scan_for_canaries(
    settings: Settings, canary: Canary, run: FlowRun, *, extra_paths: tuple[Path, ...] = ()
) -> LeakScan:
    """Look for this run's canaries everywhere the flows could have left them."""
    # Every card-shaped number counts in a leak test: no look-alike is explained away.
    collector = _Collector(canary, ScanOptions(lookalikes=False))
    collector.scan.control_ok = _control(collector)
    collector.blob("logs", "canary-run.log", run.logs)
    for name, body in run.responses:
        collector.blob("responses", name, body)
    url = settings.effective_database_url
    paths = [settings.data_dir, *extra_paths]
    if url.startswith("sqlite:///"):
        _sqlite_tables(collector, url)
        db = Path(url.removeprefix("sqlite:///"))
        _raw_bytes(collector, db)
        if settings.data_dir.resolve() not in db.resolve().parents:
            paths += [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-journal")]
    else:
        try:
            collector.results(
                "database", scan_database(url.replace("+psycopg", ""), collector.options)
            )
        except DiscoveryError as exc:
            collector.scan.warnings.append(f"database scan failed: {exc.message}")
    _files(collector, paths)
    _webhooks(collector, settings, run.merchant_id)
    collector.blob("recordings", "recordings/canary-call.wav", run.recording)
    collector.blob("recordings", "recordings/canary-call.wav#transcript", run.transcript.encode())
    if canary.cvv.reveal() in run.transcript:
        collector.scan.hits.append(
            Hit("recordings", "recordings/canary-call.wav#transcript", 1, None, "cvv", "cvv", "***")
        )
    collector.scan.scanned["recording_bytes"] = len(run.recording)
    return collector.scan
