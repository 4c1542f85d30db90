"""Recordings as call recorders export them: WAV, FLAC, Ogg (Opus, Vorbis) and MP3, in and out.

::

    recording = read_recording("call.flac")
    result = redact_audio(recording.audio, options)
    write_recording("call.redacted.flac", result.audio, like=recording, cuts=result.segments)

A :class:`Recording` is the :class:`~cardshield.phone.dsp.Audio` that redaction analyses and
cuts, plus what is needed to write the same format back. How each format travels:

* WAV 16-bit PCM, mu-law and A-law: :func:`~cardshield.phone.dsp.read_wav` and
  :func:`~cardshield.phone.dsp.write_wav`, as stored (G.711 codes stay codes: mu-law has two
  codes for zero, and a decode and re-encode would not give back the same bytes).
* WAV and FLAC 24-bit PCM: read at the stored width (``wide``, the 24-bit samples in the top
  bits of ``int32``); redaction analyses the top 16 bits, and the output is the stored
  samples with the cut spans replaced, so every other sample is kept bit for bit. That is
  why writing them needs ``cuts``, the segments the redaction applied.
* FLAC 16-bit: read and written as ``int16``, which libsndfile converts exactly.
* WAV GSM 6.10 (mono only, as libsndfile writes it), Ogg/Opus, Ogg/Vorbis and MP3 are lossy:
  redaction runs on the decoded samples, and the output is encoded again in the same format
  (docs/recording-redaction.md, "Formats", says how close it stays and how that is checked).

All but the first item go through libsndfile (``soundfile``); its errors become an
:class:`~cardshield.phone.dsp.AudioError` or
:class:`~cardshield.phone.dsp.UnsupportedAudioFormat` with a one-line message. mpg123, which
decodes MP3 inside libsndfile, prints notes about damaged frames straight to file
descriptor 2; while an MP3 is decoded that descriptor points to ``/dev/null``. Writes go to a
temporary file in the target's folder that replaces the target, so nothing is half-written.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile as sf  # type: ignore[import-untyped]
from numpy.typing import NDArray

from cardshield.phone.dsp import Audio, AudioError, UnsupportedAudioFormat, read_wav, write_wav
from cardshield.phone.dsp.wav import Encoding
from cardshield.redaction.audio import RedactOptions, Segment, apply

_Storage = Literal["wav", "int16", "wide", "float"]


@dataclass(frozen=True)
class _Kind:
    name: str  # for messages and reports
    storage: _Storage  # how samples are read and written (see the module docstring)
    lossless: bool


#: (libsndfile format, subtype) -> how it is handled.
_KINDS: dict[tuple[str, str], _Kind] = {
    ("WAV", "PCM_16"): _Kind("WAV 16-bit PCM", "wav", True),
    ("WAV", "ULAW"): _Kind("WAV mu-law", "wav", True),
    ("WAV", "ALAW"): _Kind("WAV A-law", "wav", True),
    ("WAV", "PCM_24"): _Kind("WAV 24-bit PCM", "wide", True),
    ("WAVEX", "PCM_24"): _Kind("WAV 24-bit PCM (extensible)", "wide", True),
    ("WAV", "GSM610"): _Kind("WAV GSM 6.10", "int16", False),
    ("FLAC", "PCM_16"): _Kind("FLAC 16-bit", "int16", True),
    ("FLAC", "PCM_24"): _Kind("FLAC 24-bit", "wide", True),
    ("OGG", "OPUS"): _Kind("Ogg/Opus", "float", False),
    ("OGG", "VORBIS"): _Kind("Ogg/Vorbis", "float", False),
    ("MP3", "MPEG_LAYER_III"): _Kind("MP3", "float", False),
}
_WAV_SUBTYPE: dict[Encoding, str] = {"pcm16": "PCM_16", "mulaw": "ULAW", "alaw": "ALAW"}
_SUFFIXES: dict[str, tuple[str, ...]] = {
    "WAV": (".wav",),
    "WAVEX": (".wav",),
    "FLAC": (".flac",),
    "OGG": (".ogg", ".opus", ".oga"),
    "MP3": (".mp3",),
}
#: File names redaction picks up (lower case).
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(s for group in _SUFFIXES.values() for s in group)
#: The rates libsndfile's Opus encoder takes.
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
_BLOCK = 1 << 16  # frames per read
_WIDE_SHIFT = 16  # top 16 of the 32 bits libsndfile fills for 24-bit PCM
_SUPPORTED = (
    "WAV (16/24-bit PCM, mu-law, A-law, GSM 6.10), FLAC (16/24-bit), Ogg/Opus, Ogg/Vorbis, MP3"
)


@dataclass(frozen=True)
class Recording:
    """A recording as read: the audio to analyse and the format to write back.

    ``format`` and ``subtype`` are libsndfile's names (``"FLAC"``, ``"PCM_24"``). ``wide``
    holds the stored samples of a 24-bit file (``int32``, shape (frames, channels)); their
    top 16 bits are ``audio``.
    """

    audio: Audio
    format: str
    subtype: str
    wide: NDArray[np.int32] | None = None

    @property
    def sample_rate(self) -> int:
        return self.audio.sample_rate

    @property
    def channels(self) -> int:
        return self.audio.channels

    @property
    def kind(self) -> str:
        """The format in words (``"FLAC 24-bit"``)."""
        return _KINDS[(self.format, self.subtype)].name

    @property
    def lossless(self) -> bool:
        """Whether every sample outside the cuts is written back bit for bit."""
        return _KINDS[(self.format, self.subtype)].lossless

    @property
    def suffixes(self) -> tuple[str, ...]:
        """File name suffixes that keep this format (the first is the usual one)."""
        return _SUFFIXES[self.format]


def read_recording(path: str | Path) -> Recording:
    """Read a recording in any supported format (by its content, not its name)."""
    source = Path(path)
    try:
        with source.open("rb") as fh:
            head = fh.read(12)
    except OSError as exc:
        raise AudioError(f"cannot read {source.name}: {exc.strerror or 'I/O error'}") from exc
    container = _sniff(head)
    if container is None:
        raise AudioError(f"{source.name}: not a supported recording ({_SUPPORTED})")
    if container == "WAV":
        try:
            audio = read_wav(source)
        except UnsupportedAudioFormat:
            pass  # 24-bit PCM, GSM 6.10: libsndfile reads them
        except AudioError as exc:
            raise AudioError(f"{source.name}: {exc.message}") from exc
        else:
            return Recording(audio, "WAV", _WAV_SUBTYPE[audio.encoding])
    return _read_soundfile(source, container)


def write_recording(
    path: str | Path, audio: Audio, like: Recording, cuts: Sequence[Segment] = ()
) -> None:
    """Write ``audio`` to ``path`` in ``like``'s format (atomically: temp file + replace).

    ``audio`` is ``like.audio`` redacted. For a 24-bit recording ``cuts`` must be the segments
    the redaction applied: the output is ``like``'s stored samples, with only those spans
    taken from ``audio``. ``audio`` changed anywhere else is a :class:`ValueError`.
    """
    kind = _KINDS[(like.format, like.subtype)]
    if (audio.sample_rate, audio.channels) != (like.sample_rate, like.channels):
        raise ValueError("audio must keep the recording's rate and channels")
    if audio.encoding != like.audio.encoding:
        raise ValueError("audio must keep the recording's encoding")
    target = Path(path)
    if kind.storage == "wav":
        write_wav(target, audio)
        return
    _check_writable(like, target)
    data: NDArray[np.int16] | NDArray[np.int32] | NDArray[np.float64]
    if kind.storage == "wide":
        data = _widen(audio, like, cuts)
    elif kind.storage == "int16":
        data = np.asarray(audio.data, dtype=np.int16)
    else:
        # As floats: libsndfile 1.2.2's MP3 encoder halves int16 input.
        data = np.asarray(audio.data, dtype=np.float64) / 32768.0
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        sf.write(tmp, data, like.sample_rate, subtype=like.subtype, format=like.format)
        tmp.replace(target)
    except (RuntimeError, OSError) as exc:
        tmp.unlink(missing_ok=True)
        reason = getattr(exc, "strerror", None) or getattr(exc, "error_string", "") or "error"
        raise AudioError(f"cannot write {target.name} as {kind.name}: {reason}") from exc


def _sniff(head: bytes) -> str | None:
    """The container a file's first bytes announce, if it is one this module reads."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "WAV"
    if head[:4] == b"fLaC":
        return "FLAC"
    if head[:4] == b"OggS":
        return "OGG"
    if head[:3] == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "MP3"
    return None


