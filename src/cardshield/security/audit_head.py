"""The signed head of the audit chain, kept outside the database it vouches for.

Anyone who can write the database can delete checkpoints, strip seals and wait for the
sealer to link and sign the chain again. What stops that is a record the database cannot
change: each time the sealer signs a new head it writes it to the head file (a JSON object,
replaced atomically) and logs it as a structured event (``audit_event=head_signed``) for the
log store. The sealer never seals at or below the head in its file, and
``cardshield audit verify --expect-head FILE`` checks a database against any kept copy::

    {"format": "cardshield.audit.head.v1", "seq": 10, "chain_hash": "<64 hex>",
     "signature": "<base64>", "signed_at": "2026-12-01T10:00:00.000000Z"}

The signature is the checkpoint signature at ``seq`` (the KMS key), so a head file cannot be
made up either. ``SEQ:CHAIN_HASH`` names a head without a signature (a value read off a
ticket or a SIEM); it is compared as given.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cardshield.redaction.logging import get_logger
from cardshield.security.audit import Signer, checkpoint_message, format_time, is_digest
from cardshield.security.errors import AuditError

FORMAT = "cardshield.audit.head.v1"
_VALUE = re.compile(r"(\d{1,19}):([0-9a-f]{64})")
_MAX_FILE = 4096

_log = get_logger("cardshield.audit")


@dataclass(frozen=True)
class SignedHead:
    """A chain head: entry ``seq`` has chain hash ``chain_hash``; ``signature`` is the KMS's
    checkpoint signature over them (None for a head given as a bare value)."""

    seq: int
    chain_hash: str
    signature: bytes | None = None
    signed_at: str | None = None

    def check(self, signer: Signer) -> None:
        """Raise AuditError unless the signature is the KMS's (a bare value passes)."""
        if self.signature is None:
            return
        if not signer.verify(checkpoint_message(self.seq, self.chain_hash), self.signature):
            raise AuditError(f"the audit head for entry {self.seq} is not signed by this KMS's key")

    def to_json(self) -> str:
        doc = {
            "format": FORMAT,
            "seq": self.seq,
            "chain_hash": self.chain_hash,
            "signature": None
            if self.signature is None
            else base64.b64encode(self.signature).decode("ascii"),
            "signed_at": self.signed_at,
        }
        return json.dumps(doc, sort_keys=True) + "\n"


def parse_head(text: str) -> SignedHead:
    """A head from its JSON form or ``SEQ:CHAIN_HASH``; ValueError says what is wrong."""
    value = _VALUE.fullmatch(text.strip())
    if value is not None:
        return SignedHead(int(value.group(1)), value.group(2))
    try:
        doc = json.loads(text)
    except ValueError:
        raise ValueError("not an audit head (a head file's JSON, or SEQ:CHAIN_HASH)") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"not an audit head: the format must be {FORMAT}")
    seq, chain, signature = doc.get("seq"), doc.get("chain_hash"), doc.get("signature")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**63:
        raise ValueError("audit head: seq must be a non-negative integer")
    if not isinstance(chain, str) or not is_digest(chain):
        raise ValueError("audit head: chain_hash must be a hex SHA-256 digest")
    if not isinstance(signature, str):
        raise ValueError("audit head: signature is missing")
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("audit head: signature is not base64") from None
    signed_at = doc.get("signed_at")
    return SignedHead(seq, chain, raw, signed_at if isinstance(signed_at, str) else None)


def read_head(path: Path) -> SignedHead | None:
    """The head in ``path``, or None when there is no such file; AuditError if unreadable."""
    try:
        with path.open("r", encoding="utf-8") as fh:
            text = fh.read(_MAX_FILE + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AuditError(f"cannot read the audit head file {path}: {exc.strerror}") from None
    if len(text) > _MAX_FILE:
        raise AuditError(f"the audit head file {path} is not an audit head (too long)")
    try:
        return parse_head(text)
    except ValueError as exc:
        raise AuditError(f"the audit head file {path} is damaged: {exc}") from None


def write_head(path: Path, head: SignedHead) -> None:
    """Replace ``path`` with ``head`` atomically (a crash leaves the old head or the new)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".audit-head-", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(head.to_json())
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise AuditError(
            f"sealed up to audit entry {head.seq} but cannot write the head file {path}: "
            f"{exc.strerror}"
        ) from None


def publish_head(head: SignedHead, path: Path | None, *, now: datetime) -> SignedHead:
    """Log a newly signed head for the log store and write it to ``path`` (if given)."""
    head = SignedHead(head.seq, head.chain_hash, head.signature, format_time(now))
    signature = None if head.signature is None else base64.b64encode(head.signature).decode()
    _log.info(
        "audit head signed",
        audit_event="head_signed",
        seq=head.seq,
        chain_hash=head.chain_hash,
        signature=signature,
    )
    if path is not None:
        write_head(path, head)
    return head
