"""RTP packets (RFC 3550) and RFC 4733 telephone-event payloads: parsing and building, no I/O.

Only what a masking relay needs: the fixed header (CSRC list and header extension are carried
through untouched), and the 4-byte event payload: event (0-9, 10 ``*``, 11 ``#``, 12-15
A-D), end bit, volume, duration.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace

PCMU, PCMA = 0, 8
EVENT_KEYS = "0123456789*#ABCD"
_HEADER = struct.Struct("!BBHII")


class BadPacket(ValueError):
    """Not an RTP version 2 packet we can read."""


@dataclass(frozen=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False
    extra: bytes = b""  # CSRC list and header extension, carried through as they are
    first_byte: int = 0x80  # version, padding, extension, CSRC count

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        if len(data) < _HEADER.size:
            raise BadPacket("short packet")
        b0, b1, seq, ts, ssrc = _HEADER.unpack_from(data)
        if b0 >> 6 != 2:
            raise BadPacket("not RTP version 2")
        offset = _HEADER.size + 4 * (b0 & 0x0F)
        if b0 & 0x10:  # header extension: 16-bit profile, 16-bit length in words
            if len(data) < offset + 4:
                raise BadPacket("truncated extension")
            offset += 4 + 4 * struct.unpack_from("!H", data, offset + 2)[0]
        end = len(data)
        if b0 & 0x20 and end > offset:  # padding: the last byte counts it
            end -= data[-1]
        if offset > end:
            raise BadPacket("truncated packet")
        return cls(
            payload_type=b1 & 0x7F,
            sequence=seq,
            timestamp=ts,
            ssrc=ssrc,
            payload=bytes(data[offset:end]),
            marker=bool(b1 & 0x80),
            extra=bytes(data[_HEADER.size : offset]),
            first_byte=b0 & ~0x20 & 0xFF,  # padding is dropped on the way through
        )

    def to_bytes(self) -> bytes:
        b1 = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        head = _HEADER.pack(
            self.first_byte,
            b1,
            self.sequence & 0xFFFF,
            self.timestamp & 0xFFFFFFFF,
            self.ssrc,
        )
        return head + self.extra + self.payload

    def evolve(self, **changes: object) -> RtpPacket:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class TelephoneEvent:
    event: int
    end: bool
    volume: int
    duration: int

    @property
    def key(self) -> str | None:
        return EVENT_KEYS[self.event] if 0 <= self.event < len(EVENT_KEYS) else None

    @classmethod
    def parse(cls, payload: bytes) -> TelephoneEvent:
        if len(payload) < 4:
            raise BadPacket("short telephone-event")
        event, flags, duration = struct.unpack_from("!BBH", payload)
        return cls(event, bool(flags & 0x80), flags & 0x3F, duration)

    def to_bytes(self) -> bytes:
        flags = (0x80 if self.end else 0) | (self.volume & 0x3F)
        return struct.pack("!BBH", self.event, flags, self.duration & 0xFFFF)
