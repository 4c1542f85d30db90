"""Outlook files: .msg messages and .pst folders, opened recursively, on files built here."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import extract_msg
import olefile
import pypff
import pytest
from typer.testing import CliRunner

from cardshield.cli import app
from cardshield.discovery import ScanLimits, ScanOptions, ScanReport, run_scan
from tests.conftest import CANARY_PAN, assert_no_card_data

from . import builders as b
from . import outlook_builders as ob

OTHER_PAN = b.luhn("453201511283036")  # generated, not a test card
PANS = (CANARY_PAN, OTHER_PAN, "5555555555554444", "378282246310005", "6011111111111117")


def scan(path: Path, **limits: int) -> ScanReport:
    options = ScanOptions(limits=ScanLimits(**limits))  # type: ignore[arg-type]
    return run_scan([str(path)], options, jobs=1)


def found(report: ScanReport, root: Path) -> list[tuple[str, int, str]]:
    prefix = str(root) + "/"
    return [(f.path.removeprefix(prefix), f.line, f.masked) for f in report.findings]


def warned(report: ScanReport, root: Path) -> list[tuple[str, str]]:
    prefix = str(root) + "/"
    return [(w.path.removeprefix(prefix), w.message) for w in report.warnings]


def order_msg() -> ob.Msg:
    """A message with a card in each place a card can hide in it."""
    inner = ob.Msg(subject="forwarded", body=f"first order\r\npaid with {OTHER_PAN}")
    return ob.Msg(
        subject="Order 5555 5555 5555 4444",
        body=f"Hello,\r\nplease charge {CANARY_PAN} today.",
        html=b"<html><body><p>card <b>3782 822463 10005</b></p></body></html>",
        cc=(("Carol Example", "carol@example.com"),),
        attachments=[
            ob.MsgAttachment("report.csv", b"id,card\n1,4000056655665556\n"),
            ob.MsgAttachment("cards.zip", b.zip_bytes({"inner.txt": b"x\n6011111111111117\n"})),
            ob.MsgAttachment("forwarded.msg", message=inner),
        ],
    )


# --- the .msg builder, checked against two readers --------------------------------------


def test_msg_builder_writes_a_compound_file_that_olefile_and_extract_msg_read() -> None:
    data = ob.msg_bytes(order_msg())
    ole = olefile.OleFileIO(io.BytesIO(data), raise_defects=olefile.DEFECT_INCORRECT)
    streams = {"/".join(entry) for entry in ole.listdir()}
    assert "__substg1.0_0037001F" in streams  # small: in the mini stream
    assert "__attach_version1.0_#00000000/__substg1.0_37010102" in streams
    assert "__nameid_version1.0/__substg1.0_00020102" in streams
    ole.close()
    msg = extract_msg.openMsg(data)
    try:
        assert isinstance(msg, extract_msg.Message)
        assert msg.subject == "Order 5555 5555 5555 4444"
        assert msg.body == f"Hello,\r\nplease charge {CANARY_PAN} today."
        assert msg.sender == "Alice Example <alice@example.com>"
        assert msg.cc == "Carol Example <carol@example.com>"
        names = [a.longFilename or a.name for a in msg.attachments]
        assert names == ["report.csv", "cards.zip", "forwarded.msg"]
        embedded = msg.attachments[2].data
        assert isinstance(embedded, extract_msg.msg_classes.MSGFile)
        assert embedded.subject == "forwarded"
    finally:
        msg.close()


def test_cfb_builder_keeps_big_streams_in_sectors_and_small_ones_in_the_mini_stream() -> None:
    tree: ob.Tree = {"big": b"B" * 9000, "small": b"s" * 100, "empty": b"", "dir": {"x": b"y"}}
    ole = olefile.OleFileIO(io.BytesIO(ob.cfb_bytes(tree)), raise_defects=olefile.DEFECT_INCORRECT)
    assert ole.openstream("big").read() == b"B" * 9000
    assert ole.openstream("small").read() == b"s" * 100
    assert ole.openstream("empty").read() == b""
    assert ole.openstream("dir/x").read() == b"y"
    assert ole.get_size("big") == 9000
    ole.close()


# --- .msg in the scanner -----------------------------------------------------------------


def test_msg_headers_bodies_attachments_and_an_attached_message(tmp_path: Path) -> None:
    (tmp_path / "mail.msg").write_bytes(ob.msg_bytes(order_msg()))
    report = scan(tmp_path)
    assert found(report, tmp_path) == [
        ("mail.msg!attachments/cards.zip!inner.txt", 2, "601111******1117"),
        (
            "mail.msg!attachments/forwarded.msg!body.txt",
            7,
            OTHER_PAN[:6] + "******" + OTHER_PAN[-4:],
        ),
        ("mail.msg!attachments/report.csv", 2, "400005******5556"),
        ("mail.msg!body.html", 1, "378282*****0005"),
        ("mail.msg!body.txt", 4, "555555******4444"),  # From, To, Cc, Subject
        ("mail.msg!body.txt", 8, "424242******4242"),  # after Date and a blank line
    ]
    assert report.warnings == []
    assert report.stats.members == 7  # body.txt, body.html, 3 attachments, 2 inside them


def test_msg_rtf_body_is_read_when_there_is_no_plain_body(tmp_path: Path) -> None:
    rtf = ob.compressed_rtf(b"{\\rtf1\\ansi card 5105 1051 0510 5100\\par}")
    (tmp_path / "rtf.msg").write_bytes(ob.msg_bytes(ob.Msg(rtf=rtf)))
    assert found(scan(tmp_path), tmp_path) == [("rtf.msg!body.rtf", 1, "510510******5100")]


def test_msg_inside_a_zip_is_opened(tmp_path: Path) -> None:
    msg = ob.msg_bytes(ob.Msg(body=f"card {CANARY_PAN}"))
    (tmp_path / "mails.zip").write_bytes(b.zip_bytes({"2024/a.msg": msg}))
    assert found(scan(tmp_path), tmp_path) == [
        ("mails.zip!2024/a.msg!body.txt", 6, "424242******4242")
    ]


def test_other_compound_files_are_scanned_as_raw_text(tmp_path: Path) -> None:
    doc = ob.cfb_bytes({"WordDocument": b"invoice 4012888888881881 paid\n".ljust(4200, b" ")})
    (tmp_path / "old.doc").write_bytes(doc)
    (tmp_path / "named.msg").write_bytes(doc)  # a compound file, but not a message
    report = scan(tmp_path)
    assert [(p, m) for p, _, m in found(report, tmp_path)] == [
        ("named.msg", "401288******1881"),
        ("old.doc", "401288******1881"),
    ]
    assert report.warnings == []
    assert report.stats.members == 0


# --- the .pst builder, checked against libpff ---------------------------------------------


def test_pst_builder_writes_a_file_that_libpff_reads() -> None:
    messages = [ob.PstMessage(subject=f"m{i}", body=f"body {i}") for i in range(600)]
    big_body = "line of text\n" * 1000  # past a heap's block: stored in a subnode
    data = ob.pst_bytes(
        [
            ob.PstFolder(
                "Inbox",
                messages=[ob.PstMessage(body=big_body, attachments={"a.bin": b"z" * 20000})],
                folders=[ob.PstFolder("Orders", messages=messages)],
            )
        ]
    )
    assert len(data) > 253_952  # more than one allocation map
    pst = pypff.file()
    pst.open_file_object(io.BytesIO(data))
    try:
        inbox = pst.get_root_folder().get_sub_folder(0)
        assert inbox.name == "Inbox"
        message = inbox.get_sub_message(0)
        assert message.plain_text_body == big_body.encode()
        attachment = message.get_attachment(0)
        assert (attachment.long_filename, attachment.size) == ("a.bin", 20000)
        assert attachment.read_buffer(20000) == b"z" * 20000  # an XBLOCK of three blocks
        orders = inbox.get_sub_folder(0)
        # 600 rows: a contents table over several heap blocks, a BTH with an index level.
        assert orders.number_of_sub_messages == 600
        assert orders.get_sub_message(599).subject == "m599"
    finally:
        pst.close()


# --- .pst in the scanner -----------------------------------------------------------------


def mailbox() -> list[ob.PstFolder]:
    order = ob.PstMessage(
        subject="Order 5555 5555 5555 4444 / urgent!",
        body=f"Hello,\nplease charge {CANARY_PAN} today.",
        html=b"<html><body><p>card <b>3782 822463 10005</b></p></body></html>",
        headers='Content-Type: multipart/mixed; boundary="4111111111111111"\r\n',
        attachments={
            "report.csv": b"id,card\n1,4000056655665556\n",
            "cards.zip": b.zip_bytes({"inner.txt": b"x\n6011111111111117\n"}),
        },
    )
    return [
        ob.PstFolder(
            "Inbox",
            messages=[ob.PstMessage(subject="no card", body="nothing here"), order],
            folders=[ob.PstFolder("Orders", messages=[ob.PstMessage(subject="o", body=OTHER_PAN)])],
        ),
        ob.PstFolder("Archive", messages=[ob.PstMessage(subject="", body="5105105105105100")]),
    ]


_ORDER = "Inbox/2 - Order 5555 55** **** 4444 _ urgent_"  # names are masked too
_MAILBOX_FINDINGS = [  # in the report's order: by member name
    ("Archive/1/body.txt", 4, "510510******5100"),
    (f"{_ORDER}/attachments/cards.zip!inner.txt", 2, "601111******1117"),
    (f"{_ORDER}/attachments/report.csv", 2, "400005******5556"),
    (f"{_ORDER}/body.html", 1, "378282*****0005"),
    (f"{_ORDER}/body.txt", 1, "555555******4444"),  # Subject, From, To, the headers
    (f"{_ORDER}/body.txt", 7, "424242******4242"),  # the MIME boundary is not a card
    ("Inbox/Orders/1 - o/body.txt", 5, OTHER_PAN[:6] + "******" + OTHER_PAN[-4:]),
]


def test_pst_folders_messages_and_attachments(tmp_path: Path) -> None:
    (tmp_path / "mail.pst").write_bytes(ob.pst_bytes(mailbox()))
    report = scan(tmp_path)
    assert found(report, tmp_path) == [(f"mail.pst!{p}", n, m) for p, n, m in _MAILBOX_FINDINGS]
    assert report.warnings == []
    assert report.stats.members == 8  # 4 x body.txt, body.html, 2 attachments, inner.txt


@pytest.mark.parametrize("crypt", [ob.CRYPT_PERMUTE, ob.CRYPT_CYCLIC])
def test_pst_encryption_and_password_do_not_stop_the_scan(tmp_path: Path, crypt: int) -> None:
    folders = [ob.PstFolder("Inbox", messages=[ob.PstMessage(body=f"card {CANARY_PAN}")])]
    data = ob.pst_bytes(folders, crypt=crypt, password="secret")
    assert CANARY_PAN.encode("utf-16-le") not in data  # the blocks are encoded
    (tmp_path / "locked.pst").write_bytes(data)
    report = scan(tmp_path)
    assert found(report, tmp_path) == [
        ("locked.pst!Inbox/1 - order/body.txt", 5, "424242******4242")
    ]
    assert report.warnings == []


def test_pst_under_an_unknown_encryption_is_reported_not_scanned(tmp_path: Path) -> None:
    folders = [ob.PstFolder("Inbox", messages=[ob.PstMessage(body=f"card {CANARY_PAN}")])]
    (tmp_path / "wip.pst").write_bytes(ob.pst_bytes(folders, crypt=ob.CRYPT_EDP))
    report = scan(tmp_path)
    assert report.findings == []
    assert warned(report, tmp_path) == [
        ("wip.pst", "encrypted PST: not scanned (encryption type 0x10)")
    ]


def test_pst_attached_message_is_warned_about_and_the_rest_is_scanned(tmp_path: Path) -> None:
    forwarded = ob.PstMessage(subject="fwd", body=f"card {CANARY_PAN}")
    message = ob.PstMessage(attachments={"fwd.msg": forwarded, "a.txt": b"5555555555554444"})
    (tmp_path / "mail.pst").write_bytes(ob.pst_bytes([ob.PstFolder("Inbox", messages=[message])]))
    report = scan(tmp_path)
    assert found(report, tmp_path) == [
        ("mail.pst!Inbox/1 - order/attachments/a.txt", 1, "555555******4444")
    ]
    assert warned(report, tmp_path) == [
        (
            "mail.pst!Inbox/1 - order/attachments/fwd.msg",
            "attached message not scanned (not readable inside a PST)",
        )
    ]


def test_pst_inside_a_zip_is_opened(tmp_path: Path) -> None:
    folders = [ob.PstFolder("Inbox", messages=[ob.PstMessage(body=f"card {CANARY_PAN}")])]
    (tmp_path / "backup.zip").write_bytes(b.zip_bytes({"mail.pst": ob.pst_bytes(folders)}))
    assert found(scan(tmp_path), tmp_path) == [
        ("backup.zip!mail.pst!Inbox/1 - order/body.txt", 5, "424242******4242")
    ]


# --- damage and limits -------------------------------------------------------------------


def _btree_pages(pst: bytes) -> tuple[int, int]:
    """The offsets of the NBT and BBT root pages (the header's ROOT structure)."""
    _, nbt, _, bbt = struct.unpack_from("<QQQQ", pst, 216)
    return nbt, bbt


def _nbt_entry(pst: bytes, nid: int) -> int:
    """The offset of the NBT leaf entry of node ``nid`` (entries: nid, bidData, ...)."""
    pages = [_btree_pages(pst)[0]]
    while pages:
        page = pages.pop()
        count, level = pst[page + 488], pst[page + 491]
        for i in range(count):
            if level:
                pages.append(struct.unpack_from("<Q", pst, page + 24 * i + 16)[0])
            elif struct.unpack_from("<Q", pst, page + 32 * i)[0] == nid:
                return page + 32 * i
    raise AssertionError(f"node {nid:#x} not in the NBT")


def _folder_nid(pst: bytes, index: int) -> int:
    reader = pypff.file()
    reader.open_file_object(io.BytesIO(pst))
    try:
        return int(reader.get_root_folder().get_sub_folder(index).identifier)
    finally:
        reader.close()


def _flipped(data: bytes, offset: int, count: int = 64) -> bytes:
    damaged = bytearray(data)
    for i in range(offset, offset + count):
        damaged[i] ^= 0xFF
    return bytes(damaged)


def test_corrupt_outlook_files_are_warned_about_and_the_scan_goes_on(tmp_path: Path) -> None:
    msg = ob.msg_bytes(order_msg())
    pst = ob.pst_bytes(mailbox())
    _, bbt = _btree_pages(pst)
    archive = _nbt_entry(pst, _folder_nid(pst, 1))
    leaf = archive - archive % 512
    (tmp_path / "a_truncated.msg").write_bytes(msg[: len(msg) // 2])
    (tmp_path / "b_bbt.pst").write_bytes(_flipped(pst, bbt))
    # The data block of the Archive folder: that folder is lost, the others are read.
    (tmp_path / "c_nbt.pst").write_bytes(_flipped(pst, archive + 8, 8))
    (tmp_path / "d_truncated.pst").write_bytes(pst[: len(pst) // 2])
    (tmp_path / "e_ok.txt").write_bytes(b"5555555555554444\n")
    report = scan(tmp_path)
    assert warned(report, tmp_path) == [
        # Its directory is gone: what is left is scanned as text, with a warning.
        ("a_truncated.msg", "damaged Outlook message (OleFileError): scanned as text"),
        ("b_bbt.pst", f"pst: corrupt PST: the B-tree page at offset {bbt} fails its checksum"),
        (
            "c_nbt.pst",
            f"damaged PST: the B-tree page at offset {leaf} fails its checksum;"
            " what could be read was scanned",
        ),
        ("c_nbt.pst!folder-2", "unreadable folder (OSError)"),
        (
            "d_truncated.pst",
            f"pst: corrupt PST: the B-tree page at offset {bbt} lies past the end of the file",
        ),
    ]
    assert [p for p, _, _ in found(report, tmp_path)] == [
        *[f"c_nbt.pst!{p}" for p, _, _ in _MAILBOX_FINDINGS if not p.startswith("Archive/")],
        "e_ok.txt",
    ]
    assert report.stats.files == 5


@pytest.mark.parametrize("kind", ["msg", "pst"])
def test_a_big_attachment_is_stopped_by_the_expanded_size_limit(tmp_path: Path, kind: str) -> None:
    big = b"0" * (300 << 10)
    if kind == "msg":
        attachments = [
            ob.MsgAttachment("a.txt", b"4242424242424242\n"),
            ob.MsgAttachment("big.bin", big),
        ]
        data = ob.msg_bytes(ob.Msg(body="x", attachments=attachments))
    else:
        message = ob.PstMessage(
            body="x", attachments={"a.txt": b"4242424242424242\n", "big.bin": big}
        )
        data = ob.pst_bytes([ob.PstFolder("Inbox", messages=[message])])
    (tmp_path / f"mail.{kind}").write_bytes(data)
    report = scan(tmp_path, max_expanded_bytes=128 << 10)
    assert [(p, m.split(" (")[0]) for p, m in warned(report, tmp_path)] == [
        (f"mail.{kind}", "stopped: expanded size passed the limit of 131072 bytes")
    ]
    assert [m for _, _, m in found(report, tmp_path)] == ["424242******4242"]  # kept
    assert len(scan(tmp_path).findings) == 1  # under the default limits: no warning
    assert scan(tmp_path).warnings == []


# --- the report ----------------------------------------------------------------------------


def test_json_report_of_outlook_files_holds_no_full_card_number(tmp_path: Path) -> None:
    (tmp_path / "mail.msg").write_bytes(ob.msg_bytes(order_msg()))
    (tmp_path / "mail.pst").write_bytes(ob.pst_bytes(mailbox()))
    result = CliRunner().invoke(app, ["scan", str(tmp_path), "--format", "json", "-j", "1"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    paths = {f["path"].removeprefix(f"{tmp_path}/").split("!")[0] for f in report["findings"]}
    assert paths == {"mail.msg", "mail.pst"}
    assert len(report["findings"]) == 13
    assert_no_card_data(result.output, PANS)
