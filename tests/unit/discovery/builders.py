"""Builders of real files for the scanner tests: archives, Office files, PDF, SQLite, mail.

Every card number in them is a published test card or a generated Luhn-valid number.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import sqlite3
import tarfile
import zipfile
from email.message import EmailMessage
from pathlib import Path
from xml.sax.saxutils import escape

from cardshield.cards import luhn_check_digit


def luhn(prefix: str) -> str:
    """``prefix`` plus its Luhn check digit."""
    return prefix + luhn_check_digit(prefix)


def zip_bytes(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def tar_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def gz(data: bytes) -> bytes:
    return gzip.compress(data)


def bz(data: bytes) -> bytes:
    return bz2.compress(data)


def xz(data: bytes) -> bytes:
    return lzma.compress(data)


_CT = b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'


def docx_bytes(paragraphs: list[list[str]]) -> bytes:
    """A Word document; each paragraph is a list of runs (a number may be split across runs)."""
    body = "".join(
        "<w:p>"
        + "".join(f'<w:r><w:t xml:space="preserve">{escape(r)}</w:t></w:r>' for r in runs)
        + "</w:p>"
        for runs in paragraphs
    )
    doc = (
        '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
        f'wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>'
    )
    return zip_bytes({"[Content_Types].xml": _CT, "word/document.xml": doc.encode()})


def xlsx_bytes(numeric_cells: list[str], shared_strings: list[str]) -> bytes:
    """A workbook: numeric cells as Excel writes them (<v>4.24242424242424E+15</v>)."""
    rows = "".join(
        f'<row r="{i}"><c r="A{i}"><v>{v}</v></c><c r="B{i}" t="s"><v>0</v></c></row>'
        for i, v in enumerate(numeric_cells, start=1)
    )
    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
        f'spreadsheetml/2006/main"><sheetData>{rows}</sheetData></worksheet>'
    )
    sst = "".join(f"<si><t>{escape(s)}</t></si>" for s in shared_strings)
    strings = f'<?xml version="1.0"?><sst count="{len(shared_strings)}">{sst}</sst>'
    return zip_bytes(
        {
            "[Content_Types].xml": _CT,
            "xl/worksheets/sheet1.xml": sheet.encode(),
            "xl/sharedStrings.xml": strings.encode(),
        }
    )


def ods_bytes(values: list[str], texts: list[str]) -> bytes:
    """An OpenDocument spreadsheet: numeric cells carry office:value, display text rounded."""
    cells = "".join(
        f'<table:table-row><table:table-cell office:value-type="float" office:value="{v}">'
        f"<text:p>{v[:4]}E+15</text:p></table:table-cell></table:table-row>"
        for v in values
    ) + "".join(
        f'<table:table-row><table:table-cell office:value-type="string"><text:p>{escape(t)}'
        "</text:p></table:table-cell></table:table-row>"
        for t in texts
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content><office:body>'
        f"<office:spreadsheet><table:table>{cells}</table:table></office:spreadsheet>"
        "</office:body></office:document-content>"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("content.xml", content)
    return buf.getvalue()


def pdf_bytes(pages: list[list[str]]) -> bytes:
    """A minimal valid PDF with one text line per entry, Helvetica, one page per list."""
    objects: list[bytes] = []
    page_ids = [3 + 2 * i for i in range(len(pages))]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{pid} 0 R" for pid in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    font_id = 3 + 2 * len(pages)
    for i, lines in enumerate(pages):
        ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
        for line in lines:
            safe = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({safe}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {page_ids[i] + 1} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def sqlite_file(path: Path, tables: dict[str, tuple[list[str], list[tuple[object, ...]]]]) -> Path:
    conn = sqlite3.connect(path)
    with conn:
        for name, (columns, rows) in tables.items():
            conn.execute(f'CREATE TABLE "{name}" ({", ".join(columns)})')
            marks = ", ".join("?" for _ in columns)
            conn.executemany(f'INSERT INTO "{name}" VALUES ({marks})', rows)
    conn.close()
    return path


def eml_bytes(
    body: str, attachments: dict[str, bytes] | None = None, html: str | None = None
) -> bytes:
    msg = EmailMessage()
    msg["From"] = "alice@example.com"
    msg["To"] = "bob@example.com"
    msg["Subject"] = "order"
    msg["Message-ID"] = "<1@example.com>"
    msg.set_content(body, cte="base64")
    if html is not None:
        msg.add_alternative(html, subtype="html", cte="quoted-printable")
    for name, data in (attachments or {}).items():
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return msg.as_bytes()


def mbox_bytes(messages: list[bytes]) -> bytes:
    out = b""
    for m in messages:
        out += b"From alice@example.com Thu Jan  1 00:00:00 2024\n" + m.replace(b"\r\n", b"\n")
        if not out.endswith(b"\n"):
            out += b"\n"
        out += b"\n"
    return out
