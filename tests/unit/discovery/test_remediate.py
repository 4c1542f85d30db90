"""``cardshield scan --remediate mask|quarantine``: files changed only as asked, never a
member of a container, never a file changed since the scan, one audit entry per file."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

import cardshield.commands.scan as command
import cardshield.discovery.quarantine as quarantine
import cardshield.discovery.remediate as module
from cardshield.cli import app
from cardshield.commands._scan_marks import os_user
from cardshield.crypto.kms import init_kms
from cardshield.discovery import FileResult, Finding, ScanOptions, ScanReport, Severity, run_scan
from cardshield.discovery.errors import RemediationError, ScanOptionError
from cardshield.discovery.remediate import plan, remediate, snapshot
from cardshield.discovery.rewrite import mask_bytes
from cardshield.discovery.scankey import KEY_ENV
from cardshield.storage import make_engine, upgrade
from cardshield.storage.schema import audit_log
from tests.conftest import CANARY_PAN

from . import builders as b
from .test_marks import OTHER_PAN, THIRD_PAN, assert_masked_only

runner = CliRunner()
MASKED = f"{OTHER_PAN[:6]}******{OTHER_PAN[-4:]}"


def grouped(pan: str, sep: str = " ") -> str:
    return sep.join(pan[i : i + 4] for i in range(0, len(pan), 4))


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An embedded deployment (SQLite and a local key file) the audit entries go to."""
    data = tmp_path / "data"
    data.mkdir()
    engine = make_engine(f"sqlite:///{data / 'vault.db'}")
    upgrade(engine)
    engine.dispose()
    init_kms(f"local:{data / 'kek.key'}").close()
    monkeypatch.setenv("CARDSHIELD_DATA_DIR", str(data))
    monkeypatch.setenv(KEY_ENV, str(tmp_path / "scan.key"))
    return data


@pytest.fixture
def tree(tmp_path: Path, data_dir: Path) -> Path:
    root = tmp_path / "tree"
    (root / "logs").mkdir(parents=True)
    return root


def audit_rows(data_dir: Path) -> list[Any]:
    engine = make_engine(f"sqlite:///{data_dir / 'vault.db'}")
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(audit_log).order_by(audit_log.c.seq)))
    finally:
        engine.dispose()


def scan(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["scan", "-j", "1", *args])
    return result.exit_code, result.output


def findings(*args: str) -> list[dict[str, Any]]:
    result = runner.invoke(app, ["scan", "-j", "1", "--format", "json", *args])
    assert result.exit_code in (0, 1), result.output
    found: list[dict[str, Any]] = json.loads(result.stdout)["findings"]
    return found


def _name(path: str) -> str:
    """The last name of a display path, member paths (``x.zip!in/a.txt``) included."""
    return path.rsplit("!", 1)[-1].rsplit("/", 1)[-1]


def confirm(root: Path, marks: Path, *names: str) -> list[str]:
    """Mark every finding in the files called ``names`` confirmed; their ids."""
    ids = sorted({f["id"] for f in findings(str(root)) if _name(f["path"]) in names})
    args = [a for i in ids for a in ("--mark", f"{i}=confirmed")]
    assert scan(str(root), "--marks", str(marks), *args)[0] == 1
    return ids


# --- mask --------------------------------------------------------------------------------


def test_mask_keeps_every_other_byte_and_the_rescan_finds_nothing(
    tree: Path, tmp_path: Path, data_dir: Path
) -> None:
    log = tree / "logs" / "app.log"
    before = (
        f"caf\u00e9 start\r\npaid {grouped(OTHER_PAN)} ok\r\n"
        f"again {OTHER_PAN}; other {THIRD_PAN}\r\n"
        f"track ;{OTHER_PAN}=25121010000000000000?\r\nend"
    ).encode()
    log.write_bytes(before)
    os.chmod(log, 0o640)
    marks = tmp_path / "marks.json"
    (target,) = {f["id"] for f in findings(str(tree)) if f["masked"] == MASKED}
    scan(str(tree), "--marks", str(marks), "--mark", f"{target}=confirmed")

    result = runner.invoke(
        app, ["scan", str(tree), "--marks", str(marks), "--remediate", "mask", "--format", "json"]
    )
    assert result.exit_code == 1, result.output  # the other number is still open
    assert result.stderr == f"masked in place: {log} (1 finding(s))\n"
    hidden = f"{OTHER_PAN[:6]}******{OTHER_PAN[-4:]}"
    expected = (
        f"caf\u00e9 start\r\npaid {OTHER_PAN[:4]} {OTHER_PAN[4:6]}** **** {OTHER_PAN[-4:]} ok\r\n"
        f"again {hidden}; other {THIRD_PAN}\r\n"
        f"track ;{hidden}=********************?\r\nend"
    ).encode()
    assert log.read_bytes() == expected
    assert stat.S_IMODE(log.stat().st_mode) == 0o640
    assert [p.name for p in log.parent.iterdir()] == ["app.log"]  # no temporary file left
    left = findings(str(tree), "--marks", str(marks))
    assert [f["masked"] for f in left] == [f"{THIRD_PAN[:6]}******{THIRD_PAN[-4:]}"]
    assert json.loads(marks.read_text())["marks"][target]["status"] == "remediated"
    report = json.loads(result.stdout)
    assert {f["status"] for f in report["findings"] if f["id"] == target} == {"remediated"}


