"""WAV input and output: 16-bit PCM, G.711 mu-law (format tag 7) and A-law (tag 6).

The RIFF container is parsed here rather than with :mod:`wave`, which reads PCM only.
``WAVE_FORMAT_EXTENSIBLE`` files are accepted when their sub-format is one of the three.
G.711 files keep their codes (``uint8``) so that audio can pass through untouched, bit for
bit; :meth:`Audio.linear` decodes when linear samples are needed. Anything else raises
:class:`~cardshield.phone.dsp.errors.UnsupportedAudioFormat` or
:class:`~cardshield.phone.dsp.errors.AudioError` with a one-line message.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from cardshield.phone.dsp import g711
from cardshield.phone.dsp.errors import AudioError, UnsupportedAudioFormat

Encoding = Literal["pcm16", "mulaw", "alaw"]
ENCODINGS: tuple[Encoding, ...] = ("pcm16", "mulaw", "alaw")

_TAG_PCM, _TAG_ALAW, _TAG_MULAW, _TAG_EXTENSIBLE = 1, 6, 7, 0xFFFE
_TAGS: dict[int, Encoding] = {_TAG_PCM: "pcm16", _TAG_MULAW: "mulaw", _TAG_ALAW: "alaw"}
_TAG_OF: dict[Encoding, int] = {v: k for k, v in _TAGS.items()}
_BITS: dict[Encoding, int] = {"pcm16": 16, "mulaw": 8, "alaw": 8}


@dataclass(frozen=True)
class Audio:
    """Samples as stored: ``int16`` for ``pcm16``, G.711 codes (``uint8``) otherwise.

    ``data`` has shape ``(frames, channels)``.
    """

    data: NDArray[np.int16] | NDArray[np.uint8]
    sample_rate: int
    encoding: Encoding

    @property
    def channels(self) -> int:
        return int(self.data.shape[1])

    @property
    def frames(self) -> int:
        return int(self.data.shape[0])

    def linear(self) -> NDArray[np.int16]:
        """Samples on the 16-bit linear scale, shape ``(frames, channels)``."""
        if self.encoding == "pcm16":
            return np.asarray(self.data, dtype=np.int16)
        return g711.decode(self.data, self.encoding)

    def mono(self) -> NDArray[np.int16] | NDArray[np.uint8]:
        """The single channel of a mono file as stored (1-D); refuses other layouts."""
        if self.channels != 1:
            raise UnsupportedAudioFormat(f"expected a mono file, got {self.channels} channels")
        return self.data[:, 0]

    @classmethod
    def from_linear(
        cls, samples: NDArray[np.generic], sample_rate: int, encoding: Encoding = "pcm16"
    ) -> Audio:
        """Build from linear samples (1-D mono or 2-D), encoding them as ``encoding``."""
        arr = np.asarray(samples)
        if arr.ndim == 1:
            arr = arr[:, None]
        pcm = g711.to_int16(arr)
        data = pcm if encoding == "pcm16" else g711.encode(pcm, encoding)
        return cls(data=data, sample_rate=sample_rate, encoding=encoding)


def read_wav(source: str | Path | bytes) -> Audio:
    """Read a WAV file (path or the file's bytes)."""
    if isinstance(source, bytes):
        raw = source
    else:
        try:
            raw = Path(source).read_bytes()
        except OSError as exc:
            raise AudioError(f"cannot read {source}: {exc.strerror or 'I/O error'}") from exc
    return parse_wav(raw)


def parse_wav(raw: bytes) -> Audio:
    """Parse the bytes of a WAV file."""
    if len(raw) < 12 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise AudioError("not a WAV file (no RIFF/WAVE header)")
    fmt: bytes | None = None
    data: bytes | None = None
    pos = 12
    while pos + 8 <= len(raw):
        chunk_id, size = raw[pos : pos + 4], struct.unpack_from("<I", raw, pos + 4)[0]
        body = raw[pos + 8 : pos + 8 + size]  # a truncated last chunk keeps what is there
        if chunk_id == b"fmt ":
            fmt = body
        elif chunk_id == b"data":
            data = body
            if fmt is not None:
                break
        pos += 8 + size + (size & 1)  # chunks are word-aligned
    if fmt is None or len(fmt) < 16:
        raise AudioError("malformed WAV file: missing or short fmt chunk")
    if data is None:
        raise AudioError("malformed WAV file: no data chunk")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == _TAG_EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack_from("<H", fmt, 24)[0]  # first field of the sub-format GUID
    encoding = _TAGS.get(tag)
    if encoding is None:
        raise UnsupportedAudioFormat(f"unsupported WAV format tag {tag:#06x}")
    if bits != _BITS[encoding]:
        raise UnsupportedAudioFormat(f"unsupported sample width: {bits} bits for {encoding}")
    if channels < 1 or rate < 1 or block_align != channels * bits // 8:
        raise AudioError("malformed WAV file: inconsistent fmt chunk")
    frames = len(data) // block_align
    dtype = np.dtype("<i2") if encoding == "pcm16" else np.dtype(np.uint8)
    samples = np.frombuffer(data, dtype=dtype, count=frames * channels).reshape(frames, channels)
    if encoding == "pcm16":
        return Audio(samples.astype(np.int16), rate, encoding)
    return Audio(samples.astype(np.uint8), rate, encoding)


def wav_bytes(audio: Audio) -> bytes:
    """Serialize ``audio`` as a WAV file."""
    bits = _BITS[audio.encoding]
    block_align = audio.channels * bits // 8
    if audio.encoding == "pcm16":
        payload = np.ascontiguousarray(audio.data, dtype="<i2").tobytes()
        fmt = struct.pack(
            "<HHIIHH",
            _TAG_PCM,
            audio.channels,
            audio.sample_rate,
            audio.sample_rate * block_align,
            block_align,
            bits,
        )
        extra = b""
    else:
        payload = np.ascontiguousarray(audio.data, dtype=np.uint8).tobytes()
        # Non-PCM formats carry cbSize and a fact chunk with the frame count.
        fmt = struct.pack(
            "<HHIIHHH",
            _TAG_OF[audio.encoding],
            audio.channels,
            audio.sample_rate,
            audio.sample_rate * block_align,
            block_align,
            bits,
            0,
        )
        extra = b"fact" + struct.pack("<II", 4, audio.frames)
    pad = b"\0" if len(payload) & 1 else b""
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + extra
        + b"data"
        + struct.pack("<I", len(payload))
        + payload
        + pad
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def write_wav(path: str | Path, audio: Audio) -> None:
    """Write ``audio`` to ``path`` (whole file at once, so nothing is half-written)."""
    blob = wav_bytes(audio)
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        tmp.write_bytes(blob)
        tmp.replace(target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise AudioError(f"cannot write {path}: {exc.strerror or 'I/O error'}") from exc
