"""Names from the scanned tree are data: a CSV cell never starts a formula and the table
never hands a terminal an escape sequence (file, member and column names alike)."""

from __future__ import annotations

import csv
import io
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cardshield.cli import app

from . import builders as b

runner = CliRunner()
CARD = "paid with 4242424242424242\n"
FORMULA = '=HYPERLINK("http://x","click")'
OSC8 = "\x1b]8;;http://x\x07"
# A file name cannot hold "/", so names on disk use the same sequences without one.
FORMULA_FILE = '=HYPERLINK("x.test","click").txt'
OSC8_FILE = "\x1b]8;;x.test\x07link\x1b]8;;\x07.log"
CONTROL_FILE = "bell\x07\r\x1b[2Jclear\x9b.txt"
LEADERS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "tree"
    root.mkdir()
    for name in (FORMULA_FILE, OSC8_FILE, CONTROL_FILE, "+cmd.txt", "@sum.txt", "-1.txt",
                 "\tt.txt", "\rr.txt", "plain.txt"):  # fmt: skip
        (root / name).write_text(CARD)
    (root / "member.zip").write_bytes(b.zip_bytes({f"{OSC8}inner.txt": CARD.encode()}))
    quoted = FORMULA.replace('"', '""')
    b.sqlite_file(root / "app.db", {"t": ([f'"{quoted}"', f'"{OSC8}"'], [(CARD, CARD)])})
    (root / "\x1b]8;;x.test\x07broken.zip").write_bytes(b"PK\x03\x04broken")
    monkeypatch.chdir(root)
    return root


def _scan(fmt: str) -> str:
    names = sorted(os.listdir())  # relative paths: a name leads its cell
    result = runner.invoke(app, ["scan", "--format", fmt, "-j", "1", "--", *names])
    assert result.exit_code == 1, result.output
    return result.stdout


def test_csv_cells_never_start_a_formula(tree: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(_scan("csv"))))
    assert len(rows) == 12
    for row in rows:
        for value in row.values():
            assert not value.startswith(LEADERS), row
    paths = {r["path"] for r in rows}
    for name in (FORMULA_FILE, "+cmd.txt", "@sum.txt", "-1.txt", "\tt.txt", "\rr.txt"):
        assert "'" + name in paths
    assert "plain.txt" in paths and "member.zip!" + OSC8 + "inner.txt" in paths
    assert {r["column"] for r in rows if r["path"] == "app.db!t"} == {"'" + FORMULA, OSC8}


def test_table_output_carries_no_control_characters(tree: Path) -> None:
    out = _scan("table")
    assert all(ord(c) >= 32 or c == "\n" for c in out), repr(out)
    assert not any(0x7F <= ord(c) <= 0x9F for c in out)
    lines = out.splitlines()
    # Still recognisable: each control character is written out as \xNN.
    assert sum("\\x1b]8;;x.test\\x07link\\x1b]8;;\\x07.log:1" in ln for ln in lines) == 1
    assert sum("bell\\x07\\x0d\\x1b[2Jclear\\x9b.txt:1" in ln for ln in lines) == 1
    assert sum("member.zip!\\x1b]8;;http://x\\x07inner.txt:1" in ln for ln in lines) == 1
    assert sum("[\\x1b]8;;http://x\\x07]" in ln for ln in lines) == 1
    assert any(ln.startswith("warning: ") and "\\x1b]8;;x.test\\x07broken.zip" in ln
               for ln in lines)  # fmt: skip
    assert len(lines) == 1 + 12 + 1 + 1  # header, findings, warning, summary


def test_json_keeps_the_exact_names(tree: Path) -> None:
    """JSON escapes by its own rules, so the names there stay exact."""
    doc = json.loads(_scan("json"))
    paths = {f["path"] for f in doc["findings"]}
    assert {FORMULA_FILE, OSC8_FILE, CONTROL_FILE} <= paths


def test_html_escapes_every_name(tree: Path) -> None:
    """Names become text, never markup: a file called like a tag stays a file name."""
    (tree / '<img src=x onerror="alert(1)">&amp;.txt').write_text(CARD)
    page = _scan("html")
    assert "<img" not in page and 'onerror="alert' not in page
    root = ET.fromstring(page.split("\n", 1)[1])  # well-formed: nothing broke out
    assert not [e for e in root.iter() if e.tag.rsplit("}", 1)[-1] in ("img", "script", "a")]
    text = "".join(root.itertext())
    assert '<img src=x onerror="alert(1)">&amp;.txt:1' in text  # shown as it is named
    assert FORMULA_FILE + ":1" in text
    # Control characters are written out, as in the table: no ESC or BEL reaches the page.
    assert "\\x1b]8;;x.test\\x07link\\x1b]8;;\\x07.log:1" in text
    assert "member.zip!\\x1b]8;;http://x\\x07inner.txt:1" in text
    assert not any(ord(c) < 32 and c != "\n" for c in page)
    assert not any(0x7F <= ord(c) <= 0x9F for c in page)