def test_mask_keeps_utf16_and_its_byte_order_mark(tree: Path, tmp_path: Path) -> None:
    doc = tree / "export.txt"
    doc.write_bytes(f"name,card\r\nx,{OTHER_PAN}\r\n".encode("utf-16"))
    marks = tmp_path / "marks.json"
    confirm(tree, marks, "export.txt")
    code, out = scan(str(tree), "--marks", str(marks), "--remediate", "mask")
    assert code == 0, out
    assert doc.read_bytes() == f"name,card\r\nx,{MASKED}\r\n".encode("utf-16")


def test_masking_bytes_directly() -> None:
    data = f"\xe9t\xe9 latin-1 {OTHER_PAN}\n".encode("latin-1")
    masked, count = mask_bytes(data, lambda digits: digits == OTHER_PAN)
    assert count == 1 and masked == f"\xe9t\xe9 latin-1 {MASKED}\n".encode("latin-1")
    untouched, count = mask_bytes(data, lambda digits: False)
    assert count == 0 and untouched == data


def test_mask_refuses_members_and_containers_and_touches_nothing(
    tree: Path, tmp_path: Path, data_dir: Path
) -> None:
    (tree / "x.zip").write_bytes(b.zip_bytes({"a.txt": f"{OTHER_PAN}\n".encode()}))
    (tree / "letter.docx").write_bytes(b.docx_bytes([[OTHER_PAN]]))
    (tree / "plain.txt").write_text(f"{OTHER_PAN}\n")
    before = {p.name: p.read_bytes() for p in tree.iterdir() if p.is_file()}
    marks = tmp_path / "marks.json"
    ids = confirm(tree, marks, "a.txt", "letter.docx", "document.xml", "plain.txt")
    marks_before = marks.read_bytes()
    code, out = scan(str(tree), "--marks", str(marks), "--remediate", "mask")
    assert code == 2
    lines = out.strip().splitlines()
    assert len(lines) == 2 and all(ln.startswith("error: ") for ln in lines)
    assert any(f"{tree / 'x.zip'}!a.txt: inside an archive" in ln for ln in lines)
    assert any("letter.docx" in ln and "inside an archive" in ln for ln in lines)
    assert {p.name: p.read_bytes() for p in tree.iterdir() if p.is_file()} == before
    assert marks.read_bytes() == marks_before and audit_rows(data_dir) == []
    assert len(ids) == 3


def test_mask_refuses_a_top_level_container_file(tree: Path) -> None:
    """Whatever a finding's path says, a top-level file that detect() calls a container (a
    .docx is a zip) is never rewritten as text; quarantine may move it whole."""
    docx = tree / "letter.docx"
    docx.write_bytes(b.docx_bytes([[OTHER_PAN]]))
    report = ScanReport()
    finding = Finding(str(docx), 1, "visa", MASKED, "pan", Severity.HIGH, False, id="ab" * 12)
    report.add(FileResult(path=str(docx), findings=[finding]))
    states = snapshot([str(tree)], ScanOptions())
    targets, refused = plan(report, {"ab" * 12}, states, "mask")
    assert targets == []
    assert refused == [
        f"{docx}: a zip file: mask rewrites plain-text files only (quarantine moves it whole)"
    ]
    targets, refused = plan(report, {"ab" * 12}, states, "quarantine", tree / "q")
    assert refused == [] and [t.state.path for t in targets] == [str(docx)]
    with pytest.raises(ScanOptionError):
        plan(report, {"cd" * 12}, states, "mask")


