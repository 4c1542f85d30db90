"""Office Open XML (docx, xlsx, pptx) and OpenDocument (odt, ods, odp): zips of XML.

The zip extractor asks this module how to read each member: document XML is read as text
between tags (a Word run may split a number: ``<w:t>4242</w:t><w:t>4242...``), spreadsheet
XML also as numeric cells (``<v>4.24242424242424E+15</v>``), and OpenDocument spreadsheets
from the exact value attribute of numeric cells.
"""

from __future__ import annotations

import zipfile

from cardshield.discovery.blob import Hint

_ODF_MIMETYPE = b"application/vnd.oasis.opendocument"


def flavour(archive: zipfile.ZipFile) -> str | None:
    """ "ooxml", "odf" or None for a plain zip."""
    names = set(archive.namelist())
    if "[Content_Types].xml" in names:
        return "ooxml"
    if "mimetype" in names:
        with archive.open("mimetype") as f:
            if f.read(64).startswith(_ODF_MIMETYPE):
                return "odf"
    return None


def member_hint(kind: str | None, name: str) -> Hint | None:
    """How to read a member of an Office/OpenDocument file; None means "detect it"."""
    if kind is None or not name.lower().endswith((".xml", ".rels")):
        return None
    if kind == "ooxml":
        if name.startswith("xl/worksheets/"):
            return Hint.SHEET_XML
        return Hint.OFFICE_XML
    if name == "content.xml":
        return Hint.ODF_CONTENT
    return Hint.OFFICE_XML