def _read_soundfile(source: Path, container: str) -> Recording:
    try:
        with _stderr_muted(container == "MP3"), sf.SoundFile(source) as fh:
            key = (str(fh.format), str(fh.subtype))
            kind = _KINDS.get(key)
            if kind is None or kind.storage == "wav":
                raise UnsupportedAudioFormat(
                    f"{source.name}: {key[0]} {key[1]} is not supported ({_SUPPORTED})"
                )
            rate = int(fh.samplerate)
            dtype = {"int16": "int16", "wide": "int32", "float": "float64"}[kind.storage]
            raw = _read_all(fh, dtype)
    except (RuntimeError, OSError, ValueError) as exc:  # libsndfile's errors, translated
        raise AudioError(f"cannot read {source.name}: a damaged {container} file") from exc
    if raw.shape[0] == 0:
        raise AudioError(f"cannot read {source.name}: no audio in it")
    if kind.storage == "wide":
        wide = np.ascontiguousarray(raw, dtype=np.int32)
        top = (wide >> _WIDE_SHIFT).astype(np.int16)
        return Recording(Audio(top, rate, "pcm16"), key[0], key[1], wide)
    if kind.storage == "int16":
        return Recording(Audio(np.ascontiguousarray(raw, dtype=np.int16), rate, "pcm16"), *key)
    pcm = np.clip(np.rint(np.asarray(raw, dtype=np.float64) * 32768.0), -32768, 32767)
    return Recording(Audio(pcm.astype(np.int16), rate, "pcm16"), *key)