def test_a_file_changed_since_the_scan_is_refused(
    tree: Path, tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tree / "logs" / "app.log"
    log.write_text(f"{OTHER_PAN}\n")
    marks = tmp_path / "marks.json"
    confirm(tree, marks, "app.log")
    real = run_scan

    def scan_then_write(*args: Any, **kwargs: Any) -> Any:
        report = real(*args, **kwargs)
        with log.open("a") as stream:
            stream.write("a line written after the scan\n")
        return report

    monkeypatch.setattr(command, "run_scan", scan_then_write)
    code, out = scan(str(tree), "--marks", str(marks), "--remediate", "mask")
    assert code == 2
    assert out.strip() == f"error: {log}: changed since the scan: scan it again"
    assert log.read_text() == f"{OTHER_PAN}\na line written after the scan\n"
    assert audit_rows(data_dir) == []


def test_a_failed_file_operation_rolls_its_audit_entry_back(
    tree: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tree / "a.txt").write_text(f"{OTHER_PAN}\n")
    (tree / "b.txt").write_text(f"{THIRD_PAN}\n")
    options = ScanOptions()
    states = snapshot([str(tree)], options)
    report = run_scan([str(tree)], options, jobs=1)
    targets, refused = plan(report, {f.id for f in report.findings}, states, "mask")
    assert len(targets) == 2 and refused == []
    real = module.mask_file

    def fail_on_b(target: Any, opts: ScanOptions) -> None:
        if target.state.display.endswith("b.txt"):
            raise RemediationError("disk full")
        real(target, opts)

    monkeypatch.setattr(module, "mask_file", fail_on_b)
    engine = make_engine(f"sqlite:///{data_dir / 'vault.db'}")
    done, failed = remediate(
        engine, targets, mode="mask", options=options, actor="cli:test",
        clock=lambda: datetime(2024, 5, 1, tzinfo=UTC),
    )  # fmt: skip
    engine.dispose()
    assert [t.state.display for t in done] == [str(tree / "a.txt")]
    assert failed == [f"{tree / 'b.txt'}: disk full"]
    assert [r.target for r in audit_rows(data_dir)] == [str(tree / "a.txt")]
    assert (tree / "b.txt").read_text() == f"{THIRD_PAN}\n"


def test_hard_links_and_symbolic_links_are_refused(tree: Path, tmp_path: Path) -> None:
    (tree / "a.txt").write_text(f"{OTHER_PAN}\n")
    os.link(tree / "a.txt", tmp_path / "elsewhere.txt")
    (tree / "b.txt").symlink_to(tmp_path / "target.txt")
    (tmp_path / "target.txt").write_text(f"{THIRD_PAN}\n")
    marks = tmp_path / "marks.json"
    confirm(tree, marks, "a.txt", "b.txt")
    code, out = scan(str(tree), "--marks", str(marks), "--remediate", "mask")
    assert code == 2
    assert "2 hard links" in out and "a symbolic link" in out
    assert (tree / "a.txt").read_text() == f"{OTHER_PAN}\n"


def test_remediation_without_a_deployment_is_one_line_and_touches_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARDSHIELD_DATA_DIR", str(tmp_path / "nothing"))
    monkeypatch.setenv(KEY_ENV, str(tmp_path / "scan.key"))
    (tmp_path / "a.txt").write_text(f"{OTHER_PAN}\n")
    marks = tmp_path / "marks.json"
    confirm(tmp_path / "a.txt", marks, "a.txt")
    code, out = scan(str(tmp_path / "a.txt"), "--marks", str(marks), "--remediate", "mask")
    assert code == 2 and len(out.strip().splitlines()) == 1
    assert (tmp_path / "a.txt").read_text() == f"{OTHER_PAN}\n"


@pytest.mark.parametrize(
    "args",
    [
        ["--remediate", "mask"],  # no --marks
        ["--marks", "m.json", "--remediate", "shred"],
        ["--marks", "m.json", "--remediate", "quarantine"],  # no --quarantine-dir
        ["--marks", "m.json", "--remediate", "mask", "--quarantine-dir", "q"],
        ["--marks", "m.json", "--finding", "ab" * 12],  # no --remediate
        ["--marks", "m.json", "--remediate", "mask", "--finding", "ab" * 12],  # unknown id
    ],
)
def test_bad_remediation_options(tree: Path, args: list[str]) -> None:
    (tree / "a.txt").write_text(f"{OTHER_PAN}\n")
    code, out = scan(str(tree), *args)
    assert code == 2 and out.startswith("error: ") and len(out.strip().splitlines()) == 1
    assert (tree / "a.txt").read_text() == f"{OTHER_PAN}\n"


# --- quarantine --------------------------------------------------------------------------


def test_quarantine_moves_files_and_writes_the_manifest(
    tree: Path, tmp_path: Path, data_dir: Path
) -> None:
    log = tree / "logs" / "app.log"
    log.write_text(f"paid {OTHER_PAN}\n")
    box = tree / "dump.zip"
    box.write_bytes(b.zip_bytes({"in/cards.csv": f"card {THIRD_PAN}\n".encode()}))
    sizes = {"app.log": log.stat().st_size, "dump.zip": box.stat().st_size}
    digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (log, box)}
    marks = tmp_path / "marks.json"
    ids = confirm(tree, marks, "app.log", "cards.csv")
    quarantine = tmp_path / "q"
    code, out = scan(
        str(tree), "--marks", str(marks), "--remediate", "quarantine",
        "--quarantine-dir", str(quarantine),
    )  # fmt: skip
    assert code == 0, out
    assert not log.exists() and not box.exists()
    assert (quarantine / "logs" / "app.log").read_text() == f"paid {OTHER_PAN}\n"
    assert (quarantine / "dump.zip").is_file()
    assert stat.S_IMODE(quarantine.stat().st_mode) == 0o700
    assert stat.S_IMODE((quarantine / "logs").stat().st_mode) == 0o700
    manifest = quarantine / "manifest.jsonl"
    assert stat.S_IMODE(manifest.stat().st_mode) == 0o600
    lines = [json.loads(ln) for ln in manifest.read_text().splitlines()]
    by_name = {Path(ln["original"]).name: ln for ln in lines}
    assert set(by_name) == {"app.log", "dump.zip"}
    entry = by_name["app.log"]
    assert entry["original"] == str(log)
    assert entry["quarantined"] == str(quarantine / "logs" / "app.log")
    assert (entry["sha256"], entry["size"]) == (digests["app.log"], sizes["app.log"])
    assert entry["masked"] == [MASKED] and entry["at"].endswith("Z")
    assert by_name["dump.zip"]["masked"] == [f"{THIRD_PAN[:6]}******{THIRD_PAN[-4:]}"]
    assert sorted(entry["finding_ids"] + by_name["dump.zip"]["finding_ids"]) == ids
    assert {m["status"] for m in json.loads(marks.read_text())["marks"].values()} == {"remediated"}
    rows = audit_rows(data_dir)
    assert [(r.action, r.target) for r in rows] == [
        ("scan.remediate.quarantine", str(box)), ("scan.remediate.quarantine", str(log))
    ]  # fmt: skip
    assert all(r.actor == f"cli:{os_user()}" for r in rows)
    assert json.loads(rows[1].details) == {"finding_ids": entry["finding_ids"], "masked": [MASKED]}


