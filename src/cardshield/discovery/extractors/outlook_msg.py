"""Outlook messages (.msg): headers and bodies, every attachment, attached messages.

A .msg file is a Compound File Binary (the container of old .doc and .xls files) whose
streams are a message's properties. Members: ``mail.msg!body.txt`` (From, To, Cc, Subject,
Date and the plain body), ``mail.msg!body.html`` (read as markup), ``mail.msg!body.rtf``
(the RTF body, decompressed, when there is no plain body) and
``mail.msg!attachments/report.csv``; an attached message becomes
``mail.msg!attachments/reply.msg`` and is opened in turn, like a zip attachment.

A file that the reader refuses is read again leniently, and what can be read is scanned,
with a warning. Other compound files (Word, Excel) are scanned as raw text, like any file
of no known type: the extractor hands their content back to the scanner when the file
holds no message properties.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Iterator
from io import BytesIO
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from cardshield.discovery.blob import Blob, Hint
from cardshield.discovery.context import FileContext
from cardshield.discovery.errors import ExtractError

if TYPE_CHECKING:
    from extract_msg.attachments import AttachmentBase, SignedAttachment
    from extract_msg.msg_classes import MSGFile

CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Directory entry names that only Outlook messages have (UTF-16LE, as stored).
_MSG_ENTRIES = tuple(
    name.encode("utf-16-le")
    for name in ("__substg1.0_", "__properties_version1.0", "__nameid_version1.0")
)
_PROPERTIES = "__properties_version1.0"
_UNSAFE = re.compile(r"[!/\\\x00-\x1f\x7f]")
_MAX_NAME = 120

# The reader reports recoverable damage through logging; the scanner warns itself.
logging.getLogger("extract_msg").setLevel(logging.CRITICAL)

_T = TypeVar("_T")
_P = ParamSpec("_P")


def _names_message_streams(head: bytes) -> bool:
    return any(name in head for name in _MSG_ENTRIES)


def looks_like_msg(head: bytes, basename: str) -> bool:
    """A compound file whose directory (when it lies in ``head``) names message streams,
    or one called ``*.msg``; the extractor checks again once the file is open."""
    if not head.startswith(CFB_MAGIC):
        return False
    return basename.lower().endswith(".msg") or _names_message_streams(head)


def _guarded(what: str, call: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Run a call into the reader; its exceptions become one :class:`ExtractError`."""
    try:
        return call(*args, **kwargs)
    except Exception as exc:  # the reader raises dozens of types on damaged input
        raise ExtractError(f"{what} ({type(exc).__name__})") from exc


def _safe_name(name: str | None, fallback: str) -> str:
    cleaned = _UNSAFE.sub("_", (name or "").strip())[:_MAX_NAME]
    return cleaned or fallback


def _text_blob(name: str, text: str, depth: int, ctx: FileContext, hint: Hint) -> Blob:
    data = text.encode("utf-8", "surrogatepass")
    ctx.charge(len(data))
    return Blob(name, BytesIO(data), depth=depth, hint=hint)


def _header_lines(msg: MSGFile) -> list[str]:
    from extract_msg.msg_classes import MessageBase

    subject = msg.getStringStream("__substg1.0_0037")
    if not isinstance(msg, MessageBase):
        return [f"Subject: {subject}"] if subject else []
    fields = (
        ("From", msg.sender),
        ("To", msg.to),
        ("Cc", msg.cc),
        ("Subject", subject),
        ("Date", msg.date),
    )
    return [f"{key}: {value}" for key, value in fields if value]


def _html_body(msg: MSGFile) -> bytes | None:
    html = msg.getStream("__substg1.0_10130102")
    if html is None and (text := msg.getStringStream("__substg1.0_1013")) is not None:
        html = text.encode("utf-8", "surrogatepass")
    return html


def _rtf_body(msg: MSGFile) -> bytes | None:
    from extract_msg.msg_classes import MessageBase

    return msg.rtfBody if isinstance(msg, MessageBase) else None


