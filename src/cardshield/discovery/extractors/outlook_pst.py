"""Outlook data files (.pst, .ost): every folder, every message, every attachment.

Members are named by folder path and message number in its folder:
``mail.pst!Inbox/Orders/3 - Subject text/body.txt`` (Subject, From, To, Cc, the transport
headers and the plain body), ``.../body.html`` (read as markup), ``.../body.rtf`` (when
there is no plain body) and ``.../attachments/report.csv`` (opened in turn); a message
attached to a message is reported as not scanned, as the reader cannot open it.
"Compressible" and "high" encryption are read transparently; a password only guards
Outlook's own dialogue, so such a file is scanned too. A file under an encryption the
reader does not know (Windows Information Protection) is reported as not scanned. The
reader does not check the B-tree pages' checksums, and a damaged page silently hides the
nodes under it, so the extractor checks them first and warns.
"""

from __future__ import annotations

import re
import tempfile
import zlib
from collections.abc import Callable, Iterator
from io import BytesIO
from typing import IO, Any, ParamSpec, TypeVar

from cardshield.discovery.blob import Blob, Hint
from cardshield.discovery.context import FileContext
from cardshield.discovery.errors import ExtractError

PST_MAGIC = b"!BDN"
_READABLE_CRYPT = (0x00, 0x01, 0x02)  # none, "compressible", "high"
_UNSAFE = re.compile(r"[!/\\\x00-\x1f\x7f]")
_MAX_SUBJECT = 60
_MAX_NAME = 120
# Transport headers carry MIME boundaries of random digits that can pass Luhn.
_BOUNDARY = re.compile(r"(?i)boundary=(?:\"[^\"]*\"|[^;\s]*)")
_READ_SIZE = 1 << 20
_PAGE = 512
_SPOOL_IN_MEMORY = 8 << 20
# Properties for the text member, beside the ones the reader has getters for.
_DISPLAY_TO = 0x0E04
_DISPLAY_CC = 0x0E03
_SENDER_EMAIL = 0x0C1F
_ATTACH_METHOD = 0x3705
_EMBEDDED_MESSAGE = 5  # afEmbeddedMessage

_T = TypeVar("_T")
_P = ParamSpec("_P")


def looks_like_pst(head: bytes) -> bool:
    return head.startswith(PST_MAGIC)


def crypt_method(head: bytes) -> int | None:
    """bCryptMethod of the header: at 513 in Unicode files (wVer >= 23), 461 in ANSI."""
    if len(head) < 514:
        return None
    version = int.from_bytes(head[10:12], "little")
    return head[513] if version >= 23 else head[461]


def _damaged_page(stream: IO[bytes], head: bytes, ctx: FileContext) -> str | None:
    """What is wrong with the first damaged NBT or BBT page, or None.

    The reader does not check page checksums, and a damaged B-tree page hides every node
    under it without an error, so the scan checks the pages of both trees itself
    ([MS-PST] 2.2.2.7: the CRC of the first 496 bytes sits in the page trailer). Only
    Unicode files with 512-byte pages are checked."""
    if len(head) < 248 or int.from_bytes(head[10:12], "little") not in (23,):
        return None
    nbt, bbt = (int.from_bytes(head[at : at + 8], "little") for at in (224, 240))
    pending = [(nbt, 0x81), (bbt, 0x80)]
    seen: set[int] = set()
    while pending:
        ib, ptype = pending.pop()
        if ib in seen:
            return f"the B-tree page at offset {ib} is reached twice"
        seen.add(ib)
        if len(seen) % 256 == 0:
            ctx.check_time()
        stream.seek(ib)
        page = stream.read(_PAGE)
        if len(page) < _PAGE:
            return f"the B-tree page at offset {ib} lies past the end of the file"
        if page[496] != ptype or page[497] != ptype:
            return f"the B-tree page at offset {ib} is of the wrong type"
        if _pst_crc(page[:496]) != int.from_bytes(page[500:504], "little"):
            return f"the B-tree page at offset {ib} fails its checksum"
        count, level = page[488], page[491]
        if level:
            pending += [
                (int.from_bytes(page[24 * i + 16 : 24 * i + 24], "little"), ptype)
                for i in range(min(count, 20))
            ]
    return None


