"""Subresource Integrity for the hosted-fields assets.

A merchant pins ``cardshield.js`` with ``<script src=... integrity="sha384-..."
crossorigin="anonymous">`` so that a changed script is refused by the browser instead of run
on the payment page (PCI DSS 6.4.3: every script on the page authorized and its integrity
assured). The hashes are computed here from the very bytes the server sends, once per
process, and published at ``/elements/v1/sri.json``; the frame page pins its own script and
stylesheet the same way.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources

# The assets served under /elements/v1/, with their media types. Nothing else is served from
# the folder: the frame template lives there too but is rendered, never sent as a file.
ASSETS: dict[str, str] = {
    "cardshield.js": "text/javascript; charset=utf-8",
    "cardrules.js": "text/javascript; charset=utf-8",
    "frame.js": "text/javascript; charset=utf-8",
    "frame.css": "text/css; charset=utf-8",
}


@dataclass(frozen=True)
class Asset:
    name: str
    body: bytes
    media_type: str
    integrity: str  # "sha384-<base64>", the value of an integrity attribute

    @property
    def etag(self) -> str:
        return '"' + self.integrity.removeprefix("sha384-")[:32] + '"'


def integrity(data: bytes) -> str:
    """The SRI value for ``data`` (SHA-384, the strength the SRI spec recommends)."""
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode("ascii")


def read_static(name: str) -> bytes:
    """A file of the package's ``web/static/elements/v1`` folder."""
    folder = resources.files("cardshield.web").joinpath("static", "elements", "v1")
    return folder.joinpath(name).read_bytes()


@cache
def asset(name: str) -> Asset:
    """One served asset; KeyError for a name not in :data:`ASSETS`."""
    media_type = ASSETS[name]
    body = read_static(name)
    return Asset(name, body, media_type, integrity(body))


def manifest() -> dict[str, str]:
    """``{"cardshield.js": "sha384-...", ...}`` for every served asset."""
    return {name: asset(name).integrity for name in ASSETS}