def test_quarantine_refuses_to_overwrite(tree: Path, tmp_path: Path, data_dir: Path) -> None:
    log = tree / "logs" / "app.log"
    log.write_text(f"paid {OTHER_PAN}\n")
    quarantine = tmp_path / "q"
    (quarantine / "logs").mkdir(parents=True)
    (quarantine / "logs" / "app.log").write_text("an earlier file\n")
    marks = tmp_path / "marks.json"
    confirm(tree, marks, "app.log")
    code, out = scan(
        str(tree), "--marks", str(marks), "--remediate", "quarantine",
        "--quarantine-dir", str(quarantine),
    )  # fmt: skip
    assert code == 2
    assert "already exists in the quarantine" in out and len(out.strip().splitlines()) == 1
    assert log.read_text() == f"paid {OTHER_PAN}\n"
    assert (quarantine / "logs" / "app.log").read_text() == "an earlier file\n"
    assert not (quarantine / "manifest.jsonl").exists() and audit_rows(data_dir) == []


def test_finding_option_chooses_what_is_remediated(
    tree: Path, tmp_path: Path, data_dir: Path
) -> None:
    (tree / "a.txt").write_text(f"{OTHER_PAN}\n")
    (tree / "b.txt").write_text(f"{THIRD_PAN}\n")
    marks = tmp_path / "marks.json"
    chosen = [f["id"] for f in findings(str(tree)) if f["path"].endswith("b.txt")]
    code, _ = scan(str(tree), "--marks", str(marks), "--remediate", "mask", "--finding", chosen[0])
    assert code == 1  # a.txt stays open
    assert (tree / "a.txt").read_text() == f"{OTHER_PAN}\n"
    assert (tree / "b.txt").read_text() == f"{THIRD_PAN[:6]}******{THIRD_PAN[-4:]}\n"
    assert [r.action for r in audit_rows(data_dir)] == ["scan.remediate.mask"]


