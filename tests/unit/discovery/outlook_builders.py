"""Builders of Outlook files for the scanner tests: .msg ([MS-CFB] + [MS-OXMSG]) and .pst.

The files are written from the specifications, byte by byte, so that the tests need no
fixture that nobody can regenerate. Every card number in them is a published test card or
a generated Luhn-valid number.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

# --------------------------------------------------------------------------------------
# [MS-CFB] Compound File Binary, version 3 (512-byte sectors, 64-byte mini sectors).

Tree = dict[str, "bytes | Tree"]  # a storage: name -> stream data or a storage

_SECTOR = 512
_MINI = 64
_MINI_CUTOFF = 4096
_FREESECT = 0xFFFFFFFF
_ENDOFCHAIN = 0xFFFFFFFE
_FATSECT = 0xFFFFFFFD
_NOSTREAM = 0xFFFFFFFF
_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass
class _Entry:
    name: str
    kind: int  # 1 storage, 2 stream, 5 root
    data: bytes = b""
    children: list[int] = field(default_factory=list)
    left: int = _NOSTREAM
    right: int = _NOSTREAM
    child: int = _NOSTREAM
    red: bool = False
    start: int = _ENDOFCHAIN
    size: int = 0


def _name_key(name: str) -> tuple[int, str]:
    # [MS-CFB] 2.6.4: shorter names sort first, then by upper-case code points.
    return (len(name), name.upper())


def _sibling_tree(entries: list[_Entry], ids: list[int]) -> int:
    """A balanced red-black tree of siblings: the deepest level red, the others black."""
    ordered = sorted(ids, key=lambda i: _name_key(entries[i].name))
    levels: dict[int, int] = {}

    def build(lo: int, hi: int, level: int) -> int:
        if lo >= hi:
            return _NOSTREAM
        mid = (lo + hi) // 2
        node = ordered[mid]
        levels[node] = level
        entries[node].left = build(lo, mid, level + 1)
        entries[node].right = build(mid + 1, hi, level + 1)
        return node

    root = build(0, len(ordered), 1)
    deepest = max(levels.values(), default=1)
    for node, level in levels.items():
        entries[node].red = level == deepest and deepest > 1
    return root


def _chain(fat: list[int], first: int, count: int) -> None:
    for i in range(count):
        fat[first + i] = first + i + 1 if i + 1 < count else _ENDOFCHAIN


def cfb_bytes(tree: Tree) -> bytes:
    """A compound file holding ``tree`` (storages are dicts, streams are bytes)."""
    entries = [_Entry("Root Entry", 5)]

    def add(storage: Tree, parent: int) -> None:
        for name, value in storage.items():
            assert len(name) < 32, name
            index = len(entries)
            if isinstance(value, dict):
                entries.append(_Entry(name, 1))
                entries[parent].children.append(index)
                add(value, index)
            else:
                entries.append(_Entry(name, 2, data=value, size=len(value)))
                entries[parent].children.append(index)

    add(tree, 0)
    for entry in entries:
        if entry.children:
            entry.child = _sibling_tree(entries, entry.children)

    # Small streams go to the mini stream, the others to sectors of their own.
    mini = bytearray()
    minifat: list[int] = []
    big: list[_Entry] = []
    for entry in entries[1:]:
        if entry.kind != 2 or not entry.data:
            entry.start = _ENDOFCHAIN if entry.kind == 2 else 0
            continue
        if len(entry.data) < _MINI_CUTOFF:
            count = -(-len(entry.data) // _MINI)
            entry.start = len(minifat)
            minifat.extend([0] * count)
            _chain(minifat, entry.start, count)
            mini += entry.data.ljust(count * _MINI, b"\0")
        else:
            big.append(entry)

    dir_count = -(-len(entries) // 4)
    minifat_count = -(-len(minifat) // 128)
    mini_count = -(-len(mini) // _SECTOR)
    big_counts = [-(-len(e.data) // _SECTOR) for e in big]
    others = dir_count + minifat_count + mini_count + sum(big_counts)
    fat_count = 1
    while fat_count * 128 < fat_count + others:
        fat_count += 1
    assert fat_count <= 109, "too big for a file without DIFAT sectors"
    total = fat_count + others
    fat = [_FREESECT] * (fat_count * 128)
    for i in range(fat_count):
        fat[i] = _FATSECT
    next_sector = fat_count
    dir_start = next_sector
    _chain(fat, dir_start, dir_count)
    next_sector += dir_count
    minifat_start = next_sector if minifat_count else _ENDOFCHAIN
    _chain(fat, next_sector, minifat_count)
    next_sector += minifat_count
    root = entries[0]
    root.start = next_sector if mini_count else _ENDOFCHAIN
    root.size = len(mini)
    _chain(fat, next_sector, mini_count)
    next_sector += mini_count
    for entry, count in zip(big, big_counts, strict=True):
        entry.start = next_sector
        _chain(fat, next_sector, count)
        next_sector += count
    assert next_sector == total

    header = bytearray(_SECTOR)
    header[0:8] = _CFB_MAGIC
    struct.pack_into(
        "<HHHHH6xIIIIIIIII",
        header,
        0x18,
        0x003E,  # minor version
        0x0003,  # major version
        0xFFFE,  # byte order
        9,  # sector shift
        6,  # mini sector shift
        0,  # directory sectors (always 0 in version 3)
        fat_count,
        dir_start,
        0,  # transaction signature
        _MINI_CUTOFF,
        minifat_start,
        minifat_count,
        _ENDOFCHAIN,  # first DIFAT sector
        0,  # DIFAT sectors
    )
    difat = list(range(fat_count)) + [_FREESECT] * (109 - fat_count)
    struct.pack_into("<109I", header, 0x4C, *difat)

    directory = bytearray()
    for entry in entries:
        raw = bytearray(128)
        encoded = entry.name.encode("utf-16-le") + b"\0\0"
        raw[0 : len(encoded)] = encoded
        struct.pack_into(
            "<HBBIII", raw, 0x40, len(encoded), entry.kind, 0 if entry.red else 1,
            entry.left, entry.right, entry.child,
        )  # fmt: skip
        struct.pack_into("<IQ", raw, 0x74, entry.start, entry.size)
        directory += raw
    while len(directory) % _SECTOR:
        empty = bytearray(128)
        struct.pack_into("<III", empty, 0x44, _NOSTREAM, _NOSTREAM, _NOSTREAM)
        directory += empty

    out = bytearray(header)
    out += struct.pack(f"<{len(fat)}I", *fat)
    out += directory
    minifat += [_FREESECT] * (minifat_count * 128 - len(minifat))
    out += struct.pack(f"<{len(minifat)}I", *minifat)
    out += bytes(mini).ljust(mini_count * _SECTOR, b"\0")
    for entry, count in zip(big, big_counts, strict=True):
        out += entry.data.ljust(count * _SECTOR, b"\0")
    assert len(out) == _SECTOR * (1 + total)
    return bytes(out)


# --------------------------------------------------------------------------------------
# [MS-OXMSG] Outlook message: properties in a compound file.

PT_LONG = 0x0003
PT_SYSTIME = 0x0040
PT_OBJECT = 0x000D
PT_UNICODE = 0x001F
PT_BINARY = 0x0102

_PROP_READ_WRITE = 0x6
ATTACH_BY_VALUE = 1
ATTACH_EMBEDDED_MSG = 5


@dataclass
class MsgAttachment:
    """A file attachment (``data``) or an attached message (``message``)."""

    filename: str
    data: bytes = b""
    message: Msg | None = None


@dataclass
class Msg:
    subject: str = "order"
    body: str | None = None
    html: bytes | None = None
    rtf: bytes | None = None  # compressed RTF (PR_RTF_COMPRESSED), as Outlook stores it
    sender: str = "Alice Example"
    sender_email: str = "alice@example.com"
    to: tuple[tuple[str, str], ...] = (("Bob Example", "bob@example.com"),)
    cc: tuple[tuple[str, str], ...] = ()
    submit_time: int = 133_500_000_000_000_000  # FILETIME (100 ns since 1601): early 2024
    attachments: list[MsgAttachment] = field(default_factory=list)


def _stream_name(tag: int) -> str:
    return f"__substg1.0_{tag:08X}"


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-le")  # no terminator in the stream; the size counts one


def _properties(header: bytes, fixed: dict[int, int], variable: dict[int, int]) -> bytes:
    """A property stream: fixed values inline, variable ones by size (data in streams)."""
    out = bytearray(header)
    for tag, value in fixed.items():
        out += struct.pack("<IIQ", tag, _PROP_READ_WRITE, value)
    for tag, size in variable.items():
        out += struct.pack("<IIII", tag, _PROP_READ_WRITE, size, 0)
    return bytes(out)


def _tag(prop_id: int, prop_type: int) -> int:
    return (prop_id << 16) | prop_type


def _streams(values: dict[int, bytes]) -> tuple[Tree, dict[int, int]]:
    tree: Tree = {}
    sizes: dict[int, int] = {}
    for tag, data in values.items():
        tree[_stream_name(tag)] = data
        # [MS-OXMSG] 2.4.2.2: a string's size counts its terminating null, a binary's not.
        sizes[tag] = len(data) + (2 if tag & 0xFFFF == PT_UNICODE else 0)
    return tree, sizes


def _recipient(name: str, email: str, kind: int) -> Tree:
    strings = {
        _tag(0x3001, PT_UNICODE): _utf16(name),  # PR_DISPLAY_NAME
        _tag(0x3003, PT_UNICODE): _utf16(email),  # PR_EMAIL_ADDRESS
        _tag(0x39FE, PT_UNICODE): _utf16(email),  # PR_SMTP_ADDRESS
        _tag(0x3002, PT_UNICODE): _utf16("SMTP"),  # PR_ADDRTYPE
    }
    tree, sizes = _streams(strings)
    fixed = {_tag(0x0C15, PT_LONG): kind}  # PR_RECIPIENT_TYPE: 1 To, 2 Cc
    tree["__properties_version1.0"] = _properties(bytes(8), fixed, sizes)
    return tree


def _attachment(attachment: MsgAttachment, number: int) -> Tree:
    strings = {
        _tag(0x3707, PT_UNICODE): _utf16(attachment.filename),  # PR_ATTACH_LONG_FILENAME
        _tag(0x3704, PT_UNICODE): _utf16(attachment.filename[:12]),  # PR_ATTACH_FILENAME
        _tag(0x3001, PT_UNICODE): _utf16(attachment.filename),  # PR_DISPLAY_NAME
    }
    if attachment.message is None:
        strings[_tag(0x3701, PT_BINARY)] = attachment.data  # PR_ATTACH_DATA_BIN
        method = ATTACH_BY_VALUE
    else:
        method = ATTACH_EMBEDDED_MSG
    tree, sizes = _streams(strings)
    fixed = {
        _tag(0x3705, PT_LONG): method,  # PR_ATTACH_METHOD
        _tag(0x0E21, PT_LONG): number,  # PR_ATTACH_NUM
        _tag(0x0E20, PT_LONG): len(attachment.data),  # PR_ATTACH_SIZE
    }
    if attachment.message is not None:
        # PR_ATTACH_DATA_OBJ: the attached message is a storage of its own.
        sizes[_tag(0x3701, PT_OBJECT)] = 0xFFFFFFFF
        tree[_stream_name(_tag(0x3701, PT_OBJECT))] = _message(attachment.message, top=False)
    tree["__properties_version1.0"] = _properties(bytes(8), fixed, sizes)
    return tree


def _message(msg: Msg, *, top: bool) -> Tree:
    strings: dict[int, bytes] = {
        _tag(0x001A, PT_UNICODE): _utf16("IPM.Note"),  # PR_MESSAGE_CLASS
        _tag(0x0037, PT_UNICODE): _utf16(msg.subject),  # PR_SUBJECT
        _tag(0x0C1A, PT_UNICODE): _utf16(msg.sender),  # PR_SENDER_NAME
        _tag(0x5D01, PT_UNICODE): _utf16(msg.sender_email),  # PR_SENDER_SMTP_ADDRESS
        _tag(0x0C1F, PT_UNICODE): _utf16(msg.sender_email),  # PR_SENDER_EMAIL_ADDRESS
        _tag(0x0E04, PT_UNICODE): _utf16("; ".join(n for n, _ in msg.to)),  # PR_DISPLAY_TO
        _tag(0x0E03, PT_UNICODE): _utf16("; ".join(n for n, _ in msg.cc)),  # PR_DISPLAY_CC
    }
    if msg.body is not None:
        strings[_tag(0x1000, PT_UNICODE)] = _utf16(msg.body)  # PR_BODY
    if msg.html is not None:
        strings[_tag(0x1013, PT_BINARY)] = msg.html  # PR_HTML
    if msg.rtf is not None:
        strings[_tag(0x1009, PT_BINARY)] = msg.rtf  # PR_RTF_COMPRESSED
    tree, sizes = _streams(strings)
    fixed = {
        _tag(0x0039, PT_SYSTIME): msg.submit_time,  # PR_CLIENT_SUBMIT_TIME
        _tag(0x0E06, PT_SYSTIME): msg.submit_time,  # PR_MESSAGE_DELIVERY_TIME
        _tag(0x0E07, PT_LONG): 0x1,  # PR_MESSAGE_FLAGS: MSGFLAG_READ (sent)
    }
    recipients = [(n, e, 1) for n, e in msg.to] + [(n, e, 2) for n, e in msg.cc]
    for number, (name, email, kind) in enumerate(recipients):
        tree[f"__recip_version1.0_#{number:08X}"] = _recipient(name, email, kind)
    for number, attachment in enumerate(msg.attachments):
        tree[f"__attach_version1.0_#{number:08X}"] = _attachment(attachment, number)
    counts = struct.pack(
        "<8xIIII",
        len(recipients),  # next recipient ID
        len(msg.attachments),  # next attachment ID
        len(recipients),
        len(msg.attachments),
    )
    header = counts + bytes(8) if top else counts  # 32 bytes top level, 24 embedded
    tree["__properties_version1.0"] = _properties(header, fixed, sizes)
    if top:
        tree["__nameid_version1.0"] = {
            _stream_name(0x00020102): b"",  # GUID stream
            _stream_name(0x00030102): b"",  # entry stream
            _stream_name(0x00040102): b"",  # string stream
        }
    return tree


def msg_bytes(msg: Msg) -> bytes:
    """An Outlook .msg file of ``msg``."""
    return cfb_bytes(_message(msg, top=True))


def compressed_rtf(rtf: bytes) -> bytes:
    """RTF in the "uncompressed" form of [MS-OXRTFCP] (COMPTYPE "MELA"), with its header."""
    return struct.pack("<III", len(rtf) + 12, len(rtf), 0x414C454D) + b"\0\0\0\0" + rtf


# --------------------------------------------------------------------------------------
# [MS-PST] Personal Folders file, Unicode (wVer 23): NDB (blocks, pages, B-trees) and LTP
# (heap-on-node, BTH, property and table contexts) layers, written in one pass.

PT_SHORT = 0x0002
PT_BOOLEAN = 0x000B

NID_MESSAGE_STORE = 0x21
NID_NAME_TO_ID_MAP = 0x61
NID_ROOT_FOLDER = 0x122
NID_ATTACHMENT_TABLE = 0x671
NID_RECIPIENT_TABLE = 0x692
_TYPE_FOLDER = 0x02
_TYPE_MESSAGE = 0x04
_TYPE_ATTACHMENT = 0x05
_TYPE_HIERARCHY = 0x0D
_TYPE_CONTENTS = 0x0E
_TYPE_ASSOC = 0x0F
_TYPE_LTP = 0x1F

CRYPT_NONE = 0x00
CRYPT_PERMUTE = 0x01  # "compressible encryption"
CRYPT_CYCLIC = 0x02  # "high encryption"
CRYPT_EDP = 0x10  # Windows Information Protection

_PAGE = 512
_MAX_BLOCK_DATA = 8192 - 16
_MAX_HEAP_ITEM = 1024  # larger values go to subnodes (the heap limit is 3580)
_FIRST_AMAP = 0x4400
_AMAP_RANGE = 496 * 8 * 64
_STORE_UID = bytes(range(0x10, 0x20))
_NAMED_GUID = bytes(range(0x40, 0x50))

Props = dict[int, "int | str | bytes"]


def pst_crc(data: bytes) -> int:
    """[MS-PST] 5.3: CRC-32 (polynomial 0xEDB88320), initial value 0, no final inversion."""
    import zlib

    return zlib.crc32(data, 0xFFFFFFFF) ^ 0xFFFFFFFF


def _sig(ib: int, bid: int) -> int:
    """[MS-PST] 5.5 ComputeSig."""
    value = ib ^ bid
    return ((value >> 16) ^ value) & 0xFFFF


def _nid(index: int, kind: int) -> int:
    return (index << 5) | kind


def _value_bytes(prop_type: int, value: int | str | bytes) -> bytes:
    if prop_type == PT_UNICODE:
        assert isinstance(value, str)
        return value.encode("utf-16-le")
    if prop_type in (PT_BINARY, PT_OBJECT):
        assert isinstance(value, bytes)
        return value
    assert isinstance(value, int)
    if prop_type == PT_SYSTIME:
        return struct.pack("<Q", value)
    raise AssertionError(f"type {prop_type:#x} is stored inline")


class _Heap:
    """A heap-on-node: allocations in blocks of up to 8176 bytes, each block with its
    page map; the first block starts with the HNHDR, every 128th from the 8th with an
    HNBITMAPHDR, the others with an HNPAGEHDR ([MS-PST] 2.3.1)."""

    def __init__(self, client_sig: int) -> None:
        self.client_sig = client_sig
        self.blocks: list[list[bytes]] = [[]]

    @staticmethod
    def _header_size(index: int) -> int:
        return 12 if index == 0 else 66 if index % 128 == 8 else 2

    def _size(self, index: int, items: list[bytes]) -> int:
        body = self._header_size(index) + sum(len(item) for item in items)
        return body + body % 2 + 4 + 2 * (len(items) + 1)

    def alloc(self, data: bytes) -> int:
        """An allocation (its final size: :meth:`set` may only replace its bytes)."""
        assert len(data) <= 3580
        if self._size(len(self.blocks) - 1, [*self.blocks[-1], data]) > _MAX_BLOCK_DATA:
            self.blocks.append([])
        self.blocks[-1].append(data)
        # HID: block index, 1-based allocation index, type NID_TYPE_HID.
        return ((len(self.blocks) - 1) << 16) | (len(self.blocks[-1]) << 5)

    def set(self, hid: int, data: bytes) -> None:
        items = self.blocks[hid >> 16]
        index = ((hid >> 5) & 0x7FF) - 1
        assert len(items[index]) == len(data)
        items[index] = data

    def build(self, user_root: int) -> list[bytes]:
        out = []
        for number, items in enumerate(self.blocks):
            body = bytearray(self._header_size(number))
            offsets = []
            for item in items:
                offsets.append(len(body))
                body += item
            offsets.append(len(body))
            if len(body) % 2:
                body += b"\0"
            if number == 0:
                struct.pack_into("<HBBII", body, 0, len(body), 0xEC, self.client_sig, user_root, 0)
            else:
                struct.pack_into("<H", body, 0, len(body))
            body += struct.pack(f"<HH{len(offsets)}H", len(items), 0, *offsets)
            out.append(bytes(body))
        return out


def _bth(heap: _Heap, key_size: int, data_size: int, records: list[bytes]) -> int:
    """A BTH of sorted ``records`` (key, data): leaves, then index levels as needed;
    returns the HID of its header."""
    header = heap.alloc(bytes(8))
    per_alloc = 3580 // (key_size + data_size)
    level: list[tuple[bytes, int]] = []
    for start in range(0, len(records), per_alloc):
        chunk = records[start : start + per_alloc]
        level.append((chunk[0][:key_size], heap.alloc(b"".join(chunk))))
    levels = 0
    while len(level) > 1:
        per_index = 3580 // (key_size + 4)
        level = [
            (part[0][0], heap.alloc(b"".join(key + struct.pack("<I", hid) for key, hid in part)))
            for part in (level[i : i + per_index] for i in range(0, len(level), per_index))
        ]
        levels += 1
    root = level[0][1] if level else 0
    heap.set(header, struct.pack("<BBBBI", 0xB5, key_size, data_size, levels, root))
    return header


class PstWriter:
    """Blocks and nodes of a PST; :meth:`file` lays them out with the B-trees and header."""

    def __init__(self, crypt: int = CRYPT_NONE) -> None:
        self.crypt = crypt
        self.blocks: list[tuple[int, bytes]] = []  # (bid, stored data)
        self.nodes: dict[int, tuple[int, int, int]] = {}  # nid -> (bidData, bidSub, parent)
        self._next_bid = 1
        self._next_ltp = 0x100

    # NDB layer ------------------------------------------------------------------------

    def block(self, data: bytes, *, internal: bool = False) -> int:
        assert len(data) <= _MAX_BLOCK_DATA
        bid = (self._next_bid << 2) | (0x2 if internal else 0)
        self._next_bid += 1
        if not internal:
            data = encrypt(data, self.crypt, bid)
        self.blocks.append((bid, data))
        return bid

    def data_tree(self, data: bytes, unit: int = 1) -> int:
        """One block, or an XBLOCK of blocks; a block holds whole ``unit``s (table rows)."""
        if len(data) <= _MAX_BLOCK_DATA:
            return self.block(data)
        step = _MAX_BLOCK_DATA // unit * unit
        pieces = [data[i : i + step] for i in range(0, len(data), step)]
        bids = [self.block(piece) for piece in pieces]
        assert len(bids) <= (_MAX_BLOCK_DATA - 8) // 8, "needs an XXBLOCK"
        xblock = struct.pack(f"<BBHI{len(bids)}Q", 0x01, 0x01, len(bids), len(data), *bids)
        return self.block(xblock, internal=True)

    def subnode_tree(self, entries: dict[int, tuple[int, int]]) -> int:
        """An SLBLOCK of subnodes (nid -> (bidData, bidSub)); 0 when there are none."""
        if not entries:
            return 0
        rows = b"".join(
            struct.pack("<QQQ", nid, data, sub) for nid, (data, sub) in sorted(entries.items())
        )
        return self.block(struct.pack("<BBHI", 0x02, 0x00, len(entries), 0) + rows, internal=True)

    def heap_tree(self, blocks: list[bytes]) -> int:
        """The data tree of a heap: its blocks as they are (allocations never span two)."""
        if len(blocks) == 1:
            return self.block(blocks[0])
        bids = [self.block(block) for block in blocks]
        total = sum(len(block) for block in blocks)
        xblock = struct.pack(f"<BBHI{len(bids)}Q", 0x01, 0x01, len(bids), total, *bids)
        return self.block(xblock, internal=True)

    def node(self, nid: int, heap: list[bytes], parent: int = 0, sub: int = 0) -> None:
        self.nodes[nid] = (self.heap_tree(heap), sub, parent)

    # LTP layer ------------------------------------------------------------------------

    def _hnid(
        self, heap: _Heap, data: bytes, subnodes: dict[int, tuple[int, int]], unit: int = 1
    ) -> int:
        if len(data) <= _MAX_HEAP_ITEM:
            return heap.alloc(data)
        nid = _nid(self._next_ltp, _TYPE_LTP)
        self._next_ltp += 1
        subnodes[nid] = (self.data_tree(data, unit), 0)
        return nid

    def property_context(self, props: Props, subnodes: dict[int, tuple[int, int]]) -> list[bytes]:
        """A PC: BTH of (property id -> type, value or HNID); big values become subnodes."""
        heap = _Heap(0xBC)
        records = []
        for tag in sorted(props):
            prop_id, prop_type = tag >> 16, tag & 0xFFFF
            value = props[tag]
            if prop_type in (PT_LONG, PT_SHORT, PT_BOOLEAN):
                assert isinstance(value, int)
                stored = value & 0xFFFFFFFF
            else:
                stored = self._hnid(heap, _value_bytes(prop_type, value), subnodes)
            records.append(struct.pack("<HHI", prop_id, prop_type, stored))
        return heap.build(_bth(heap, 2, 6, records))

    def table_context(
        self, columns: list[int], rows: list[tuple[int, Props]],
        subnodes: dict[int, tuple[int, int]],
    ) -> list[bytes]:  # fmt: skip
        """A TC: column descriptions, a row index (BTH row id -> row number), a row matrix.
        ``columns`` holds the tags after the row id and version; each row is (id, values)."""
        sizes = {PT_SYSTIME: 8, PT_LONG: 4, PT_UNICODE: 4, PT_BINARY: 4, PT_SHORT: 2}
        sizes[PT_BOOLEAN] = 1
        tags = [0x67F20003, 0x67F30003, *columns]  # PidTagLtpRowId, PidTagLtpRowVer
        layout: dict[int, tuple[int, int, int]] = {}  # tag -> (offset, size, bit)
        offset = 8
        layout[tags[0]] = (0, 4, 0)
        layout[tags[1]] = (4, 4, 1)
        ends = []
        for width in (8, 4, 2, 1):
            for bit, tag in enumerate(tags):
                if bit >= 2 and sizes[tag & 0xFFFF] == width:
                    layout[tag] = (offset, width, bit)
                    offset += width
            if width != 8:
                ends.append(offset)
        row_size = offset + (len(tags) + 7) // 8
        ends.append(row_size)

        heap = _Heap(0x7C)
        info = heap.alloc(bytes(22 + 8 * len(tags)))
        matrix = bytearray()
        for row_id, values in rows:
            row = bytearray(row_size)
            cells = {tags[0]: row_id, tags[1]: 1, **values}
            for tag, value in cells.items():
                ib, cb, bit = layout[tag]
                prop_type = tag & 0xFFFF
                if prop_type in (PT_UNICODE, PT_BINARY) and cb == 4:
                    value = self._hnid(heap, _value_bytes(prop_type, value), subnodes)
                assert isinstance(value, int)
                row[ib : ib + cb] = (value & ((1 << (8 * cb)) - 1)).to_bytes(cb, "little")
                row[offset + bit // 8] |= 0x80 >> (bit % 8)  # cell existence bitmap
            matrix += row
        records = [
            struct.pack("<II", row_id, number)
            for number, (row_id, _) in sorted(enumerate(rows), key=lambda r: r[1][0])
        ]
        index = _bth(heap, 4, 4, records)
        rows_hnid = self._hnid(heap, bytes(matrix), subnodes, row_size) if rows else 0
        descs = b"".join(struct.pack("<IHBB", tag, *layout[tag]) for tag in sorted(tags))
        heap.set(
            info,
            struct.pack("<BB4HIII", 0x7C, len(tags), *ends, index, rows_hnid, 0) + descs,
        )
        return heap.build(info)

    # File -----------------------------------------------------------------------------

    def file(self) -> bytes:
        layout = _Layout()
        bbt: list[tuple[int, int, int]] = []  # (bid, ib, cb)
        for bid, data in self.blocks:
            size = -(-(len(data) + 16) // 64) * 64
            ib = layout.place(size, 64)
            raw = bytearray(size)
            raw[: len(data)] = data
            struct.pack_into("<HHIQ", raw, size - 16, len(data), _sig(ib, bid), pst_crc(data), bid)
            layout.write(ib, raw)
            bbt.append((bid, ib, len(data)))
        next_page_bid = [self._next_bid]

        def page(entries: list[bytes], cb_ent: int, level: int, ptype: int) -> tuple[int, int]:
            ib = layout.place(_PAGE, _PAGE)
            bid = next_page_bid[0] << 2
            next_page_bid[0] += 1
            raw = bytearray(_PAGE)
            body = b"".join(entries)
            raw[: len(body)] = body
            struct.pack_into("<BBBB", raw, 488, len(entries), 488 // cb_ent, cb_ent, level)
            struct.pack_into("<BBHIQ", raw, 496, ptype, ptype, _sig(ib, bid), 0, bid)
            struct.pack_into("<I", raw, 500, pst_crc(bytes(raw[:496])))
            layout.write(ib, raw)
            return bid, ib

        def btree(leaves: list[tuple[int, bytes]], cb_ent: int, ptype: int) -> tuple[int, int]:
            # ``leaves``: (key, entry) sorted by key; levels of index pages as needed.
            per_page = 488 // cb_ent
            level_items = []
            for start in range(0, len(leaves), per_page):
                chunk = leaves[start : start + per_page]
                bid, ib = page([e for _, e in chunk], cb_ent, 0, ptype)
                level_items.append((chunk[0][0], bid, ib))
            level = 1
            while len(level_items) > 1:
                above = []
                for start in range(0, len(level_items), 20):
                    chunk = level_items[start : start + 20]
                    entries = [struct.pack("<QQQ", key, bid, ib) for key, bid, ib in chunk]
                    bid, ib = page(entries, 24, level, ptype)
                    above.append((chunk[0][0], bid, ib))
                level_items = above
                level += 1
            return level_items[0][1], level_items[0][2]

        bbt_ref = btree(
            [(bid, struct.pack("<QQHHI", bid, ib, cb, 2, 0)) for bid, ib, cb in sorted(bbt)],
            24,
            0x80,
        )
        nbt_ref = btree(
            [
                (nid, struct.pack("<QQQII", nid, data, sub, parent, 0))
                for nid, (data, sub, parent) in sorted(self.nodes.items())
            ],
            32,
            0x81,
        )
        last_amap, free = layout.write_maps()
        out = layout.out

        header = bytearray(564)
        header[0:4] = b"!BDN"
        struct.pack_into("<2sHHBB", header, 8, b"SM", 23, 19, 1, 1)
        struct.pack_into("<QQI", header, 24, 0, next_page_bid[0] << 2, 1)
        rgnid = [0x400] * 32
        struct.pack_into("<32I", header, 44, *rgnid)
        struct.pack_into(
            "<IQQQQQQQQBBH", header, 180, 0, len(out), last_amap, free, 0,
            nbt_ref[0], nbt_ref[1], bbt_ref[0], bbt_ref[1], 0x02, 0, 0,
        )  # fmt: skip
        header[256:384] = b"\xff" * 128  # rgbFM (deprecated)
        header[384:512] = b"\xff" * 128  # rgbFP (deprecated)
        struct.pack_into("<BBH", header, 512, 0x80, self.crypt, 0)
        struct.pack_into("<Q", header, 516, self._next_bid << 2)
        struct.pack_into("<I", header, 4, pst_crc(bytes(header[8 : 8 + 471])))
        struct.pack_into("<I", header, 524, pst_crc(bytes(header[8 : 8 + 516])))
        out[0:564] = header
        return bytes(out)


class _Layout:
    """Offsets in the file: blocks and pages go around the allocation map pages (an AMap
    at the start of every 253,952 bytes from 0x4400, a PMap after every eighth)."""

    def __init__(self) -> None:
        self.out = bytearray(_FIRST_AMAP)
        self.used: list[tuple[int, int]] = []

    @staticmethod
    def _maps_in(start: int, end: int) -> list[int]:
        found = []
        k = max(0, (start - _FIRST_AMAP) // _AMAP_RANGE)
        while (amap := _FIRST_AMAP + k * _AMAP_RANGE) < end:
            pages = [amap, amap + _PAGE] if k % 8 == 0 else [amap]
            found += [p for p in pages if p < end and p + _PAGE > start]
            k += 1
        return found

    def place(self, size: int, align: int) -> int:
        ib = -(-len(self.out) // align) * align
        while maps := self._maps_in(ib, ib + size):
            ib = -(-(max(maps) + _PAGE) // align) * align
        assert ib + size <= _FIRST_AMAP + 128 * _AMAP_RANGE, "would need an FMap page"
        return ib

    def write(self, ib: int, data: bytes | bytearray) -> None:
        if len(self.out) < ib:
            self.out += bytes(ib - len(self.out))
        assert len(self.out) == ib
        self.out += data
        self.used.append((ib, ib + len(data)))

    def write_maps(self) -> tuple[int, int]:
        """AMaps (one bit per 64 bytes, set where anything was written) and PMaps; returns
        the offset of the last AMap and the free bytes they count."""
        while len(self.out) % _PAGE:
            self.out += b"\0"
        maps = self._maps_in(_FIRST_AMAP, len(self.out) + 1)
        end = max(len(self.out), max(maps) + _PAGE)
        self.out += bytes(end - len(self.out))
        used = self.used + [(m, m + _PAGE) for m in maps]
        amaps = [m for m in maps if (m - _FIRST_AMAP) % _AMAP_RANGE == 0]
        free = 0
        for amap in amaps:
            bits = bytearray(496)
            for start, stop in used:
                lo, hi = max(start, amap), min(stop, amap + _AMAP_RANGE)
                for unit in range((lo - amap) // 64, -(-(hi - amap) // 64)):
                    bits[unit // 8] |= 0x80 >> (unit % 8)
            free += sum(8 - bin(b).count("1") for b in bits) * 64
            trailer = struct.pack("<BBHIQ", 0x84, 0x84, 0, pst_crc(bytes(bits)), amap)
            self.out[amap : amap + _PAGE] = bytes(bits) + trailer
            if (amap - _FIRST_AMAP) % (8 * _AMAP_RANGE) == 0:
                pmap = b"\xff" * 496
                ptrailer = struct.pack("<BBHIQ", 0x83, 0x83, 0, pst_crc(pmap), amap + _PAGE)
                self.out[amap + _PAGE : amap + 2 * _PAGE] = pmap + ptrailer
        return amaps[-1], free


# [MS-PST] 5.1 mpbbCrypt: the substitution tables of "compressible" (mpbbR) and "high"
# (mpbbR, mpbbS and mpbbI, the inverse of mpbbR) encryption of data blocks.
_MPBB_R = bytes.fromhex(
    "41361362a8216ebbf416cc047f64e85d1ef2cb2a74c55e35d295479e962d9a884c7d843fdbac31b6485ff6c4"
    "d8398be7233b388ec8c1df25b120a546604e9cfbaad35651457c550007c92b9d859b09a08fadb30f63ab894b"
    "d7a7155a716642bf264a6b98faea7753b270052cfd593a867ece06eb827857c78d43afb41cd45bcde2e9274f"
    "c3087280cfb0eff5286dbe304d3492d50e3c2232e5e4f99fc2d10a8112e1ee918376e397e6618a1779a4b7dc"
    "907a5c8c02a6ca69de501a1193b9528758fced1d37491b6ae0293399bd6cd994f340546ff0c673b8d63e6518"
    "441fdd6710f10c19ecae03a1147ba90bfff8a3c0a201f72ebc2468750dfeba2fb5d0da3d"
)
_MPBB_S = bytes.fromhex(
    "14530f56b3c87a9ceb65481716159f02cc547c83000d0c0ba262a876dbd9edc7c5a4dcac8574d6d0a79bae9a"
    "967166c36399b8dd73928e847da55ed15d93b1575150808952944f4e0a6bbc8d7f6e47464140440111cb033f"
    "f7f4e1a98f3c3af9fbf0193082092ec99da08649ee6f4d6dc42d813425871b88aafc06a11238fd4c42726413"
    "37246a757743ffe6b44b365ce4d8353d45b92cecb7312b290768a30e697b189e2139be281a5b78f523ca2ab0"
    "af3efe048ce7e5983295d3f64ae8a6eae9f3d52f7020f21f0567ad5510cecde3273bdabad7c226d4911dd21c"
    "2233f8faf15aefcf90b68bb5bdc0bf08971e6ce261e0c6c159abbb58de5fdf60797eb28a"
)
_MPBB_I = bytes(_MPBB_R.index(i) for i in range(256))


def encrypt(data: bytes, method: int, bid: int) -> bytes:
    """A data block as stored under ``method`` ([MS-PST] 5.1 and 5.2)."""
    if method == CRYPT_PERMUTE:
        return data.translate(_MPBB_R)
    if method != CRYPT_CYCLIC:
        return data  # none, or a method this writer leaves to the reader to refuse
    out = bytearray(data)
    key = bid & 0xFFFFFFFF
    w = (key ^ (key >> 16)) & 0xFFFF
    for i, b in enumerate(out):
        b = _MPBB_R[(b + w) & 0xFF]
        b = _MPBB_S[(b + (w >> 8)) & 0xFF]
        b = _MPBB_I[(b - (w >> 8)) & 0xFF]
        out[i] = (b - w) & 0xFF
        w = (w + 1) & 0xFFFF
    return bytes(out)


@dataclass
class PstMessage:
    subject: str = "order"
    body: str | None = None
    html: bytes | None = None
    sender: str = "Alice Example"
    sender_email: str = "alice@example.com"
    headers: str | None = None  # PidTagTransportMessageHeaders
    attachments: dict[str, bytes | PstMessage] = field(default_factory=dict)  # name -> data


@dataclass
class PstFolder:
    name: str
    messages: list[PstMessage] = field(default_factory=list)
    folders: list[PstFolder] = field(default_factory=list)


def _entry_id(nid: int) -> bytes:
    return bytes(4) + _STORE_UID + struct.pack("<I", nid)


_HIERARCHY_COLUMNS = [0x3001001F, 0x36020003, 0x36030003, 0x360A000B]
_CONTENTS_COLUMNS = [0x0037001F, 0x001A001F, 0x0E070003, 0x0C1A001F]
_ATTACHMENT_COLUMNS = [0x3707001F, 0x0E200003, 0x37050003, 0x370B0003]
_RECIPIENT_COLUMNS = [0x3001001F, 0x3003001F, 0x0C150003, 0x3002001F]


class _PstBuilder:
    def __init__(self, crypt: int) -> None:
        self.w = PstWriter(crypt)
        self.next_folder = 0x400
        self.next_message = 0x10000

    def message(self, msg: PstMessage, nid: int, parent: int) -> None:
        heap, subnodes = self._message_object(msg)
        self.w.node(nid, heap, parent=parent, sub=self.w.subnode_tree(subnodes))

    def _message_object(self, msg: PstMessage) -> tuple[list[bytes], dict[int, tuple[int, int]]]:
        """A message's property context and its subnodes (recipients, attachments)."""
        w = self.w
        subnodes: dict[int, tuple[int, int]] = {}
        flags = 0x1 | (0x10 if msg.attachments else 0)  # MSGFLAG_READ, MSGFLAG_HASATTACH
        props: Props = {
            0x001A001F: "IPM.Note",
            0x0037001F: msg.subject,
            0x0E070003: flags,
            0x0E080003: 1024,
            0x0C1A001F: msg.sender,
            0x0C1F001F: msg.sender_email,
            0x0E04001F: "Bob Example",
            0x00390040: 133_500_000_000_000_000,
        }
        if msg.body is not None:
            props[0x1000001F] = msg.body
        if msg.html is not None:
            props[0x10130102] = msg.html
        if msg.headers is not None:
            props[0x007D001F] = msg.headers
        recipients = [(0x400 << 5, {0x3001001F: "Bob Example", 0x3003001F: "bob@example.com",
                                    0x0C150003: 1, 0x3002001F: "SMTP"})]  # fmt: skip
        table_subs: dict[int, tuple[int, int]] = {}
        recipient_tc = w.table_context(_RECIPIENT_COLUMNS, recipients, table_subs)
        subnodes[NID_RECIPIENT_TABLE] = (w.heap_tree(recipient_tc), w.subnode_tree(table_subs))
        if msg.attachments:
            rows: list[tuple[int, Props]] = []
            for number, (name, data) in enumerate(msg.attachments.items()):
                att_nid = _nid(0x8000 + number, _TYPE_ATTACHMENT)
                att_subs: dict[int, tuple[int, int]] = {}
                att_props: Props = {
                    0x3707001F: name,  # PidTagAttachLongFilename
                    0x3704001F: name[:12],  # PidTagAttachFilename
                    0x3001001F: name,  # PidTagDisplayName
                    0x370B0003: -1,  # PidTagRenderingPosition
                }
                if isinstance(data, PstMessage):
                    # afEmbeddedMessage: PidTagAttachDataObject names a subnode holding the
                    # attached message, with subnodes of its own ([MS-PST] 2.4.6.2).
                    inner_heap, inner_subs = self._message_object(data)
                    inner_nid = _nid(self.next_message, _TYPE_MESSAGE)
                    self.next_message += 1
                    att_subs[inner_nid] = (w.heap_tree(inner_heap), w.subnode_tree(inner_subs))
                    size = sum(len(block) for block in inner_heap)
                    att_props[0x3701000D] = struct.pack("<II", inner_nid, size)
                    method = 5
                else:
                    att_props[0x37010102] = data  # PidTagAttachDataBinary
                    size = len(data)
                    method = 1  # afByValue
                att_props[0x37050003] = method  # PidTagAttachMethod
                att_props[0x0E200003] = size  # PidTagAttachSize
                pc = w.property_context(att_props, att_subs)
                subnodes[att_nid] = (w.heap_tree(pc), w.subnode_tree(att_subs))
                rows.append((att_nid, {0x3707001F: name, 0x0E200003: size,
                                       0x37050003: method, 0x370B0003: -1}))  # fmt: skip
            table_subs = {}
            attachment_tc = w.table_context(_ATTACHMENT_COLUMNS, rows, table_subs)
            subnodes[NID_ATTACHMENT_TABLE] = (
                w.heap_tree(attachment_tc),
                w.subnode_tree(table_subs),
            )
        return w.property_context(props, subnodes), subnodes

    def folder(self, folder: PstFolder, nid: int, parent: int) -> None:
        w = self.w
        index = nid >> 5
        child_rows: list[tuple[int, Props]] = []
        for child in folder.folders:
            child_nid = _nid(self.next_folder, _TYPE_FOLDER)
            self.next_folder += 1
            self.folder(child, child_nid, nid)
            child_rows.append((child_nid, {0x3001001F: child.name,
                                           0x36020003: len(child.messages), 0x36030003: 0,
                                           0x360A000B: int(bool(child.folders))}))  # fmt: skip
        message_rows: list[tuple[int, Props]] = []
        for msg in folder.messages:
            msg_nid = _nid(self.next_message, _TYPE_MESSAGE)
            self.next_message += 1
            self.message(msg, msg_nid, nid)
            message_rows.append((msg_nid, {0x0037001F: msg.subject, 0x001A001F: "IPM.Note",
                                           0x0E070003: 1, 0x0C1A001F: msg.sender}))  # fmt: skip
        subs: dict[int, tuple[int, int]] = {}
        props: Props = {
            0x3001001F: folder.name,
            0x36020003: len(folder.messages),
            0x36030003: 0,
            0x360A000B: int(bool(folder.folders)),
            0x3613001F: "IPF.Note",
        }
        w.node(nid, w.property_context(props, subs), parent=parent, sub=w.subnode_tree(subs))
        for kind, columns, rows in (
            (_TYPE_HIERARCHY, _HIERARCHY_COLUMNS, child_rows),
            (_TYPE_CONTENTS, _CONTENTS_COLUMNS, message_rows),
            (_TYPE_ASSOC, _CONTENTS_COLUMNS, []),
        ):
            subs = {}
            tc = w.table_context(columns, rows, subs)
            w.node(_nid(index, kind), tc, sub=w.subnode_tree(subs))

    def store(self, folders: list[PstFolder], display_name: str, password: int | None) -> None:
        w = self.w
        subs: dict[int, tuple[int, int]] = {}
        store: Props = {
            0x0FF90102: _STORE_UID,  # PidTagRecordKey
            0x3001001F: display_name,
            0x35E00102: _entry_id(NID_ROOT_FOLDER),  # PidTagIpmSubTreeEntryId
            0x35E30102: _entry_id(NID_ROOT_FOLDER),  # PidTagIpmWastebasketEntryId
            0x35E70102: _entry_id(NID_ROOT_FOLDER),  # PidTagFinderEntryId
        }
        if password is not None:
            store[0x67FF0003] = password  # PidTagPstPassword: the CRC-32 of the password
        w.node(NID_MESSAGE_STORE, w.property_context(store, subs))
        nameid: Props = {
            0x00010003: 251,  # PidTagNameidBucketCount
            # One named property of each kind: a number in a GUID of the GUID stream, and a
            # name (offset 0 of the string stream) in PS_PUBLIC_STRINGS.
            0x00020102: _NAMED_GUID,  # PidTagNameidStreamGuid
            0x00030102: struct.pack("<IHH", 0x8233, 3 << 1, 0)  # PidTagNameidStreamEntry
            + struct.pack("<IHH", 0, (2 << 1) | 1, 1),
            0x00040102: struct.pack("<I", 8) + "cs-x".encode("utf-16-le"),
        }
        w.node(NID_NAME_TO_ID_MAP, w.property_context(nameid, subs))
        self.folder(PstFolder("", folders=folders), NID_ROOT_FOLDER, NID_ROOT_FOLDER)


def pst_bytes(
    folders: list[PstFolder],
    *,
    crypt: int = CRYPT_NONE,
    password: str | None = None,
    display_name: str = "Personal Folders",
) -> bytes:
    """A Unicode PST whose root folder holds ``folders``."""
    builder = _PstBuilder(crypt)
    crc = None if password is None else pst_crc(password.encode("utf-16-le"))
    builder.store(folders, display_name, crc)
    return builder.w.file()
