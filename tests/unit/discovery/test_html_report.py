"""``--format html``: one self-contained page (no script, no external asset), a summary, an
SVG chart of open and closed findings per location, the findings and the warnings."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cardshield.cli import app
from cardshield.discovery import FileResult, Finding, ScanReport, ScanWarning, Severity
from cardshield.discovery.findings import Mark, Status
from cardshield.discovery.reports import RENDERERS
from cardshield.discovery.reports.html import TOP_LOCATIONS, render
from cardshield.discovery.scankey import KEY_ENV

from .test_marks import OTHER_PAN, assert_masked_only

NS = {"h": "http://www.w3.org/1999/xhtml", "svg": "http://www.w3.org/2000/svg"}
MASKED = f"{OTHER_PAN[:6]}******{OTHER_PAN[-4:]}"


def finding(path: str, n: int, status: Status = Status.OPEN) -> Finding:
    mark = None
    if status is not Status.OPEN:
        mark = Mark(status, "fixture", "qsa", "2024-05-01T00:00:00Z", path, MASKED)
    return Finding(
        path, n, "visa", MASKED, "pan", Severity.HIGH, False, id=f"{n:024x}", status=status,
        mark=mark,
    )  # fmt: skip


def report_of(locations: int) -> ScanReport:
    """Location i holds i + 1 findings, every other one closed."""
    report = ScanReport()
    for i in range(locations):
        path = f"/srv/dir{i:02d}/file.log"
        found = [finding(path, k, Status.FALSE_POSITIVE if k % 2 else Status.OPEN)
                 for k in range(i + 1)]  # fmt: skip
        report.add(FileResult(path=path, findings=found))
    report.warnings.append(ScanWarning("/srv/broken.zip", "zip: corrupt"))
    report.finish()
    return report


def parse(page: str) -> ET.Element:
    assert page.startswith("<!DOCTYPE html>\n")
    return ET.fromstring(page.split("\n", 1)[1])  # well-formed XML, or this raises


def test_registered_and_self_contained() -> None:
    assert RENDERERS["html"] is render
    page = render(report_of(3))
    root = parse(page)
    assert root.find(".//h:script", NS) is None
    assert not re.search(r"<script|\bsrc=|\bhref=|url\(|@import|<link|<img|<iframe", page, re.I)
    urls = set(re.findall(r"https?://[^\"' ]+", page))
    assert urls == {"http://www.w3.org/1999/xhtml", "http://www.w3.org/2000/svg"}  # namespaces
    assert root.find(".//h:style", NS) is not None
    csp = root.find(".//h:meta[@http-equiv='Content-Security-Policy']", NS)
    assert csp is not None and "default-src 'none'" in csp.get("content", "")


def test_summary_findings_and_warnings() -> None:
    report = report_of(3)  # 6 findings: 4 open, 2 closed
    root = parse(render(report))
    cells = [td.text for td in root.iterfind(".//h:table[1]//h:td", NS)]
    summary = dict(zip(cells[::2], cells[1::2], strict=True))
    assert (summary["findings"], summary["open"], summary["closed"]) == ("6", "4", "2")
    tables = root.findall(".//h:table", NS)
    rows = tables[1].findall(".//h:tbody/h:tr", NS)
    assert len(rows) == 6
    statuses = ["".join(r.find("h:td", NS).itertext()) for r in rows]  # type: ignore[union-attr]
    assert statuses.count("open") == 4 and statuses.count("false_positive") == 2
    text = "".join(tables[1].itertext())
    assert "fixture (qsa, 2024-05-01T00:00:00Z)" in text and f"{1:024x}" in text
    assert "zip: corrupt" in "".join(tables[2].itertext())


def test_chart_shows_the_top_locations_and_sums_the_rest() -> None:
    report = report_of(TOP_LOCATIONS + 5)
    svg = parse(render(report)).find(".//svg:svg", NS)
    assert svg is not None
    bars = svg.findall("svg:g", NS)
    assert len(bars) == TOP_LOCATIONS + 1
    titles = [b.findtext("svg:title", namespaces=NS) or "" for b in bars]
    # Most findings first: dir24 holds 25 (13 open, 12 closed).
    assert titles[0] == "/srv/dir24/file.log: 13 open, 12 closed"
    rest = [(i + 1 + 1) // 2 for i in range(5)], [(i + 1) // 2 for i in range(5)]
    assert titles[-1] == f"5 other location(s): {sum(rest[0])} open, {sum(rest[1])} closed"
    widths = [float(r.get("width", "0")) for r in bars[0].findall("svg:rect", NS)]
    assert widths[0] > widths[1] > 0  # open, then closed, stacked


def test_no_findings_still_renders() -> None:
    root = parse(render(ScanReport()))
    assert "no findings" in "".join(root.itertext())


def test_cli_html_canary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, str(tmp_path / "scan.key"))
    (tmp_path / f"{OTHER_PAN}.txt").write_text(f"{OTHER_PAN}\n")
    out = tmp_path / "report.html"
    result = CliRunner().invoke(
        app, ["scan", str(tmp_path), "--format", "html", "-o", str(out), "-j", "1"]
    )
    assert result.exit_code == 1, result.output
    page = out.read_text()
    parse(page)
    assert MASKED in page
    assert_masked_only(page)
