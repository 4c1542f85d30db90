"""The identifiers Amazon Connect hands out: contact ids, key ids, instance ARNs.

Checked strictly and in one place, so the service, the key store and the CLI agree on what
a well-formed one is. Each check returns the canonical (lower-case) form or None.
"""

from __future__ import annotations

import re

# Connect writes UUIDs in the 8-4-4-4-12 form; braces, URNs and bare hex (which uuid.UUID
# also accepts) are not what it sends, so they are refused rather than normalized.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
# arn:<partition>:connect:<region>:<12-digit account>:instance/<instance id (a UUID)>
_INSTANCE_ARN = re.compile(
    r"arn:aws(?:-[a-z]+)*:connect:[a-z]{2}(?:-[a-z]+)+-\d:\d{12}:instance/"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)


def canonical_uuid(value: str) -> str | None:
    """``value`` in lower case if it is a UUID in the 8-4-4-4-12 form, else None."""
    if len(value) != 36 or not _UUID.fullmatch(value):
        return None
    return value.lower()


def canonical_instance_arn(value: str) -> str | None:
    """``value`` if it is an Amazon Connect instance ARN (instance id lower-cased)."""
    if len(value) > 200:
        return None
    head, sep, instance = value.strip().rpartition("/")
    candidate = f"{head}{sep}{instance.lower()}"
    return candidate if _INSTANCE_ARN.fullmatch(candidate) else None
