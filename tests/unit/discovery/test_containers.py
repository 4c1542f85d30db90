"""Containers and documents, opened recursively, within the safety limits."""

from __future__ import annotations

import zipfile
from email.message import EmailMessage
from pathlib import Path

from cardshield.discovery import ScanLimits, ScanOptions, ScanReport, run_scan

from . import builders as b

LOG = b"line one\ncard 4111 1111 1111 1111 here\n"


def scan(path: Path, **limits: float) -> ScanReport:
    options = ScanOptions(limits=ScanLimits(**limits))  # type: ignore[arg-type]
    return run_scan([str(path)], options, jobs=1)


def found(report: ScanReport, root: Path) -> list[tuple[str, int, str]]:
    prefix = str(root) + "/"
    return [(f.path.removeprefix(prefix), f.line, f.masked) for f in report.findings]


def test_archives_nested_three_deep(tmp_path: Path) -> None:
    inner_tar = b.tar_bytes({"c/app.log.gz": b.gz(LOG), "c/other.txt.bz2": b.bz(LOG)})
    middle = b.zip_bytes({"b.tar": inner_tar, "d.xz": b.xz(b"x\n5555555555554444\n")})
    (tmp_path / "a.zip").write_bytes(b.zip_bytes({"inner/middle.zip": middle}))
    report = scan(tmp_path)
    assert found(report, tmp_path) == [
        ("a.zip!inner/middle.zip!b.tar!c/app.log.gz!app.log", 2, "411111******1111"),
        ("a.zip!inner/middle.zip!b.tar!c/other.txt.bz2!other.txt", 2, "411111******1111"),
        ("a.zip!inner/middle.zip!d.xz!d", 2, "555555******4444"),
    ]
    assert report.warnings == []


def test_tar_gz_is_opened_as_gzip_then_tar(tmp_path: Path) -> None:
    (tmp_path / "logs.tgz").write_bytes(b.gz(b.tar_bytes({"app.log": LOG})))
    assert found(scan(tmp_path), tmp_path) == [("logs.tgz!logs.tar!app.log", 2, "411111******1111")]


def test_zip_bomb_is_stopped_with_a_warning(tmp_path: Path) -> None:
    bomb = b.zip_bytes({"zeros.bin": b"0" * (8 << 20), "after.txt": b"4242424242424242"})
    (tmp_path / "bomb.zip").write_bytes(bomb)
    (tmp_path / "ok.txt").write_bytes(b"5555555555554444\n")
    report = scan(tmp_path, max_expanded_bytes=1 << 20)
    assert [w.path for w in report.warnings] == [str(tmp_path / "bomb.zip")]
    assert "zip bomb" in report.warnings[0].message
    assert found(report, tmp_path) == [("ok.txt", 1, "555555******4444")]


def test_expansion_ratio_stops_a_gzip_bomb(tmp_path: Path) -> None:
    (tmp_path / "zeros.gz").write_bytes(b.gz(b"\0" * (24 << 20)))
    report = scan(tmp_path, max_ratio=100, ratio_floor=1 << 20)
    assert len(report.warnings) == 1
    assert "ratio" in report.warnings[0].message


def test_nesting_deeper_than_the_limit_is_not_opened(tmp_path: Path) -> None:
    data = b"4242424242424242"
    for i in range(4):
        data = b.zip_bytes({f"level{i}.zip" if i else "card.txt": data})
    (tmp_path / "deep.zip").write_bytes(data)
    report = scan(tmp_path, max_depth=2)
    assert report.findings == []
    assert "nested deeper than 2" in report.warnings[0].message
    assert len(scan(tmp_path, max_depth=8).findings) == 1


def test_corrupt_files_are_warned_about_and_the_scan_goes_on(tmp_path: Path) -> None:
    (tmp_path / "a_bad.zip").write_bytes(b"PK\x03\x04" + b"\x00garbage" * 20)
    (tmp_path / "b_bad.gz").write_bytes(b.gz(LOG)[:30])
    (tmp_path / "c_bad.pdf").write_bytes(b"%PDF-1.4\n1 0 obj <<\n")
    (tmp_path / "d_bad.db").write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)
    good = b.zip_bytes({"ok.txt": LOG})
    # A member whose data is damaged: its CRC no longer matches.
    damaged = bytearray(b.zip_bytes({"broken.txt": LOG * 50, "fine.txt": LOG}, zipfile.ZIP_STORED))
    damaged[60] ^= 0xFF
    (tmp_path / "e_damaged.zip").write_bytes(bytes(damaged))
    (tmp_path / "f_good.zip").write_bytes(good)
    report = scan(tmp_path)
    warned = sorted(w.path.removeprefix(str(tmp_path) + "/") for w in report.warnings)
    assert warned == ["a_bad.zip", "b_bad.gz", "c_bad.pdf", "d_bad.db", "e_damaged.zip!broken.txt"]
    assert found(report, tmp_path) == [
        ("e_damaged.zip!fine.txt", 2, "411111******1111"),
        ("f_good.zip!ok.txt", 2, "411111******1111"),
    ]
    assert report.stats.files == 6