def _pst_crc(data: bytes) -> int:
    """[MS-PST] 5.3: CRC-32 with an initial value of 0 and no final inversion."""
    return zlib.crc32(data, 0xFFFFFFFF) ^ 0xFFFFFFFF


def _guarded(what: str, call: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Run a call into the reader; its exceptions become one :class:`ExtractError`."""
    try:
        return call(*args, **kwargs)
    except Exception as exc:  # the reader raises OSError, and others on damaged input
        raise ExtractError(f"{what} ({type(exc).__name__})") from exc


def _count(what: str, getter: Callable[[], Any]) -> int:
    value = _guarded(what, getter)
    return value if isinstance(value, int) and value > 0 else 0


def _safe_name(name: str, limit: int = _MAX_NAME) -> str:
    return _UNSAFE.sub("_", name.strip())[:limit].strip()


def _subject(message: Any) -> str:
    subject = message.subject
    if not subject:
        return ""
    text = str(subject)
    # A subject may start with 0x01 and the length of its prefix ("RE: ").
    return text[2:] if text.startswith("\x01") else text


def _entry(item: Any, entry_type: int) -> Any:
    for number in range(item.number_of_record_sets):
        entry = item.get_record_set(number).get_entry_by_type(entry_type)
        if entry is not None:
            return entry
    return None


def _string_property(item: Any, entry_type: int) -> str | None:
    entry = _entry(item, entry_type)
    value = entry.data_as_string if entry is not None else None
    return str(value) if value else None


def _attach_method(attachment: Any) -> int | None:
    entry = _entry(attachment, _ATTACH_METHOD)
    value = entry.data_as_integer if entry is not None else None
    return value if isinstance(value, int) else None


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value) if value else ""


def _message_text(message: Any) -> tuple[str, bool]:
    """The text member (header lines, the transport headers, the plain body), and whether
    there was a plain body."""
    sender = _text(message.sender_name)
    if address := _string_property(message, _SENDER_EMAIL):
        sender = f"{sender} <{address}>" if sender else address
    fields = (
        ("Subject", _subject(message)),
        ("From", sender),
        ("To", _string_property(message, _DISPLAY_TO)),
        ("Cc", _string_property(message, _DISPLAY_CC)),
    )
    lines = [f"{key}: {value}" for key, value in fields if value]
    headers = _BOUNDARY.sub('boundary=""', _text(message.transport_headers)).strip()
    if headers:
        lines.append(headers.replace("\r\n", "\n"))
    body = message.plain_text_body
    return "\n".join(lines) + "\n\n" + _text(body), body is not None


def _read_attachment(attachment: Any, ctx: FileContext) -> IO[bytes]:
    """The attachment's data in a spool, charged piece by piece (a limit stops it early)."""
    size = _count("unreadable attachment", attachment.get_size)
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115
    try:
        remaining = size
        while remaining > 0:
            want = min(remaining, _READ_SIZE)
            piece = bytes(_guarded("unreadable attachment", attachment.read_buffer, want) or b"")
            if not piece:
                break
            ctx.charge(len(piece))
            spool.write(piece)
            remaining -= len(piece)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool


class PstExtractor:
    def extract(self, blob: Blob, ctx: FileContext) -> Iterator[Blob]:
        method = crypt_method(blob.head)
        if method is not None and method not in _READABLE_CRYPT:
            ctx.warn(blob.name, f"encrypted PST: not scanned (encryption type {method:#04x})")
            return
        import pypff

        with blob.on_disk() as path:
            with open(path, "rb") as raw:
                damage = _damaged_page(raw, blob.head, ctx)
            pst = pypff.file()
            try:
                pst.open(path)
            except Exception as exc:  # the reader's one error type, and others on damage
                if "encryption" in str(exc):
                    ctx.warn(blob.name, "encrypted PST: not scanned")
                    return
                reason = damage or f"unreadable ({type(exc).__name__})"
                raise ExtractError(f"corrupt PST: {reason}") from exc
            try:
                if damage is not None:
                    ctx.warn(blob.name, f"damaged PST: {damage}; what could be read was scanned")
                root = _guarded("unreadable root folder", pst.get_root_folder)
                yield from self._walk(root, f"{blob.name}!", blob.depth + 1, ctx)
            finally:
                pst.close()

    def _walk(self, root: Any, prefix: str, depth: int, ctx: FileContext) -> Iterator[Blob]:
        """Folders depth first, each folder's messages before its sub-folders."""
        stack: list[tuple[Any, str]] = [(root, "")]
        while stack:
            folder, path = stack.pop()
            where = f"{prefix}{path}".rstrip("/")
            try:
                messages = _count("unreadable folder", folder.get_number_of_sub_messages)
                folders = _count("unreadable folder", folder.get_number_of_sub_folders)
            except ExtractError as exc:
                ctx.warn(where, exc.message)
                continue
            for number in range(1, messages + 1):
                ctx.check_time()
                yield from self._message(folder, number, f"{prefix}{path}", depth, ctx)
            children = []
            for number in range(1, folders + 1):
                try:
                    child = _guarded("unreadable folder", folder.get_sub_folder, number - 1)
                    name = _text(_guarded("unreadable folder", child.get_name))
                except ExtractError as exc:
                    ctx.warn(f"{prefix}{path}folder-{number}", exc.message)
                    continue
                children.append((child, f"{path}{_safe_name(name) or f'folder-{number}'}/"))
            stack.extend(reversed(children))

    def _message(
        self, folder: Any, number: int, base: str, depth: int, ctx: FileContext
    ) -> Iterator[Blob]:
        try:
            message = _guarded("unreadable message", folder.get_sub_message, number - 1)
            subject = _guarded("unreadable message", _subject, message)
        except ExtractError as exc:
            ctx.warn(f"{base}{number}", exc.message)
            return
        title = _safe_name(subject, _MAX_SUBJECT)
        prefix = f"{base}{number} - {title}/" if title else f"{base}{number}/"
        try:
            text, has_body = _guarded("unreadable message", _message_text, message)
            html = _guarded("unreadable HTML body", message.get_html_body)
            rtf = None if has_body else _guarded("unreadable RTF body", message.get_rtf_body)
            attachments = _count("unreadable attachments", message.get_number_of_attachments)
        except ExtractError as exc:
            ctx.warn(prefix.rstrip("/"), exc.message)
            return
        data = text.encode("utf-8", "surrogatepass")
        ctx.charge(len(data))
        yield Blob(f"{prefix}body.txt", BytesIO(data), depth=depth, hint=Hint.TEXT)
        for name, value, hint in (("body.html", html, Hint.MARKUP), ("body.rtf", rtf, Hint.TEXT)):
            if value:
                raw = bytes(value)
                ctx.charge(len(raw))
                yield Blob(f"{prefix}{name}", BytesIO(raw), depth=depth, hint=hint)
        for index in range(attachments):
            yield from self._attachment(message, index, prefix, depth, ctx)

    @staticmethod
    def _attachment(
        message: Any, index: int, prefix: str, depth: int, ctx: FileContext
    ) -> Iterator[Blob]:
        ctx.check_time()
        fallback = f"attachment-{index + 1}"
        try:
            attachment = _guarded("unreadable attachment", message.get_attachment, index)
            name = _text(_guarded("unreadable attachment", attachment.get_long_filename))
        except ExtractError as exc:
            ctx.warn(f"{prefix}attachments/{fallback}", exc.message)
            return
        member = f"{prefix}attachments/{_safe_name(name) or fallback}"
        try:
            method = _guarded("unreadable attachment", _attach_method, attachment)
            if method == _EMBEDDED_MESSAGE:
                # The reader hands over only the first block of the attached message's
                # properties, not the message: say so rather than scan a fragment.
                ctx.warn(member, "attached message not scanned (not readable inside a PST)")
                return
            stream = _read_attachment(attachment, ctx)
        except ExtractError as exc:
            ctx.warn(member, exc.message)
            return
        try:
            yield Blob(member, stream, depth=depth)
        finally:
            stream.close()