def test_canary_no_number_in_manifest_audit_log_or_output(
    tree: Path, tmp_path: Path, data_dir: Path
) -> None:
    named = tree / "logs" / f"{OTHER_PAN}.log"  # shown as 453201******0366.log
    named.write_text(f"{OTHER_PAN}\n{CANARY_PAN}\n")
    (tree / "notes.txt").write_text(f"{grouped(OTHER_PAN, '-')}\n")
    (tree / "moved.txt").write_text(f"{OTHER_PAN}\n")
    (tree / f"{THIRD_PAN}.csv").write_text(f"{OTHER_PAN}\n")
    marks = tmp_path / "marks.json"
    args = [str(tree), "--marks", str(marks), "--reason", OTHER_PAN, "--by", CANARY_PAN]
    confirm(tree, marks, f"{MASKED}.log", "notes.txt")
    code, out = scan(*args, "--remediate", "mask", "--format", "json")
    assert code == 1, out  # moved.txt and the .csv are still open
    assert named.read_text() == f"{MASKED}\n424242******4242\n"
    assert_masked_only(out)
    confirm(tree, marks, "moved.txt", f"{THIRD_PAN[:6]}******{THIRD_PAN[-4:]}.csv")
    code, out = scan(
        *args, "--remediate", "quarantine", "--quarantine-dir", str(tmp_path / "q"),
        "--format", "html",
    )  # fmt: skip
    assert code == 0, out
    assert (tmp_path / "q" / f"{THIRD_PAN}.csv").is_file()  # moved under its own name
    for text in (out, (tmp_path / "q" / "manifest.jsonl").read_text(), marks.read_text()):
        assert_masked_only(text)
        assert_masked_only(text, THIRD_PAN)
    rows = audit_rows(data_dir)
    assert [r.action for r in rows] == ["scan.remediate.mask"] * 2 + [
        "scan.remediate.quarantine"
    ] * 2
    for row in rows:
        assert_masked_only(f"{row.actor} {row.target} {row.details}")
        assert_masked_only(f"{row.actor} {row.target} {row.details}", THIRD_PAN)


def test_a_long_path_keeps_its_end_in_the_audit_target(tree: Path, data_dir: Path) -> None:
    deep = tree / ("d" * 80) / ("e" * 80)
    deep.mkdir(parents=True)
    (deep / "a.txt").write_text(f"{OTHER_PAN}\n")
    options = ScanOptions()
    states = snapshot([str(tree)], options)
    report = run_scan([str(tree)], options, jobs=1)
    targets, _ = plan(report, {f.id for f in report.findings}, states, "mask")
    engine = make_engine(f"sqlite:///{data_dir / 'vault.db'}")
    done, failed = remediate(
        engine, targets, mode="mask", options=options, actor="cli:test",
        clock=lambda: datetime(2024, 5, 1, tzinfo=UTC),
    )  # fmt: skip
    engine.dispose()
    assert failed == [] and len(done) == 1
    (row,) = audit_rows(data_dir)
    assert len(row.target) == 128 and row.target.startswith("...")
    assert row.target.endswith(f"{'e' * 80}/a.txt")
    assert json.loads(row.details)["path"] == str(deep / "a.txt")


def test_quarantine_copies_across_file_systems_without_overwriting(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tree / "a.txt").write_text(f"{OTHER_PAN}\n")
    os.chmod(tree / "a.txt", 0o640)
    options = ScanOptions()
    states = snapshot([str(tree)], options)
    report = run_scan([str(tree)], options, jobs=1)
    (target,), _ = plan(report, {f.id for f in report.findings}, states, "quarantine", tmp_path)

    def cross_device(src: object, dst: object) -> None:
        raise OSError(18, "Invalid cross-device link")  # EXDEV

    monkeypatch.setattr(quarantine.os, "link", cross_device)
    quarantine.quarantine_file(target, tmp_path / "q", datetime(2024, 5, 1, tzinfo=UTC))
    moved = tmp_path / "q" / "a.txt"
    assert moved.read_text() == f"{OTHER_PAN}\n" and not (tree / "a.txt").exists()
    assert stat.S_IMODE(moved.stat().st_mode) == 0o640
    (tree / "a.txt").write_text("new\n")
    again = snapshot([str(tree)], options)[str(tree / "a.txt")]
    with pytest.raises(RemediationError, match="already exists in the quarantine"):
        quarantine.quarantine_file(
            module.Target(again, target.findings), tmp_path / "q", datetime.now(UTC)
        )
    assert moved.read_text() == f"{OTHER_PAN}\n" and (tree / "a.txt").read_text() == "new\n"