def test_word_document_with_a_number_split_across_runs(tmp_path: Path) -> None:
    doc = b.docx_bytes([["intro"], ["card: 4242 42", "42 4242 4242"], ["3782 822463 10005"]])
    (tmp_path / "doc.docx").write_bytes(doc)
    assert found(scan(tmp_path), tmp_path) == [
        ("doc.docx!word/document.xml", 2, "424242******4242"),
        ("doc.docx!word/document.xml", 3, "378282*****0005"),
    ]


def test_spreadsheet_numeric_cells_and_strings(tmp_path: Path) -> None:
    book = b.xlsx_bytes(
        ["4.24242424242424E+15", "3.78282246310005E+14", "12345", "5105105105105100"],
        ["note 5555-5555-5555-4444"],
    )
    (tmp_path / "book.xlsx").write_bytes(book)
    got = {(p, m) for p, _, m in found(scan(tmp_path), tmp_path)}
    assert got == {
        ("book.xlsx!xl/worksheets/sheet1.xml", "424242******4242"),
        ("book.xlsx!xl/worksheets/sheet1.xml", "378282*****0005"),
        ("book.xlsx!xl/worksheets/sheet1.xml", "510510******5100"),
        ("book.xlsx!xl/sharedStrings.xml", "555555******4444"),
    }


def test_opendocument_spreadsheet_reads_exact_values(tmp_path: Path) -> None:
    (tmp_path / "book.ods").write_bytes(b.ods_bytes(["4242424242424242"], ["2223 0031 2200 3222"]))
    masked = [m for _, _, m in found(scan(tmp_path), tmp_path)]
    assert masked == ["424242******4242", "222300******3222"]


def test_pdf_text_per_page(tmp_path: Path) -> None:
    (tmp_path / "doc.pdf").write_bytes(
        b.pdf_bytes([["hello"], ["line a", "card 6011 1111 1111 1117"]])
    )
    assert found(scan(tmp_path), tmp_path) == [("doc.pdf!page-2", 2, "601111******1117")]


def test_sqlite_every_table_and_column(tmp_path: Path) -> None:
    b.sqlite_file(
        tmp_path / "app.db",
        {
            "users": (
                ["id", "name", "note"],
                [(1, "a", "nothing"), (2, "b", "pan 4000056655665556")],
            ),
            "payments": (["id", "card"], [(1, 4012888888881881), (2, None), (3, 4.2e3)]),
        },
    )
    report = scan(tmp_path)
    got = [(f.path.rsplit("!", 1)[-1], f.line, f.column, f.masked) for f in report.findings]
    assert got == [
        ("payments", 1, "card", "401288******1881"),
        ("users", 2, "note", "400005******5556"),
    ]


def test_email_parts_and_attachments(tmp_path: Path) -> None:
    eml = b.eml_bytes(
        "pay with 5105 1051 0510 5100 thanks",
        {"cards.txt.gz": b.gz(b"x\n3566002020360505\n")},
        html="<p>card <b>4000 0566</b> 5566 5556</p>",
    )
    (tmp_path / "mail.eml").write_bytes(eml)
    (tmp_path / "box.mbox").write_bytes(
        b.mbox_bytes(
            [b.eml_bytes("first 4242424242424242"), b.eml_bytes("second 5555555555554444")]
        )
    )
    got = [(p, m) for p, _, m in found(scan(tmp_path), tmp_path)]
    assert got == [
        ("box.mbox!1/part-1.txt", "424242******4242"),
        ("box.mbox!2/part-1.txt", "555555******4444"),
        ("mail.eml!cards.txt.gz!cards.txt", "356600******0505"),
        ("mail.eml!part-3.txt", "510510******5100"),
        ("mail.eml!part-4.html", "400005******5556"),
    ]


def test_markup_digits_split_by_tags_and_attributes(tmp_path: Path) -> None:
    page = (
        b"<html>\n<body>\n<span>4242</span> <span>4242</span> 4242 <i>4242</i>\n"
        b"<input value='5555555555554444'>\n<td>4111</td><td>1111 1111 1111</td>\n</body></html>"
    )
    (tmp_path / "page.html").write_bytes(page)
    assert found(scan(tmp_path), tmp_path) == [
        ("page.html", 3, "424242******4242"),
        ("page.html", 4, "555555******4444"),
    ]


def test_time_limit_per_file(tmp_path: Path) -> None:
    (tmp_path / "big.log").write_bytes(b"x" * (4 << 20))
    report = scan(tmp_path, seconds_per_file=0.0000001)
    assert "time limit" in report.warnings[0].message


def test_mime_boundaries_are_not_cards(tmp_path: Path) -> None:
    # Python's email package draws boundaries of 19 random digits; use one that is a
    # Luhn-valid 19-digit Visa number, as one boundary in ten is.
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@example.com", "b@example.com", "x"
    msg.set_content("nothing here")
    msg.add_attachment(b"plain", maintype="text", subtype="plain", filename="a.txt")
    msg.set_boundary("=" * 15 + b.luhn("400000000000000000") + "==")
    (tmp_path / "mail.eml").write_bytes(msg.as_bytes())
    report = scan(tmp_path)
    assert report.findings == []
    assert report.stats.members >= 3  # headers and both parts were scanned
