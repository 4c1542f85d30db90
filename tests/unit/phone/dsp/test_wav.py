"""WAV input and output: PCM, mu-law, A-law, what sox writes, and every kind of bad input."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from cardshield.phone.dsp import g711
from cardshield.phone.dsp.errors import AudioError, UnsupportedAudioFormat
from cardshield.phone.dsp.wav import (
    ENCODINGS,
    Audio,
    Encoding,
    parse_wav,
    read_wav,
    wav_bytes,
    write_wav,
)

RNG = np.random.default_rng(4)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("channels", [1, 2])
def test_round_trip_keeps_samples_bit_for_bit(
    tmp_path: Path, encoding: Encoding, channels: int
) -> None:
    pcm = RNG.integers(-32768, 32768, size=(1001, channels)).astype(np.int16)
    audio = Audio.from_linear(pcm, 8000, encoding)
    write_wav(tmp_path / "a.wav", audio)
    back = read_wav(tmp_path / "a.wav")
    assert (back.encoding, back.sample_rate, back.channels, back.frames) == (
        encoding,
        8000,
        channels,
        1001,
    )
    assert np.array_equal(back.data, audio.data)
    expected = pcm if encoding == "pcm16" else g711.decode(g711.encode(pcm, encoding), encoding)
    assert np.array_equal(back.linear(), expected)


@pytest.mark.parametrize(
    ("encoding", "sox_args"),
    [
        ("pcm16", ["-e", "signed", "-b", "16"]),
        ("mulaw", ["-e", "mu-law", "-b", "8"]),
        ("alaw", ["-e", "a-law", "-b", "8"]),
    ],
)
def test_reads_what_sox_writes_and_sox_reads_what_we_write(
    sox: str, tmp_path: Path, encoding: Encoding, sox_args: list[str]
) -> None:
    pcm = (RNG.normal(0, 3000, 4000)).astype(np.int16)
    (tmp_path / "in.raw").write_bytes(pcm.astype("<i2").tobytes())
    subprocess.run(
        [
            sox,
            "-D",
            "-t",
            "raw",
            "-r",
            "8000",
            "-e",
            "signed",
            "-b",
            "16",
            "-c",
            "1",
            str(tmp_path / "in.raw"),
            *sox_args,
            str(tmp_path / "sox.wav"),
        ],
        check=True,
        capture_output=True,
    )
    ours = read_wav(tmp_path / "sox.wav")
    assert ours.encoding == encoding
    assert np.array_equal(ours.data[:, 0], Audio.from_linear(pcm, 8000, encoding).data[:, 0])

    write_wav(tmp_path / "ours.wav", ours)
    subprocess.run(
        [
            sox,
            "-D",
            str(tmp_path / "ours.wav"),
            "-t",
            "raw",
            "-e",
            "signed",
            "-b",
            "16",
            str(tmp_path / "back.raw"),
        ],
        check=True,
        capture_output=True,
    )
    back = np.frombuffer((tmp_path / "back.raw").read_bytes(), dtype="<i2")
    assert np.array_equal(back, ours.linear()[:, 0])


def _riff(fmt: bytes, data: bytes, extra: bytes = b"") -> bytes:
    body = b"WAVE" + extra + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_extensible_format_and_odd_chunks_are_understood() -> None:
    # WAVEFORMATEXTENSIBLE: cbSize 22, valid bits, channel mask, then the sub-format GUID
    # whose first two bytes are the format tag (7: mu-law).
    guid = struct.pack("<H", 7) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    fmt = struct.pack("<HHIIHHHHI", 0xFFFE, 1, 8000, 8000, 1, 8, 22, 8, 4) + guid
    junk = b"LIST" + struct.pack("<I", 3) + b"abc\0"  # odd size, padded
    audio = parse_wav(_riff(fmt, bytes([0x00, 0xFF, 0x80]), extra=junk))
    assert audio.encoding == "mulaw"
    assert audio.linear()[:, 0].tolist() == [-32124, 0, 32124]


def test_truncated_data_keeps_whole_frames() -> None:
    blob = wav_bytes(Audio.from_linear(np.arange(10, dtype=np.int16), 8000))
    audio = parse_wav(blob[:-3])  # cut inside the 9th frame
    assert audio.frames == 8
    assert audio.linear()[:, 0].tolist() == list(range(8))


@pytest.mark.parametrize(
    ("blob", "error", "words"),
    [
        (b"", AudioError, "not a WAV"),
        (b"ID3\x04 not audio at all", AudioError, "not a WAV"),
        (b"RIFF\x04\x00\x00\x00WAVE", AudioError, "fmt"),
        (
            _riff(struct.pack("<HHIIHH", 3, 1, 8000, 32000, 4, 32), b"\0" * 8),
            UnsupportedAudioFormat,
            "format tag 0x0003",
        ),
        (
            _riff(struct.pack("<HHIIHH", 1, 1, 8000, 24000, 3, 24), b"\0" * 6),
            UnsupportedAudioFormat,
            "24 bits",
        ),
        (
            _riff(struct.pack("<HHIIHH", 1, 1, 8000, 16000, 4, 16), b"\0" * 8),
            AudioError,
            "inconsistent",
        ),
    ],
)
def test_bad_input_raises_one_line_errors(blob: bytes, error: type[Exception], words: str) -> None:
    with pytest.raises(error) as info:
        parse_wav(blob)
    assert words in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file_and_mono_only_access(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="cannot read"):
        read_wav(tmp_path / "nope.wav")
    stereo = Audio.from_linear(np.zeros((4, 2)), 8000)
    with pytest.raises(UnsupportedAudioFormat, match="mono"):
        stereo.mono()
    assert Audio.from_linear(np.ones(4), 8000).mono().tolist() == [1, 1, 1, 1]
