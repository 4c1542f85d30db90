"""Text out of markup, so that digits split by tags join up again.

``<w:t>4242 4242</w:t><w:t> 4242 4242</w:t>`` holds one card in a Word document; the raw
XML holds none. Inline tags are removed; block tags (paragraphs, cells, rows, line breaks)
become a break so that numbers in neighbouring cells never merge into a false card: the
break holds an ASCII record separator, which no card rule reads as a separator (tabs and
line breaks are separators to them).
Newlines inside tags are kept, so line numbers of HTML stay those of the file.
"""

from __future__ import annotations

import html
import re

_BREAK = "\x1e"
_TAG = re.compile(r"<(?:!--.*?--|[^<>]*)>", re.DOTALL)
_NAME = re.compile(r"</?\s*(?:[A-Za-z0-9_.\-]+:)?([A-Za-z0-9_.\-]+)")
_BLOCK_TAGS = frozenset(
    {
        # HTML
        "p", "br", "div", "td", "th", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3",
        "h4", "h5", "h6", "section", "article", "header", "footer", "pre", "blockquote",
        "option", "body", "head", "title", "hr", "dd", "dt",
        # OOXML: paragraphs, tabs, breaks, table cells, spreadsheet cells and strings
        "tab", "cr", "tc", "c", "si", "row", "f",
        # ODF
        "h", "table-cell", "table-row", "line-break", "list-item", "covered-table-cell",
    }
)  # fmt: skip
# ODF numeric cells keep the exact value in an attribute; the displayed text may be rounded.
_ODF_VALUE_CELL = re.compile(
    r"<table:table-cell\b[^>]*?\boffice:value=\"([^\"]*)\"[^>]*?(?:/>|>.*?</table:table-cell>)",
    re.DOTALL,
)


def strip_markup(text: str, block: str = "\t") -> str:
    """``text`` without tags: block tags become ``block``, ODF ``<text:s/>`` a space."""

    def replace(match: re.Match[str]) -> str:
        tag = match.group(0)
        newlines = "\n" * tag.count("\n")
        name = _NAME.match(tag)
        local = name.group(1).lower() if name else ""
        if local == "s" and tag.startswith("<text:"):
            return " " + newlines
        if local in _BLOCK_TAGS:
            # A line per paragraph: in documents only the end of a block breaks the line.
            if block == "\n" and not (tag.startswith("</") or tag.endswith("/>")):
                return _BREAK + newlines
            return _BREAK + block + newlines
        return newlines

    stripped = _TAG.sub(replace, text)
    return html.unescape(stripped).replace("\xa0", " ")


def odf_values(text: str) -> str:
    """Replace each numeric ODF cell by its exact value on a line of its own."""
    return _ODF_VALUE_CELL.sub(lambda m: f"<text:line-break/>{m.group(1)}<text:line-break/>", text)
