"""Text out of markup, so that digits split by tags join up again.

``<w:t>4242 4242</w:t><w:t> 4242 4242</w:t>`` holds one card in a Word document; the raw
XML holds none. Inline tags are removed; block tags (paragraphs, cells, rows, line breaks)
become a break so that numbers in neighbouring cells never merge into a false card: the
break holds an ASCII record separator, which no card rule reads as a separator (tabs and
line breaks are separators to them).
Newlines inside tags are kept, so line numbers of HTML stay those of the file.

Two things keep the labels that tell a number's kind (see
:mod:`cardshield.discovery.lookalikes`):

* in an HTML or XML file (tab breaks), an element outside HTML's vocabulary is a data field,
  not formatting: its tags stay, so ``<Fax>4915...</Fax>`` reads as it does in the file;
* in a worksheet whose first row holds inline strings, every cell below it starts with its
  column's header: ``<c r="B5"><v>4915...</v></c>`` reads ``phone: 4915...``.
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
# HTML elements that are not blocks: inline formatting and document structure. In an HTML
# or XML file, the tags of any other element are kept (data fields of XML).
_HTML_TAGS = frozenset(
    {
        "a", "abbr", "acronym", "address", "area", "aside", "audio", "b", "base", "bdi",
        "bdo", "big", "blink", "button", "canvas", "caption", "center", "cite", "code", "col",
        "colgroup", "data", "del", "details", "dfn", "dialog", "dl", "em", "embed", "fieldset",
        "figcaption", "figure", "font", "form", "frame", "frameset", "html", "i", "iframe",
        "img", "input", "ins", "kbd", "label", "legend", "link", "main", "map", "mark",
        "menu", "meta", "meter", "nav", "nobr", "noscript", "object", "output", "param",
        "picture", "progress", "q", "rp", "rt", "ruby", "s", "samp", "script", "select",
        "slot", "small", "source", "span", "strike", "strong", "style", "sub", "summary",
        "sup", "svg", "tbody", "template", "textarea", "tfoot", "thead", "time", "track",
        "tspan", "tt", "u", "var", "video", "wbr",
    }
)  # fmt: skip
_SHEET_ROW = re.compile(r"<row\b[^>]*>(.*?)</row>", re.DOTALL)
_SHEET_CELL = re.compile(r"<c\b([^>]*?)(/?)>")
_SHEET_CELL_BODY = re.compile(r"<c\b([^>]*?)>(.*?)</c>", re.DOTALL)
_CELL_REF = re.compile(r"\br=\"([A-Z]{1,3})[0-9]+\"")
_CELL_TYPE = re.compile(r"\bt=\"([A-Za-z]+)\"")
_INLINE_TEXT = re.compile(r"<t\b[^>]*>([^<]*)</t>")
_CELL_VALUE = re.compile(r"<v>([^<]*)</v>")
# A header cell that can be a column's label: a name, not a number or a sentence.
_HEADER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_ .#/()\[\]\-]{0,47}")
# ODF numeric cells keep the exact value in an attribute; the displayed text may be rounded.
_ODF_VALUE_CELL = re.compile(
    r"<table:table-cell\b[^>]*?\boffice:value=\"([^\"]*)\"[^>]*?(?:/>|>.*?</table:table-cell>)",
    re.DOTALL,
)


def strip_markup(text: str, block: str = "\t") -> str:
    """``text`` without tags: block tags become ``block``, ODF ``<text:s/>`` a space. With
    tab breaks (HTML and XML files) the tags of elements outside HTML stay; worksheet cells
    start with their column's header (see the module's docstring)."""
    keep_fields = block == "\t"
    if "<sheetData" in text:
        text = label_sheet_cells(text)

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
        if keep_fields and local and local not in _HTML_TAGS and tag[1] not in "!?":
            return tag
        return newlines

    stripped = _TAG.sub(replace, text)
    return html.unescape(stripped).replace("\xa0", " ")


def _header_name(attrs: str, body: str) -> str | None:
    kind = _CELL_TYPE.search(attrs)
    if kind is None or kind.group(1) not in ("inlineStr", "str"):
        return None  # a shared string (an index into another part) or a number
    if kind.group(1) == "inlineStr":
        name = "".join(_INLINE_TEXT.findall(body))
    else:
        value = _CELL_VALUE.search(body)
        name = value.group(1) if value else ""
    name = html.unescape(name).strip()
    return name if _HEADER_NAME.fullmatch(name) else None


def label_sheet_cells(text: str) -> str:
    """A worksheet's XML with each cell below the first row starting with its column's
    header, where the first row holds names as inline strings: a header is a cell's label
    (``phone: 4915...``, ``card: 4111...``) as a CSV header is."""
    first = _SHEET_ROW.search(text)
    if first is None:
        return text
    header: dict[str, str] = {}
    for cell in _SHEET_CELL_BODY.finditer(first.group(1)):
        ref = _CELL_REF.search(cell.group(1))
        name = _header_name(cell.group(1), cell.group(2))
        if ref is not None and name is not None:
            header[ref.group(1)] = name
    if not header:
        return text

    def label(match: re.Match[str]) -> str:
        ref = _CELL_REF.search(match.group(1))
        if match.group(2) or ref is None or ref.group(1) not in header:
            return match.group(0)
        return f"{match.group(0)}{header[ref.group(1)]}: "

    return text[: first.end()] + _SHEET_CELL.sub(label, text[first.end() :])


def odf_values(text: str) -> str:
    """Replace each numeric ODF cell by its exact value on a line of its own."""
    return _ODF_VALUE_CELL.sub(lambda m: f"<text:line-break/>{m.group(1)}<text:line-break/>", text)
