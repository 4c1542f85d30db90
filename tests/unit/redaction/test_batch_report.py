"""The batch redaction report names recordings from the folder: its CSV cells never start
a formula and a control character in a name cannot split a row."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from typer.testing import CliRunner

from cardshield.cli import app

runner = CliRunner()
NAMES = ('=HYPERLINK("x.test","click").wav', "+a.wav", "-b.wav", "@c.wav", "\td.wav",
         "\re\rf.wav", "plain.wav")  # fmt: skip


def test_report_csv_quotes_names_that_would_run_as_formulas(tmp_path: Path) -> None:
    src, out = tmp_path / "calls", tmp_path / "redacted"
    src.mkdir()
    for name in NAMES:
        (src / name).write_bytes(b"not audio")  # each becomes an error row, quickly
    result = runner.invoke(app, ["redact", "audio", str(src), "--out", str(out), "--json"])
    assert result.exit_code == 1, result.output
    text = (out / "redaction-report.csv").read_bytes().decode("utf-8")  # no newline translation
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == len(NAMES)
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), row
    expected = {n if n == "plain.wav" else "'" + n for n in NAMES}
    assert {r["file"] for r in rows} == expected