def _bodies(msg: MSGFile, prefix: str, depth: int, ctx: FileContext) -> Iterator[Blob]:
    headers = _guarded("unreadable headers", _header_lines, msg)
    body = _guarded("unreadable body", msg.getStringStream, "__substg1.0_1000")
    text = "\n".join(headers) + "\n\n" + (body or "")
    yield _text_blob(f"{prefix}body.txt", text, depth, ctx, Hint.TEXT)
    ctx.check_time()
    html = _guarded("unreadable HTML body", _html_body, msg)
    if html:
        ctx.charge(len(html))
        yield Blob(f"{prefix}body.html", BytesIO(html), depth=depth, hint=Hint.MARKUP)
    if body is None:
        rtf = _guarded("unreadable RTF body", _rtf_body, msg)
        if rtf:
            ctx.charge(len(rtf))
            yield Blob(f"{prefix}body.rtf", BytesIO(rtf), depth=depth, hint=Hint.TEXT)


def _attachment_data(attachment: AttachmentBase | SignedAttachment) -> bytes | None:
    from extract_msg.enums import AttachmentType
    from extract_msg.msg_classes import MSGFile

    if attachment.type in (AttachmentType.BROKEN, AttachmentType.UNSUPPORTED):
        raise ValueError("unsupported attachment")
    data = attachment.data
    if isinstance(data, MSGFile):  # an attached message: a .msg file of its own
        return data.exportBytes()
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    return None  # a reference to a web resource or a file elsewhere: nothing stored


def _attachment_name(attachment: AttachmentBase | SignedAttachment, number: int) -> str:
    from extract_msg.enums import AttachmentType

    long_name = getattr(attachment, "longFilename", None)
    short_name = getattr(attachment, "shortFilename", None)
    name = _safe_name(long_name or short_name or attachment.name, f"attachment-{number}")
    if attachment.type is AttachmentType.MSG and not name.lower().endswith(".msg"):
        name += ".msg"
    return name


def _attachment_list(msg: MSGFile) -> list[AttachmentBase | SignedAttachment]:
    return [*msg.attachments]


def _attachments(msg: MSGFile, prefix: str, depth: int, ctx: FileContext) -> Iterator[Blob]:
    attachments = _guarded("unreadable attachments", _attachment_list, msg)
    for number, attachment in enumerate(attachments, start=1):
        ctx.check_time()
        try:
            name = _guarded("unreadable", _attachment_name, attachment, number)
        except ExtractError:
            name = f"attachment-{number}"
        member = f"{prefix}attachments/{name}"
        try:
            data = _guarded("unreadable attachment", _attachment_data, attachment)
        except ExtractError as exc:
            ctx.warn(member, exc.message)
            continue
        if data is None:
            continue
        ctx.charge(len(data))
        yield Blob(member, BytesIO(data), depth=depth)


def _open(path: str, *, lenient: bool) -> MSGFile:
    import extract_msg
    from extract_msg.enums import ErrorBehavior

    # A broken attachment becomes a warning, not the end of the message. Leniently, damage
    # to the container's bookkeeping and missing parts are passed over too.
    behaviour = ErrorBehavior.ATTACH_BROKEN | ErrorBehavior.ATTACH_NOT_IMPLEMENTED
    if lenient:
        behaviour |= ErrorBehavior.OLE_DEFECT_INCORRECT | ErrorBehavior.STANDARDS_VIOLATION
    return extract_msg.openMsg(path, strict=False, errorBehavior=behaviour)


class MsgExtractor:
    def extract(self, blob: Blob, ctx: FileContext) -> Iterator[Blob]:
        with blob.on_disk() as path:
            damage = None
            try:
                msg = _open(path, lenient=False)
            except Exception as exc:  # damaged, or not a message: the lenient pass tells
                damage = f"damaged Outlook message ({type(exc).__name__})"
                msg = _guarded("unreadable Outlook message", _open, path, lenient=True)
            try:
                if not _guarded("unreadable Outlook message", msg.exists, _PROPERTIES):
                    if damage is not None and _names_message_streams(blob.head):
                        ctx.warn(blob.name, f"{damage}: scanned as text")
                    # Another kind of compound file: its raw content, as text (the scanner
                    # counts the member once more when it scans it).
                    ctx.result.members -= 1 if blob.depth else 0
                    with open(path, "rb") as raw:
                        yield Blob(blob.name, raw, depth=blob.depth, hint=Hint.TEXT)
                    return
                if damage is not None:
                    ctx.warn(blob.name, f"{damage}: what could be read was scanned")
                prefix = f"{blob.name}!"
                depth = blob.depth + 1
                yield from _bodies(msg, prefix, depth, ctx)
                yield from _attachments(msg, prefix, depth, ctx)
            finally:
                with contextlib.suppress(Exception):  # closing a damaged file: nothing to say
                    msg.close()
