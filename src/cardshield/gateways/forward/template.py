"""Card placeholders in a forwarded request: ``{{card.number}}`` and friends.

A template is checked before the vault is asked for anything, so a typo never consumes a
single-use token. The rules:

* Placeholders are ``{{card.number}}``, ``{{card.exp_month}}`` (two digits),
  ``{{card.exp_year}}`` (four digits) and ``{{card.cvc}}``; spaces inside the braces are
  allowed. Any other ``{{ ... }}``, or a stray ``{{``/``}}``, is ``template_invalid``.
* They may appear in the body and in header values; never in the URL (card data in a URL
  ends up in access logs and proxies) or in a header name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from cardshield.gateways.forward.errors import TemplateInvalid

NUMBER = "card.number"
EXP_MONTH = "card.exp_month"
EXP_YEAR = "card.exp_year"
CVC = "card.cvc"
FIELDS = frozenset({NUMBER, EXP_MONTH, EXP_YEAR, CVC})

_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.]{1,40}$")


@dataclass(frozen=True, slots=True)
class Template:
    """A checked text: literal pieces with field names between them."""

    pieces: tuple[str, ...]  # literal, field, literal, field, ..., literal

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(self.pieces[1::2])

    def render(self, values: Mapping[str, str]) -> str:
        out = []
        for i, piece in enumerate(self.pieces):
            out.append(values[piece] if i % 2 else piece)
        return "".join(out)


def parse(text: str, *, param: str) -> Template:
    """Check ``text`` and split it at its placeholders; ``param`` names it in errors."""
    pieces: list[str] = []
    last = 0
    for match in _PLACEHOLDER.finditer(text):
        name = match.group(1)
        if name not in FIELDS:
            shown = f" {name!r}" if _SAFE_NAME.match(name) else ""
            raise TemplateInvalid(f"Unknown placeholder{shown}.", param=param)
        pieces += [text[last : match.start()], name]
        last = match.end()
    pieces.append(text[last:])
    if any("{{" in p or "}}" in p for p in pieces[::2]):
        raise TemplateInvalid("Unbalanced {{ or }} in the template.", param=param)
    return Template(tuple(pieces))


def literal(text: str, *, param: str) -> str:
    """``text`` must hold no placeholder at all (URLs, header names)."""
    if "{{" in text or "}}" in text:
        raise TemplateInvalid("Card placeholders are not allowed here.", param=param)
    return text