def _read_all(fh: sf.SoundFile, dtype: str) -> NDArray[np.generic]:
    """Every frame, block by block (libsndfile cannot seek in some, GSM 6.10 among them)."""
    blocks: list[NDArray[np.generic]] = []
    while True:
        block = fh.read(_BLOCK, dtype=dtype, always_2d=True)
        if len(block):
            blocks.append(block)
        if len(block) < _BLOCK:
            break
    if not blocks:
        return np.zeros((0, fh.channels), dtype=dtype)
    return np.concatenate(blocks)


def _widen(audio: Audio, like: Recording, cuts: Sequence[Segment]) -> NDArray[np.int32]:
    """``like``'s stored samples with the spans of ``cuts`` taken from ``audio``."""
    assert like.wide is not None
    # Where the cuts lie, by the very rule redaction applied them with: mark every sample,
    # let apply() silence the cut ones.
    ones = Audio(np.ones_like(like.audio.data), like.sample_rate, "pcm16")
    marks = apply(ones, list(cuts), RedactOptions(mode="silence"))
    cut = marks.data == 0
    if not np.array_equal(audio.data[~cut], like.audio.data[~cut]):
        raise ValueError("audio differs from the recording outside the given cuts")
    out = like.wide.copy()
    out[cut] = audio.data[cut].astype(np.int32) << _WIDE_SHIFT
    return out


def _check_writable(like: Recording, target: Path) -> None:
    if like.subtype == "OPUS" and like.sample_rate not in OPUS_RATES:
        raise UnsupportedAudioFormat(
            f"cannot write {target.name} as Ogg/Opus at {like.sample_rate} Hz: libsndfile's "
            "Opus encoder takes 8, 12, 16, 24 or 48 kHz"
        )
    if like.subtype == "GSM610" and like.channels != 1:
        raise UnsupportedAudioFormat(
            f"cannot write {target.name} as WAV GSM 6.10: libsndfile writes it mono only"
        )


@contextlib.contextmanager
def _stderr_muted(on: bool) -> Iterator[None]:
    """File descriptor 2 on ``/dev/null`` for the duration (mpg123 writes notes there)."""
    if not on:
        yield
        return
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


__all__ = ["OPUS_RATES", "SUPPORTED_SUFFIXES", "Recording", "read_recording", "write_recording"]
