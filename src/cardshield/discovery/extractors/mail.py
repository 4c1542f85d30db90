"""E-mail: single messages (.eml) and mailboxes (mbox), with every part and attachment.

Members: ``mail.eml!headers``, ``mail.eml!part-2.txt``, ``mail.eml!invoice.pdf`` (an
attachment, opened in turn); in a mailbox each message is numbered: ``box.mbox!3/part-1.txt``.
Text parts are decoded from their transfer encoding and charset first, so a card in a
base64 or quoted-printable body is found.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from cardshield.discovery.blob import READ_ERRORS, Blob, Hint
from cardshield.discovery.context import FileContext
from cardshield.discovery.errors import ExtractError

if TYPE_CHECKING:
    from email.message import Message

_UNSAFE = re.compile(r"[!\x00-\x1f]")
_BOUNDARY = re.compile(r"(?i)boundary=(?:\"[^\"]*\"|[^;\s]*)")


def _text(part: Message, payload: bytes) -> bytes:
    charset = part.get_content_charset() or "utf-8"
    try:
        text = payload.decode(charset, "replace")
    except LookupError:
        text = payload.decode("latin-1")
    return text.encode("utf-8", "surrogatepass")


def _parts(message: Message, prefix: str, blob: Blob, ctx: FileContext) -> Iterator[Blob]:
    depth = blob.depth + 1
    headers = "\n".join(f"{key}: {value}" for key, value in message.items())
    # MIME boundaries are random digits ("===============4774270...==", 19 of them from
    # Python's email package): one in ten would pass Luhn as a Visa number.
    headers = _BOUNDARY.sub('boundary=""', headers)
    yield Blob(
        f"{prefix}headers",
        io.BytesIO(headers.encode("utf-8", "replace")),
        depth=depth,
        hint=Hint.TEXT,
    )
    for number, part in enumerate(message.walk(), start=1):
        if part.is_multipart():
            continue
        try:
            payload = part.get_payload(decode=True)
        except Exception as exc:  # malformed encodings
            ctx.warn(f"{prefix}part-{number}", f"undecodable part ({type(exc).__name__})")
            continue
        if not isinstance(payload, bytes):
            continue
        ctx.charge(len(payload))
        filename = part.get_filename()
        if filename:
            name = _UNSAFE.sub("_", str(filename)) or f"attachment-{number}"
            yield Blob(f"{prefix}{name}", io.BytesIO(payload), depth=depth)
            continue
        ctype = part.get_content_type()
        if ctype.startswith("text/"):
            ext = "html" if ctype == "text/html" else "txt"
            hint = Hint.MARKUP if ext == "html" else Hint.TEXT
            yield Blob(
                f"{prefix}part-{number}.{ext}",
                io.BytesIO(_text(part, payload)),
                depth=depth,
                hint=hint,
            )
        else:
            yield Blob(f"{prefix}part-{number}.bin", io.BytesIO(payload), depth=depth)


def _parse(data: bytes) -> Message:
    import email  # the e-mail package loads only when a message is met
    import email.policy

    try:
        return email.message_from_bytes(data, policy=email.policy.compat32)
    except Exception as exc:
        raise ExtractError(f"unparsable message ({type(exc).__name__})") from exc


class EmlExtractor:
    def extract(self, blob: Blob, ctx: FileContext) -> Iterator[Blob]:
        try:
            data = blob.reader().read()
        except READ_ERRORS as exc:
            raise ExtractError(f"unreadable ({type(exc).__name__})") from exc
        yield from _parts(_parse(data), f"{blob.name}!", blob, ctx)


def _lines(blob: Blob) -> Iterator[bytes]:
    reader = blob.reader()
    pending = b""
    while chunk := reader.read(1 << 16):
        pending += chunk
        lines = pending.splitlines(keepends=True)
        pending = lines.pop() if not lines[-1].endswith(b"\n") else b""
        yield from lines
    if pending:
        yield pending


class MboxExtractor:
    """mbox: messages start at a ``From `` line (mboxrd/mboxo; ``>From`` is body text)."""

    def extract(self, blob: Blob, ctx: FileContext) -> Iterator[Blob]:
        lines: list[bytes] = []
        number = 0
        previous_blank = True
        for line in _lines(blob):
            if line.startswith(b"From ") and previous_blank and lines:
                number += 1
                yield from _parts(_parse(b"".join(lines)), f"{blob.name}!{number}/", blob, ctx)
                lines = []
            elif not (line.startswith(b"From ") and not lines):
                lines.append(line)
            previous_blank = line in (b"\n", b"\r\n")
        if lines:
            number += 1
            yield from _parts(_parse(b"".join(lines)), f"{blob.name}!{number}/", blob, ctx)
